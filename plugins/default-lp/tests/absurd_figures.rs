//! Clusters with absurd but finite figures: `default-lp/milp` refuses a price it cannot compute
//! with (naming the cluster) instead of answering ok with a NaN objective; the figures neither
//! strategy reads (PUE, powers) leave it placing as before, so it stays a fallback.

use smo_default_lp::{FirstFit, MilpPlacement};
use smo_plugin_api::prelude::*;
use smo_plugin_api::testing::{cluster, graph_of, placement_request, service, ClusterExt};

fn request_with(clusters: Vec<Cluster>) -> PlacementRequest {
    placement_request(
        graph_of(vec![
            service("vm1", 2.0, 1024.0, 0),
            service("vm2", 1.0, 512.0, 0),
        ]),
        clusters,
        None,
    )
}

fn good() -> Cluster {
    cluster("good", 64.0, 262_144.0, 0)
}

fn milp() -> MilpPlacement {
    MilpPlacement::new("{}").expect("default parameters")
}

#[test]
fn an_absurd_price_is_refused_naming_the_cluster_not_answered_with_a_nan_objective() {
    for (price, shown) in [(1e308, "1e308"), (f64::NAN, "NaN")] {
        let mut bad = cluster("bad", 64.0, 262_144.0, 0);
        bad.prices.cpu_core_hour = price;
        let strategy = milp();
        let e = match strategy.place(&request_with(vec![good(), bad])) {
            Ok(d) => panic!("answered ok: objective {:?}", d.objective),
            Err(e) => e,
        };
        assert_eq!(e.kind, ErrorKind::INVALID_INPUT, "{e}");
        assert!(
            e.message
                .contains(&format!("cluster `bad`: prices.cpu_core_hour {shown}")),
            "{e}"
        );
        // The same strategy still places a normal request.
        let d = strategy
            .place(&request_with(vec![good()]))
            .expect("a normal request");
        assert!(matches!(d.objective, ROption::RSome(o) if o.is_finite()));
    }
}

#[test]
fn figures_it_does_not_read_leave_the_fallback_placing() {
    // The host's fallback is default-lp: absurd energy figures must not stop it.
    let mut big = cluster("big", 1e308, 1e308, 0);
    big.available = big.capacity;
    let clusters = vec![
        good(),
        cluster("hot", 64.0, 262_144.0, 0)
            .grid(10.0, 1e308)
            .power(1e308, 1e308),
        big,
    ];
    let request = request_with(clusters);
    let ff = FirstFit::new("{}").expect("default parameters");
    for (name, d) in [
        ("placement", ff.place(&request)),
        ("milp", milp().place(&request)),
    ] {
        let d = d.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.placement.assignments.len(), 2, "{name}");
        if let ROption::RSome(o) = d.objective {
            assert!(o.is_finite(), "{name}: objective {o}");
        }
    }
}
