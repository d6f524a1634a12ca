//! `smo render` of services deployed from Helm charts, with a real `helm template` (helm v4 from
//! `scripts/tools.sh`) of the NEPHELE-style test chart: the values smo injects
//! (`clustersAffinity`, `serviceImportClusters`), the replicas it sets, the policy it keeps or
//! adds, and every object valid against the schemas.

use serde_json::{json, Value};
use smo_tests::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn helm() -> PathBuf {
    let helm = tools_dir().join("bin/helm");
    assert!(
        helm.is_file(),
        "{} is missing: run scripts/tools.sh",
        helm.display()
    );
    helm
}

fn charted() -> String {
    repo_root()
        .join("tests/fixtures/karmada/charted.yaml")
        .display()
        .to_string()
}

fn placement(sandbox: &Sandbox) -> String {
    let path = sandbox.root.path().join("placement.yaml");
    std::fs::write(
        &path,
        "- {service: front, cluster: edge-1, replicas: 2}\n\
         - {service: front, cluster: cloud-a, replicas: 1}\n\
         - {service: back, cluster: cloud-a, replicas: 2}\n\
         - {service: worker, cluster: cloud-a, replicas: 1}\n",
    )
    .unwrap();
    path.display().to_string()
}

fn render(chart_dirs: &[&Path], args: &[&str], helm: &Path) -> Output {
    let mut command = std::process::Command::new(smo_bin());
    command.arg("render").args(args).arg("--helm").arg(helm);
    for dir in chart_dirs {
        command.arg("--chart-dir").arg(dir);
    }
    command.output().expect("smo render runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn documents(yaml: &[u8]) -> Vec<Value> {
    serde_norway::Deserializer::from_slice(yaml)
        .map(|document| serde::Deserialize::deserialize(document).expect("YAML"))
        .filter(|value: &Value| !value.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

fn charts() -> PathBuf {
    repo_root().join("tests/fixtures/charts")
}

#[test]
fn a_chart_gets_the_placement_as_upstream_injects_it_and_renders_valid_objects() {
    let sandbox = Sandbox::new();
    let placement = placement(&sandbox);
    let out = render(
        &[&charts()],
        &[&charted(), "--placement", &placement],
        &helm(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let objects = documents(&out.stdout);
    let stream = sandbox.root.path().join("stream.yaml");
    std::fs::write(&stream, &out.stdout).unwrap();
    let report = validate_objects(&[&stream]);
    assert!(report.status.success(), "{}", text(&report.stdout));

    // The chart's own policy, from the injected clustersAffinity, kept; smo adds the division
    // of front's 3 replicas (2 on edge-1, 1 on cloud-a) it did not have.
    assert_eq!(find(&objects, "Deployment", "front")["spec"]["replicas"], 3);
    let front = &find(&objects, "PropagationPolicy", "front")["spec"]["placement"];
    assert_eq!(
        front["clusterAffinity"]["clusterNames"],
        json!(["cloud-a", "edge-1"])
    );
    assert_eq!(
        front["replicaScheduling"]["weightPreference"]["staticWeightList"],
        json!([
            {"targetCluster": {"clusterNames": ["cloud-a"]}, "weight": 1},
            {"targetCluster": {"clusterNames": ["edge-1"]}, "weight": 2},
        ])
    );
    let back = &find(&objects, "PropagationPolicy", "back")["spec"]["placement"];
    assert_eq!(back["clusterAffinity"]["clusterNames"], json!(["cloud-a"]));
    assert!(
        back.get("replicaScheduling").is_none(),
        "one cluster: the chart's policy as it is"
    );
    // back's ServiceImport goes where its callers run, computed as upstream: front's clusters,
    // then worker's, duplicates kept.
    assert_eq!(
        find(&objects, "PropagationPolicy", "back-import")["spec"]["placement"]["clusterAffinity"]
            ["clusterNames"],
        json!(["cloud-a", "edge-1", "cloud-a"])
    );
    assert_eq!(
        find(&objects, "ServiceImport", "back")["spec"]["ports"][0]["port"],
        8080
    );
    assert!(
        objects
            .iter()
            .all(|o| o["kind"] != "ServiceImport" || o["metadata"]["name"] == "back"),
        "nobody calls front or worker"
    );
    // valuesOverwrite reaches the chart.
    assert_eq!(
        find(&objects, "Service", "front")["spec"]["ports"][0]["port"],
        8081
    );
    for object in &objects[1..] {
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/managed-by"], "smo", "{object}");
        assert_eq!(labels["smo.io/graph"], "charted", "{object}");
        assert_eq!(object["metadata"]["namespace"], "smo", "{object}");
    }
}

#[test]
fn a_chart_without_a_policy_gets_smos() {
    let sandbox = Sandbox::new();
    let dir = sandbox.root.path().join("charts");
    copy_chart(&charts().join("nephele-app"), &dir.join("nephele-app"));
    std::fs::remove_file(dir.join("nephele-app/templates/propagationpolicy.yaml")).unwrap();
    let placement = placement(&sandbox);
    let out = render(&[&dir], &[&charted(), "--placement", &placement], &helm());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let objects = documents(&out.stdout);
    let policy = &find(&objects, "PropagationPolicy", "front")["spec"];
    let selected: Vec<String> = policy["resourceSelectors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{}/{}",
                s["kind"].as_str().unwrap(),
                s["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        selected,
        ["Service/front", "Deployment/front", "ServiceExport/front"]
    );
    assert_eq!(policy["propagateDeps"], true);
    assert_eq!(
        policy["placement"]["replicaScheduling"]["weightPreference"]["staticWeightList"][1],
        json!({"targetCluster": {"clusterNames": ["edge-1"]}, "weight": 2})
    );
    let stream = sandbox.root.path().join("stream.yaml");
    std::fs::write(&stream, &out.stdout).unwrap();
    let report = validate_objects(&[&stream]);
    assert!(report.status.success(), "{}", text(&report.stdout));
}

/// Renders fixture `tests/fixtures/hdag/<fixture>` as `smo serve` would place it, its charts
/// (`oci://…/<name>`) being the test chart under each of `charts`; checks the objects against
/// the schemas and returns their file names.
fn render_fixture(fixture: &str, charts_named: &[&str]) -> Vec<String> {
    let sandbox = Sandbox::with_plugins(&["smo_default_lp"]);
    let dir = sandbox.root.path().join("charts");
    for name in charts_named {
        copy_chart(&charts().join("nephele-app"), &dir.join(name));
    }
    let descriptor = repo_root().join("tests/fixtures/hdag").join(fixture);
    let out_dir = sandbox.root.path().join("out");
    let out = render(
        &[&dir],
        &[
            &descriptor.display().to_string(),
            "--plugin-dir",
            &sandbox.plugin_dir().display().to_string(),
            "--out",
            &out_dir.display().to_string(),
        ],
        &helm(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = validate_objects(&[&out_dir]);
    assert!(report.status.success(), "{}", text(&report.stdout));
    std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_brussels_demo_renders_with_its_charts_from_a_chart_directory() {
    // Its three charts (oci://10.0.3.53:5000/test/<name>).
    let names = render_fixture(
        "brussels-demo.yaml",
        &["image-compression-vo", "noise-reduction", "image-detection"],
    );
    // The VO waits for its alert (a conditional service): nothing of it yet.
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("deployment-noise-reduction.yaml")),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("serviceimport-image-detection.yaml")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains("image-compression-vo")),
        "{names:?}"
    );
}

#[test]
fn the_hello_world_fixture_renders_with_its_chart_as_valid_objects() {
    let names = render_fixture("hello-world.yaml", &["hello-world"]);
    assert!(
        names
            .iter()
            .any(|n| n.ends_with("deployment-hello-world.yaml")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.contains("propagationpolicy")),
        "{names:?}"
    );
}

#[test]
fn a_failing_chart_or_a_missing_helm_is_an_error_naming_the_field() {
    let sandbox = Sandbox::new();
    let dir = sandbox.root.path().join("charts");
    copy_chart(&charts().join("nephele-app"), &dir.join("nephele-app"));
    std::fs::write(
        dir.join("nephele-app/templates/broken.yaml"),
        "kind: {{ .Values.nothing.here }}\n",
    )
    .unwrap();
    let placement = placement(&sandbox);
    let out = render(&[&dir], &[&charted(), "--placement", &placement], &helm());
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let error = text(&out.stderr);
    assert!(
        error.contains("hdaGraph.services[0].artifact.ociImage")
            && error.contains("helm template front")
            && error.contains("nil pointer"),
        "{error}"
    );
    let out = render(
        &[&charts()],
        &[&charted(), "--placement", &placement],
        Path::new("/nonexistent/helm"),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("install Helm"),
        "{}",
        text(&out.stderr)
    );
}

fn copy_chart(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("templates")).unwrap();
    for entry in walk(from) {
        let relative = entry.strip_prefix(from).unwrap();
        std::fs::copy(&entry, to.join(relative)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
