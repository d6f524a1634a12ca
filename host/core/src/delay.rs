//! The users' delay model shared by `smo simulate` and `smo serve`: a service's requests go to
//! its copies nearest first, each up to its capacity, and wait network latency plus processing.
//!
//! Over a step of `step_s` seconds, `requests` requests of one service are routed to its copies
//! in order of latency from the users; a copy with `capacity_rps` takes at most
//! `floor(capacity_rps * step_s)` of them. A copy's utilisation is `rho = taken / step_s /
//! capacity_rps` (at most 1) and each of its requests sees `latency_ms + processing_ms / (1 -
//! min(rho, 0.95))` ([`processing`]). Requests no copy can take fail and add no delay. The mean
//! user delay is the mean over the requests served ([`mean_delay_ms`]).

/// One running copy of a service as its users see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Copy {
    /// Network latency from the users to the copy's cluster (ms).
    pub latency_ms: f64,
    /// Requests per second the copy serves (`alpha * replicas + beta`).
    pub capacity_rps: f64,
}

/// What one copy took in a step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Served {
    /// Requests taken in the step.
    pub taken: u64,
    /// Utilisation of the copy (0..=1).
    pub rho: f64,
    /// Response time of each of its requests (ms).
    pub response_ms: f64,
}

/// Processing time at utilisation `u`: `ms / (1 - min(u, 0.95))` (an M/M/1-style inflation).
pub fn processing(ms: f64, u: f64) -> f64 {
    ms / (1.0 - u.clamp(0.0, 0.95))
}

/// Routes `requests` over `step_s` seconds to `copies` (see the module documentation); returns
/// what each copy took, in the order of `copies`, and the requests left unserved.
pub fn route(
    requests: u64,
    step_s: f64,
    processing_ms: f64,
    copies: &[Copy],
) -> (Vec<Served>, u64) {
    let mut order: Vec<usize> = (0..copies.len()).collect();
    order.sort_by(|a, b| copies[*a].latency_ms.total_cmp(&copies[*b].latency_ms));
    let mut served = vec![Served::default(); copies.len()];
    let mut left = requests;
    for j in order {
        let copy = copies[j];
        let cap_rps = copy.capacity_rps.max(0.0);
        let take = left.min((cap_rps * step_s).floor() as u64);
        left -= take;
        let rho = if cap_rps > 0.0 {
            (take as f64 / step_s / cap_rps).min(1.0)
        } else {
            0.0
        };
        served[j] = Served {
            taken: take,
            rho,
            response_ms: copy.latency_ms + processing(processing_ms, rho),
        };
    }
    (served, left)
}

/// The request-weighted mean response time of `served`; `None` when nothing was served.
pub fn mean_delay_ms<'a>(served: impl IntoIterator<Item = &'a Served>) -> Option<f64> {
    let (mut n, mut sum) = (0.0, 0.0);
    for s in served {
        n += s.taken as f64;
        sum += s.taken as f64 * s.response_ms;
    }
    (n > 0.0).then(|| sum / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_copies_fill_first_and_saturation_inflates_processing() {
        let copies = [
            Copy {
                latency_ms: 35.0,
                capacity_rps: 100.0,
            },
            Copy {
                latency_ms: 2.0,
                capacity_rps: 50.0,
            },
        ];
        let (served, left) = route(120 * 60, 60.0, 2.0, &copies);
        assert_eq!(left, 0);
        assert_eq!(served[1].taken, 50 * 60);
        assert_eq!(served[0].taken, 70 * 60);
        assert!((served[1].response_ms - (2.0 + 40.0)).abs() < 1e-9);
        assert!((served[0].response_ms - (35.0 + 2.0 / 0.3)).abs() < 1e-9);
        let mean = mean_delay_ms(&served).expect("served");
        assert!(mean > 2.0 && mean < 42.0, "{mean}");
        // Nothing placed: everything fails, no delay.
        let (served, left) = route(10, 1.0, 2.0, &[]);
        assert_eq!((served.len(), left), (0, 10));
        assert_eq!(mean_delay_ms(&served), None);
    }
}
