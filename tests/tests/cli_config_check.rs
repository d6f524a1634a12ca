//! `smo config check FILE` validates a configuration without a daemon: a good file is `valid`,
//! a bad one exits 1 with the key at fault (or where the TOML breaks).

use smo_tests::smo_bin;

fn check(text: &str) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("smo.toml");
    std::fs::write(&file, text).expect("write");
    let out = std::process::Command::new(smo_bin())
        .args(["config", "check"])
        .arg(&file)
        .output()
        .expect("smo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_good_file_is_valid_and_a_bad_one_names_the_key() {
    let (ok, stdout, _) =
        check("[engine]\nscaling_period_ms = 1000\n[ecosystem]\nthreshold = 0.5\n");
    assert!(ok);
    assert!(stdout.trim_end().ends_with("smo.toml: valid"), "{stdout}");

    let (ok, _, stderr) = check("[ecosystem]\nthreshold = 1.5\n");
    assert!(!ok);
    assert!(stderr.contains("ecosystem.threshold"), "{stderr}");

    let (ok, _, stderr) = check("[plugins]\ncall_timeout_ms = 0\n");
    assert!(!ok);
    assert!(stderr.contains("plugins.call_timeout_ms"), "{stderr}");

    let (ok, _, stderr) = check("[engine]\nno_such_key = 1\n");
    assert!(!ok);
    assert!(stderr.contains("no_such_key"), "{stderr}");

    let (ok, _, stderr) = check("[engine\n");
    assert!(!ok);
    assert!(stderr.contains("smo.toml"), "{stderr}");
}
