//! Who may change what the daemon loads: a plugin file, or the directory holding it, that users
//! other than its owner may write is refused (as sshd refuses such keys) unless allowed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Why `path` (a plugin file or the plugin directory) may be changed by other users, if it can.
pub fn writable_by_others(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    let sticky_dir = path.is_dir() && mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky_dir {
        Some(format!(
            "{} is writable by users other than its owner (mode {mode:04o}): anyone who can \
             write there can run code in smo; `chmod go-w` it (or set \
             [plugins] allow_insecure_permissions = true to load it anyway)",
            path.display()
        ))
    } else {
        None
    }
}

/// The reason to refuse plugin file `file` in directory `dir`: the directory's or the file's.
pub fn refusal(dir: &Path, file: &Path) -> Option<String> {
    writable_by_others(dir).or_else(|| writable_by_others(file))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn group_or_world_writable_files_and_directories_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.so");
        fs::write(&file, b"x").unwrap();
        chmod(dir.path(), 0o755);
        chmod(&file, 0o755);
        assert_eq!(refusal(dir.path(), &file), None);
        chmod(&file, 0o666);
        let why = refusal(dir.path(), &file).unwrap();
        assert!(why.contains("a.so") && why.contains("0666"), "{why}");
        chmod(&file, 0o644);
        chmod(dir.path(), 0o777);
        let why = refusal(dir.path(), &file).unwrap();
        assert!(why.contains("0777"), "{why}");
        chmod(dir.path(), 0o775);
        assert!(refusal(dir.path(), &file).is_some(), "group-writable");
        chmod(dir.path(), 0o700);
    }
}
