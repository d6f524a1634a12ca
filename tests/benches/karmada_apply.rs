//! The Karmada backend against the local fake API server, with 100 graphs of 10 services each
//! in one namespace: rendering a graph, applying it (server-side apply of every object, then the
//! prune lists), observing it, and the requests each takes. The fake server runs in the same
//! process and its costs are in the figures: they bound smo's side from above.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use smo_core::graphs::{parse_descriptor, GraphSpec};
use smo_core::placement::PlacementEntry;
use smo_core::ports::continuum::{Continuum, DesiredState};
use smo_karmada::{render_graph, KarmadaContinuum, KarmadaSettings, RenderOptions};
use smo_tests::fake_apiserver::FakeApiServer;

const GRAPHS: usize = 100;
const SERVICES: usize = 10;
const CLUSTERS: [&str; 3] = ["edge-1", "cloud-a", "cloud-b"];

/// Graph `g<i>`: a chain of services, each calling the next, each with an image and a port.
fn graph(i: usize) -> GraphSpec {
    let mut doc = format!("hdaGraph:\n  id: g{i:03}\n  services:\n");
    for s in 0..SERVICES {
        let calls = if s + 1 < SERVICES {
            format!("\n          connectionPoints: [s{}]", s + 1)
        } else {
            String::new()
        };
        doc.push_str(&format!(
            "    - id: s{s}\n      deployment:\n        intent:\n          compute: {{cpu: 100m, ram: 64Mi}}{calls}\n      \
             artifact:\n        image: registry.example/bench/s{s}:1\n        ports: [8080]\n"
        ));
    }
    parse_descriptor(&doc).expect("the bench descriptor is valid")
}

/// Each service on one or two of the three clusters, by index; `extra` replicas on the first.
fn desired(generation: u64, extra: u32) -> DesiredState {
    let mut placement = Vec::new();
    for s in 0..SERVICES {
        let service = format!("s{s}");
        placement.push(PlacementEntry::new(&service, CLUSTERS[s % 3], 1 + extra));
        if s % 2 == 0 {
            placement.push(PlacementEntry::new(&service, CLUSTERS[(s + 1) % 3], 1));
        }
    }
    DesiredState {
        server_selection: None,
        generation,
        placement,
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = runtime.block_on(FakeApiServer::start());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = KarmadaSettings {
        kubeconfig: Some(server.write_kubeconfig(dir.path())),
        namespace: "bench".into(),
        ..KarmadaSettings::default()
    };
    let backend = runtime
        .block_on(KarmadaContinuum::connect(settings))
        .expect("a client");
    let graphs: Vec<GraphSpec> = (0..GRAPHS).map(graph).collect();
    let first = desired(1, 0);
    let options = RenderOptions {
        namespace: "bench".into(),
        ..RenderOptions::default()
    };
    let objects = render_graph(&graphs[0], &first.placement, &options)
        .expect("renders")
        .len();

    // Every graph deployed once (the namespace holds 100 graphs' objects when measuring).
    let started = Instant::now();
    runtime.block_on(async {
        for graph in &graphs {
            backend.apply(graph, &first).await.expect("applied");
        }
    });
    let deployed = started.elapsed();
    eprintln!(
        "deploy of {GRAPHS} graphs x {SERVICES} services: {objects} objects a graph, {:.0} objects/s \
         ({:.1} ms a graph, first apply, with discovery)",
        (objects * GRAPHS) as f64 / deployed.as_secs_f64(),
        deployed.as_secs_f64() * 1e3 / GRAPHS as f64
    );
    let mark = server.request_count();
    runtime
        .block_on(backend.apply(&graphs[0], &first))
        .expect("applied");
    let apply_requests = server.request_count() - mark;
    runtime.block_on(backend.observe("g000")).expect("observed");
    let mark = server.request_count();
    runtime.block_on(backend.observe("g000")).expect("observed");
    let observe_requests = server.request_count() - mark;
    eprintln!(
        "requests per reconcile: apply {apply_requests} ({objects} server-side applies + the prune \
         lists), observe {observe_requests} (the policies' list + one binding a service)"
    );

    let mut group = c.benchmark_group("karmada");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("render one graph (10 services)", |b| {
        b.iter(|| render_graph(&graphs[7], &first.placement, &options).expect("renders"))
    });
    let mut next = 0usize;
    let mut generation = 1u64;
    group.bench_function("apply one graph of 100 (scale one service)", |b| {
        b.iter(|| {
            next = (next + 1) % GRAPHS;
            generation += 1;
            let state = desired(generation, (generation % 2) as u32);
            runtime
                .block_on(backend.apply(&graphs[next], &state))
                .expect("applied");
        })
    });
    group.bench_function("observe one graph of 100", |b| {
        b.iter(|| {
            next = (next + 1) % GRAPHS;
            runtime
                .block_on(backend.observe(&format!("g{next:03}")))
                .expect("observed")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
