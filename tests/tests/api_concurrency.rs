//! Concurrent deploys over HTTP: of different graphs (all stored, each with its placement, and
//! free capacity never counted twice) and of the same graph (exactly one wins); readers never
//! see a graph without its placement.

mod api_support;

use api_support::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn concurrent_deploys_of_different_graphs_and_of_the_same_graph() {
    let sandbox = sandbox();
    let api = Arc::new(start(&sandbox, ""));
    let done = Arc::new(AtomicBool::new(false));
    let complete_reads = Arc::new(AtomicUsize::new(0));

    // A reader polls the graphs being deployed: a graph it sees must be complete.
    let reader = {
        let (api, done, complete_reads) = (
            Arc::clone(&api),
            Arc::clone(&done),
            Arc::clone(&complete_reads),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                for i in 0..8 {
                    let reply = api.get(&format!("/v1/graphs/g{i}"));
                    match reply.status {
                        404 => {}
                        200 => {
                            assert_eq!(
                                placement(&reply.body).len(),
                                1,
                                "half-written graph: {}",
                                reply.body
                            );
                            assert!(
                                !reply.body["last_decisions"]["placement"].is_null(),
                                "{}",
                                reply.body
                            );
                            complete_reads.fetch_add(1, Ordering::SeqCst);
                        }
                        other => panic!("GET g{i}: {other} {}", reply.body),
                    }
                }
            }
        })
    };

    let mut writers = Vec::new();
    for i in 0..8 {
        let api = Arc::clone(&api);
        writers.push(std::thread::spawn(move || {
            api.post_yaml("/v1/graphs", &hello_named(&format!("g{i}")))
                .status
        }));
    }
    for _ in 0..8 {
        let api = Arc::clone(&api);
        writers.push(std::thread::spawn(move || {
            api.post_yaml("/v1/graphs", &hello_named("same")).status
        }));
    }
    let statuses: Vec<u16> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    done.store(true, Ordering::SeqCst);
    reader.join().expect("the reader saw only complete graphs");

    assert!(statuses[..8].iter().all(|s| *s == 201), "{statuses:?}");
    let same = &statuses[8..];
    assert_eq!(same.iter().filter(|s| **s == 201).count(), 1, "{same:?}");
    assert_eq!(same.iter().filter(|s| **s == 409).count(), 7, "{same:?}");

    let graphs = api.get("/v1/graphs").body;
    let graphs = graphs["graphs"].as_array().expect("graphs");
    assert_eq!(graphs.len(), 9);
    for g in graphs {
        assert_eq!(placement(g).len(), 1, "{g}");
        assert_eq!(g["status"], "running");
    }
    let history = api.get("/v1/decisions?graph=same").body;
    assert_eq!(
        history["decisions"].as_array().expect("decisions").len(),
        1,
        "the losers decided nothing"
    );
    let used: f64 = api.get("/v1/clusters").body["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| c["used"]["cpu"].as_f64().expect("cpu"))
        .sum();
    assert_eq!(used, 9.0, "one CPU per graph, each counted once");
}

#[test]
fn concurrent_deploys_never_overcommit_a_cluster() {
    let sandbox = sandbox();
    let api = Arc::new(start(&sandbox, ""));
    // Room for exactly four one-CPU graphs in the whole inventory.
    for name in ["cloud-frankfurt", "cloud-gpu-stockholm", "edge-athens"] {
        let cpu = if name == "edge-athens" { 4.0 } else { 0.0 };
        let reply = api.put_json(
            &format!("/v1/clusters/{name}"),
            &json!({"role": "cloud", "capacity": {"cpu": cpu, "memory_mib": 65536.0, "gpu": 0}}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let writers: Vec<_> = (0..10)
        .map(|i| {
            let api = Arc::clone(&api);
            std::thread::spawn(move || {
                let reply = api.post_yaml("/v1/graphs", &hello_named(&format!("c{i}")));
                (
                    reply.status,
                    reply.body["error"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect();
    let results: Vec<(u16, String)> = writers
        .into_iter()
        .map(|w| w.join().expect("writer"))
        .collect();
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 201).count(),
        4,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|(s, _)| *s != 201)
            .all(|(s, e)| *s == 409 && e == "placement_failed"),
        "{results:?}"
    );
    let edge = api.get("/v1/clusters/edge-athens").body;
    assert_eq!(edge["used"]["cpu"], 4.0);
    assert_eq!(edge["available"]["cpu"], 0.0);
    assert_eq!(
        api.get("/v1/graphs").body["graphs"]
            .as_array()
            .expect("graphs")
            .len(),
        4
    );
}
