//! Plugins of the plain C ABI (`plugin-api/include/smo_plugin.h`): four exported functions,
//! JSON in and out. Opened with libloading and never closed, as abi_stable's images are not.

use super::{mark_mapped, one_line, truncate, PluginAbi, PluginInfo, StrategyDescription};
use crate::error::PluginHostError;
use serde::Deserialize;
use smo_plugin_api::{ErrorKind, PluginError};
use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::sync::Arc;

/// The version of the C ABI this host speaks (`SMO_C_ABI_VERSION`).
pub const C_ABI_VERSION: u32 = 1;

type AbiVersionFn = unsafe extern "C" fn() -> u32;
type DescribeFn = unsafe extern "C" fn() -> *mut c_char;
type CallFn = unsafe extern "C" fn(
    kind: *const c_char,
    strategy: *const c_char,
    params: *const c_char,
    request: *const c_char,
    out: *mut *mut c_char,
) -> i32;
type FreeFn = unsafe extern "C" fn(text: *mut c_char);

/// A loaded C plugin: its name, strategies and entry points (valid for the process's life).
pub struct CPlugin {
    name: String,
    /// (kind, name) of each strategy it describes.
    strategies: Vec<(String, String)>,
    call: CallFn,
    free: FreeFn,
}

/// `smo_plugin_describe`'s JSON.
#[derive(Deserialize)]
struct Described {
    name: String,
    version: String,
    strategies: Vec<DescribedStrategy>,
}

#[derive(Deserialize)]
struct DescribedStrategy {
    name: String,
    kind: String,
    #[serde(default)]
    description: String,
}

/// Loads the C plugin at `path`, or `None` when the library exports no
/// `smo_plugin_abi_version` (it is not a C plugin).
pub fn load(path: &Path) -> Result<Option<(Arc<CPlugin>, PluginInfo)>, PluginHostError> {
    let fail = |message: String| PluginHostError::Load {
        file: path.to_path_buf(),
        message,
    };
    // SAFETY: opening a library runs its initialisers; the probe ran them in a child first.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| {
        fail(format!(
            "cannot be opened as a shared library: {}",
            one_line(&e.to_string())
        ))
    })?;
    mark_mapped(path);
    // SAFETY: the symbol's type is the one smo_plugin.h declares for it.
    let Ok(abi_version) = (unsafe { library.get::<AbiVersionFn>(b"smo_plugin_abi_version\0") })
    else {
        return Ok(None);
    };
    let abi_version: AbiVersionFn = *abi_version;
    // SAFETY: as declared by smo_plugin.h: no arguments, returns a number.
    let speaks = unsafe { abi_version() };
    if speaks != C_ABI_VERSION {
        return Err(fail(format!(
            "speaks C ABI {speaks}, this daemon speaks C ABI {C_ABI_VERSION} (rebuild it with \
             the smo_plugin.h of this release)"
        )));
    }
    let missing = |symbol: &str| {
        fail(format!(
            "exports smo_plugin_abi_version but not {symbol}: a C plugin exports every function \
             of smo_plugin.h"
        ))
    };
    // SAFETY (the three lookups): each type is the one smo_plugin.h declares for the symbol.
    let describe: DescribeFn = *unsafe { library.get::<DescribeFn>(b"smo_plugin_describe\0") }
        .map_err(|_| missing("smo_plugin_describe"))?;
    let call: CallFn = *unsafe { library.get::<CallFn>(b"smo_plugin_call\0") }
        .map_err(|_| missing("smo_plugin_call"))?;
    let free: FreeFn = *unsafe { library.get::<FreeFn>(b"smo_plugin_free\0") }
        .map_err(|_| missing("smo_plugin_free"))?;
    // Never closed: a call abandoned past its deadline may still run in it, and the entry
    // points above must stay valid.
    std::mem::forget(library);
    // SAFETY: as declared by smo_plugin.h: returns a string it owns, or NULL.
    let text = unsafe { take(describe(), free) }
        .ok_or_else(|| fail("smo_plugin_describe returned NULL".into()))?;
    let described: Described = serde_json::from_str(&text).map_err(|e| {
        fail(format!(
            "smo_plugin_describe returned metadata that is not what smo_plugin.h says ({e}): {}",
            truncate(text.clone(), 200)
        ))
    })?;
    check_described(&described).map_err(fail)?;
    let info = PluginInfo {
        name: described.name.clone(),
        version: described.version,
        api_version: format!("c/{C_ABI_VERSION}"),
        strategies: described
            .strategies
            .iter()
            .map(|s| StrategyDescription {
                name: s.name.clone(),
                kind: s.kind.clone(),
                description: s.description.clone(),
            })
            .collect(),
        panic_unwind: true,
        abi: PluginAbi::C,
    };
    let plugin = CPlugin {
        name: described.name,
        strategies: described
            .strategies
            .into_iter()
            .map(|s| (s.kind, s.name))
            .collect(),
        call,
        free,
    };
    Ok(Some((Arc::new(plugin), info)))
}

/// The plugin's and strategies' names as `plugin/strategy` allows them, known kinds.
fn check_described(described: &Described) -> Result<(), String> {
    let valid = crate::names::is_valid_part;
    if !valid(&described.name) {
        return Err(format!(
            "smo_plugin_describe: name `{}` is not a plugin name (letters, digits, `-`, `_`, `.`)",
            described.name
        ));
    }
    if described.strategies.is_empty() {
        return Err("smo_plugin_describe: strategies is empty".into());
    }
    for (index, strategy) in described.strategies.iter().enumerate() {
        if !valid(&strategy.name) {
            return Err(format!(
                "smo_plugin_describe: strategies[{index}].name `{}` is not a strategy name",
                strategy.name
            ));
        }
        if !matches!(
            strategy.kind.as_str(),
            "placement" | "scaling" | "migration"
        ) {
            return Err(format!(
                "smo_plugin_describe: strategies[{index}].kind `{}` is not one of placement, \
                 scaling, migration",
                strategy.kind
            ));
        }
    }
    Ok(())
}

/// Copies a string the plugin returned and hands it back to `free`; `None` for NULL.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string the plugin owns until it is freed with `free`.
unsafe fn take(text: *mut c_char, free: FreeFn) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: non-NULL, NUL-terminated and alive until freed, as the caller guarantees.
    let copied = unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: returned by this plugin and handed back exactly once, as smo_plugin.h requires.
    unsafe { free(text) };
    Some(copied)
}

impl super::json_strategy::JsonCalls for CPlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn offers(&self, kind: &str, name: &str) -> bool {
        self.strategies.iter().any(|(k, n)| k == kind && n == name)
    }

    /// Calls the plugin's `smo_plugin_call`: the decision's JSON text, or the error the plugin
    /// returned with its message.
    fn call(
        &self,
        kind: &str,
        strategy: &str,
        params: &str,
        request: &str,
    ) -> Result<String, PluginError> {
        let text = |value: &str, what: &str| {
            CString::new(value)
                .map_err(|_| PluginError::invalid_input(format!("{what} contains a NUL byte")))
        };
        let (kind_c, strategy_c) = (text(kind, "the kind")?, text(strategy, "the strategy")?);
        let (params_c, request_c) = (
            text(params, "the parameters")?,
            text(request, "the request")?,
        );
        let mut out: *mut c_char = std::ptr::null_mut();
        // SAFETY: as smo_plugin.h declares: four NUL-terminated strings alive for the call and
        // a place for the plugin's answer.
        let status = unsafe {
            (self.call)(
                kind_c.as_ptr(),
                strategy_c.as_ptr(),
                params_c.as_ptr(),
                request_c.as_ptr(),
                &mut out,
            )
        };
        // SAFETY: `out` is NULL or a string the plugin returned, as smo_plugin.h requires.
        let answer = unsafe { take(out, self.free) };
        let message = || answer.clone().unwrap_or_else(|| "(no message)".to_owned());
        match status {
            0 => answer.ok_or_else(|| {
                PluginError::internal("returned SMO_OK but no decision (out left NULL)")
            }),
            1 | 2 | 5 | 6 => Err(PluginError::new(ErrorKind(status as u32), message())),
            4 => Err(PluginError::internal(message())),
            other => Err(PluginError::internal(format!(
                "returned status {other}, which smo_plugin.h does not define: {}",
                message()
            ))),
        }
    }
}
