//! `smo render`: the objects a graph becomes on Karmada, validated against the real schemas
//! (Kubernetes 1.33 through `kubernetes-validate`, Karmada's CRDs, the multi-cluster services
//! API); and the validator itself, on objects it must accept and objects it must refuse.

use smo_tests::*;
use std::path::Path;
use std::process::Output;

fn shop() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/karmada/shop.yaml")
}

fn render(sandbox: &Sandbox, args: &[&str]) -> Output {
    std::process::Command::new(smo_bin())
        .arg("render")
        .args(args)
        .arg("--plugin-dir")
        .arg(sandbox.plugin_dir())
        .output()
        .expect("smo render runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_valid(paths: &[&Path]) -> String {
    let out = validate_objects(paths);
    let report = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "invalid objects:\n{report}");
    report
}

#[test]
fn a_placement_file_renders_valid_objects_one_file_each_in_apply_order() {
    let sandbox = Sandbox::new();
    let placement = sandbox.root.path().join("placement.yaml");
    std::fs::write(
        &placement,
        "- {service: frontend, cluster: edge-1, replicas: 3}\n\
         - {service: frontend, cluster: cloud-a, replicas: 2}\n\
         - {service: catalog, cluster: cloud-a, replicas: 2}\n\
         - {service: cart, cluster: edge-1, replicas: 1}\n\
         - {service: worker, cluster: cloud-b, replicas: 1}\n",
    )
    .unwrap();
    let out_dir = sandbox.root.path().join("out");
    let out = render(
        &sandbox,
        &[
            &shop().display().to_string(),
            "--placement",
            &placement.display().to_string(),
            "--namespace",
            "shop",
            "--out",
            &out_dir.display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("rendered 20 objects for graph \"shop\" (frontend: edge-1 x3, cloud-a x2;"),
        "{}",
        text(&out.stderr)
    );
    let mut files: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 20);
    assert_eq!(files[0], "00-namespace-shop.yaml");
    assert_eq!(files[1], "01-deployment-frontend.yaml");
    assert_eq!(files[19], "19-propagationpolicy-cart-import.yaml");
    let report = assert_valid(&[&out_dir]);
    assert!(report.contains("validated 20 objects"), "{report}");
}

#[test]
fn without_a_placement_it_renders_what_smo_serve_would_decide() {
    let sandbox = Sandbox::with_plugins(&["smo_default_lp"]);
    let out = render(&sandbox, &[&shop().display().to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stream = sandbox.root.path().join("stream.yaml");
    std::fs::write(&stream, &out.stdout).unwrap();
    let report = assert_valid(&[&stream]);
    assert!(
        report.contains("validated 20 objects in 1 files"),
        "{report}"
    );
    // The GPU service goes to the built-in inventory's GPU cloud.
    assert!(
        text(&out.stderr).contains("cart: cloud-gpu-stockholm x1"),
        "{}",
        text(&out.stderr)
    );
    // A named strategy that is not installed falls back to the default, with a warning.
    let out = render(
        &sandbox,
        &[&shop().display().to_string(), "--strategy", "nope/none"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning: nope/none"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_scheduler_name_becomes_an_override_policy_per_workload_valid_against_the_crd() {
    let sandbox = Sandbox::new();
    let placement = sandbox.root.path().join("placement.yaml");
    std::fs::write(
        &placement,
        "- {service: frontend, cluster: edge-1, replicas: 3}\n\
         - {service: frontend, cluster: cloud-a, replicas: 2}\n\
         - {service: catalog, cluster: cloud-a, replicas: 2}\n",
    )
    .unwrap();
    let out = render(
        &sandbox,
        &[
            &shop().display().to_string(),
            "--placement",
            &placement.display().to_string(),
            "--scheduler-name",
            "smo-binpack",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stream = sandbox.root.path().join("stream.yaml");
    std::fs::write(&stream, &out.stdout).unwrap();
    assert_valid(&[&stream]);
    let objects: Vec<serde_norway::Value> = serde_norway::Deserializer::from_slice(&out.stdout)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .collect();
    let overrides: Vec<&serde_norway::Value> = objects
        .iter()
        .filter(|o| o["kind"] == "OverridePolicy")
        .collect();
    assert_eq!(overrides.len(), 2, "one per placed workload");
    let frontend = overrides
        .iter()
        .find(|o| o["metadata"]["name"] == "frontend-scheduler")
        .expect("frontend's override");
    assert_eq!(
        frontend["spec"]["resourceSelectors"][0]["kind"],
        "Deployment"
    );
    assert_eq!(frontend["spec"]["resourceSelectors"][0]["name"], "frontend");
    let rule = &frontend["spec"]["overrideRules"][0];
    let clusters: Vec<&str> = rule["targetCluster"]["clusterNames"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(clusters, ["cloud-a", "edge-1"]);
    let patch = &rule["overriders"]["plaintext"][0];
    assert_eq!(patch["path"], "/spec/template/spec/schedulerName");
    assert_eq!(patch["operator"], "add");
    assert_eq!(patch["value"], "smo-binpack");
}

#[test]
fn bad_input_is_an_error_naming_the_field() {
    let sandbox = Sandbox::new();
    let placement = sandbox.root.path().join("placement.yaml");
    std::fs::write(
        &placement,
        "- {service: frontend, cluster: edge-1, replicas: 3}\n- {service: cart, cluster: edge-1, replicas: -1}\n",
    )
    .unwrap();
    let args = |file: &Path| {
        vec![
            shop().display().to_string(),
            "--placement".to_owned(),
            file.display().to_string(),
        ]
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = render(&sandbox, &refs);
        assert!(!out.status.success());
        assert!(
            out.stdout.is_empty(),
            "nothing rendered: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    };
    let error = run(args(&placement));
    assert!(error.contains("placement[1].replicas"), "{error}");
    std::fs::write(
        &placement,
        "- {service: payments, cluster: edge-1, replicas: 1}\n",
    )
    .unwrap();
    let error = run(args(&placement));
    assert!(error.contains("\"payments\""), "{error}");
    let mut bad_namespace = args(&placement);
    std::fs::write(
        &placement,
        "- {service: cart, cluster: edge-1, replicas: 1}\n",
    )
    .unwrap();
    bad_namespace.extend(["--namespace".to_owned(), "Shop".to_owned()]);
    let error = run(bad_namespace);
    assert!(error.contains("namespace: \"Shop\""), "{error}");
}

#[test]
fn the_validator_accepts_valid_objects_and_names_the_field_of_each_invalid_one() {
    let fixtures = repo_root().join("tests/fixtures/k8s-validate");
    let report = assert_valid(&[&fixtures.join("valid")]);
    assert!(report.contains("validated 6 objects"), "{report}");
    let invalid: Vec<_> = std::fs::read_dir(fixtures.join("invalid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(invalid.len() >= 5);
    for file in invalid {
        let first = std::fs::read_to_string(&file).unwrap();
        let expected = first
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{}: no `# expect:` line", file.display()))
            .to_owned();
        let out = validate_objects(&[&file]);
        let report = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{}: {report}", file.display());
        assert!(
            report.contains(&expected),
            "{}: expected {expected:?} in:\n{report}",
            file.display()
        );
    }
}
