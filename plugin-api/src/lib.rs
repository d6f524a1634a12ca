//! The stable plugin ABI of smo: what a strategy plugin and the `smo` daemon exchange.
//! Third parties build cdylibs against this crate; the daemon loads them at run time.
//!
//! # Writing a plugin
//!
//! Implement one or more of [`sdk::Placement`], [`sdk::Scaling`] and [`sdk::Migration`] on plain
//! Rust types and export them with [`export_plugin!`]. The macro generates the root module,
//! wraps every call in `catch_unwind` (a panic becomes a [`PluginError`] of kind
//! [`ErrorKind::PANIC`], the daemon keeps running) and reports the plugin's metadata. You never
//! write an `abi_stable` attribute yourself; the FFI-safe collection types you meet in the data
//! ([`RString`], [`RVec`], [`ROption`]) are re-exported here and behave like `String`, `Vec` and
//! `Option` (they deref to `str` and slices; build them with `.into()`).
//!
//! ```ignore
//! use smo_plugin_api::prelude::*;
//!
//! struct FirstFit;
//! impl Placement for FirstFit {
//!     fn place(&self, req: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
//!         /* ... */
//!     }
//! }
//!
//! smo_plugin_api::export_plugin! {
//!     name: "my-plugin",
//!     version: env!("CARGO_PKG_VERSION"),
//!     placement: { "first-fit" => |_params: &str| Ok(FirstFit) },
//! }
//! ```
//!
//! # Versioning rule (what an author may rely on)
//!
//! The crate follows semantic versioning, and the major version is the ABI: the daemon refuses a
//! plugin whose `smo-plugin-api` major differs from its own, with one line naming both versions.
//! Within a major version, a release may only **add**, never change or remove:
//!
//! * new fields at the end of the root module [`PluginModule`] (a host reading a field an older
//!   plugin lacks gets the documented default);
//! * new methods at the end of a strategy trait, always with a default body, so an older
//!   plugin's object still answers (with the default);
//! * new keys inside the JSON `extra` member every request and response type carries, and new
//!   keys in a strategy's JSON parameters (plugins ignore keys they do not know);
//! * new [`ErrorKind`] and [`StrategyKind`] constants (they are integer newtypes, so a value
//!   from the future is still representable; treat unknown values as "other").
//!
//! All data types implement serde's `Serialize` and `Deserialize` (JSON in the API and tests).
//! With the optional `schema` feature they also implement `schemars::JsonSchema`; the JSON
//! Schemas of the requests and decisions, for plugins in other languages (the C ABI of
//! `include/smo_plugin.h`), are generated from them into `plugin-api/schemas/`.
//!
//! The `#[repr(C)]` data structs themselves are frozen for a major version: a field that must
//! be added goes into `extra` first and becomes a struct field at the next major release.
//! A plugin built against `1.x` therefore loads into every `1.y` daemon, older or newer, and
//! the test suite checks this with a plugin built against the previous release.

pub mod capacity;
pub mod error;
pub mod extra;
pub mod loading;
pub mod module;
pub mod sdk;
pub mod strategy;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;

pub use abi_stable::std_types::{ROption, RStr, RString, RVec};
pub use error::{ErrorKind, PluginError};
pub use module::{
    PluginMetadata, PluginModule, PluginModule_Ref, StrategyInfo, StrategyKind, API_VERSION,
};
pub use strategy::{
    MigrationStrategyBox, MigrationStrategy_TO, PlacementStrategyBox, PlacementStrategy_TO,
    ScalingStrategyBox, ScalingStrategy_TO,
};
pub use types::*;

/// Everything a plugin author needs, in one import.
pub mod prelude {
    pub use crate::capacity::FreeCapacity;
    pub use crate::error::{ErrorKind, PluginError};
    pub use crate::sdk::{Migration, Placement, Scaling};
    pub use crate::types::*;
    pub use abi_stable::std_types::{ROption, RString, RVec};
}

/// Re-exports used by [`export_plugin!`]; not part of the author-facing API.
#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
}
