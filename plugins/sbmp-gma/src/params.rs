//! The strategy's JSON parameters (static, strict) and the per-call `request.extra` members
//! (what this call is about; unknown keys ignored, per the ABI's versioning rule).

use crate::traces::Ranking;
use serde::Deserialize;
use smo_plugin_api::PluginError;
use std::collections::BTreeMap;

/// Constructor parameters of `sbmp-gma/offload`; every member is optional.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Params {
    /// Name of the cloud cluster of the pair; default: the first cluster with role cloud.
    pub cloud: Option<String>,
    /// Name of the edge cluster of the pair; default: the first cluster with role edge.
    pub edge: Option<String>,
    /// The one multiplier from link RTT to model RTT (Q1). Default 1.
    pub rtt_multiplier: f64,
    /// HPA CPU utilisation target h for every service and area (Q3). Default 0.6.
    pub hpa_cpu_target: f64,
    /// Per-service overrides of h, per area (Q3).
    pub hpa_cpu_targets: BTreeMap<String, AreaTarget>,
    /// k: the hop depth of candidate sub-graphs from the edge gateways. Default 2.
    pub expanding_depth: usize,
    /// k for unoffload (Q4). Default: `expandingDepth`.
    pub unoffload_expanding_depth: Option<usize>,
    /// The cap on candidate sub-graphs evaluated per round. Default 256.
    pub max_sgs: usize,
    /// The number of synthetic traces. Default 2048.
    pub max_traces: usize,
    /// Stop once this fraction of the requested change is predicted (overshooting avoidance).
    /// Default 0.3, as GMA: the control loop iterates.
    pub stop_multiplier: f64,
    /// Candidate ranking (Q5): `frequency` (default) or `unranked` (HEAD-like).
    pub ranking: Ranking,
    /// Services that stay where they are: never offloaded, never removed from the edge (Q6).
    pub pinned: Vec<String>,
    /// Seed of the trace sampler. Default 1.
    pub seed: u64,
    /// Reject an unoffload whose predicted cost is not lower than now. Default true.
    pub unoffload_cost_check: bool,
    /// Also keep the cheapest candidate that reaches the stop threshold as a possible end
    /// state (decision N9). Default true; `false` is plain SBMP.
    pub cheapest_finisher: bool,
    /// Evaluations allowed to the final exchange search (decision N10); 0 turns it off.
    /// Default 4096.
    pub refine_budget: usize,
}

/// An HPA target for one service, per area; a missing area uses `hpaCpuTarget`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AreaTarget {
    pub cloud: Option<f64>,
    pub edge: Option<f64>,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            cloud: None,
            edge: None,
            rtt_multiplier: 1.0,
            hpa_cpu_target: 0.6,
            hpa_cpu_targets: BTreeMap::new(),
            expanding_depth: 2,
            unoffload_expanding_depth: None,
            max_sgs: 256,
            max_traces: 2048,
            stop_multiplier: 0.3,
            ranking: Ranking::Frequency,
            pinned: Vec::new(),
            seed: 1,
            unoffload_cost_check: true,
            cheapest_finisher: true,
            refine_budget: 4096,
        }
    }
}

impl Params {
    /// Parses and checks the JSON parameters; errors name the offending field.
    pub fn parse(json: &str) -> Result<Self, PluginError> {
        let text = if json.trim().is_empty() { "{}" } else { json };
        let p: Params = serde_json::from_str(text)
            .map_err(|e| PluginError::bad_parameters(format!("sbmp-gma/offload: {e}")))?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), PluginError> {
        let bad = |field: &str, why: &str| {
            Err(PluginError::bad_parameters(format!(
                "sbmp-gma/offload: `{field}` {why}"
            )))
        };
        if !(self.rtt_multiplier.is_finite() && self.rtt_multiplier > 0.0) {
            return bad("rttMultiplier", "must be a positive number");
        }
        if !valid_target(self.hpa_cpu_target) {
            return bad("hpaCpuTarget", "must be in (0, 1]");
        }
        for (service, t) in &self.hpa_cpu_targets {
            if !t.cloud.is_none_or(valid_target) || !t.edge.is_none_or(valid_target) {
                return bad(
                    &format!("hpaCpuTargets.{service}"),
                    "targets must be in (0, 1]",
                );
            }
        }
        if self.expanding_depth == 0 {
            return bad("expandingDepth", "must be at least 1");
        }
        if self.unoffload_expanding_depth == Some(0) {
            return bad("unoffloadExpandingDepth", "must be at least 1");
        }
        if self.max_sgs == 0 {
            return bad("maxSgs", "must be at least 1");
        }
        if !(self.stop_multiplier.is_finite()
            && self.stop_multiplier > 0.0
            && self.stop_multiplier <= 1.0)
        {
            return bad("stopMultiplier", "must be in (0, 1]");
        }
        Ok(())
    }

    /// h for `service` in the cloud (`edge == false`) or at the edge.
    pub fn hpa_target(&self, service: &str, edge: bool) -> f64 {
        let o = self.hpa_cpu_targets.get(service);
        let v = if edge {
            o.and_then(|t| t.edge)
        } else {
            o.and_then(|t| t.cloud)
        };
        v.unwrap_or(self.hpa_cpu_target)
    }
}

fn valid_target(t: f64) -> bool {
    t.is_finite() && t > 0.0 && t <= 1.0
}

/// Members of `request.extra` this strategy reads; others are ignored.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Extra {
    /// The required delay decrease in ms: positive offloads, negative unoffloads (by `−value`),
    /// zero or missing proposes nothing. The host computes it as measured − target delay.
    pub required_decrease_ms: Option<f64>,
    /// Measured usage per service and area, when the host has it (Prometheus). Services not
    /// listed use the usage derived from `telemetry.loads`.
    pub usage: BTreeMap<String, AreaUsage>,
    /// λ at this edge / λ at all edges: scales the measured cloud usage (multi-edge). Default 1.
    pub me_resource_scaling: Option<f64>,
}

/// Measured usage of one service in the two areas of the pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AreaUsage {
    /// CPU cores used in the cloud (sum over pods).
    pub cloud_cpu: f64,
    /// CPU cores used at the edge.
    pub edge_cpu: f64,
    /// Memory used in the cloud, MiB.
    pub cloud_memory_mib: f64,
    /// Memory used at the edge, MiB.
    pub edge_memory_mib: f64,
}

impl Extra {
    /// Parses `request.extra` (empty means `{}`); errors name the offending member.
    pub fn parse(json: &str) -> Result<Self, PluginError> {
        let text = if json.trim().is_empty() { "{}" } else { json };
        let e: Extra = serde_json::from_str(text).map_err(|e| {
            PluginError::invalid_input(format!("sbmp-gma/offload: request.extra: {e}"))
        })?;
        let bad = |field: &str| {
            Err(PluginError::invalid_input(format!(
                "sbmp-gma/offload: request.extra `{field}` must be a finite number, not negative where it is a quantity"
            )))
        };
        if e.required_decrease_ms.is_some_and(|v| !v.is_finite()) {
            return bad("requiredDecreaseMs");
        }
        if e.me_resource_scaling
            .is_some_and(|v| !(v.is_finite() && v > 0.0))
        {
            return bad("meResourceScaling");
        }
        for (s, u) in &e.usage {
            let all = [
                u.cloud_cpu,
                u.edge_cpu,
                u.cloud_memory_mib,
                u.edge_memory_mib,
            ];
            if all.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad(&format!("usage.{s}"));
            }
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_fields() {
        assert_eq!(Params::parse("").unwrap(), Params::default());
        let e = Params::parse(r#"{"maxTraces": 10, "bogus": 1}"#).unwrap_err();
        assert!(e.message.contains("bogus"), "{e}");
        let e = Params::parse(r#"{"stopMultiplier": 0}"#).unwrap_err();
        assert!(e.message.contains("stopMultiplier"), "{e}");
        let e = Params::parse(r#"{"hpaCpuTargets": {"a": {"edge": 1.5}}}"#).unwrap_err();
        assert!(e.message.contains("hpaCpuTargets.a"), "{e}");
        let p = Params::parse(r#"{"hpaCpuTargets": {"a": {"edge": 0.5}}, "ranking": "unranked"}"#)
            .unwrap();
        assert_eq!(p.hpa_target("a", true), 0.5);
        assert_eq!(p.hpa_target("a", false), 0.6);
        assert_eq!(p.ranking, Ranking::Unranked);
    }

    #[test]
    fn extra_ignores_unknown_keys() {
        let e = Extra::parse(r#"{"requiredDecreaseMs": 12.5, "hostThing": true}"#).unwrap();
        assert_eq!(e.required_decrease_ms, Some(12.5));
        assert_eq!(Extra::parse("").unwrap(), Extra::default());
        let e = Extra::parse(r#"{"usage": {"a": {"cloudCpu": -1}}}"#).unwrap_err();
        assert!(e.message.contains("usage.a"), "{e}");
    }
}
