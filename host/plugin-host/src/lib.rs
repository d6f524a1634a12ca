//! smo's plugin host: finding strategy plugins (`.so` files), probing them in a child process,
//! loading them through the Rust ABI (abi_stable) or the plain C ABI (`smo_plugin.h`), hot
//! reload, and the guard every strategy call goes through.
//!
//! Flow: [`catalog`] scans the plugin directory and [`staging`] copies each file to a private
//! path named by its content hash; [`probe`] runs `smo plugin check` on that copy in a child
//! process; [`loader`] (the only module that opens libraries, and the only `unsafe`) loads it
//! in-process on first use, whichever of the two kinds it is; [`registry`] keeps the active set and swaps it atomically on reload; [`guard`]
//! runs calls under permits and deadlines and quarantines failing strategies; [`dispatch`]
//! turns a strategy name into a decision record, falling back to the default strategy.

pub mod catalog;
pub mod check;
pub mod dispatch;
pub mod error;
pub mod guard;
pub mod isolation;
pub mod loader;
pub mod metrics;
pub mod names;
pub mod permissions;
pub mod probe;
pub mod registry;
pub mod staging;
pub mod stats;
pub mod triggers;

pub use dispatch::Dispatcher;
pub use error::{CallError, PluginHostError};
pub use guard::{CallGuard, GuardConfig};
pub use names::StrategyName;
pub use registry::{Registry, RegistryConfig, ReloadReport};
