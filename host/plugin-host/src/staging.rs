//! Private copies of plugin files, named by content hash, from which the daemon loads.
//! abi_stable never unloads and dlopen caches by path, so each distinct content gets its own path.

use super::error::PluginHostError;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A plugin file copied into the staging directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// Where the operator put it.
    pub source: PathBuf,
    /// The private copy the daemon loads.
    pub staged: PathBuf,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub size: u64,
}

/// Hex SHA-256 of a file.
pub fn sha256_of(path: &Path) -> Result<(String, u64), PluginHostError> {
    let io = |source| PluginHostError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex(&hasher.finalize()), size))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Copies `source` to `dir/<stem>-<sha256[..16]>.so` unless that copy already exists.
///
/// The copy is written under a temporary name and renamed, so a half-written copy is never
/// loaded; it is made read-only.
pub fn stage(source: &Path, dir: &Path) -> Result<StagedFile, PluginHostError> {
    let (sha256, size) = sha256_of(source)?;
    stage_hashed(source, dir, sha256, size)
}

/// [`stage`] for a file whose hash and size the caller has just read ([`sha256_of`]), so the
/// file is not hashed twice.
pub fn stage_hashed(
    source: &Path,
    dir: &Path,
    sha256: String,
    size: u64,
) -> Result<StagedFile, PluginHostError> {
    let stem = source
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("plugin");
    let staged = dir.join(format!("{stem}-{}.so", &sha256[..16]));
    if !staged.exists() {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PluginHostError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = dir.join(format!(".{stem}-{}.tmp", std::process::id()));
        fs::copy(source, &tmp).map_err(io(&tmp))?;
        let mut perms = fs::metadata(&tmp).map_err(io(&tmp))?.permissions();
        perms.set_readonly(true);
        fs::set_permissions(&tmp, perms).map_err(io(&tmp))?;
        fs::rename(&tmp, &staged).map_err(io(&staged))?;
    }
    Ok(StagedFile {
        source: source.to_path_buf(),
        staged,
        sha256,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_copy_new_content_new_copy() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("p.so");
        fs::write(&src, b"one").unwrap();
        let stage_dir = dir.path().join("staged");
        let a = stage(&src, &stage_dir).unwrap();
        let b = stage(&src, &stage_dir).unwrap();
        assert_eq!(a.staged, b.staged);
        fs::write(&src, b"two").unwrap();
        let c = stage(&src, &stage_dir).unwrap();
        assert_ne!(a.staged, c.staged);
        assert_eq!(fs::read(&c.staged).unwrap(), b"two");
        assert_eq!(fs::read(&a.staged).unwrap(), b"one");
        assert_eq!(a.sha256.len(), 64);
    }
}
