//! Benchmarks of one placement call through the call guard and dispatcher, for the same small
//! request (3 services × 3 clusters), made four ways: a Rust plugin (abi_stable) and a C plugin
//! (`smo_plugin.h`) loaded into this process, and the same two each in a process of its own
//! (`Isolation::Process`: `smo plugin host FILE`, length-prefixed JSON over pipes). The Rust
//! plugin is `default-lp/placement` (upstream's first-fit), the C one the example
//! `examples/c-strategy/` (`c-first-fit/placement`, a first-fit too): both place the request
//! alike, so the four figures differ by the way the call travels, not by the strategy.
//!
//! A second group takes the isolated call apart: each strategy alone (no guard), the request
//! written as JSON, the isolated plugin called without the guard, the raw round trip to the
//! child with the request already in JSON, and what the machine charges for a thread spawned and
//! joined and for a frame of the same size echoed through a pipe by `cat`.
//!
//! Needs the plugins and `smo` built in the bench profile's directory (`cargo build --release
//! --workspace`, as for `plugin_call`) and a C compiler (`$CC`, else `cc`): the C example is
//! compiled at start into a temporary directory.

use criterion::{criterion_group, criterion_main, Criterion};
use smo_plugin_api::*;
use smo_plugin_host::dispatch::DefaultStrategies;
use smo_plugin_host::isolation::{self, Isolation, IsolationPolicy};
use smo_plugin_host::loader::json_strategy::JsonCalls;
use smo_plugin_host::loader::{self, LoadedImage};
use smo_plugin_host::registry::Instance;
use smo_plugin_host::{CallGuard, Dispatcher, GuardConfig, Registry, RegistryConfig, StrategyName};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

mod common;

const RUST: &str = "default-lp/placement";
const C: &str = "c-first-fit/placement";

/// 3 services of 0.5 CPU and 512 MiB; 3 clusters of 1 CPU and 4 GiB free. A first-fit puts
/// s0 and s1 on c0 (which they fill) and s2 on c1: [`EXPECTED`].
fn request() -> PlacementRequest {
    common::request::placement(3, 3, 1.0, 4096.0)
}

const EXPECTED: [(&str, &str); 3] = [("s0", "c0"), ("s1", "c0"), ("s2", "c1")];

/// Panics unless `decision` is the first-fit of [`request`].
fn assert_expected(what: &str, decision: &PlacementDecision) {
    let mut got: Vec<(String, String, u32)> = decision
        .placement
        .assignments
        .iter()
        .map(|a| (a.service.to_string(), a.cluster.to_string(), a.replicas))
        .collect();
    got.sort();
    let want: Vec<(String, String, u32)> = EXPECTED
        .iter()
        .map(|(s, c)| (s.to_string(), c.to_string(), 1))
        .collect();
    assert_eq!(got, want, "{what}: not the expected placement");
}

/// The C example compiled with the README's command into `dir`; panics saying why when the
/// compiler is missing or fails.
fn build_c_example(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let example = root.join("examples/c-strategy");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&example)
        .unwrap_or_else(|e| panic!("{}: {e}", example.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    let cc = std::env::var("CC")
        .ok()
        .filter(|cc| !cc.trim().is_empty())
        .unwrap_or_else(|| "cc".to_owned());
    let mut words = cc.split_whitespace();
    let program = words.next().expect("a compiler name");
    let out = dir.join("libc_first_fit.so");
    let output = Command::new(program)
        .args(words)
        .args(["-std=c11", "-O2", "-shared", "-fPIC", "-I"])
        .arg(root.join("plugin-api/include"))
        .arg("-o")
        .arg(&out)
        .args(&sources)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "this bench compiles examples/c-strategy/ and needs a C compiler: cannot run \
                 `{program}` ($CC, else cc): {e}; install one (apt-get install gcc) or set CC"
            )
        });
    assert!(
        output.status.success(),
        "compiling examples/c-strategy/ with `{cc}` failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A registry and a dispatcher over default-lp and the C example, in this process or each in
/// a process of its own.
struct Host {
    _dir: tempfile::TempDir,
    dispatcher: Dispatcher,
}

fn host(runtime: &tokio::runtime::Runtime, c_example: &Path, isolation: Isolation) -> Host {
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugin dir");
    std::fs::copy(common::so("smo_default_lp"), plugins.join("default-lp.so")).expect("install");
    std::fs::copy(c_example, plugins.join("c-first-fit.so")).expect("install");
    let mut config = RegistryConfig::new(&plugins, dir.path(), smo_exe());
    config.isolation = IsolationPolicy {
        default: isolation,
        ..IsolationPolicy::default()
    };
    let registry = runtime.block_on(Registry::open(config)).expect("registry");
    let dispatcher = Dispatcher::new(
        Arc::new(registry),
        CallGuard::new(GuardConfig::default()),
        DefaultStrategies::default(),
    );
    Host {
        _dir: dir,
        dispatcher,
    }
}

/// The `smo` binary the bench profile built (the probe, and the isolated plugins' host).
fn smo_exe() -> PathBuf {
    let exe = common::artifacts().join("smo");
    assert!(
        exe.is_file(),
        "{} missing: build the workspace in this profile first",
        exe.display()
    );
    exe
}

fn isolation(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let build = tempfile::tempdir().expect("tempdir");
    let c_example = build_c_example(build.path());
    let in_process = host(&runtime, &c_example, Isolation::InProcess);
    let isolated = host(&runtime, &c_example, Isolation::Process);
    let req = Arc::new(request());

    let mut group = c.benchmark_group("isolation_3x3");
    group.measurement_time(Duration::from_secs(3));
    for (label, host, strategy) in [
        ("in_process_rust_abi", &in_process, RUST),
        ("in_process_c_abi", &in_process, C),
        ("isolated_rust", &isolated, RUST),
        ("isolated_c", &isolated, C),
    ] {
        let name = StrategyName::parse(strategy).expect("name");
        // Once before measuring: the named strategy itself decided (no fallback, no error), as
        // expected, and from the process asked for.
        let decided = runtime.block_on(host.dispatcher.place(Some(&name), "{}", Arc::clone(&req)));
        assert!(
            decided.record.error.is_none() && decided.record.fallback_reason.is_none(),
            "{label}: {:?}",
            decided.record
        );
        assert_eq!(decided.record.strategy, strategy, "{label}");
        assert_expected(label, decided.decision.as_ref().expect("a decision"));
        let entry = host
            .dispatcher
            .registry()
            .entry(&name.plugin)
            .expect("entry");
        assert!(entry.is_loaded(), "{label}");
        assert_eq!(
            entry.isolated().is_some(),
            std::ptr::eq(host, &isolated),
            "{label}: runs where asked"
        );
        group.bench_function(label, |b| {
            b.iter(|| {
                runtime
                    .block_on(host.dispatcher.place(Some(&name), "{}", Arc::clone(&req)))
                    .record
                    .error
                    .is_none()
            })
        });
    }
    group.finish();
    parts(c, &c_example, &req);
}

/// Where an isolated call's time goes.
fn parts(c: &mut Criterion, c_example: &Path, req: &PlacementRequest) {
    let mut group = c.benchmark_group("isolation_parts_3x3");
    group.measurement_time(Duration::from_secs(3));
    let placement = |image: &LoadedImage, what: &str| {
        let Instance::Placement(strategy) = image
            .instance(1, "placement", "{}")
            .unwrap_or_else(|e| panic!("{what}: {e}"))
        else {
            panic!("{what}: not a placement strategy");
        };
        let decision = strategy
            .place(req)
            .into_result()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_expected(what, &decision);
        strategy
    };

    // The strategies alone, in this process, without the guard.
    let (rust_image, _) = loader::load(&common::so("smo_default_lp")).expect("default-lp loads");
    let (c_image, _) = loader::load(c_example).expect("the C example loads");
    for (label, image) in [
        ("rust_strategy_alone", &rust_image),
        ("c_strategy_alone_with_json", &c_image),
    ] {
        let strategy = placement(image, label);
        group.bench_function(label, |b| {
            b.iter(|| strategy.place(std::hint::black_box(req)).is_ok())
        });
    }

    group.bench_function("request_to_json", |b| {
        b.iter(|| serde_json::to_string(std::hint::black_box(req)).map(|s| s.len()))
    });
    let json = serde_json::to_string(req).expect("JSON");

    // Each plugin in a process of its own, called without the guard: the request written as
    // JSON, the frame's round trip and the decision read back.
    let policy = IsolationPolicy {
        default: Isolation::Process,
        ..IsolationPolicy::default()
    };
    let mut processes = Vec::new();
    for (label, file, plugin) in [
        (
            "isolated_rust_without_guard",
            common::so("smo_default_lp"),
            "default-lp",
        ),
        (
            "isolated_c_without_guard",
            c_example.to_path_buf(),
            "c-first-fit",
        ),
    ] {
        let (image, _) = isolation::load(&file, plugin, &policy, &smo_exe()).expect("starts");
        let LoadedImage::Isolated(process) = &image else {
            panic!("{label}: not isolated");
        };
        processes.push(Arc::clone(process));
        let strategy = placement(&image, label);
        group.bench_function(label, |b| {
            b.iter(|| strategy.place(std::hint::black_box(req)).is_ok())
        });
    }
    // The raw call: the request already in JSON, the answer left as text.
    let process = &processes[1];
    let answer = process
        .call("placement", "placement", "{}", &json)
        .expect("raw call");
    assert!(answer.contains("\"c1\""), "{answer}");
    group.bench_function("isolated_c_raw_call", |b| {
        b.iter(|| {
            process
                .call("placement", "placement", "{}", std::hint::black_box(&json))
                .map(|s| s.len())
        })
    });

    // What the machine charges for the pieces the child's loop is made of.
    group.bench_function("thread_spawn_join", |b| {
        b.iter(|| std::thread::spawn(|| std::hint::black_box(1)).join())
    });
    let mut cat = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cat");
    let mut to_cat = cat.stdin.take().expect("stdin");
    let mut from_cat = cat.stdout.take().expect("stdout");
    let frame = vec![b'x'; json.len() + 100];
    let mut echoed = vec![0u8; frame.len()];
    group.bench_function("pipe_round_trip_cat_same_size", |b| {
        b.iter(|| {
            to_cat.write_all(&frame).expect("write");
            from_cat.read_exact(&mut echoed).expect("read");
        })
    });
    drop(to_cat);
    let _ = cat.wait();
    group.finish();
}

criterion_group!(benches, isolation);
criterion_main!(benches);
