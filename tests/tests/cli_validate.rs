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
