//! `default-lp/placement`: upstream SMO's naive first-fit initial placement, pre-check fixed;
//! its re-placement is the min-migration integer program of `replacement`.

use crate::instance::{describe, nothing_to_place, Instance, Why};
use crate::params::Params;
use crate::replacement;
use crate::report::{extra, Rejections};
use crate::servers::Servers;
use smo_plugin_api::prelude::*;

replacement::placement_with_min_migration!(
    /// First-fit: units (services, or groups that must be co-located) in descriptor order,
    /// each on the first cluster in inventory order with enough free CPU, memory and GPUs,
    /// and, when the host lists the cluster's servers, a server with room for each replica.
    FirstFit,
    "placement",
    first_fit
);

/// Upstream's `calculate_naive_placement`, generalised to memory, GPUs, allowed clusters and
/// required co-location, with the pre-check comparing against the largest cluster; a cluster
/// whose servers the host lists takes a unit only if each replica fits one of them.
pub fn first_fit(
    request: &PlacementRequest,
    params: &Params,
) -> Result<PlacementDecision, PluginError> {
    let (inst, mut decision) = Instance::with_decision(request)?;
    if inst.services.is_empty() {
        return Ok(nothing_to_place(decision, None));
    }
    inst.precheck()?;

    let mut free: Vec<Resources> = inst.clusters.iter().map(|c| c.available).collect();
    let mut servers = Servers::new(inst.clusters);
    let mut chosen = vec![usize::MAX; inst.services.len()];
    let mut rejections = Rejections::new(params.max_rejections);
    for u in 0..inst.units.len() {
        let mut target = None;
        let mut why = Vec::new();
        for (e, room) in free.iter().enumerate() {
            let reason = match inst.why_not(u, e, room) {
                None => {
                    let replicas = inst.units[u]
                        .members
                        .iter()
                        .map(|&s| (request.graph.services[s].demand, inst.services[s].replicas));
                    match servers.take(e, replicas) {
                        Ok(()) => {
                            target = Some(e);
                            break;
                        }
                        Err(d) => Why::NoServer {
                            cpu: d.cpu,
                            memory_mib: d.memory_mib,
                        },
                    }
                }
                Some(reason) => reason,
            };
            for &s in &inst.units[u].members {
                rejections.push(s, e, reason);
            }
            why.push((e, reason));
        }
        let Some(e) = target else {
            let why: Vec<String> = why
                .into_iter()
                .map(|(e, reason)| format!("{}: {}", inst.clusters[e].name, inst.explain(reason)))
                .collect();
            return Err(PluginError::infeasible(format!(
                "first-fit could not place {} ({}) in any cluster: {}; first-fit is greedy, \
                 default-lp/milp may still find a placement",
                inst.unit_label(u),
                describe(&inst.units[u].total),
                why.join("; ")
            )));
        };
        free[e] = free[e].minus(&inst.units[u].total);
        for &s in &inst.units[u].members {
            chosen[s] = e;
        }
        decision.reasons.push(
            format!(
                "{} -> {}: first cluster in inventory order with room (needs {})",
                inst.unit_label(u),
                inst.clusters[e].name,
                describe(&inst.units[u].total)
            )
            .into(),
        );
    }
    decision.placement.assignments = inst
        .services
        .iter()
        .zip(&chosen)
        .map(|(service, &e)| Assignment {
            service: service.name.as_str().into(),
            cluster: inst.clusters[e].name.clone(),
            replicas: service.replicas,
        })
        .collect();
    rejections.finish(&inst, &mut decision);
    decision.extra = extra(serde_json::json!({ "model": "first-fit" }));
    Ok(decision)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smo_plugin_api::testing::*;

    fn place(request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        first_fit(request, &Params::default())
    }

    #[test]
    fn services_go_to_the_first_cluster_with_room_in_inventory_order() {
        // a (3) fills x to 3/4; b (2) does not fit x, goes to y; c (1) still fits x.
        let request = placement_request(
            graph_of(vec![
                service("a", 3.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
                service("c", 1.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let d = place(&request).expect("fits");
        assert_eq!(cluster_of(&d, "a"), "x");
        assert_eq!(cluster_of(&d, "b"), "y");
        assert_eq!(cluster_of(&d, "c"), "x");
        assert_eq!(d.rejections.len(), 1);
        assert_eq!(d.rejections[0].service.as_str(), "b");
        assert_eq!(d.rejections[0].cluster.as_str(), "x");
    }

    #[test]
    fn fixed_precheck_accepts_a_service_larger_than_the_smallest_cluster() {
        let request = placement_request(
            graph_of(vec![service("big", 4.0, 100.0, 0)]),
            vec![
                cluster("small", 2.0, 1000.0, 0),
                cluster("large", 8.0, 1000.0, 0),
            ],
            None,
        );
        let d = place(&request).expect("upstream refused this; it fits `large`");
        assert_eq!(cluster_of(&d, "big"), "large");
    }

    #[test]
    fn a_cluster_whose_servers_have_no_room_for_a_replica_is_passed_over() {
        // `x` has 8 GiB free in all but at most 4 GiB on one server (its `server_detail`): a
        // 6 GiB service goes to `y`, a 3 GiB one still fits `x`.
        let mut x = cluster("x", 36.0, 8192.0, 0);
        x.extra = r#"{"server_detail": {"types": [
            {"cores": 16, "memory_mib": 24576, "curve_w": [50, 240]},
            {"cores": 40, "memory_mib": 65536, "curve_w": [40, 330]}],
            "servers": [[0, 12, 20480, 0, 12, 200], [1, 32, 61440, 0, 32, 300]]}}"#
            .into();
        let request = placement_request(
            graph_of(vec![
                service("big", 1.0, 6144.0, 0),
                service("small", 1.0, 3072.0, 0),
            ]),
            vec![x, cluster("y", 8.0, 16384.0, 0)],
            None,
        );
        let d = place(&request).expect("fits");
        assert_eq!(cluster_of(&d, "big"), "y");
        assert_eq!(cluster_of(&d, "small"), "x");
        assert_eq!(d.rejections.len(), 1);
        assert_eq!(d.rejections[0].cluster.as_str(), "x");
        assert!(
            d.rejections[0]
                .reason
                .contains("no server has room for one replica"),
            "{:?}",
            d.rejections[0]
        );
        // Two replicas of 3 GiB take 3 GiB of each server of `x`: 2 GiB left in all, 1 GiB on
        // each, so a 1.5 GiB service goes to `y`.
        let mut request = request.clone();
        request.graph.services[0] = service("half", 1.0, 1536.0, 0);
        request.graph.services[1].replicas = 2;
        request.graph.services.swap(0, 1);
        let d = place(&request).expect("fits");
        assert_eq!(cluster_of(&d, "small"), "x");
        assert_eq!(cluster_of(&d, "half"), "y");
    }

    #[test]
    fn memory_is_respected() {
        // Enough CPU on x, but only 512 MiB: the 1 GiB service goes to y.
        let request = placement_request(
            graph_of(vec![service("m", 0.5, 1024.0, 0)]),
            vec![cluster("x", 8.0, 512.0, 0), cluster("y", 8.0, 4096.0, 0)],
            None,
        );
        let d = place(&request).expect("fits y");
        assert_eq!(cluster_of(&d, "m"), "y");
        assert!(d.rejections[0].reason.contains("MiB"));
    }

    #[test]
    fn gpu_services_never_land_on_non_gpu_clusters() {
        let request = placement_request(
            graph_of(vec![
                service("cpu-only", 1.0, 100.0, 0),
                service("gpu", 1.0, 100.0, 1),
            ]),
            vec![
                cluster("plain", 8.0, 4096.0, 0),
                cluster("accel", 8.0, 4096.0, 2),
            ],
            None,
        );
        let d = place(&request).expect("fits");
        assert_eq!(cluster_of(&d, "cpu-only"), "plain");
        assert_eq!(cluster_of(&d, "gpu"), "accel");

        let request = placement_request(
            graph_of(vec![service("gpu", 1.0, 100.0, 1)]),
            vec![cluster("plain", 8.0, 4096.0, 0)],
            None,
        );
        let err = place(&request).expect_err("no GPU anywhere");
        assert_eq!(err.kind, ErrorKind::INFEASIBLE);
        assert!(err.message.contains("GPU"), "{}", err.message);
    }

    #[test]
    fn replicas_multiply_the_demand() {
        let mut s = service("r", 1.0, 100.0, 0);
        s.replicas = 3;
        let request = placement_request(
            graph_of(vec![s]),
            vec![cluster("x", 2.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let d = place(&request).expect("fits y");
        assert_eq!(cluster_of(&d, "r"), "y");
        assert_eq!(d.placement.assignments[0].replicas, 3);
    }

    #[test]
    fn required_dependencies_are_placed_together() {
        // b alone would fit x after a, but b requires c and b+c (3 CPU) does not: both go to y.
        let request = placement_request(
            graph_of(vec![
                service("a", 2.0, 100.0, 0),
                service("b", 1.0, 100.0, 0).requires("c"),
                service("c", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let d = place(&request).expect("fits");
        assert_eq!(cluster_of(&d, "a"), "x");
        assert_eq!(cluster_of(&d, "b"), "y");
        assert_eq!(cluster_of(&d, "c"), "y");
        // Output keeps descriptor order.
        let names: Vec<&str> = d
            .placement
            .assignments
            .iter()
            .map(|a| a.service.as_str())
            .collect();
        assert_eq!(names, vec!["a", "b", "c"]);
    }

    #[test]
    fn allowed_clusters_are_honoured() {
        let request = placement_request(
            graph_of(vec![service("pinned", 1.0, 100.0, 0).allowed(&["y"])]),
            vec![cluster("x", 8.0, 1000.0, 0), cluster("y", 8.0, 1000.0, 0)],
            None,
        );
        let d = place(&request).expect("fits");
        assert_eq!(cluster_of(&d, "pinned"), "y");
    }

    #[test]
    fn greedy_failure_is_a_clear_infeasible_error() {
        // Totals fit (8 <= 8) and each service fits a cluster alone. First-fit: a, b -> x (3 of
        // 4), c -> y (3 of 4), then d (2) fits neither (1 free each). {a, c} + {b, d} would fit.
        let request = placement_request(
            graph_of(vec![
                service("a", 1.0, 100.0, 0),
                service("b", 2.0, 100.0, 0),
                service("c", 3.0, 100.0, 0),
                service("d", 2.0, 100.0, 0),
            ]),
            vec![cluster("x", 4.0, 1000.0, 0), cluster("y", 4.0, 1000.0, 0)],
            None,
        );
        let err = place(&request).expect_err("greedy fails");
        assert_eq!(err.kind, ErrorKind::INFEASIBLE);
        assert!(err.message.contains("`d`"), "{}", err.message);
        assert!(err.message.contains("default-lp/milp"), "{}", err.message);
        // The reasons are written only on failure, one per cluster, as before they were lazy.
        assert!(
            err.message
                .contains("x: needs 2.00 CPU, 1.00 free; y: needs 2.00 CPU, 1.00 free"),
            "{}",
            err.message
        );
    }

    #[test]
    fn empty_graph_gives_an_empty_placement() {
        let request = placement_request(graph_of(vec![]), vec![cluster("x", 1.0, 1.0, 0)], None);
        let d = place(&request).expect("nothing to do");
        assert!(d.placement.assignments.is_empty());
    }
}
