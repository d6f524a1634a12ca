//! `smo validate FILE` from the command line: the upstream fixtures pass unchanged, and a bad
//! descriptor gets every error at once with the path of each field, and exit code 1.

use smo_tests::*;
use std::process::Command;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/hdag")
        .join(name)
}

#[test]
fn upstream_fixtures_validate_unchanged() {
    for name in ["hello-world.yaml", "brussels-demo.yaml"] {
        let out = Command::new(smo_bin())
            .arg("validate")
            .arg(fixture(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("valid"), "{stdout}");
    }
    let out = Command::new(smo_bin())
        .args(["validate", "--json"])
        .arg(fixture("brussels-demo.yaml"))
        .output()
        .unwrap();
    let graph: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(graph["name"], "image-detection-graph");
    assert_eq!(graph["services"].as_array().unwrap().len(), 3);
}

#[test]
fn every_error_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "hdaGraph:\n  id: Bad_Name\n  services:\n    - id: a\n      deployment:\n        intent:\n          compute: {cpu: huge, ram: 2}\n",
    )
    .unwrap();
    let out = Command::new(smo_bin())
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("hdaGraph.id:"), "{stderr}");
    assert!(
        stderr.contains("hdaGraph.services[0].deployment.intent.compute.cpu:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hdaGraph.services[0].deployment.intent.compute.ram:"),
        "{stderr}"
    );
    assert!(stderr.contains("3 error(s)"), "{stderr}");
}

#[test]
fn a_deeply_nested_descriptor_is_refused_naming_the_limit_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    // 40,000 nested flow maps (~200 KB): once 15 s of parsing; now refused by a linear scan.
    let deep = format!(
        "hdaGraph: {{x: {}1{}}}\n",
        "{a: ".repeat(40_000),
        "}".repeat(40_000)
    );
    let file = dir.path().join("deep.yaml");
    std::fs::write(&file, &deep).unwrap();
    let out = Command::new(smo_bin())
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nests 40002 levels deep, more than the limit of 64"),
        "{stderr}"
    );
}

/// `smo validate FILE --plugin-dir DIR`: the hello-world fixture naming `lines` under
/// `hdaGraphIntent`, checked against DIR's plugins.
fn validate_naming(dir: &std::path::Path, lines: &str, json: bool) -> std::process::Output {
    let text = std::fs::read_to_string(fixture("hello-world.yaml"))
        .unwrap()
        .replace(
            "  hdaGraphIntent:\n",
            &format!("  hdaGraphIntent:\n{lines}"),
        );
    assert!(text.contains(lines), "the fixture changed shape");
    let file = dir.join("named.yaml");
    std::fs::write(&file, text).unwrap();
    let mut command = Command::new(smo_bin());
    command
        .arg("validate")
        .arg(&file)
        .arg("--plugin-dir")
        .arg(dir);
    if json {
        command.arg("--json");
    }
    command.output().unwrap()
}

#[test]
fn with_a_plugin_dir_the_strategies_named_must_exist_there_with_their_kind() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_ecmr", "ecmr.so");
    let dir = sandbox.plugin_dir();
    let field = "hdaGraph.hdaGraphIntent.placementStrategy";

    let out = validate_naming(
        &dir,
        "    placementStrategy: ecmr/heuristic\n    scalingStrategy: default-lp/scaling\n",
        false,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = validate_naming(&dir, "    placementStrategy: nosuch/placement\n", false);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(&format!("{field}: no plugin `nosuch`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("default-lp/placement") && stderr.contains("ecmr/heuristic"),
        "{stderr}"
    );
    assert!(stderr.contains("1 error(s)"), "{stderr}");

    let out = validate_naming(&dir, "    placementStrategy: default-lp/scaling\n", true);
    assert_eq!(out.status.code(), Some(1));
    let errors: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(errors[0]["path"], field, "{errors}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("is a scaling strategy, not a placement strategy"),
        "{errors}"
    );

    // Without --plugin-dir the names are not looked up, as before.
    let out = Command::new(smo_bin())
        .arg("validate")
        .arg(dir.join("named.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A directory that cannot be read is an error, not a pass.
    let out = Command::new(smo_bin())
        .arg("validate")
        .arg(dir.join("named.yaml"))
        .arg("--plugin-dir")
        .arg(dir.join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
