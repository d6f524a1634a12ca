//! The API with many graphs stored, over real HTTP on 127.0.0.1 (4 client threads, 3 s each):
//! `GET /v1/graphs/{name}`, `GET /v1/clusters/{name}`, a page of `GET /v1/graphs?limit=100`
//! and deploys, at 200 and at 5,000 stored graphs; the ratio shows whether the per-request cost
//! is flat in the number of graphs. `SMO_BENCH_GRAPHS=a,b` changes the sizes;
//! `SMO_BENCH_ONLY=graph|cluster|page|deploy` runs one load (to profile it).
//!
//! Needs the plugins built in the profile's directory (`cargo build --release --workspace`).
//! The stored graphs are written straight to the store (running, one replica each, on clusters
//! made large enough), so seeding takes seconds and no control loop runs for them.

use common::load::{load, Call, Measured};
use smo_host::engine::inventory::RUNNING;
use smo_host::store::{Commit, PlacementEntry};
use smo_plugin_api::Cluster;
use std::time::Duration;

mod common;

const HELLO: &str = include_str!("../../../tests/fixtures/hdag/hello-world.yaml");

fn named(id: &str) -> String {
    HELLO
        .replace("id: hello-world-graph", &format!("id: {id}"))
        .replace("- id: hello-world", &format!("- id: {id}-svc"))
}

/// Stores `count` running graphs `seed-00000`… with one replica each, round robin over the
/// clusters (whose capacity [`enlarge`] raises, so that deploys still fit).
fn seed(daemon: &common::Daemon, count: usize) {
    let store = daemon.app.engine.store();
    let clusters: Vec<String> = store
        .list_clusters::<Cluster>()
        .expect("clusters")
        .into_iter()
        .map(|stored| stored.name)
        .collect();
    for i in 0..count {
        let name = format!("seed-{i:05}");
        let spec = smo_core::graphs::parse_descriptor(&named(&name)).expect("descriptor");
        store.create_graph(&spec, RUNNING).expect("graph");
        let rows = [PlacementEntry::new(
            format!("{name}-svc"),
            &clusters[i % clusters.len()],
            1,
        )];
        store
            .commit(
                &name,
                &Commit {
                    placement: Some(&rows),
                    ..Commit::default()
                },
            )
            .expect("placement");
    }
}

/// Gives every cluster 1M cores and 1 EiB through the API (which tells the backend).
fn enlarge(daemon: &common::Daemon, addr: &str, token: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for stored in daemon
        .app
        .engine
        .store()
        .list_clusters::<Cluster>()
        .expect("clusters")
    {
        let response = agent
            .put(&format!("http://{addr}/v1/clusters/{}", stored.name))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(serde_json::json!({
                "role": stored.cluster.role.as_str(),
                "capacity": {"cpu": 1.0e6, "memory_mib": 1.0e12, "gpu": 1000}
            }))
            .expect("PUT cluster");
        let status = response.status().as_u16();
        let body = response.into_body().read_to_string().unwrap_or_default();
        assert_eq!(status, 200, "enlarge {}: {body}", stored.name);
    }
}

fn sizes() -> Vec<usize> {
    std::env::var("SMO_BENCH_GRAPHS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![200, 5_000])
}

/// The four loads at `count` stored graphs.
fn measure(count: usize) -> [Measured; 4] {
    let daemon = common::daemon(|_| {});
    let token = std::fs::read_to_string(daemon.dir.path().join("state/admin.token"))
        .expect("admin token")
        .trim()
        .to_owned();
    seed(&daemon, count);
    let listener = daemon
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let router = daemon.app.router.clone();
    daemon.runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    enlarge(&daemon, &addr, &token);
    let seconds = Duration::from_secs(3);
    let only = std::env::var("SMO_BENCH_ONLY").ok();
    let runs = |which: &str| only.as_deref().is_none_or(|o| o == which);
    let skipped = Measured {
        per_second: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
    };
    let get = |which: &str, label: &str, path: fn(u64) -> String| {
        if !runs(which) {
            return skipped;
        }
        load(
            &format!("{label} ({count} graphs)"),
            4,
            seconds,
            move |_, i| Call {
                path: path(i),
                deploy: None,
            },
            &addr,
            &token,
        )
    };
    let graph = get("graph", "GET /v1/graphs/{name}", |i| {
        format!("/v1/graphs/seed-{:05}", i % 10)
    });
    let cluster = get("cluster", "GET /v1/clusters/{name}", |_| {
        "/v1/clusters/edge-athens".to_owned()
    });
    let page = get("page", "GET /v1/graphs?limit=100", |_| {
        "/v1/graphs?limit=100".to_owned()
    });
    if !runs("deploy") {
        return [graph, cluster, page, skipped];
    }
    let deploy = load(
        &format!("POST /v1/graphs ({count} graphs; each then deleted, untimed)"),
        4,
        seconds,
        |t, i| {
            let name = format!("load-{t}-{i}");
            Call {
                path: "/v1/graphs".to_owned(),
                deploy: Some((name.clone(), named(&name))),
            }
        },
        &addr,
        &token,
    );
    [graph, cluster, page, deploy]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let sizes = sizes();
    let results: Vec<(usize, [Measured; 4])> = sizes.iter().map(|&n| (n, measure(n))).collect();
    if let [(small, first), .., (large, last)] = results.as_slice() {
        let labels = ["GET graph", "GET cluster", "GET list page", "deploy"];
        for ((label, a), b) in labels.iter().zip(first).zip(last) {
            println!(
                "ratio {label}: {:.2} of the req/s at {small} graphs is kept at {large} (p99 {:.2} -> {:.2} ms)",
                b.per_second / a.per_second,
                a.p99_ms,
                b.p99_ms
            );
        }
    }
}
