//! Helpers that fill a decision record: capped rejection lists and the `extra` JSON summary.
//! Plugins cannot log through the host, so everything worth knowing goes into the decision.

use smo_plugin_api::prelude::*;

/// Collects rejections up to a cap, counting the ones left out.
#[derive(Debug)]
pub struct Rejections {
    list: RVec<Rejection>,
    omitted: usize,
    max: usize,
}

impl Rejections {
    pub fn new(max: usize) -> Self {
        Self {
            list: RVec::new(),
            omitted: 0,
            max,
        }
    }

    pub fn push(&mut self, service: &str, cluster: &str, reason: impl Into<String>) {
        if self.list.len() < self.max {
            self.list.push(Rejection {
                service: service.into(),
                cluster: cluster.into(),
                reason: reason.into().into(),
            });
        } else {
            self.omitted += 1;
        }
    }

    /// Moves the rejections into `decision`, with a reason when some were left out.
    pub fn finish(self, decision: &mut PlacementDecision) {
        decision.rejections = self.list;
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

    #[test]
    fn rejections_are_capped_and_counted() {
        let mut r = Rejections::new(2);
        for i in 0..5 {
            r.push("s", &format!("c{i}"), "full");
        }
        let mut d = PlacementDecision::default();
        r.finish(&mut d);
        assert_eq!(d.rejections.len(), 2);
        assert_eq!(d.rejections[1].cluster.as_str(), "c1");
        assert!(d.reasons[0].contains("3 further rejections"));
    }
}
