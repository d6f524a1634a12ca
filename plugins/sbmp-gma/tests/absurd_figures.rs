//! Absurd but finite prices and call rates: the offload answers invalid input naming the
//! cluster (or call) and the figure, never a move with an infinite or NaN expected cost, and
//! the same strategy still plans a normal request afterwards.

use smo_plugin_api::prelude::*;
use smo_sbmp_gma::synth::{self, Spec};
use smo_sbmp_gma::Offload;

fn request() -> MigrationRequest {
    synth::with_required_decrease(synth::app(&Spec::new(8, 1)), 10.0)
}

fn refused(change: impl Fn(&mut MigrationRequest), expected: &str) {
    let strategy = Offload::new("{}").expect("default parameters");
    let mut bad = request();
    change(&mut bad);
    let e = match strategy.plan(&bad) {
        Ok(d) => panic!(
            "answered ok: {:?}",
            d.moves
                .iter()
                .map(|m| (m.service.to_string(), m.expected_gain, m.expected_cost))
                .collect::<Vec<_>>()
        ),
        Err(e) => e,
    };
    assert_eq!(e.kind, ErrorKind::INVALID_INPUT, "{e}");
    assert!(e.message.contains(expected), "`{expected}` not in {e}");
    let d = strategy.plan(&request()).expect("a normal request");
    assert!(!d.moves.is_empty());
    for m in d.moves.iter() {
        assert!(m.expected_gain.is_finite() && m.expected_cost.is_finite());
    }
}

#[test]
fn a_price_of_1e308_is_refused_naming_the_cluster_and_the_price() {
    // The edge's CPU price once gave a move with an expected cost of +inf per hour, and the
    // cloud's egress price one of NaN, both answered ok.
    refused(
        |r| r.clusters[1].prices.cpu_core_hour = 1e308,
        "cluster `edge`: prices.cpu_core_hour 1e308",
    );
    refused(
        |r| r.clusters[0].prices.egress_gb = 1e308,
        "cluster `cloud`: prices.egress_gb 1e308",
    );
}

#[test]
fn a_call_rate_of_1e308_is_refused_naming_the_call() {
    refused(
        |r| {
            for c in r.telemetry.calls.iter_mut() {
                c.rps = 1e308;
            }
        },
        "telemetry.calls users -> s0: rps (1e308)",
    );
}
