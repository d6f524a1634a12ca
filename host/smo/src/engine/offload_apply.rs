//! Applying a migration strategy's moves to a graph's placement rows: pure, checked, and
//! never leaving a service without a copy or a cluster over its free capacity.
//!
//! A move with an empty `from` starts `replicas` (at least 1) on `to` (raising a copy there to
//! that many); an empty `to` stops `replicas` (0 = all) on `from`, unless that is the service's
//! last copy; both set moves `replicas` (0 = all) from `from` to `to`. Replicas on a cluster are
//! capped at the service's `maxReplicas`. A move naming an unknown service or cluster, or that
//! would not fit the cluster's free capacity, is rejected with the reason and skipped.

use crate::store::PlacementEntry;
use smo_core::graphs::GraphSpec;
use smo_plugin_api::{Cluster, Move, Resources};

/// The placement after the moves, and what happened to each move.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Applied {
    pub entries: Vec<PlacementEntry>,
    /// One line per applied move.
    pub applied: Vec<String>,
    /// One line per rejected move, with why.
    pub rejected: Vec<String>,
}

fn replicas_on(entries: &[PlacementEntry], service: &str, cluster: &str) -> u32 {
    entries
        .iter()
        .find(|e| e.service == service && e.cluster == cluster)
        .map_or(0, |e| e.replicas)
}

fn set_replicas(entries: &mut Vec<PlacementEntry>, service: &str, cluster: &str, replicas: u32) {
    match entries
        .iter_mut()
        .find(|e| e.service == service && e.cluster == cluster)
    {
        Some(e) => e.replicas = replicas,
        None => entries.push(PlacementEntry::new(service, cluster, replicas)),
    }
    entries.retain(|e| e.replicas > 0 || e.service != service || e.cluster != cluster);
}

/// Applies `moves` to `current` (see the module documentation). `clusters` carry the free
/// capacity left by the other graphs (`available`).
pub fn apply_moves(
    spec: &GraphSpec,
    clusters: &[Cluster],
    current: &[PlacementEntry],
    moves: &[Move],
) -> Applied {
    let mut out = Applied {
        entries: current.to_vec(),
        ..Applied::default()
    };
    for mv in moves {
        let (service, from, to) = (mv.service.as_str(), mv.from.as_str(), mv.to.as_str());
        let label = format!("{service}: {} -> {}", or_none(from), or_none(to));
        match check_and_apply(
            spec,
            clusters,
            &mut out.entries,
            service,
            from,
            to,
            mv.replicas,
        ) {
            Ok(what) => out.applied.push(format!("{label}: {what}")),
            Err(why) => out.rejected.push(format!("{label}: {why}")),
        }
    }
    out
}

fn or_none(name: &str) -> &str {
    if name.is_empty() {
        "-"
    } else {
        name
    }
}

/// What the graph uses on `cluster` with `entries`.
fn used_on(spec: &GraphSpec, entries: &[PlacementEntry], cluster: &str) -> Resources {
    let mut used = Resources::default();
    for e in entries.iter().filter(|e| e.cluster == cluster) {
        if let Some(s) = spec.service(&e.service) {
            let r = f64::from(e.replicas);
            used.cpu += s.demand.cpu * r;
            used.memory_mib += s.demand.memory_mib * r;
            used.gpu += s.demand.gpu * e.replicas;
        }
    }
    used
}

fn check_and_apply(
    spec: &GraphSpec,
    clusters: &[Cluster],
    entries: &mut Vec<PlacementEntry>,
    service: &str,
    from: &str,
    to: &str,
    replicas: u32,
) -> Result<String, String> {
    let svc = spec
        .service(service)
        .ok_or_else(|| "unknown service".to_owned())?;
    let known = |name: &str| name.is_empty() || clusters.iter().any(|c| c.name.as_str() == name);
    for name in [from, to] {
        if !known(name) {
            return Err(format!("unknown cluster `{name}`"));
        }
    }
    let ceiling = svc.scaling.max_replicas.max(1);
    let total: u32 = PlacementEntry::replicas_of(entries, service);
    let mut next = entries.clone();
    let what = match (from.is_empty(), to.is_empty()) {
        (true, false) => {
            let want = replicas.max(1).min(ceiling);
            let have = replicas_on(entries, service, to);
            set_replicas(&mut next, service, to, want.max(have));
            format!("{} replicas on {to}", want.max(have))
        }
        (false, true) => {
            let have = replicas_on(entries, service, from);
            if have == 0 {
                return Err(format!("no replicas on `{from}`"));
            }
            let n = if replicas == 0 {
                have
            } else {
                replicas.min(have)
            };
            if n >= total {
                return Err("would stop the service's last copy".to_owned());
            }
            set_replicas(&mut next, service, from, have - n);
            format!("{n} replicas stopped")
        }
        (false, false) if from != to => {
            let have = replicas_on(entries, service, from);
            if have == 0 {
                return Err(format!("no replicas on `{from}`"));
            }
            let n = if replicas == 0 {
                have
            } else {
                replicas.min(have)
            };
            let there = replicas_on(entries, service, to);
            set_replicas(&mut next, service, from, have - n);
            set_replicas(&mut next, service, to, (there + n).min(ceiling));
            format!("{n} replicas moved")
        }
        _ => return Err("a move needs a source or a destination, and they must differ".into()),
    };
    if !to.is_empty() {
        let cluster = clusters
            .iter()
            .find(|c| c.name.as_str() == to)
            .ok_or_else(|| format!("unknown cluster `{to}`"))?;
        let need = used_on(spec, &next, to);
        let free = cluster.available;
        if need.cpu > free.cpu + 1e-9
            || need.memory_mib > free.memory_mib + 1e-9
            || need.gpu > free.gpu
        {
            return Err(format!(
                "does not fit `{to}` (needs {:.1} CPU, {:.0} MiB, {} GPU; free {:.1}, {:.0}, {})",
                need.cpu, need.memory_mib, need.gpu, free.cpu, free.memory_mib, free.gpu
            ));
        }
    }
    *entries = next;
    Ok(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GraphSpec {
        smo_core::graphs::brussels_demo_spec()
    }

    fn mv(service: &str, from: &str, to: &str, replicas: u32) -> Move {
        Move {
            service: service.into(),
            from: from.into(),
            to: to.into(),
            replicas,
            reason: "".into(),
            expected_gain: 0.0,
            expected_cost: 0.0,
        }
    }

    #[test]
    fn starts_stops_and_moves_with_checks() {
        let spec = spec();
        let clusters = crate::engine::inventory::default_clusters();
        let (edge, cloud) = ("edge-athens", "cloud-frankfurt");
        assert!(clusters.iter().any(|c| c.name.as_str() == edge));
        assert!(clusters.iter().any(|c| c.name.as_str() == cloud));
        let current = vec![
            PlacementEntry::new("noise-reduction", cloud, 1),
            PlacementEntry::new("image-detection", cloud, 1),
        ];
        let out = apply_moves(
            &spec,
            &clusters,
            &current,
            &[
                mv("noise-reduction", "", edge, 1),
                mv("ghost", "", edge, 1),
                mv("image-detection", "", "mars", 1),
                mv("image-detection", cloud, "", 0),
            ],
        );
        assert_eq!(out.applied.len(), 1, "{out:?}");
        assert_eq!(out.rejected.len(), 3, "{out:?}");
        assert!(out.rejected[2].contains("last copy"), "{out:?}");
        assert_eq!(replicas_on(&out.entries, "noise-reduction", edge), 1);
        // Back: stop the edge copy.
        let back = apply_moves(
            &spec,
            &clusters,
            &out.entries,
            &[mv("noise-reduction", edge, "", 0)],
        );
        assert_eq!(back.applied.len(), 1, "{back:?}");
        assert_eq!(back.entries, current);
        // A move of everything to the edge.
        let moved = apply_moves(
            &spec,
            &clusters,
            &current,
            &[mv("noise-reduction", cloud, edge, 0)],
        );
        assert_eq!(
            moved.entries,
            vec![
                PlacementEntry::new("image-detection", cloud, 1),
                PlacementEntry::new("noise-reduction", edge, 1),
            ]
        );
    }
}
