//! The capacity bands behind the allocation accuracy of `smo simulate`: what an interval's
//! peak demand needs to be covered, and what it needs for its requests to meet the SLO.

use super::scenario::ServiceSpec;

/// The fewest replicas (at least `min_replicas`) whose capacity `alpha * r + beta` reaches
/// `rps`; `min_replicas` when replicas add no capacity.
fn fewest_replicas(sp: &ServiceSpec, rps: f64) -> f64 {
    let needed = if sp.alpha > 0.0 {
        ((rps - sp.beta) / sp.alpha - 1e-9).ceil().max(0.0)
    } else {
        0.0
    };
    needed.max(f64::from(sp.min_replicas.max(1)))
}

/// Capacity of the fewest replicas (at least `min_replicas`) that cover `peak` rps.
pub fn capacity_covering(sp: &ServiceSpec, peak: f64) -> f64 {
    (sp.alpha * fewest_replicas(sp, peak) + sp.beta).max(peak)
}

/// Capacity of the fewest replicas whose requests meet `slo_ms` at `peak` rps from users
/// `latency_ms` away: latency + processing / (1 - rho) <= SLO, i.e. rho <= 1 - processing /
/// (SLO - latency) (rho capped at 0.95 as in [`smo_core::delay::processing`]), at most `max_replicas`.
/// `None` when no replica count meets it (latency + processing alone exceed the SLO).
pub fn capacity_within_slo(
    sp: &ServiceSpec,
    peak: f64,
    latency_ms: f64,
    slo_ms: f64,
) -> Option<f64> {
    let budget = slo_ms - latency_ms;
    if !budget.is_finite() || budget <= sp.processing_ms || sp.alpha <= 0.0 {
        return None;
    }
    let rho_max = (1.0_f64 - sp.processing_ms / budget).min(0.95);
    let replicas = fewest_replicas(sp, peak / rho_max).min(f64::from(sp.max_replicas.max(1)));
    Some(sp.alpha * replicas + sp.beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(processing_ms: f64) -> ServiceSpec {
        serde_norway::from_str(&format!(
            "{{name: api, cpu: 1, alpha: 10, beta: 0, max_replicas: 5, processing_ms: {processing_ms}, rate_rps: 25}}"
        ))
        .expect("service spec")
    }

    #[test]
    fn the_slo_band_starts_where_the_response_meets_the_slo() {
        let sp = spec(30.0);
        // 25 rps: three replicas (30 rps) cover it.
        assert_eq!(capacity_covering(&sp, 25.0), 30.0);
        // 2 ms away, SLO 100 ms: rho <= 1 - 30/98 = 0.694, so 36.0 rps, four replicas (40).
        assert_eq!(capacity_within_slo(&sp, 25.0, 2.0, 100.0), Some(40.0));
        // Capped at max_replicas (5): 45 rps at rho 0.694 would need 65 rps.
        assert_eq!(capacity_within_slo(&sp, 45.0, 2.0, 100.0), Some(50.0));
        // 75 ms away, 30 ms of processing: no replica count meets a 100 ms SLO.
        assert_eq!(capacity_within_slo(&sp, 25.0, 75.0, 100.0), None);
        // Without processing time the SLO asks for no more than coverage, up to rho 0.95.
        assert_eq!(
            capacity_within_slo(&spec(0.0), 25.0, 2.0, 100.0),
            Some(30.0)
        );
    }
}
