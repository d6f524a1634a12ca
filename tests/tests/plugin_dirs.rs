//! The two plugin directories with real cdylibs: the package's shipped plugins and the operators'
//! own load together, an operators' plugin overrides a shipped one of the same name, and a
//! shipped directory that does not exist ships nothing; through the registry, `smo serve`,
//! `smo simulate` and `smo plugin list --dir`.

use smo_plugin_host::StrategyName;
use smo_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// The sandbox's stand-in for `/usr/lib/smo/plugins`, with `libs` installed as the package does
/// (`smo_x_y` as `x-y.so`, mode 0644).
fn shipped_dir(sandbox: &Sandbox, libs: &[(&str, &str)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = sandbox.root.path().join("shipped");
    std::fs::create_dir_all(&dir).expect("shipped dir");
    for (lib, as_name) in libs {
        let target = dir.join(as_name);
        std::fs::copy(plugin_so(lib), &target).expect("copy plugin");
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))
            .expect("chmod plugin");
    }
    dir
}

/// default-lp and versioned 1.0.0 shipped, versioned 2.0.0 in the operators' directory;
/// returns the shipped directory.
fn shipped_with_an_override(sandbox: &Sandbox) -> PathBuf {
    let shipped = shipped_dir(
        sandbox,
        &[
            ("smo_default_lp", "default-lp.so"),
            ("smo_fixture_versioned", "versioned.so"),
        ],
    );
    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    shipped
}

fn version_of(reasons: &[String]) -> String {
    reasons
        .iter()
        .find_map(|r| r.strip_prefix("answered by versioned "))
        .expect("a version in the reasons")
        .to_string()
}

fn names(status: &smo_plugin_host::registry::RegistryStatus) -> Vec<String> {
    status.plugins.iter().map(|p| p.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_and_operators_plugins_load_together() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_fixture_versioned", "versioned.so");
    let shipped = shipped_dir(
        &sandbox,
        &[("smo_default_lp", "default-lp.so"), ("smo_ecmr", "ecmr.so")],
    );
    let mut config = sandbox.registry_config();
    config.system_plugin_dir = Some(shipped.clone());
    let dispatcher = dispatcher(config, Duration::from_secs(30), 3).await;

    let status = dispatcher.registry().status();
    assert_eq!(names(&status), ["default-lp", "ecmr", "versioned"]);
    assert!(status.rejected.is_empty(), "{:?}", status.rejected);
    assert!(status.overridden.is_empty());
    assert_eq!(status.system_plugin_dir.as_deref(), Some(shipped.as_path()));
    let file_of = |name: &str| {
        let listing = status.plugins.iter().find(|p| p.name == name).unwrap();
        listing.file.parent().unwrap().to_path_buf()
    };
    assert_eq!(file_of("ecmr"), shipped);
    assert_eq!(file_of("versioned"), sandbox.plugin_dir());

    // A shipped strategy and an operators' one both answer (loaded in this process).
    for name in ["ecmr/heuristic", "versioned/echo"] {
        let strategy = StrategyName::parse(name).unwrap();
        let r = dispatcher
            .place(Some(&strategy), "{}", Arc::new(small_request()))
            .await;
        assert_eq!(r.record.error, None, "{name}");
        assert_eq!(r.record.fallback_reason, None, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_plugin_overrides_the_shipped_one_until_it_is_removed() {
    let sandbox = Sandbox::new();
    let shipped = shipped_with_an_override(&sandbox);
    let mut config = sandbox.registry_config();
    config.system_plugin_dir = Some(shipped.clone());
    let dispatcher = dispatcher(config, Duration::from_secs(30), 3).await;
    let registry = Arc::clone(dispatcher.registry());
    let echo = StrategyName::parse("versioned/echo").unwrap();
    let answer = || async {
        let r = dispatcher
            .place(Some(&echo), "{}", Arc::new(small_request()))
            .await;
        version_of(&r.record.reasons)
    };

    // The operators' 2.0.0 serves; the shipped 1.0.0 is listed as overridden.
    assert_eq!(registry.entry("versioned").unwrap().info.version, "2.0.0");
    assert_eq!(answer().await, "2.0.0");
    let status = registry.status();
    assert_eq!(names(&status), ["default-lp", "versioned"]);
    assert_eq!(status.overridden.len(), 1, "{:?}", status.overridden);
    let hidden = &status.overridden[0];
    assert_eq!(
        (hidden.name.as_str(), hidden.version.as_str()),
        ("versioned", "1.0.0")
    );
    assert_eq!(hidden.state, "overridden");
    assert_eq!(hidden.file, shipped.join("versioned.so"));

    // A broken file in place of the override: the override keeps its active version, the
    // shipped one does not come back.
    sandbox.install("smo_fixture_not_a_plugin", "versioned.so");
    let report = registry.reload().await.expect("reload");
    assert_eq!(report.kept, ["versioned 2.0.0"]);
    assert!(report.updated.is_empty(), "{:?}", report.updated);
    assert_eq!(answer().await, "2.0.0");
    assert_eq!(registry.status().overridden.len(), 1);

    // The override removed: the shipped version serves again.
    std::fs::remove_file(sandbox.plugin_dir().join("versioned.so")).unwrap();
    let report = registry.reload().await.expect("reload");
    assert_eq!(report.updated, ["versioned 2.0.0 -> 1.0.0"]);
    assert!(report.overridden.is_empty(), "{:?}", report.overridden);
    assert_eq!(answer().await, "1.0.0");
    assert!(registry.status().overridden.is_empty());

    // And dropping a new override in takes over at the next reload, named in the report.
    sandbox.install("smo_fixture_versioned_v2", "versioned.so");
    let report = registry.reload().await.expect("reload");
    assert_eq!(report.updated, ["versioned 1.0.0 -> 2.0.0"]);
    assert_eq!(report.overridden.len(), 1, "{:?}", report.overridden);
    let line = &report.overridden[0];
    let operators_file = sandbox.plugin_dir().join("versioned.so");
    assert!(
        line.starts_with("versioned: ")
            && line.contains(&operators_file.display().to_string())
            && line.contains(&shipped.join("versioned.so").display().to_string()),
        "{line}"
    );
    assert_eq!(answer().await, "2.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_shipped_directory_ships_nothing() {
    let sandbox = Sandbox::with_plugins(&["smo_default_lp"]);
    let mut config = sandbox.registry_config();
    config.system_plugin_dir = Some(sandbox.root.path().join("not-installed"));
    let dispatcher = dispatcher(config, Duration::from_secs(30), 3).await;
    let status = dispatcher.registry().status();
    assert_eq!(names(&status), ["default-lp"]);
    assert!(status.rejected.is_empty(), "{:?}", status.rejected);
    let report = dispatcher.registry().reload().await.expect("reload");
    assert_eq!(report.unchanged, ["default-lp"]);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}

/// `smo simulate` without `--plugin-dir`: the operators' directory (here `$SMO_PLUGIN_DIR`, empty)
/// has nothing, and the strategy comes from the shipped directory (`$SMO_SYSTEM_PLUGIN_DIR`,
/// standing in for `/usr/lib/smo/plugins` after `dpkg -i`).
#[test]
fn smo_simulate_finds_the_shipped_plugins_without_plugin_dir() {
    let sandbox = Sandbox::new();
    let shipped = shipped_dir(&sandbox, &[("smo_default_lp", "default-lp.so")]);
    let out = Command::new(smo_bin())
        .arg("simulate")
        .arg(scenario("eu-5dc-24h.yaml"))
        .args(["--strategy", "default-lp/placement"])
        .args(["--json", "--no-progress", "--no-timing", "--state-dir"])
        .arg(sandbox.state_dir())
        .env("SMO_PLUGIN_DIR", sandbox.plugin_dir())
        .env("SMO_SYSTEM_PLUGIN_DIR", &shipped)
        .output()
        .expect("smo runs");
    let doc = simulate_report(&out);
    assert_eq!(doc["strategies"][0]["strategy"], "default-lp/placement");
    assert!(number(&doc["strategies"][0]["totals"], "energy_kwh") > 0.0);

    // With no package installed (a shipped directory that does not exist) the same run has no
    // plugin to ask.
    let out = Command::new(smo_bin())
        .arg("simulate")
        .arg(scenario("eu-5dc-24h.yaml"))
        .args([
            "--strategy",
            "default-lp/placement",
            "--json",
            "--no-progress",
        ])
        .arg("--system-plugin-dir")
        .arg(sandbox.root.path().join("not-installed"))
        .arg("--state-dir")
        .arg(sandbox.state_dir())
        .env("SMO_PLUGIN_DIR", sandbox.plugin_dir())
        .output()
        .expect("smo runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("default-lp"), "{stderr}");
}

/// The row of `smo plugin list --dir` output for `file`.
fn row_of<'a>(rows: &'a [serde_json::Value], file: &Path) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["file"] == file.display().to_string())
        .unwrap_or_else(|| panic!("no row for {}: {rows:?}", file.display()))
}

#[test]
fn plugin_list_dir_probes_both_directories_and_marks_the_overridden() {
    let sandbox = Sandbox::new();
    let shipped = shipped_with_an_override(&sandbox);
    let out = Command::new(smo_bin())
        .args(["plugin", "list", "--dir"])
        .arg(sandbox.plugin_dir())
        .arg("--system-plugin-dir")
        .arg(&shipped)
        .output()
        .expect("smo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let operators_file = sandbox.plugin_dir().join("versioned.so");
    let ours = row_of(&rows, &operators_file);
    assert_eq!(
        (&ours["origin"], &ours["plugin"]["version"]),
        (&"operators".into(), &"2.0.0".into())
    );
    let hidden = row_of(&rows, &shipped.join("versioned.so"));
    assert_eq!(hidden["origin"], "shipped");
    assert_eq!(
        hidden["overridden_by"],
        operators_file.display().to_string()
    );
    let lp = row_of(&rows, &shipped.join("default-lp.so"));
    assert_eq!(lp["ok"], true);
    assert!(lp.get("overridden_by").is_none(), "{lp}");
}

#[test]
fn smo_serve_reads_system_plugin_dir_from_its_config() {
    let sandbox = Sandbox::new();
    let shipped = shipped_with_an_override(&sandbox);
    let config = sandbox.config(&format!("system_plugin_dir = \"{}\"\n", shipped.display()));
    let daemon = Daemon::start(&sandbox, &["--no-auth", "--config", &config]);
    let listed: serde_json::Value = http()
        .get(daemon.url("/v1/plugins"))
        .call()
        .expect("GET /v1/plugins")
        .into_body()
        .read_json()
        .expect("JSON");
    assert_eq!(listed["system_plugin_dir"], shipped.display().to_string());
    let active: Vec<(&str, &str)> = listed["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    assert_eq!(active, [("default-lp", "0.1.0"), ("versioned", "2.0.0")]);
    assert_eq!(listed["overridden"][0]["version"], "1.0.0");
    assert_eq!(
        listed["overridden"][0]["file"],
        shipped.join("versioned.so").display().to_string()
    );
}
