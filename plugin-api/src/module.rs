#![allow(non_camel_case_types)]
//! The root module every plugin exports: its metadata and one constructor per strategy kind.
//! One `.so` exports exactly one root module, which may offer several named strategies.

use crate::error::PluginError;
use crate::strategy::{MigrationStrategyBox, PlacementStrategyBox, ScalingStrategyBox};
use abi_stable::library::RootModule;
use abi_stable::package_version_strings;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RStr, RString, RVec};
use abi_stable::{declare_root_module_statics, StableAbi};

/// The version of this crate, i.e. the plugin API version a plugin was built against.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which of the three traits a strategy implements (integer newtype: kinds may be added).
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct StrategyKind(pub u8);

impl StrategyKind {
    pub const PLACEMENT: StrategyKind = StrategyKind(1);
    pub const SCALING: StrategyKind = StrategyKind(2);
    pub const MIGRATION: StrategyKind = StrategyKind(3);

    pub fn name(self) -> &'static str {
        match self {
            Self::PLACEMENT => "placement",
            Self::SCALING => "scaling",
            Self::MIGRATION => "migration",
            _ => "unknown",
        }
    }
}

/// One strategy a plugin offers.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct StrategyInfo {
    pub name: RString,
    pub kind: StrategyKind,
    pub description: RString,
}

/// What a plugin says about itself.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct PluginMetadata {
    /// Plugin name, the first half of `plugin/strategy`.
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// The `smo-plugin-api` version the plugin was built against.
    pub api_version: RString,
    pub strategies: RVec<StrategyInfo>,
    /// `false` when the plugin was built with `panic = "abort"` (a panic would kill the host).
    pub panic_unwind: bool,
    /// JSON object for members added in later minor versions.
    pub extra: RString,
}

/// The root module. Fields are only ever appended (see the crate's versioning rule), after
/// `new_migration`; the accessor of an appended field returns `None` for a plugin built before
/// it (abi_stable's default for prefix types), so a newer host keeps loading older plugins.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModule_Ref)))]
pub struct PluginModule {
    /// The plugin's metadata.
    pub metadata: extern "C" fn() -> PluginMetadata,
    /// Builds the placement strategy `name` from JSON parameters.
    pub new_placement: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
    ) -> RResult<PlacementStrategyBox, PluginError>,
    /// Builds the scaling strategy `name` from JSON parameters.
    pub new_scaling:
        extern "C" fn(name: RStr<'_>, params: RStr<'_>) -> RResult<ScalingStrategyBox, PluginError>,
    /// Builds the migration strategy `name` from JSON parameters.
    #[sabi(last_prefix_field)]
    pub new_migration: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
    ) -> RResult<MigrationStrategyBox, PluginError>,
    /// Only with the `testing-next-minor` feature: the kind of field a next minor version would
    /// append, so that a test can load a plugin built before it into such a host.
    #[cfg(feature = "testing-next-minor")]
    pub next_minor_probe: extern "C" fn() -> u32,
}

/// What [`PluginModule::next_minor_probe`] answers for a plugin built with the field.
#[cfg(feature = "testing-next-minor")]
pub extern "C" fn next_minor_probe() -> u32 {
    1
}

impl RootModule for PluginModule_Ref {
    declare_root_module_statics! {PluginModule_Ref}
    const BASE_NAME: &'static str = "smo_plugin";
    const NAME: &'static str = "smo_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
