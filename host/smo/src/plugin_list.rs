//! `smo plugin list --dir`: the plugin files of the operators' directory and of the package's
//! shipped one, each probed in a child process, marking the shipped plugins the operators' override.

use serde_json::{json, Value};
use smo_plugin_host::catalog::{self, Origin};
use smo_plugin_host::probe::{self, ProbeConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One row per candidate file, the operators' first: `file`, `origin` (`operators` or
/// `shipped`), `ok` with `plugin` (its metadata) or `error`, and for a shipped plugin that a
/// plugin of the same name in the operators' directory overrides, `overridden_by`.
pub async fn probe_dirs(
    operators: &Path,
    shipped: Option<&Path>,
    probe_config: &ProbeConfig,
) -> Result<Vec<Value>, String> {
    let candidates = catalog::scan_all(shipped, operators).map_err(|e| e.to_string())?;
    let mut by_name: HashMap<String, PathBuf> = HashMap::new();
    let mut rows = Vec::new();
    for candidate in candidates {
        let origin = candidate.origin;
        let file = candidate.file;
        let row = match probe::probe(probe_config, &file).await {
            Ok(info) => {
                let overridden_by = match origin {
                    Origin::Operators => {
                        by_name.entry(info.name.clone()).or_insert(file.clone());
                        None
                    }
                    Origin::Shipped => by_name.get(&info.name).cloned(),
                };
                let mut row = json!({"file": file, "origin": origin, "ok": true, "plugin": info});
                if let Some(by) = overridden_by {
                    row["overridden_by"] = json!(by);
                }
                row
            }
            Err(e) => json!({"file": file, "origin": origin, "ok": false, "error": e.to_string()}),
        };
        rows.push(row);
    }
    Ok(rows)
}
