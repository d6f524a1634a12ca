//! Lists the candidate plugin files (regular `*.so` files, not hidden) of the shipped plugin
//! directory and the operators' one. Operators install by rename; temporary and hidden files are
//! ignored until renamed.

use super::error::PluginHostError;
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

/// Which directory a plugin file was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The package's directory (`/usr/lib/smo/plugins`): read-only, replaced by upgrades.
    Shipped,
    /// The operators' directory (`plugin_dir`): a plugin here overrides a shipped one of the
    /// same name.
    Operators,
}

/// One candidate file and the directory it was found in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub origin: Origin,
}

/// The candidates of the operators' directory, then those of the shipped one (`None`, or a
/// directory that does not exist, ships nothing; the same directory as the operators' is read
/// once). Operators' files come first so that a plugin name they provide is taken before a
/// shipped file offers it again.
pub fn scan_all(
    shipped: Option<&Path>,
    operators: &Path,
) -> Result<Vec<Candidate>, PluginHostError> {
    let mut found: Vec<Candidate> = scan(operators)?
        .into_iter()
        .map(|file| Candidate {
            file,
            dir: operators.to_path_buf(),
            origin: Origin::Operators,
        })
        .collect();
    let Some(shipped) = shipped else {
        return Ok(found);
    };
    if !shipped.exists() || same_dir(shipped, operators) {
        return Ok(found);
    }
    found.extend(scan(shipped)?.into_iter().map(|file| Candidate {
        file,
        dir: shipped.to_path_buf(),
        origin: Origin::Shipped,
    }));
    Ok(found)
}

/// `true` when `a` and `b` name the same existing directory.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

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

/// Whether `file` is named after plugin `name`: its stem is the name, with `_` read as `-`
/// (`default_lp.so`, as cargo builds it, and `default-lp.so` are both `default-lp`'s).
pub fn named_after(file: &Path, name: &str) -> bool {
    let Some(stem) = file.file_stem().and_then(|s| s.to_str()) else {
        return false;
    };
    let stem = stem.strip_prefix("lib").unwrap_or(stem);
    let dash = |c: char| if c == '_' { '-' } else { c };
    stem.len() == name.len() && stem.chars().map(dash).eq(name.chars().map(dash))
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

    #[test]
    fn a_file_is_named_after_a_plugin_with_underscores_as_dashes() {
        for file in [
            "default-lp.so",
            "default_lp.so",
            "libdefault_lp.so",
            "/x/default-lp.so",
        ] {
            assert!(named_after(Path::new(file), "default-lp"), "{file}");
        }
        for file in ["default-lp2.so", "lp.so", "default.so", ".so"] {
            assert!(!named_after(Path::new(file), "default-lp"), "{file}");
        }
        assert!(named_after(Path::new("h3ni_energy.so"), "h3ni-energy"));
    }

    #[test]
    fn operators_files_come_first_and_a_missing_shipped_dir_ships_nothing() {
        let root = tempfile::tempdir().unwrap();
        let (shipped, operators) = (root.path().join("shipped"), root.path().join("ops"));
        fs::create_dir(&shipped).unwrap();
        fs::create_dir(&operators).unwrap();
        fs::write(shipped.join("a.so"), b"x").unwrap();
        fs::write(operators.join("b.so"), b"x").unwrap();
        let found = scan_all(Some(&shipped), &operators).unwrap();
        let seen: Vec<(&str, Origin)> = found
            .iter()
            .map(|c| (c.file.file_name().unwrap().to_str().unwrap(), c.origin))
            .collect();
        assert_eq!(
            seen,
            [("b.so", Origin::Operators), ("a.so", Origin::Shipped)]
        );
        assert_eq!(found[1].dir, shipped);

        let missing = root.path().join("not-installed");
        assert_eq!(scan_all(Some(&missing), &operators).unwrap().len(), 1);
        assert_eq!(scan_all(None, &operators).unwrap().len(), 1);
        // The same directory twice is read once.
        assert_eq!(scan_all(Some(&operators), &operators).unwrap().len(), 1);
    }
}
