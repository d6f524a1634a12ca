//! Lists the candidate plugin files of the plugin directory (regular `*.so` files, not hidden).
//! Operators install by rename; temporary and hidden files are ignored until renamed.

use super::error::PluginHostError;
use std::fs;
use std::path::{Path, PathBuf};

/// The `.so` files in `dir`, sorted by name.
pub fn scan(dir: &Path) -> Result<Vec<PathBuf>, PluginHostError> {
    let entries = fs::read_dir(dir).map_err(|source| PluginHostError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_candidate(p))
        .collect();
    files.sort();
    Ok(files)
}

/// A visible regular file named `*.so`.
pub fn is_candidate(path: &Path) -> bool {
    let visible = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.'));
    visible && path.extension().is_some_and(|e| e == "so") && path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_visible_so_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.so", "a.so", ".hidden.so", "notes.txt", "c.so.tmp"] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        fs::create_dir(dir.path().join("d.so")).unwrap();
        let names: Vec<String> = scan(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.so", "b.so"]);
    }
}
