//! Plugins of the Rust ABI: a root module loaded through abi_stable, its metadata read into
//! host-owned types; abi_stable's (sometimes 700-line) errors become one line.

use super::{mark_mapped, one_line, PluginAbi, PluginInfo, StrategyDescription};
use crate::error::PluginHostError;
use abi_stable::library::{lib_header_from_path, LibraryError};
use smo_plugin_api::{PluginModule_Ref, API_VERSION};
use std::path::Path;

/// Loads the image at `path` (a staged copy) and returns its root module and metadata, or
/// `None` when the library opened but exports no smo root module (it may be a C plugin).
///
/// Loading runs the library's initialisers: call it only on files the probe accepted.
pub fn load(path: &Path) -> Result<Option<(PluginModule_Ref, PluginInfo)>, PluginHostError> {
    // dlopen happens inside `lib_header_from_path`; a library that opened is mapped for good.
    let header = match lib_header_from_path(path) {
        Ok(header) => {
            mark_mapped(path);
            header
        }
        Err(error) => {
            if !matches!(error, LibraryError::OpenError { .. }) {
                mark_mapped(path);
            }
            if matches!(error, LibraryError::GetSymbolError { .. }) {
                return Ok(None);
            }
            return Err(summarise(path, error));
        }
    };
    // Not abi_stable's `init_root_module`: it refuses plugins built against an older minor
    // version of smo-plugin-api once the root module has gained a field.
    let module =
        smo_plugin_api::loading::init_root_module(header).map_err(|e| summarise(path, e))?;
    let info = info_of(module);
    if !info.panic_unwind {
        return Err(PluginHostError::Load {
            file: path.to_path_buf(),
            message: "plugin was built with panic = \"abort\"; a panic would kill the daemon, rebuild it with panic = \"unwind\"".into(),
        });
    }
    Ok(Some((module, info)))
}

/// Reads a loaded module's metadata into host-owned types.
pub fn info_of(module: PluginModule_Ref) -> PluginInfo {
    let meta = (module.metadata())();
    PluginInfo {
        name: meta.name.to_string(),
        version: meta.version.to_string(),
        api_version: meta.api_version.to_string(),
        strategies: meta
            .strategies
            .iter()
            .map(|s| StrategyDescription {
                name: s.name.to_string(),
                kind: s.kind.name().to_string(),
                description: s.description.to_string(),
            })
            .collect(),
        panic_unwind: meta.panic_unwind,
        abi: PluginAbi::Rust,
    }
}

/// Turns abi_stable's (sometimes 700-line) errors into one line; the full text goes to debug.
fn summarise(path: &Path, error: LibraryError) -> PluginHostError {
    let file = path.to_path_buf();
    let full = error.to_string();
    tracing::debug!(file = %path.display(), error = %full, "plugin load failed (full report)");
    match error {
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => {
            PluginHostError::IncompatibleApi {
                file,
                plugin_api: actual_version.to_string(),
                host_api: API_VERSION.to_string(),
            }
        }
        LibraryError::OpenError { .. } => PluginHostError::Load {
            file,
            message: format!("cannot be opened as a shared library: {}", one_line(&full)),
        },
        LibraryError::AbiInstability(_) => PluginHostError::Load {
            file,
            message: format!(
                "its data layout differs from this daemon's smo-plugin-api {API_VERSION}: {}",
                last_error_block(&full)
            ),
        },
        LibraryError::RootModule { .. } => PluginHostError::Load {
            file,
            message: format!("its root module failed to initialise: {}", one_line(&full)),
        },
        _ => PluginHostError::Load {
            file,
            message: one_line(&full),
        },
    }
}

/// The last `Error:` paragraph of a layout report, on one line.
fn last_error_block(text: &str) -> String {
    let tail = text.rfind("Error:").map_or(text, |i| &text[i..]);
    one_line(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_reports_shrink_to_their_last_error() {
        let report = "lots\nof\nlayout\nError:first\nmore\nError:mismatched type\n Expected: RString\n Found: u64\n";
        assert_eq!(
            last_error_block(report),
            "Error:mismatched type Expected: RString Found: u64"
        );
    }

    #[test]
    fn missing_file_is_one_line() {
        let Err(err) = load(Path::new("/nonexistent/plugin.so")) else {
            panic!("a missing file loaded");
        };
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("/nonexistent/plugin.so"), "{text}");
    }
}
