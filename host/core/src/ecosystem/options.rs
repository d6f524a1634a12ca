//! The moves offered to a migration strategy for one workload (each tried on the map, scored and
//! undone), and the order the migration loop takes the workloads below the threshold in.
//! Shared by the daemon's engine and the simulator, so both offer the same moves.

use super::learning::CostModel;
use super::{EcosystemMap, Weights, WorkloadId};
use smo_plugin_api::extra::EcosystemMoveOption;
use std::collections::HashMap;

/// The workload being moved.
#[derive(Debug, Clone, Copy)]
pub struct Moving<'a> {
    pub id: WorkloadId,
    /// Its name in the map.
    pub name: &'a str,
    /// The service a strategy's move names.
    pub service: &'a str,
    /// The cluster it runs on.
    pub home: &'a str,
    pub replicas: u32,
}

/// The moves found for a workload, with what learning will need of each.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub options: Vec<EcosystemMoveOption>,
    /// The dependency types each target cluster meets that are unmet now.
    pub types_met: HashMap<String, Vec<String>>,
    /// The model's copy time of the workload's state, s.
    pub copy_s: f64,
}

/// The sum of the scores of `ids`.
fn total(map: &EcosystemMap, ids: &[WorkloadId], weights: &Weights) -> f64 {
    ids.iter()
        .filter_map(|id| map.score(*id, weights))
        .map(|s| s.score)
        .sum()
}

/// Tries `moving` on each of `targets` (and back), keeping the moves that change a score. The
/// state is copied over a link of `bandwidth_gbps`; `cost_model` gives each move's seconds.
pub fn move_options(
    map: &mut EcosystemMap,
    moving: Moving<'_>,
    targets: &[&str],
    weights: &Weights,
    cost_model: &CostModel,
    bandwidth_gbps: f64,
) -> Found {
    let Moving {
        id,
        name,
        service,
        home,
        replicas,
    } = moving;
    let dependents = map.dependents(id);
    let before = map.score(id, weights);
    let dependents_before = total(map, &dependents, weights);
    let unmet_before = map.unmet_kinds(id);
    let state_gib = map
        .declaration(id)
        .and_then(|d| d.provides.state_gib)
        .unwrap_or(0.0);
    let copy_s = if bandwidth_gbps > 0.0 {
        state_gib * 8.0 / bandwidth_gbps
    } else {
        0.0
    };
    let mut found = Found {
        copy_s,
        ..Found::default()
    };
    let Some(before) = before else {
        return found;
    };
    for &to in targets {
        if to == home {
            continue;
        }
        map.move_to(name, to);
        let after = map.score(id, weights);
        let dependents_after = total(map, &dependents, weights);
        let unmet_after = map.unmet_kinds(id);
        map.move_to(name, home);
        let Some(after) = after else {
            continue;
        };
        let delta = dependents_after - dependents_before;
        if (after.score - before.score).abs() < 1e-12 && delta.abs() < 1e-12 {
            continue;
        }
        let met = unmet_before
            .iter()
            .filter(|k| !unmet_after.contains(k))
            .cloned()
            .collect();
        found.types_met.insert(to.to_owned(), met);
        let latency_ms = map.latency_between(home, to);
        found.options.push(EcosystemMoveOption {
            service: service.to_owned(),
            workload: name.to_owned(),
            from: home.to_owned(),
            to: to.to_owned(),
            replicas,
            score_before: before.score,
            score_after: after.score,
            dependents_delta: delta,
            violated_before: before.violated,
            violated_after: after.violated,
            state_gib,
            bandwidth_gbps,
            latency_ms: if latency_ms.is_finite() {
                latency_ms
            } else {
                0.0
            },
            expected_s: cost_model.predict(copy_s),
        });
    }
    found
}

/// The neighbours that could meet workload `id`'s unmet requirements by joining it: every
/// candidate of each requirement none of whose candidates is placed well, each listed once.
pub fn unmet_neighbours(map: &EcosystemMap, id: WorkloadId) -> Vec<WorkloadId> {
    let edges = map.edges_from(id);
    let mut out: Vec<WorkloadId> = Vec::new();
    for edge in &edges {
        let slot_met = edges
            .iter()
            .any(|e| e.side == edge.side && e.index == edge.index && e.met);
        if !slot_met && !out.contains(&edge.to) {
            out.push(edge.to);
        }
    }
    out
}

/// A workload the migration loop takes up.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub id: WorkloadId,
    pub name: String,
    pub critical: bool,
    pub score: f64,
}

/// The workloads below the threshold in the order the loop takes them: critical ones first,
/// then the least satisfied.
pub fn candidates(map: &EcosystemMap, weights: &Weights) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = map
        .below_threshold(weights)
        .into_iter()
        .filter_map(|score| {
            let (name, _, _) = map.describe(score.workload)?;
            Some(Candidate {
                id: score.workload,
                name: name.to_owned(),
                critical: map
                    .declaration(score.workload)
                    .is_some_and(|d| d.provides.critical),
                score: score.score,
            })
        })
        .collect();
    // Stable: within each group, below_threshold's order (least satisfied first).
    out.sort_by(|a, b| {
        b.critical
            .cmp(&a.critical)
            .then(a.score.total_cmp(&b.score))
    });
    out
}
