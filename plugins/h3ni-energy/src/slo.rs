//! SLO-aware replica counts for `h3ni-energy/predictive` (`slo_margin`): a service's processing
//! time estimated from its measured response and utilisation, and the replicas that keep it in.

use smo_plugin_api::extra::{self, ClusterExtra};
use smo_plugin_api::{Cluster, ScalingProfile};

/// The SLO the host gives a cluster (`slo_ms` in its `extra`, [`ClusterExtra`]), if any.
pub fn slo_of(c: &Cluster) -> Option<f64> {
    extra::read::<ClusterExtra>(c.extra.as_str())
        .ok()
        .and_then(|e| e.slo_ms)
        .filter(|s| s.is_finite() && *s > 0.0)
}

/// The processing time at zero load that a response of `response_ms` at utilisation `rho`,
/// `latency_ms` from the users, implies (response = latency + processing / (1 - rho)); `None`
/// when the sample says nothing: no load, saturated, or no time beyond the latency.
pub fn processing_ms(response_ms: f64, latency_ms: f64, rho: f64) -> Option<f64> {
    let queueing = response_ms - latency_ms;
    (rho > 0.0 && rho < 0.95 && queueing > 0.0 && queueing.is_finite())
        .then_some(queueing * (1.0 - rho))
}

/// The fewest replicas, `from` or more, whose planned response to `rate_rps` (latency plus
/// processing inflated by the utilisation, capped at 0.95 as the delay model does) is within
/// `budget_ms`; `max_replicas` when none is.
pub fn replicas_for_slo(
    rate_rps: f64,
    processing_ms: f64,
    latency_ms: f64,
    budget_ms: f64,
    p: &ScalingProfile,
    from: u32,
) -> u32 {
    let hi = p.max_replicas.max(p.min_replicas.max(1));
    (from.min(hi)..=hi)
        .find(|&r| {
            let capacity = p.alpha * f64::from(r) + p.beta;
            capacity > 0.0 && {
                let rho = (rate_rps / capacity).clamp(0.0, 0.95);
                latency_ms + processing_ms / (1.0 - rho) <= budget_ms + 1e-9
            }
        })
        .unwrap_or(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_processing_time_is_read_back_from_a_measured_response() {
        // 2 ms away, 8 ms of processing at rho 0.5: 2 + 16 = 18 ms measured.
        assert_eq!(processing_ms(18.0, 2.0, 0.5), Some(8.0));
        assert_eq!(processing_ms(18.0, 2.0, 0.0), None);
        assert_eq!(processing_ms(18.0, 2.0, 0.97), None);
        assert_eq!(processing_ms(2.0, 2.0, 0.5), None);
    }

    #[test]
    fn replicas_keep_the_planned_response_within_the_slo() {
        // 60 rps, 20 rps a replica, 8 ms processing, 2 ms away, 20 ms SLO: rho <= 1 - 8/18 =
        // 0.556, so 60 / 0.556 = 108 rps of capacity: 6 replicas (3 would cover the load).
        let p = ScalingProfile {
            alpha: 20.0,
            beta: 0.0,
            min_replicas: 1,
            max_replicas: 10,
        };
        assert_eq!(replicas_for_slo(60.0, 8.0, 2.0, 20.0, &p, 3), 6);
        // Never fewer than asked for, never more than allowed.
        assert_eq!(replicas_for_slo(1.0, 8.0, 2.0, 20.0, &p, 3), 3);
        assert_eq!(replicas_for_slo(60.0, 8.0, 15.0, 20.0, &p, 3), 10);
    }

    #[test]
    fn the_slo_comes_from_the_cluster_extra() {
        let mut c = crate::placement::tests::cluster("c", 4.0, 1.0, 100.0, 0.0);
        c.extra = "{}".into();
        assert_eq!(slo_of(&c), None);
        c.extra = r#"{"processing_ms": 2, "slo_ms": 30}"#.into();
        assert_eq!(slo_of(&c), Some(30.0));
    }
}
