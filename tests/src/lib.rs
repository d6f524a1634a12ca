//! Helpers for the end-to-end tests: where the built plugins and the `smo` binary are, small
//! fixed inputs, and a plugin directory in a temporary folder.
//!
//! The tests load real `.so` files built by `cargo build --workspace` (the README's test
//! command builds them first); nothing here links a plugin into the test. C ABI plugins are
//! built by the tests themselves with the system C compiler ([`c_plugins`]).

pub mod c_plugins;
pub mod fake_apiserver;
pub mod notify;

pub use c_plugins::{
    build_c_plugin, c_build_dir, c_driver, c_example, c_fixture, c_include_dir, C_PLUGIN_FLAGS,
};

use smo_plugin_api::testing::{self, ClusterExt};
use smo_plugin_api::*;
use smo_plugin_host::dispatch::DefaultStrategies;
use smo_plugin_host::{CallGuard, Dispatcher, GuardConfig, Registry, RegistryConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `target/debug` (or the profile directory the tests were built in).
pub fn artifact_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test-binary>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The compiled cdylib of a workspace crate, by library name (e.g. `smo_ecmr`).
pub fn plugin_so(lib_name: &str) -> PathBuf {
    let path = artifact_dir().join(format!("lib{lib_name}.so"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` before the tests (the README's test command does)",
        path.display()
    );
    path
}

/// The `smo` binary.
pub fn smo_bin() -> PathBuf {
    let path = artifact_dir().join("smo");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` first",
        path.display()
    );
    path
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where `scripts/tools.sh` installed helm, kubectl and the schema validator (`SMO_TOOLS`, or
/// `.tools` in the repository).
pub fn tools_dir() -> PathBuf {
    std::env::var_os("SMO_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools"))
}

/// Runs `scripts/validate-objects.py` on `paths` (the Kubernetes schemas of
/// `kubernetes-validate`, the Karmada CRDs and the multi-cluster-services schemas).
pub fn validate_objects(paths: &[&Path]) -> std::process::Output {
    let python = tools_dir().join("venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/tools.sh (scripts/deps.sh runs it)",
        python.display()
    );
    std::process::Command::new(python)
        .arg(repo_root().join("scripts/validate-objects.py"))
        .args(paths)
        .output()
        .expect("the validator runs")
}

/// The four shipped plugins, by library name.
pub const SHIPPED: [&str; 4] = [
    "smo_default_lp",
    "smo_ecmr",
    "smo_sbmp_gma",
    "smo_h3ni_energy",
];

/// A temporary plugin directory and state directory.
pub struct Sandbox {
    pub root: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("plugins")).expect("plugin dir");
        std::fs::create_dir_all(root.path().join("state")).expect("state dir");
        Self { root }
    }
    pub fn plugin_dir(&self) -> PathBuf {
        self.root.path().join("plugins")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join("state")
    }
    /// A sandbox with these plugins installed, each `smo_x_y` as `x-y.so`.
    pub fn with_plugins(lib_names: &[&str]) -> Self {
        let sandbox = Self::new();
        for lib in lib_names {
            let name = lib.trim_start_matches("smo_").replace('_', "-");
            sandbox.install(lib, &format!("{name}.so"));
        }
        sandbox
    }

    /// Installs a plugin file the way operators should: write a hidden temp file, then rename.
    pub fn install(&self, lib_name: &str, as_name: &str) {
        self.install_file(&plugin_so(lib_name), as_name);
    }
    pub fn install_file(&self, source: &Path, as_name: &str) {
        let tmp = self.plugin_dir().join(format!(".{as_name}.tmp"));
        std::fs::copy(source, &tmp).expect("copy plugin");
        // Not writable by others whatever the umask (smo refuses such plugin files).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .expect("chmod plugin");
        std::fs::rename(&tmp, self.plugin_dir().join(as_name)).expect("rename plugin");
    }
    /// Writes `toml` as the config file `smo.toml` in the sandbox; returns its path.
    pub fn config(&self, toml: &str) -> String {
        let path = self.root.path().join("smo.toml");
        std::fs::write(&path, toml).expect("write config");
        path.display().to_string()
    }
    pub fn registry_config(&self) -> RegistryConfig {
        RegistryConfig::new(&self.plugin_dir(), &self.state_dir(), smo_bin())
    }
    /// `smo simulate scenarios/SCENARIO --json --no-progress --no-timing` on this sandbox's
    /// plugins; add `--strategy` and other arguments, then run it.
    pub fn simulate(&self, scenario: &str) -> std::process::Command {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(scenario);
        let mut cmd = std::process::Command::new(smo_bin());
        cmd.arg("simulate")
            .arg(file)
            .args(["--json", "--no-progress", "--no-timing", "--plugin-dir"])
            .arg(self.plugin_dir())
            .arg("--state-dir")
            .arg(self.state_dir());
        cmd
    }

    /// Runs [`Sandbox::simulate`] with each of `strategies` (it must succeed); the totals of
    /// each run, in order.
    pub fn totals(&self, scenario: &str, strategies: &[&str]) -> Vec<serde_json::Value> {
        let mut cmd = self.simulate(scenario);
        for s in strategies {
            cmd.args(["--strategy", s]);
        }
        let doc = simulate_report(&cmd.output().expect("smo runs"));
        let runs = doc["strategies"].as_array().expect("strategies");
        runs.iter().map(|r| r["totals"].clone()).collect()
    }
}

/// The number `key` of a JSON object (a report's totals, say); panics naming it when missing.
pub fn number(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Asserts `value < bound`, naming `what` and both figures when it fails.
pub fn assert_below(what: &str, value: f64, bound: f64) {
    assert!(value < bound, "{what}: {value} is not below {bound}");
}

/// The JSON report of a `smo simulate` run that must have succeeded.
pub fn simulate_report(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "smo simulate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// A registry over `sandbox` with the given call timeout and quarantine threshold.
pub async fn dispatcher(
    config: RegistryConfig,
    timeout: Duration,
    quarantine_after: u32,
) -> Arc<Dispatcher> {
    let registry = Arc::new(Registry::open(config).await.expect("registry opens"));
    Arc::new(Dispatcher::new(
        registry,
        CallGuard::new(GuardConfig {
            timeout,
            quarantine_after,
        }),
        DefaultStrategies::default(),
    ))
}

/// A cluster of the small inputs: the test kit's, with a power curve of 100 W idle and 250 W
/// peak a core and the grid's carbon intensity.
fn cluster(
    (name, lat, lon): (&str, f64, f64),
    role: ClusterRole,
    cpu: f64,
    mem: f64,
    gpu: u32,
    carbon: f64,
) -> Cluster {
    testing::cluster(name, cpu, mem, gpu)
        .role(role)
        .at(lat, lon)
        .grid(carbon, EnergyProfile::default().pue)
        .power(100.0 * cpu, 250.0 * cpu)
}

/// [`small_request`] without its GPU service: everything fits on the edge cluster.
pub fn small_request_without_gpu() -> PlacementRequest {
    let mut request = small_request();
    request.graph.services = request
        .graph
        .services
        .into_iter()
        .filter(|s| s.demand.gpu == 0)
        .collect();
    request
}

/// A small fixed input: three services (one needs a GPU) on three clusters (Paris, Frankfurt,
/// Berlin).
pub fn small_request() -> PlacementRequest {
    PlacementRequest {
        graph: Graph {
            name: "demo".into(),
            services: vec![
                testing::service("frontend", 1.0, 512.0, 0),
                testing::service("inference", 2.0, 2048.0, 1),
                testing::service("db", 1.0, 1024.0, 0),
            ]
            .into(),
        },
        clusters: vec![
            cluster(
                ("edge-1", 48.86, 2.35),
                ClusterRole::Edge,
                2.0,
                4096.0,
                0,
                350.0,
            ),
            cluster(
                ("cloud-gpu", 50.11, 8.68),
                ClusterRole::Cloud,
                16.0,
                65536.0,
                2,
                50.0,
            ),
            cluster(
                ("cloud-2", 52.52, 13.40),
                ClusterRole::Cloud,
                16.0,
                65536.0,
                0,
                400.0,
            ),
        ]
        .into(),
        current: ROption::RNone,
        telemetry: Telemetry::default(),
        extra: "{}".into(),
    }
}

/// A `smo serve` process on 127.0.0.1 with a free port, killed when dropped.
/// `smo serve` on `sandbox`'s plugin and state directories, on a free loopback port, with
/// `extra` flags and `RUST_LOG=warn`.
fn serve_command(sandbox: &Sandbox, extra: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(smo_bin());
    command
        .arg("serve")
        .arg("--plugin-dir")
        .arg(sandbox.plugin_dir())
        .arg("--state-dir")
        .arg(sandbox.state_dir())
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "warn");
    command
}

/// A graph's placement from its status document (`GET /v1/graphs/{name}`), as
/// (service, cluster, replicas) in the order the daemon lists it.
pub fn placement_of(view: &serde_json::Value) -> Vec<(String, String, u64)> {
    view["placement"]
        .as_array()
        .expect("placement")
        .iter()
        .map(|e| {
            (
                e["service"].as_str().unwrap_or_default().to_owned(),
                e["cluster"].as_str().unwrap_or_default().to_owned(),
                e["replicas"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The repository's scenario file `name` (in `scenarios/`), by absolute path.
pub fn scenario(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
        .display()
        .to_string()
}

pub struct Daemon {
    pub child: std::process::Child,
    pub addr: String,
}

impl Daemon {
    /// Starts `smo serve` on `sandbox` with extra flags and waits for its address line.
    pub fn start(sandbox: &Sandbox, extra: &[&str]) -> Self {
        Self::start_with_env(sandbox, extra, &[])
    }

    /// As [`Daemon::start`], with these environment variables set.
    pub fn start_with_env(
        sandbox: &Sandbox,
        extra: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        let mut command = serve_command(sandbox, extra);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("smo serve starts");
        let addr = read_address(&mut child);
        Self { child, addr }
    }

    /// Starts `smo serve --no-auth` on `scenario` at `speed` simulated seconds a second, with
    /// the config file `config` when given.
    pub fn on_scenario(
        sandbox: &Sandbox,
        config: Option<&str>,
        scenario: &str,
        speed: u32,
    ) -> Self {
        let speed = speed.to_string();
        let mut args = vec!["--no-auth", "--scenario", scenario, "--speed", &speed];
        if let Some(config) = config {
            args.extend(["--config", config]);
        }
        Self::start(sandbox, &args)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sends a signal with `kill`.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address `smo serve` prints as its first stdout line (`listening on ADDR`); the child's
/// stdout must be piped.
pub fn read_address(child: &mut std::process::Child) -> String {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("address line");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string()
}

/// An HTTP agent that returns error statuses as responses.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// GET a JSON document.
pub fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = http().get(url).call().expect("GET");
    let status = response.status().as_u16();
    (status, response.into_body().read_json().expect("JSON body"))
}

/// POST a JSON body, read a JSON answer.
pub fn post_json(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let response = http().post(url).send_json(body).expect("POST");
    let status = response.status().as_u16();
    (status, response.into_body().read_json().expect("JSON body"))
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// Runs `smo serve` on `sandbox` with extra flags, expecting it to exit within `limit` (it is
/// killed and the test fails otherwise); returns its exit status and its stderr.
pub fn serve_expecting_exit(
    sandbox: &Sandbox,
    extra: &[&str],
    limit: Duration,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let mut child = serve_command(sandbox, extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("smo serve starts");
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for smo serve") {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("smo serve {extra:?} still runs after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, reader.join().expect("stderr reader"))
}

/// The scaling intent of [`test_descriptor`]'s services: 2 fixed replicas, alpha 50.
pub const FIXED_TWO: &str = "{alpha: 50, beta: 0, minReplicas: 2, maxReplicas: 2}";

/// A graph `id` of `services` (name, memory; 2 CPUs each, a Helm artifact), each with the
/// scaling intent `scaling` (e.g. [`FIXED_TWO`]), pinned to cluster `pinned` when given, with
/// `intent` lines added under `hdaGraphIntent`.
pub fn test_descriptor(
    id: &str,
    services: &[(&str, &str)],
    pinned: Option<&str>,
    intent: &str,
    scaling: &str,
) -> String {
    let mut doc = format!(
        "hdaGraph:\n  imVersion: 0.4.0\n  id: {id}\n  version: \"1.0.0\"\n  designer: smo tests\n  \
         description: offload loop test\n  hdaGraphIntent:\n{static_}{intent}    security:\n      \
         enabled: False\n    highAvailability:\n      enabled: False\n    highPerformance:\n      \
         enabled: False\n    energyEfficiency:\n      enabled: False\n  services:\n",
        static_ = if pinned.is_some() {
            "    useStaticPlacement: True\n"
        } else {
            ""
        },
    );
    for (name, ram) in services {
        doc.push_str(&format!(
            "    - id: {name}\n      deployment:\n        trigger:\n          auto:\n            \
             dependencies: []\n        intent:\n          network:\n            deviceProximity:\n              \
             enabled: False\n            latencies: []\n          compute:\n            cpu: \"2\"\n            \
             ram: \"{ram}\"\n            storage: \"small\"\n            gpu:\n              enabled: False\n          \
             coLocation: []\n          connectionPoints: []\n          metrics: []\n          \
             scaling: {scaling}\n      artifact:\n        \
             ociImage: \"oci://registry.example/shop/{name}\"\n        ociConfig:\n          type: App\n          \
             implementer: HELM\n        ociRun:\n          name: HELM\n          version: v3\n        \
             valuesOverwrite:{affinity}\n",
            affinity = match pinned {
                Some(c) => format!("\n          clustersAffinity: [{c}]"),
                None => " {}".to_owned(),
            }
        ));
    }
    doc
}

/// Sends `yaml` (a descriptor) with `method` to `url`; the status and the JSON answer.
pub fn send(method: &str, url: &str, yaml: &str) -> (u16, serde_json::Value) {
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/yaml")
        .body(yaml.as_bytes().to_vec())
        .expect("request");
    let response = http().run(request).expect("request");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Polls graph `name`'s status until `condition` holds (at most `seconds`).
pub fn wait(
    daemon: &Daemon,
    name: &str,
    seconds: u64,
    what: &str,
    condition: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let held = eventually(Duration::from_secs(seconds), || {
        let (status, view) = get_json(&daemon.url(&format!("/v1/graphs/{name}")));
        last = view;
        status == 200 && condition(&last)
    });
    assert!(held, "timed out waiting for {what}; last status: {last}");
    last
}

/// Every service's desired rows equal the ready replicas the backend reports, per cluster.
pub fn in_step(view: &serde_json::Value) -> bool {
    view["services"].as_array().is_some_and(|services| {
        services.iter().all(|s| {
            s["observed"] == s["desired"]
                && s["clusters"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().all(|c| c["ready"] == c["replicas"]))
        })
    })
}

pub fn ready(view: &serde_json::Value) -> bool {
    view["phase"] == "ready" && in_step(view)
}
