//! Loads a staged plugin image into this process through abi_stable and reads its metadata.
//! The only place that opens shared libraries; every failure becomes one line (details at debug).

use super::error::PluginHostError;
use abi_stable::library::{lib_header_from_path, LibraryError};
use serde::{Deserialize, Serialize};
use smo_plugin_api::{PluginModule_Ref, API_VERSION};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Paths of the images mapped into this process (they are never unmapped). dlopen of a path
/// that is already mapped returns the same image, so each path counts once.
static MAPPED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn mapped() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    MAPPED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Number of distinct plugin images this process has mapped.
pub fn images_mapped() -> usize {
    mapped().as_ref().map_or(0, HashSet::len)
}

/// `true` when the image at `path` is already mapped (loading it again maps nothing new).
pub fn is_mapped(path: &Path) -> bool {
    mapped().as_ref().is_some_and(|m| m.contains(path))
}

fn mark_mapped(path: &Path) {
    mapped()
        .get_or_insert_with(HashSet::new)
        .insert(path.to_path_buf());
}

/// One strategy a plugin offers, host-side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StrategyDescription {
    pub name: String,
    pub kind: String,
    pub description: String,
}

/// A plugin's metadata, host-side (what `smo plugin check` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub strategies: Vec<StrategyDescription>,
    pub panic_unwind: bool,
}

/// Loads the image at `path` (a staged copy) and returns its root module and metadata.
///
/// Loading runs the library's initialisers: call it only on files the probe accepted.
pub fn load(path: &Path) -> Result<(PluginModule_Ref, PluginInfo), PluginHostError> {
    let _span = tracing::debug_span!("load_plugin", file = %path.display()).entered();
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
    Ok((module, info))
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
        LibraryError::GetSymbolError { .. } => PluginHostError::Load {
            file,
            message: "not an smo plugin: it exports no smo root module (build it with smo_plugin_api::export_plugin!)".into(),
        },
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

fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(joined, 300)
}

/// The last `Error:` paragraph of a layout report, on one line.
fn last_error_block(text: &str) -> String {
    let tail = text.rfind("Error:").map_or(text, |i| &text[i..]);
    one_line(tail)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
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
