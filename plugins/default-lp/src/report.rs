//! Helpers that fill a decision record: capped rejection lists and the `extra` JSON summary.
//! Plugins cannot log through the host, so everything worth knowing goes into the decision.

use crate::instance::{Instance, Why};
use smo_plugin_api::prelude::*;

/// Collects rejections up to a cap, counting the ones left out. A rejection is kept as indices
/// and a [`Why`]; its text is written only by [`Rejections::finish`], for the listed ones.
#[derive(Debug)]
pub struct Rejections {
    list: Vec<(usize, usize, Why)>,
    omitted: usize,
    max: usize,
}

impl Rejections {
    pub fn new(max: usize) -> Self {
        Self {
            list: Vec::new(),
            omitted: 0,
            max,
        }
    }

    /// Service `service` cannot go to cluster `cluster` (indices into the instance) because of
    /// `why`.
    pub fn push(&mut self, service: usize, cluster: usize, why: Why) {
        if self.list.len() < self.max {
            self.list.push((service, cluster, why));
        } else {
            self.omitted += 1;
        }
    }

    /// Moves the rejections into `decision`, writing their text, with a reason when some were
    /// left out.
    pub fn finish(self, inst: &Instance<'_>, decision: &mut PlacementDecision) {
        decision.rejections = self
            .list
            .into_iter()
            .map(|(s, e, why)| Rejection {
                service: inst.services[s].name.as_str().into(),
                cluster: inst.clusters[e].name.clone(),
                reason: inst.explain(why).into(),
            })
            .collect();
        if self.omitted > 0 {
            decision.reasons.push(
                format!(
                    "{} further rejections not listed (parameter `max_rejections` = {})",
                    self.omitted, self.max
                )
                .into(),
            );
        }
    }
}

/// Serialises a JSON value for an `extra` member (an empty object if that ever fails).
pub fn extra(value: serde_json::Value) -> RString {
    serde_json::to_string(&value)
        .unwrap_or_else(|_| "{}".to_string())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    #[test]
    fn rejections_are_capped_counted_and_written_from_the_instance() {
        let clusters: Vec<Cluster> = (0..5)
            .map(|i| cluster(&format!("c{i}"), 1.0, 100.0, 0))
            .collect();
        let request = placement_request(graph_of(vec![service("s", 2.0, 10.0, 0)]), clusters, None);
        let inst = Instance::new(&request).expect("valid");
        let mut r = Rejections::new(2);
        for e in 0..5 {
            let why = inst
                .why_not(0, e, &inst.clusters[e].available)
                .expect("too big");
            r.push(0, e, why);
        }
        let mut d = PlacementDecision::default();
        r.finish(&inst, &mut d);
        assert_eq!(d.rejections.len(), 2);
        assert_eq!(d.rejections[1].cluster.as_str(), "c1");
        assert_eq!(d.rejections[1].service.as_str(), "s");
        assert_eq!(d.rejections[1].reason.as_str(), "needs 2.00 CPU, 1.00 free");
        assert!(d.reasons[0].contains("3 further rejections"));
    }
}
