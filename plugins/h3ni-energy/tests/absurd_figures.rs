//! Clusters with absurd but finite figures (PUE, capacity or peak power of 1e308) or NaN: the
//! placement (and the consolidation built on it) answers invalid input naming the cluster and
//! the figure, never `ok` with an infinite power, and still places a normal request afterwards.

use smo_h3ni_energy::params::PlacementParams;
use smo_h3ni_energy::{Consolidate, EnergyPlacement};
use smo_plugin_api::prelude::*;
use smo_plugin_api::testing::{
    cluster, graph_of, placement_of, placement_request, service, ClusterExt,
};

fn good() -> Cluster {
    cluster("good", 64.0, 262_144.0, 0)
        .grid(300.0, 1.3)
        .power(500.0, 2000.0)
}

/// A second cluster, cleaner and otherwise as good, so that a model that took its figures at
/// face value would choose it.
fn bad() -> Cluster {
    cluster("bad", 64.0, 262_144.0, 0)
        .grid(10.0, 1.1)
        .power(500.0, 2000.0)
}

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

/// The placement refuses `request` as invalid input whose message has each of `expected`, and
/// the same strategy then places a normal request with a finite objective.
fn refused(request: &PlacementRequest, expected: &[&str]) {
    let strategy = EnergyPlacement::new(PlacementParams::default());
    let e = match strategy.place(request) {
        Ok(d) => panic!("answered ok: {:?} {:?}", d.placement.assignments, d.reasons),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::INVALID_INPUT, "{e}");
    for x in expected {
        assert!(e.message.contains(x), "`{x}` not in {e}");
    }
    let d = strategy
        .place(&request_with(vec![good()]))
        .expect("a normal request");
    assert_eq!(d.placement.assignments.len(), 2);
    match d.objective {
        ROption::RSome(o) => assert!(o.is_finite(), "objective {o}"),
        ROption::RNone => panic!("no objective"),
    }
}

#[test]
fn a_pue_of_1e308_is_refused_naming_the_cluster_and_the_infinite_power() {
    refused(
        &request_with(vec![good(), bad().grid(10.0, 1e308)]),
        &[
            "cluster `bad`",
            "facility power at full load +inf W",
            "energy.pue 1e308",
        ],
    );
}

#[test]
fn a_capacity_of_1e308_is_refused_naming_the_cluster_and_the_field() {
    // Taken at face value, 2000 W over 1e308 cores made its power (and the objective) 1e-305:
    // the model put everything there and answered ok.
    let mut c = bad();
    c.capacity = Resources::new(1e308, 1e308, 0);
    c.available = c.capacity;
    refused(
        &request_with(vec![good(), c]),
        &["cluster `bad`", "capacity.cpu 1e308 cores", "below 1e15"],
    );
}

#[test]
fn a_peak_power_of_1e308_is_refused_naming_the_cluster() {
    refused(
        &request_with(vec![good(), bad().power(500.0, 1e308)]),
        &["cluster `bad`", "facility power at full load 1.1e308 W"],
    );
}

#[test]
fn nan_and_infinite_supply_are_not_read_as_zero_or_free_power() {
    refused(
        &request_with(vec![good(), bad().grid(f64::NAN, 1.1)]),
        &["cluster `bad`", "energy.carbon_intensity_g_per_kwh NaN"],
    );
    let mut c = bad();
    c.energy.renewable_supply_kw = 1e308;
    refused(
        &request_with(vec![good(), c]),
        &["cluster `bad`", "on-site renewable supply +inf W"],
    );
}

#[test]
fn absurd_server_detail_is_refused_naming_the_cluster() {
    let detail = r#"{"server_detail": {"types": [{"cores": 16, "memory_mib": 65536,
        "curve_w": [50, 1e308]}], "servers": [[0, 0, 0, 0, 0, 0]]}}"#;
    refused(
        &request_with(vec![good(), bad().extra(detail)]),
        &["cluster `bad`", "type 0 server at full load 1.1e308 W"],
    );
    let detail = r#"{"server_detail": {"types": [{"cores": 16, "memory_mib": 65536,
        "curve_w": [50, 210]}], "servers": [[0, 0, 0, 0, 0, 0], [0, 1e300, 0, 0, 0, 0]]}}"#;
    refused(
        &request_with(vec![good(), bad().extra(detail)]),
        &["cluster `bad`: server_detail server 1 used CPU 1e300 cores"],
    );
}

#[test]
fn consolidation_answers_the_same_error() {
    let request = request_with(vec![good(), bad().grid(10.0, 1e308)]);
    let migration = MigrationRequest {
        graph: request.graph.clone(),
        clusters: request.clusters.clone(),
        current: placement_of(&[("vm1", "good", 1), ("vm2", "good", 1)]),
        telemetry: Telemetry::default(),
        extra: "{}".into(),
    };
    let consolidate = Consolidate::new(EnergyPlacement::consolidating(PlacementParams::default()));
    let e = match consolidate.plan(&migration) {
        Ok(d) => panic!("answered ok: {:?}", d.moves),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::INVALID_INPUT, "{e}");
    assert!(e.message.contains("cluster `bad`"), "{e}");
}
