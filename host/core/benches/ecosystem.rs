//! The ecosystem map at scale: 10,000 workloads (2,000 applications of five tiers, each tier
//! twice) with about 50,000 dependency edges over 20 clusters. Measures a scoring pass (score
//! every workload and find those below the threshold) and the map's update per event (a
//! workload moved; a workload removed and deployed again).

use criterion::{criterion_group, criterion_main, Criterion};
use smo_core::ecosystem::declaration::{Characteristics, Dependencies, Requirement};
use smo_core::ecosystem::{Declaration, EcosystemMap, Topology, Weights};
use std::hint::black_box;
use std::time::Duration;

const APPS: usize = 1_000;
const CLUSTERS: usize = 20;
const TIERS: [&str; 5] = ["web", "database", "caching", "analytics", "queue"];

fn requirement(kind: &str, app: usize, latency: Option<&str>) -> Requirement {
    Requirement {
        kind: Some(kind.into()),
        software_stack: vec![format!("app-{app}")],
        network_latency_requirement: latency.map(str::to_owned),
        ..Requirement::default()
    }
}

/// Tier `tier` of application `app`, copy `copy`.
fn declaration(app: usize, tier: &str, copy: usize) -> Declaration {
    let need = |kind, latency| requirement(kind, app, latency);
    let (required, preferred) = match tier {
        "web" => (
            vec![need("database", Some("< 5 ms"))],
            vec![
                need("caching", None),
                need("analytics", Some("< 20 ms")),
                need("queue", Some("< 20 ms")),
            ],
        ),
        "analytics" => (
            vec![need("database", Some("< 10 ms"))],
            vec![
                need("queue", None),
                need("caching", None),
                need("web", Some("< 50 ms")),
            ],
        ),
        "queue" => (
            vec![need("database", Some("< 10 ms"))],
            vec![need("caching", None)],
        ),
        "database" => (
            vec![],
            vec![need("caching", None), need("queue", Some("< 10 ms"))],
        ),
        "caching" => (vec![], vec![need("database", None)]),
        _ => (vec![], vec![]),
    };
    Declaration {
        vm_name: format!("app-{app}/{tier}-{copy}"),
        provides: Characteristics {
            kind: Some(tier.into()),
            software_stack: vec![format!("app-{app}")],
            ..Characteristics::default()
        },
        dependencies: Dependencies {
            required,
            preferred,
        },
    }
}

fn build() -> EcosystemMap {
    let mut topology = Topology::default();
    for c in 0..CLUSTERS {
        topology.locate(
            &format!("c{c}"),
            40.0 + c as f64 * 0.7,
            -5.0 + c as f64 * 1.3,
        );
    }
    let mut map = EcosystemMap::new(topology);
    for app in 0..APPS {
        for (t, tier) in TIERS.iter().enumerate() {
            for copy in 0..2 {
                let cluster = format!("c{}", (app + t * copy) % CLUSTERS);
                map.upsert(declaration(app, tier, copy), None, &cluster);
            }
        }
    }
    map
}

fn ecosystem(c: &mut Criterion) {
    let mut map = build();
    println!(
        "ecosystem: {} workloads, {} dependency edges, {} below the threshold",
        map.len(),
        map.edges(),
        map.below_threshold(&Weights::default()).len()
    );
    let weights = Weights::default();
    let mut group = c.benchmark_group("ecosystem");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function(
        "score every workload and find the candidates (10k, 50k edges)",
        |b| b.iter(|| black_box(map.below_threshold(&weights)).len()),
    );
    let mut i = 0usize;
    group.bench_function("update: a workload moved", |b| {
        b.iter(|| {
            i += 1;
            let name = format!("app-{}/web-0", i % APPS);
            map.move_to(&name, &format!("c{}", i % CLUSTERS))
        })
    });
    let mut j = 0usize;
    group.bench_function("update: a workload removed and deployed again", |b| {
        b.iter(|| {
            j += 1;
            let app = j % APPS;
            let name = format!("app-{app}/web-1");
            map.remove(&name);
            map.upsert(
                declaration(app, "web", 1),
                None,
                &format!("c{}", j % CLUSTERS),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, ecosystem);
criterion_main!(benches);
