//! Clusters with absurd but finite figures (PUE, capacity or peak power of 1e308) or NaN: every
//! ecmr mode answers invalid input naming the cluster and the figure, never `ok` with "+inf W",
//! and the same strategy still places a normal request afterwards.

use smo_ecmr::params::MilpParams;
use smo_ecmr::{Heuristic, Milp, Nearest, Seed};
use smo_plugin_api::prelude::*;
use smo_plugin_api::testing::{cluster, graph_of, placement_request, service, ClusterExt};

fn good() -> Cluster {
    cluster("good", 64.0, 262_144.0, 0)
        .at(48.86, 2.35)
        .grid(300.0, 1.3)
        .power(500.0, 2000.0)
}

/// A second cluster, cleaner and otherwise as good, so that a model that took its figures at
/// face value would choose it. Both are in Paris, where `ecmr/seed` puts the users.
fn bad() -> Cluster {
    cluster("bad", 64.0, 262_144.0, 0)
        .at(48.86, 2.35)
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

fn strategies() -> Vec<(&'static str, Box<dyn Placement>)> {
    vec![
        (
            "heuristic",
            Box::new(Heuristic {
                params: Default::default(),
            }),
        ),
        (
            "milp",
            Box::new(Milp {
                params: Default::default(),
            }),
        ),
        (
            "seed",
            Box::new(Seed {
                params: Default::default(),
            }),
        ),
        ("nearest", Box::new(Nearest)),
    ]
}

/// Every mode refuses `request` as invalid input whose message contains each of `expected`.
fn refused(request: &PlacementRequest, expected: &[&str]) {
    for (name, s) in strategies() {
        let e = match s.place(request) {
            Ok(d) => panic!(
                "{name} answered ok: {:?} {:?}",
                d.placement.assignments, d.reasons
            ),
            Err(e) => e,
        };
        assert_eq!(e.kind, ErrorKind::INVALID_INPUT, "{name}: {e}");
        for x in expected {
            assert!(e.message.contains(x), "{name}: `{x}` not in {e}");
        }
        // The same strategy still places a normal request.
        let d = s
            .place(&request_with(vec![good()]))
            .expect("a normal request");
        assert_eq!(d.placement.assignments.len(), 2, "{name}");
        if let ROption::RSome(objective) = d.objective {
            assert!(objective.is_finite(), "{name}: objective {objective}");
        }
    }
}

#[test]
fn a_pue_of_1e308_is_refused_naming_the_cluster_and_the_infinite_power() {
    let request = request_with(vec![good(), bad().grid(10.0, 1e308)]);
    refused(
        &request,
        &[
            "cluster `bad`",
            "facility power at full load +inf W",
            "energy.pue 1e308",
        ],
    );
}

#[test]
fn a_capacity_of_1e308_is_refused_naming_the_cluster_and_the_field() {
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
    let request = request_with(vec![good(), bad().power(500.0, 1e308)]);
    refused(
        &request,
        &["cluster `bad`", "facility power at full load 1.1e308 W"],
    );
}

#[test]
fn a_nan_carbon_intensity_is_not_read_as_zero() {
    // `max(0.0)` used to turn NaN into a carbon-free grid, which every mode then preferred.
    let request = request_with(vec![good(), bad().grid(f64::NAN, 1.1)]);
    refused(
        &request,
        &["cluster `bad`", "energy.carbon_intensity_g_per_kwh NaN"],
    );
}

#[test]
fn absurd_server_detail_is_refused_naming_the_cluster() {
    let detail = r#"{"server_detail": {"types": [{"cores": 16, "memory_mib": 65536,
        "curve_w": [50, 1e308]}], "servers": [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]}}"#;
    let request = request_with(vec![good(), bad().extra(detail)]);
    refused(
        &request,
        &[
            "cluster `bad`",
            "facility power at full load 1.1e308 W (1e308 W × energy.pue 1.1)",
        ],
    );
    let detail = r#"{"server_detail": {"types": [{"cores": 16, "memory_mib": 65536,
        "curve_w": [50, 210]}], "servers": [[0, 0, 0, 0, 0, 0], [0, 1e300, 0, 0, 0, 0]]}}"#;
    let request = request_with(vec![good(), bad().extra(detail)]);
    refused(&request, &["cluster `bad`: server 1 used CPU 1e300 cores"]);
}

#[test]
fn every_bad_cluster_is_named_at_once() {
    let mut big = bad();
    big.name = "big".into();
    big.capacity.memory_mib = 1e300;
    let request = request_with(vec![bad().grid(10.0, 1e308), good(), big]);
    refused(
        &request,
        &[
            "cluster `bad`: facility power",
            "cluster `big`: capacity.memory_mib 1e300",
        ],
    );
}

#[test]
fn a_milp_cost_highs_would_refuse_names_the_cluster_and_is_invalid_input() {
    // Every cluster figure is fine, but an absurd energy reference makes the costs 1e300:
    // HiGHS would take them as infinite. The model is not built; the error says where.
    let mut params = MilpParams::default();
    params.weights.energy_ref_w = 1e-300;
    let milp = Milp { params };
    let e = match milp.place(&request_with(vec![good()])) {
        Ok(d) => panic!("answered ok: {:?}", d.placement.assignments),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::INVALID_INPUT, "{e}");
    assert!(e.message.contains("cluster `good`"), "{e}");
    assert!(e.message.contains("HiGHS takes costs below 1e20"), "{e}");
}
