//! C ABI plugins (`plugin-api/include/smo_plugin.h`) built by the tests themselves with the
//! system C compiler (`$CC`, else `cc`): the example `examples/c-strategy/`, the fixtures of
//! `tests/fixture-plugins-c/` and the small host `tests/fixture-plugins-c/driver/drive.c`.
//!
//! Each is built once per test process into `target/<profile>/c-plugins/`, under a temporary
//! name renamed into place, so tests of one process may ask at once and several test
//! processes may build the same file at once.

use crate::{artifact_dir, repo_root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The flags of a C plugin build (the example's README gives the same command), before
/// `-I <repo>/plugin-api/include`.
pub const C_PLUGIN_FLAGS: [&str; 7] = [
    "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
];

/// The flags of a fixture's build: unoptimised, so each misbehaves exactly as written.
const C_FIXTURE_FLAGS: [&str; 7] = [
    "-std=c11", "-O0", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
];

/// `plugin-api/include`, where `smo_plugin.h` is.
pub fn c_include_dir() -> PathBuf {
    repo_root().join("plugin-api/include")
}

/// Where the tests put the C plugins they build: `target/<profile>/c-plugins`.
pub fn c_build_dir() -> PathBuf {
    artifact_dir().join("c-plugins")
}

/// Compiles `sources` into the shared library `out` with [`C_PLUGIN_FLAGS`] and
/// `-I <repo>/plugin-api/include`; panics with the compiler's stderr when it fails. `out` is
/// replaced by rename, never written in place.
pub fn build_c_plugin(sources: &[&Path], out: &Path) {
    compile_c(sources, out, &C_PLUGIN_FLAGS, &[]);
}

/// `tests/fixture-plugins-c/<name>.c` (e.g. `c_segfault`) built as
/// `target/<profile>/c-plugins/lib<name>.so`, once per test process; its path. The shared parts
/// of the fixtures are in `tests/fixture-plugins-c/fixture.h`, which each includes by its name
/// relative to the `.c` file (no include path for it).
pub fn c_fixture(name: &str) -> PathBuf {
    let source = repo_root().join(format!("tests/fixture-plugins-c/{name}.c"));
    assert!(source.is_file(), "no C fixture {}", source.display());
    built_once(&format!("lib{name}.so"), |out| {
        compile_c(&[&source], out, &C_FIXTURE_FLAGS, &[]);
    })
}

/// The example plugin `examples/c-strategy/` (every `.c` file of it) built as
/// `target/<profile>/c-plugins/libc_first_fit.so`, once per test process; its path.
pub fn c_example() -> PathBuf {
    built_once("libc_first_fit.so", |out| {
        let sources = c_sources(&repo_root().join("examples/c-strategy"));
        let refs: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
        build_c_plugin(&refs, out);
    })
}

/// The test host `tests/fixture-plugins-c/driver/drive.c` (with the example's JSON reader)
/// built as `target/<profile>/c-plugins/drive`, once per test process; its path. See the top
/// of `drive.c` for what it does.
pub fn c_driver() -> PathBuf {
    built_once("drive", |out| {
        let root = repo_root();
        let driver = root.join("tests/fixture-plugins-c/driver/drive.c");
        let json = root.join("examples/c-strategy/json.c");
        compile_c(
            &[&driver, &json],
            out,
            &["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread"],
            &["-ldl"],
        );
    })
}

/// The `.c` files of `dir`, sorted.
fn c_sources(dir: &Path) -> Vec<PathBuf> {
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no .c file in {}", dir.display());
    sources
}

/// The path of `file_name` in [`c_build_dir`], built by `build` the first time this process
/// asks. The lock is held while building: a second test asking meanwhile waits for the file.
fn built_once(file_name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    // A build that panicked left nothing in the map: the next test tries again.
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(file_name) {
        return path.clone();
    }
    let dir = c_build_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let out = dir.join(file_name);
    build(&out);
    built.insert(file_name.to_owned(), out.clone());
    out
}

/// The C compiler and its leading arguments: `$CC` split at whitespace (`ccache cc` works),
/// else `cc`.
fn c_compiler() -> (String, Vec<String>) {
    let cc = std::env::var("CC")
        .ok()
        .filter(|cc| !cc.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned());
    let mut words = cc.split_whitespace().map(str::to_owned);
    let program = words.next().expect("a compiler name");
    (program, words.collect())
}

/// Runs the C compiler: `flags -I <include> -o <temporary> sources libs`, then renames the
/// temporary file (in `out`'s directory, unique to this process and call) to `out`.
fn compile_c(sources: &[&Path], out: &Path, flags: &[&str], libs: &[&str]) {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let file_name = out
        .file_name()
        .unwrap_or_else(|| panic!("{} names no file", out.display()))
        .to_string_lossy();
    let tmp = out.with_file_name(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let (program, leading) = c_compiler();
    let mut command = Command::new(&program);
    command
        .args(&leading)
        .args(flags)
        .arg("-I")
        .arg(c_include_dir())
        .arg("-o")
        .arg(&tmp)
        .args(sources)
        .args(libs);
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{program}` ($CC): {e}"));
    if !output.status.success() {
        let _ = std::fs::remove_file(&tmp);
        panic!(
            "{command:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::rename(&tmp, out).unwrap_or_else(|e| {
        let _ = std::fs::remove_file(&tmp);
        panic!("rename {} to {}: {e}", tmp.display(), out.display())
    });
}
