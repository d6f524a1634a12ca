//! The placement strategies the plugin exports: each reads the request into a [`Batch`], runs
//! its mode, and explains every VM's destination (or why it has none) in the decision.

use crate::heuristic::{self, Outcome};
use crate::milp;
use crate::objective::{evaluate, Choices};
use crate::params::{HeuristicParams, MilpParams, SeedParams};
use crate::request::Batch;
use crate::seed;
use smo_plugin_api::prelude::*;
use std::io::Write;
use std::time::Instant;

fn assign_vm(decision: &mut PlacementDecision, batch: &Batch, r: usize, j: usize, why: String) {
    let vm = &batch.vms[r];
    let site = &batch.sites[j];
    decision.placement.assignments.push(Assignment {
        service: vm.name.as_str().into(),
        cluster: site.name.as_str().into(),
        replicas: 1,
    });
    decision
        .reasons
        .push(format!("{} -> {}: {why}", vm.name, site.name).into());
}

fn reject(decision: &mut PlacementDecision, batch: &Batch, r: usize, why: &str) {
    decision.rejections.push(Rejection {
        service: batch.vms[r].name.as_str().into(),
        cluster: RString::new(),
        reason: why.into(),
    });
}

fn outcomes_to_decision(batch: &Batch, out: &[Outcome]) -> PlacementDecision {
    let mut d = PlacementDecision::default();
    for (r, o) in out.iter().enumerate() {
        match o {
            Outcome::Placed {
                site,
                green,
                delta_facility_w,
                ..
            } => {
                let why = if *green {
                    format!("nearest green datacenter with margin (+{delta_facility_w:.1} W, MESF)")
                } else {
                    format!("fallback, no green datacenter fits (+{delta_facility_w:.1} W, MESF)")
                };
                assign_vm(&mut d, batch, r, *site, why);
            }
            Outcome::Unplaced => reject(
                &mut d,
                batch,
                r,
                "no datacenter within the latency threshold has a server with room",
            ),
        }
    }
    d
}

/// `ecmr/heuristic`: Algorithm 1 on each batch of arrivals.
pub struct Heuristic {
    pub params: HeuristicParams,
}

impl Placement for Heuristic {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut batch = Batch::from_request(request);
        let before = batch.clone();
        let (out, c) = heuristic::dispatch(&mut batch, &self.params);
        let mut d = outcomes_to_decision(&before, &out);
        d.extra = serde_json::json!({
            "latency_rejections": c.latency_rejections,
            "res_rejections": c.res_rejections,
            "fallback": c.fallback,
        })
        .to_string()
        .into();
        Ok(d)
    }
}

/// The host bench's name for the default heuristic (kept from the first version).
pub struct Greenest;

impl Placement for Greenest {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        Heuristic {
            params: HeuristicParams::default(),
        }
        .place(request)
    }
}

/// `ecmr/nearest`: the nearest datacenter with room (ECNR-style baseline).
pub struct Nearest;

impl Placement for Nearest {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut batch = Batch::from_request(request);
        let before = batch.clone();
        let out = heuristic::nearest(&mut batch);
        Ok(outcomes_to_decision(&before, &out))
    }
}

/// `ecmr/seed`: the seed implementation's weighted score.
pub struct Seed {
    pub params: SeedParams,
}

impl Placement for Seed {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut batch = Batch::from_request(request);
        let (out, rejections) = seed::dispatch(&mut batch, &self.params);
        let mut d = PlacementDecision::default();
        for (r, c) in out.iter().enumerate() {
            match c.site {
                Some(j) => {
                    let why = format!("lowest seed score {:.3} ({:.2} ms)", c.score, c.latency_ms);
                    assign_vm(&mut d, &batch, r, j, why);
                }
                None => reject(&mut d, &batch, r, "no candidate datacenter"),
            }
        }
        d.extra = serde_json::json!({ "latency_rejections": rejections })
            .to_string()
            .into();
        Ok(d)
    }
}

/// `ecmr/milp`: the exact model per batch; optionally the heuristic's gap on the same batch.
pub struct Milp {
    pub params: MilpParams,
}

impl Placement for Milp {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut batch = Batch::from_request(request);
        let before = batch.clone();
        let n = batch.vms.len();
        let mut d = PlacementDecision::default();
        let mut chunks = Vec::new();
        let mut total = 0.0;
        let mut start = 0;
        while start < n {
            let end = (start + self.params.max_batch.max(1)).min(n);
            let sub = Batch {
                vms: batch.vms[start..end].to_vec(),
                sites: batch.sites.clone(),
                latency_ms: batch.latency_ms[start..end].to_vec(),
            };
            let (assign, info) = self.solve_chunk(&sub)?;
            total += info["objective"].as_f64().unwrap_or(0.0);
            for (k, a) in assign.iter().enumerate() {
                let r = start + k;
                match a {
                    Some((j, i)) => {
                        let demand = batch.vms[r].demand;
                        batch.sites[*j].reserve(*i, &demand);
                        let why = format!("MILP {}", info["status"].as_str().unwrap_or(""));
                        assign_vm(&mut d, &before, r, *j, why);
                    }
                    None => reject(&mut d, &before, r, "MILP left it unplaced"),
                }
            }
            chunks.push(info);
            start = end;
        }
        d.objective = ROption::RSome(total);
        d.extra = serde_json::json!({ "chunks": chunks }).to_string().into();
        Ok(d)
    }
}

impl Milp {
    /// Solves one chunk; with `compare_heuristic`, also the heuristic's objective and gap.
    fn solve_chunk(&self, batch: &Batch) -> Result<(Choices, serde_json::Value), PluginError> {
        let started = Instant::now();
        let sol = milp::solve(batch, &self.params)?;
        let milp_s = started.elapsed().as_secs_f64();
        let w = &self.params.weights;
        let obj = evaluate(batch, &sol.assign, w);
        let mut info = serde_json::json!({
            "vms": batch.vms.len(), "status": sol.status, "columns": sol.columns,
            "rows": sol.rows, "objective": obj, "seconds": milp_s,
        });
        if self.params.compare_heuristic {
            let hp = HeuristicParams {
                latency_threshold_ms: self.params.latency_threshold_ms,
                ..HeuristicParams::default()
            };
            let mut hb = batch.clone();
            let started = Instant::now();
            let (out, _) = heuristic::dispatch(&mut hb, &hp);
            let heur_s = started.elapsed().as_secs_f64();
            let ha: Vec<_> = out
                .iter()
                .map(|o| match o {
                    Outcome::Placed { site, server, .. } => Some((*site, *server)),
                    Outcome::Unplaced => None,
                })
                .collect();
            let hobj = evaluate(batch, &ha, w);
            let gap = (hobj - obj) / obj.abs().max(1e-9);
            info["heuristic_objective"] = hobj.into();
            info["heuristic_seconds"] = heur_s.into();
            info["gap"] = gap.into();
            if let Ok(path) = std::env::var("SMO_ECMR_GAP_LOG") {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(
                        f,
                        "{},{obj:.6},{hobj:.6},{gap:.6},{milp_s:.6},{heur_s:.6},{}",
                        batch.vms.len(),
                        sol.status
                    );
                }
            }
        }
        Ok((sol.assign, info))
    }
}
