//! `h3ni-energy/consolidate`: the placement's re-placement run on a schedule, as migrations.
//! A service moves only when the saving (idle power of a cluster it empties, cleaner or more
//! efficient servers) pays its migration energy back within `horizon_h`.

use crate::placement::EnergyPlacement;
use smo_plugin_api::prelude::*;

/// Hourly re-placement with the placement model; moves are the services whose cluster changes.
pub struct Consolidate {
    placement: EnergyPlacement,
}

impl Consolidate {
    pub fn new(placement: EnergyPlacement) -> Self {
        Self { placement }
    }
}

impl Migration for Consolidate {
    fn plan(&self, req: &MigrationRequest) -> Result<MigrationDecision, PluginError> {
        let request = PlacementRequest {
            graph: req.graph.clone(),
            clusters: req.clusters.clone(),
            current: ROption::RSome(req.current.clone()),
            telemetry: req.telemetry.clone(),
            extra: req.extra.clone(),
        };
        let target = self.placement.replace(&request)?;
        let mut d = MigrationDecision::default();
        for a in target.placement.assignments.iter() {
            // Every copy of the service elsewhere moves; a service not running yet, or
            // already (only) where it should be, has none and stays.
            for from in req
                .current
                .assignments
                .iter()
                .filter(|c| c.service == a.service && c.cluster != a.cluster)
            {
                d.moves.push(Move {
                    service: a.service.clone(),
                    from: from.cluster.clone(),
                    to: a.cluster.clone(),
                    replicas: from.replicas,
                    reason: format!(
                        "re-placement: {} -> {} costs less energy and carbon within horizon_h",
                        from.cluster, a.cluster
                    )
                    .into(),
                    expected_gain: 0.0,
                    expected_cost: 0.0,
                });
            }
        }
        if d.moves.is_empty() {
            d.reasons
                .push("every service stays: no move pays back its migration".into());
        }
        d.reasons.extend(target.reasons.iter().cloned());
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::PlacementParams;
    use crate::placement::tests::{cluster, service, users_link};

    /// A cluster of one server with `cores` cores (4 GiB each) drawing `idle` W idle and
    /// `peak` W at full load, `used` of its cores reserved and busy by the graph's replicas.
    fn node(name: &str, cores: f64, idle: f64, peak: f64, used: f64) -> Cluster {
        let mut c = cluster(name, cores, 1.0, 100.0, 0.0);
        let gib = 4096.0;
        let w = idle + (peak - idle) * used / cores;
        c.capacity = Resources::new(cores, cores * gib, 0);
        c.available = Resources::new(cores - used, (cores - used) * gib, 0);
        c.extra = format!(
            r#"{{"utilisation": {}, "servers_on": 1, "server_detail": {{"types": [{{"cores": {cores},
            "memory_mib": {}, "curve_w": [{idle}, {peak}]}}], "servers": [[0, {used}, {}, 0, {used}, {w}]]}}}}"#,
            used / cores,
            cores * gib,
            used * 1024.0
        )
        .into();
        c
    }

    /// s1 (1 core, 1 GiB) alone on `a` (4 cores, 30-90 W), s2 alone on `b` (6 cores,
    /// 40-120 W): both servers on for two cores of work.
    fn spread() -> MigrationRequest {
        let on = |s: &str, c: &str| Assignment {
            service: s.into(),
            cluster: c.into(),
            replicas: 1,
        };
        MigrationRequest {
            graph: Graph {
                name: "g".into(),
                services: vec![service("s1", 1.0), service("s2", 1.0)].into(),
            },
            clusters: vec![
                node("a", 4.0, 30.0, 90.0, 1.0),
                node("b", 6.0, 40.0, 120.0, 1.0),
            ]
            .into(),
            current: smo_plugin_api::Placement {
                assignments: vec![on("s1", "a"), on("s2", "b")].into(),
            },
            telemetry: Telemetry::default(),
            extra: RString::new(),
        }
    }

    #[test]
    fn a_graph_spread_over_two_clusters_it_alone_uses_is_consolidated() {
        // All on a: 30 + 2 x 15 = 60 W; all on b: 40 + 2 x 13.3 = 66.7 W; as now: 45 + 53.3 =
        // 98.3 W. Moving s2 to a saves 38 W for a 10 Wh migration spread over 4 h (2.5 W).
        let d = Consolidate::new(EnergyPlacement::consolidating(PlacementParams::default()))
            .plan(&spread())
            .expect("planned");
        assert_eq!(moves(&d), vec![("s2", "b", "a")], "{:?}", d.reasons);
    }

    fn moves(d: &MigrationDecision) -> Vec<(&str, &str, &str)> {
        d.moves
            .iter()
            .map(|m| (m.service.as_str(), m.from.as_str(), m.to.as_str()))
            .collect()
    }

    #[test]
    fn a_scheduled_move_does_not_take_a_service_further_from_its_users() {
        // Users 6 ms from a and 1 ms from b: s2 may not go to a (5 ms more), so the graph
        // consolidates on b instead: 66.7 W against 98.3 W, s1 moving closer.
        let mut req = spread();
        for (to, ms) in [("a", 6.0), ("b", 1.0)] {
            req.telemetry.links.push(users_link(to, ms));
        }
        let strategy = |p| Consolidate::new(EnergyPlacement::consolidating(p));
        let d = strategy(PlacementParams::default())
            .plan(&req)
            .expect("planned");
        assert_eq!(moves(&d), vec![("s1", "a", "b")], "{:?}", d.reasons);
        // Allowed 5 ms more, the cheapest consolidation (on a) is back.
        let relaxed = PlacementParams {
            max_added_latency_ms: 5.0,
            ..PlacementParams::default()
        };
        let d = strategy(relaxed).plan(&req).expect("planned");
        assert_eq!(moves(&d), vec![("s2", "b", "a")], "{:?}", d.reasons);
        let negative = PlacementParams {
            max_added_latency_ms: -1.0,
            ..PlacementParams::default()
        };
        let e = negative.check().expect_err("refused");
        assert!(format!("{e:?}").contains("max_added_latency_ms"), "{e:?}");
    }

    #[test]
    fn a_move_that_does_not_pay_back_within_the_horizon_is_not_made() {
        // Over 0.2 h the 10 Wh migration costs 50 W an hour, more than the 38 W saved.
        let short = PlacementParams {
            horizon_h: 0.2,
            ..PlacementParams::default()
        };
        let d = Consolidate::new(EnergyPlacement::consolidating(short))
            .plan(&spread())
            .expect("planned");
        assert!(d.moves.is_empty(), "{:?}", d.moves);
        // Without the consolidation credit the plain re-placement sees no saving either.
        let plain = EnergyPlacement::new(PlacementParams::default());
        let d = Consolidate::new(plain).plan(&spread()).expect("planned");
        assert!(d.moves.is_empty(), "{:?}", d.moves);
    }
}
