//! The plugin author's side: plain Rust traits, the panic guard, and [`export_plugin!`].
//! Everything here runs inside the plugin; the host never calls it directly.

use crate::error::{ErrorKind, PluginError};
use crate::module::{PluginMetadata, PluginModule, PluginModule_Ref, StrategyInfo, StrategyKind};
use crate::strategy::{
    MigrationStrategy, MigrationStrategyBox, MigrationStrategy_TO, PlacementStrategy,
    PlacementStrategyBox, PlacementStrategy_TO, ScalingStrategy, ScalingStrategyBox,
    ScalingStrategy_TO,
};
use crate::types::{
    MigrationDecision, MigrationRequest, PlacementDecision, PlacementRequest, ScalingDecision,
    ScalingRequest,
};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString, RVec};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A placement strategy, in plain Rust.
pub trait Placement: Send + Sync + 'static {
    /// Initial placement.
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError>;
    /// Re-placement given `request.current`; by default the same as [`Placement::place`].
    fn replace(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        self.place(request)
    }
}

/// A scaling strategy, in plain Rust.
pub trait Scaling: Send + Sync + 'static {
    fn scale(&self, request: &ScalingRequest) -> Result<ScalingDecision, PluginError>;
}

/// A migration strategy, in plain Rust.
pub trait Migration: Send + Sync + 'static {
    fn plan(&self, request: &MigrationRequest) -> Result<MigrationDecision, PluginError>;
}

/// Runs `f`, turning a panic into a [`PluginError`] of kind [`ErrorKind::PANIC`].
pub fn guard<R>(f: impl FnOnce() -> Result<R, PluginError>) -> RResult<R, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => RResult::ROk(value),
        Ok(Err(error)) => RResult::RErr(error),
        Err(payload) => RResult::RErr(PluginError::new(
            ErrorKind::PANIC,
            format!("strategy panicked: {}", panic_message(payload.as_ref())),
        )),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Adapter from an author's plain strategy to the FFI trait objects, with the panic guard.
pub struct Guarded<T>(pub T);

impl<T: Placement> PlacementStrategy for Guarded<T> {
    fn place(&self, request: &PlacementRequest) -> RResult<PlacementDecision, PluginError> {
        guard(|| self.0.place(request))
    }
    fn replace(&self, request: &PlacementRequest) -> RResult<PlacementDecision, PluginError> {
        guard(|| self.0.replace(request))
    }
}

impl<T: Scaling> ScalingStrategy for Guarded<T> {
    fn scale(&self, request: &ScalingRequest) -> RResult<ScalingDecision, PluginError> {
        guard(|| self.0.scale(request))
    }
}

impl<T: Migration> MigrationStrategy for Guarded<T> {
    fn plan(&self, request: &MigrationRequest) -> RResult<MigrationDecision, PluginError> {
        guard(|| self.0.plan(request))
    }
}

/// Boxes a placement strategy for the host.
pub fn boxed_placement<T: Placement>(strategy: T) -> PlacementStrategyBox {
    PlacementStrategy_TO::from_value(Guarded(strategy), TD_Opaque)
}

/// Boxes a scaling strategy for the host.
pub fn boxed_scaling<T: Scaling>(strategy: T) -> ScalingStrategyBox {
    ScalingStrategy_TO::from_value(Guarded(strategy), TD_Opaque)
}

/// Boxes a migration strategy for the host.
pub fn boxed_migration<T: Migration>(strategy: T) -> MigrationStrategyBox {
    MigrationStrategy_TO::from_value(Guarded(strategy), TD_Opaque)
}

/// Error for a constructor asked for a strategy the plugin does not offer.
pub fn unknown_strategy(plugin: &str, kind: StrategyKind, name: RStr<'_>) -> PluginError {
    PluginError::bad_parameters(format!(
        "plugin `{plugin}` offers no {} strategy named `{}`",
        kind.name(),
        name.as_str()
    ))
}

/// Parses a strategy's JSON parameters; an empty string means "all defaults" (`{}`).
pub fn params_or_empty(params: &str) -> &str {
    if params.trim().is_empty() {
        "{}"
    } else {
        params
    }
}

/// Builds the metadata record; used by [`export_plugin!`].
pub fn metadata(
    name: &str,
    version: &str,
    strategies: &[(&str, StrategyKind, &str)],
) -> PluginMetadata {
    PluginMetadata {
        name: RString::from(name),
        version: RString::from(version),
        api_version: RString::from(crate::module::API_VERSION),
        strategies: strategies
            .iter()
            .map(|(n, k, d)| StrategyInfo {
                name: RString::from(*n),
                kind: *k,
                description: RString::from(*d),
            })
            .collect::<RVec<_>>(),
        panic_unwind: cfg!(panic = "unwind"),
        extra: RString::from("{}"),
    }
}

/// The three constructors of a plugin, as `extern "C"` functions.
pub type NewPlacementFn =
    extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<PlacementStrategyBox, PluginError>;
/// See [`NewPlacementFn`].
pub type NewScalingFn =
    extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<ScalingStrategyBox, PluginError>;
/// See [`NewPlacementFn`].
pub type NewMigrationFn =
    extern "C" fn(RStr<'_>, RStr<'_>) -> RResult<MigrationStrategyBox, PluginError>;

/// Builds the root module; used by [`export_plugin!`].
pub fn root_module(
    metadata: extern "C" fn() -> PluginMetadata,
    new_placement: NewPlacementFn,
    new_scaling: NewScalingFn,
    new_migration: NewMigrationFn,
) -> PluginModule_Ref {
    PluginModule {
        metadata,
        new_placement,
        new_scaling,
        new_migration,
        #[cfg(feature = "testing-next-minor")]
        next_minor_probe: crate::module::next_minor_probe,
    }
    .leak_into_prefix()
}

/// Exports a plugin: its name, version and named strategies with their constructors.
///
/// Each constructor is `fn(&str) -> Result<T, PluginError>` taking the strategy's JSON
/// parameters (`"{}"` when the graph gives none). Sections may be omitted.
///
/// ```ignore
/// smo_plugin_api::export_plugin! {
///     name: "example",
///     version: env!("CARGO_PKG_VERSION"),
///     placement: {
///         "first-fit": "places each service on the first cluster that fits" => FirstFit::new,
///     },
///     scaling: {},
///     migration: {},
/// }
/// ```
#[macro_export]
macro_rules! export_plugin {
    (
        name: $name:expr,
        version: $version:expr,
        $(placement: { $($pname:literal : $pdesc:literal => $pctor:expr),* $(,)? } $(,)?)?
        $(scaling: { $($sname:literal : $sdesc:literal => $sctor:expr),* $(,)? } $(,)?)?
        $(migration: { $($mname:literal : $mdesc:literal => $mctor:expr),* $(,)? } $(,)?)?
    ) => {
        const _: () = {
            use $crate::__private::abi_stable::std_types::{RResult, RStr};
            use $crate::sdk as __sdk;

            extern "C" fn __smo_metadata() -> $crate::PluginMetadata {
                __sdk::metadata(
                    $name,
                    $version,
                    &[
                        $($(($pname, $crate::StrategyKind::PLACEMENT, $pdesc),)*)?
                        $($(($sname, $crate::StrategyKind::SCALING, $sdesc),)*)?
                        $($(($mname, $crate::StrategyKind::MIGRATION, $mdesc),)*)?
                    ],
                )
            }

            extern "C" fn __smo_new_placement(
                name: RStr<'_>,
                params: RStr<'_>,
            ) -> RResult<$crate::PlacementStrategyBox, $crate::PluginError> {
                let params = __sdk::params_or_empty(params.as_str());
                let _ = params;
                __sdk::guard(|| match name.as_str() {
                    $($($pname => {
                        let built: ::core::result::Result<_, $crate::PluginError> = ($pctor)(params);
                        Ok(__sdk::boxed_placement(built?))
                    })*)?
                    _ => Err(__sdk::unknown_strategy($name, $crate::StrategyKind::PLACEMENT, name)),
                })
            }

            extern "C" fn __smo_new_scaling(
                name: RStr<'_>,
                params: RStr<'_>,
            ) -> RResult<$crate::ScalingStrategyBox, $crate::PluginError> {
                let params = __sdk::params_or_empty(params.as_str());
                let _ = params;
                __sdk::guard(|| match name.as_str() {
                    $($($sname => {
                        let built: ::core::result::Result<_, $crate::PluginError> = ($sctor)(params);
                        Ok(__sdk::boxed_scaling(built?))
                    })*)?
                    _ => Err(__sdk::unknown_strategy($name, $crate::StrategyKind::SCALING, name)),
                })
            }

            extern "C" fn __smo_new_migration(
                name: RStr<'_>,
                params: RStr<'_>,
            ) -> RResult<$crate::MigrationStrategyBox, $crate::PluginError> {
                let params = __sdk::params_or_empty(params.as_str());
                let _ = params;
                __sdk::guard(|| match name.as_str() {
                    $($($mname => {
                        let built: ::core::result::Result<_, $crate::PluginError> = ($mctor)(params);
                        Ok(__sdk::boxed_migration(built?))
                    })*)?
                    _ => Err(__sdk::unknown_strategy($name, $crate::StrategyKind::MIGRATION, name)),
                })
            }

            fn __smo_root_module() -> $crate::PluginModule_Ref {
                __sdk::root_module(
                    __smo_metadata,
                    __smo_new_placement,
                    __smo_new_scaling,
                    __smo_new_migration,
                )
            }

            // The symbol abi_stable's loader looks up (what `#[export_root_module]` emits).
            #[no_mangle]
            #[allow(non_upper_case_globals)]
            pub static _1as_0lib_1header_0root_bmodule_bloader:
                $crate::__private::abi_stable::library::LibHeader = {
                extern "C" fn erased() -> $crate::__private::abi_stable::library::RootModuleResult {
                    $crate::__private::abi_stable::library::__call_root_module_loader(
                        __smo_root_module,
                    )
                }
                // SAFETY: `erased` returns the root module of type `PluginModule_Ref`, which is the
                // type passed to `from_constructor`, and the layout check stays enabled.
                unsafe {
                    $crate::__private::abi_stable::library::LibHeader::from_constructor::<
                        $crate::PluginModule_Ref,
                    >(
                        erased,
                        $crate::__private::abi_stable::library::CheckTypeLayout::Yes,
                    )
                }
            };
        };
    };
}
