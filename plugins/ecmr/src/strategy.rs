//! The placement strategies the plugin exports: each reads the request into a [`Batch`], runs
//! its mode, and explains every VM's destination (or why it has none) in the decision.

use crate::check;
use crate::heuristic::{self, Outcome};
use crate::milp;
use crate::objective::{evaluate, Choices};
use crate::params::{HeuristicParams, MilpParams, SeedParams, Weights};
use crate::repair::{self, Fix};
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

/// The decision, listing the VMs in `order` (the host packs them one at a time in that order).
fn outcomes_to_decision(batch: &Batch, out: &[Outcome], order: &[usize]) -> PlacementDecision {
    let mut d = PlacementDecision::default();
    for &r in order {
        let o = &out[r];
        match o {
            Outcome::Placed {
                site,
                green,
                delta_facility_w,
                ..
            } => {
                let why = if *green {
                    format!("green datacenter with margin (+{delta_facility_w:.1} W, MESF)")
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

/// Refuses outcomes whose power or objective is not finite (a cluster's figures overflowed
/// although each passed [`check::cluster`]), naming the cluster: never an `ok` with `+inf W`.
fn finite_outcomes(batch: &Batch, out: &[Outcome], w: &Weights) -> Result<(), PluginError> {
    for (r, o) in out.iter().enumerate() {
        if let Outcome::Placed {
            site,
            delta_facility_w,
            ..
        } = o
        {
            if !delta_facility_w.is_finite() {
                return Err(PluginError::invalid_input(format!(
                    "cluster `{}`: facility power increase of VM `{}` {} W",
                    batch.sites[*site].name,
                    batch.vms[r].name,
                    check::fig(*delta_facility_w)
                )));
            }
        }
    }
    check::objective(batch, &choices_of(out), w).map(|_| ())
}

/// The (site, server) of each outcome.
fn choices_of(out: &[Outcome]) -> Choices {
    out.iter()
        .map(|o| match o {
            Outcome::Placed { site, server, .. } => Some((*site, *server)),
            Outcome::Unplaced => None,
        })
        .collect()
}

/// `ecmr/heuristic`: Algorithm 1 on each batch of arrivals.
pub struct Heuristic {
    pub params: HeuristicParams,
}

impl Placement for Heuristic {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut batch = Batch::from_request(request)?;
        let before = batch.clone();
        let order = heuristic::order(&batch, &self.params);
        let (out, c) = heuristic::dispatch(&mut batch, &self.params);
        finite_outcomes(&before, &out, &self.params.weights)?;
        let mut d = outcomes_to_decision(&before, &out, &order);
        d.extra = serde_json::json!({
            "latency_rejections": c.latency_rejections,
            "res_rejections": c.res_rejections,
            "fallback": c.fallback,
            "moved": c.moved,
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
        let mut batch = Batch::from_request(request)?;
        let before = batch.clone();
        let out = heuristic::nearest(&mut batch);
        let order: Vec<usize> = (0..out.len()).collect();
        Ok(outcomes_to_decision(&before, &out, &order))
    }
}

/// `ecmr/seed`: the seed implementation's weighted score.
pub struct Seed {
    pub params: SeedParams,
}

impl Placement for Seed {
    fn place(&self, request: &PlacementRequest) -> Result<PlacementDecision, PluginError> {
        let mut batch = Batch::from_request(request)?;
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
        let mut batch = Batch::from_request(request)?;
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
            let (fixes, info) = self.solve_chunk(&sub)?;
            total += info["objective"].as_f64().unwrap_or(0.0);
            let status = info["status"].as_str().unwrap_or("").to_string();
            for (k, fix) in fixes.iter().enumerate() {
                let r = start + k;
                if let Some((j, i)) = fix.placed() {
                    let demand = batch.vms[r].demand;
                    batch.sites[j].reserve(i, &demand);
                }
                let name = |j: usize| before.sites[j].name.clone();
                match fix {
                    Fix::Kept { site, .. } => {
                        assign_vm(&mut d, &before, r, *site, format!("MILP {status}"))
                    }
                    Fix::Moved { wanted, site, .. } => {
                        let why = format!(
                            "MILP {status}; repaired: one-at-a-time MESF finds no server at {}, \
                             lowest-objective datacenter with one",
                            name(*wanted)
                        );
                        assign_vm(&mut d, &before, r, *site, why)
                    }
                    Fix::Dropped { wanted } => {
                        let why = format!(
                            "MILP put it at {}, where one-at-a-time MESF finds no server, and no \
                             other datacenter within the threshold has one",
                            name(*wanted)
                        );
                        reject(&mut d, &before, r, &why)
                    }
                    Fix::Unplaced => reject(&mut d, &before, r, "MILP left it unplaced"),
                }
            }
            chunks.push(info);
            start = end;
        }
        if !total.is_finite() {
            return Err(PluginError::invalid_input(format!(
                "ecmr's objective over the batch's chunks is {}",
                check::fig(total)
            )));
        }
        d.objective = ROption::RSome(total);
        d.extra = serde_json::json!({ "chunks": chunks }).to_string().into();
        Ok(d)
    }
}

impl Milp {
    /// Solves one chunk and, with `repair`, replays the host's packing on it; with
    /// `compare_heuristic`, also the heuristic's objective and gap.
    fn solve_chunk(&self, batch: &Batch) -> Result<(Vec<Fix>, serde_json::Value), PluginError> {
        let started = Instant::now();
        let sol = milp::solve(batch, &self.params)?;
        let milp_s = started.elapsed().as_secs_f64();
        let w = &self.params.weights;
        let obj = check::objective(batch, &sol.assign, w)?;
        let fixes = if self.params.repair {
            repair::replay(batch, &sol.assign, self.params.latency_threshold_ms, w)
        } else {
            sol.assign
                .iter()
                .map(|a| match a {
                    Some((site, server)) => Fix::Kept {
                        site: *site,
                        server: *server,
                    },
                    None => Fix::Unplaced,
                })
                .collect()
        };
        let applied: Choices = fixes.iter().map(Fix::placed).collect();
        let applied_obj = check::objective(batch, &applied, w)?;
        let moved = fixes
            .iter()
            .filter(|f| matches!(f, Fix::Moved { .. }))
            .count();
        let dropped = fixes
            .iter()
            .filter(|f| matches!(f, Fix::Dropped { .. }))
            .count();
        let mut info = serde_json::json!({
            "vms": batch.vms.len(), "status": sol.status, "columns": sol.columns,
            "rows": sol.rows, "objective": obj, "applied_objective": applied_obj,
            "repair_moved": moved, "repair_dropped": dropped, "seconds": milp_s,
            "pool_overflow": sol.pool_overflow,
        });
        if self.params.compare_heuristic {
            let hp = HeuristicParams {
                latency_threshold_ms: self.params.latency_threshold_ms,
                weights: *w,
                ..HeuristicParams::default()
            };
            let (ha, heur_s) = heuristic_choices(batch, &hp);
            let hobj = evaluate(batch, &ha, w);
            let pobj = evaluate(batch, &heuristic_choices(batch, &hp.clone().paper()).0, w);
            let gap = (hobj - obj) / obj.abs().max(1e-9);
            info["heuristic_objective"] = hobj.into();
            info["heuristic_seconds"] = heur_s.into();
            info["paper_objective"] = pobj.into();
            info["gap"] = gap.into();
            if let Ok(path) = std::env::var("SMO_ECMR_GAP_LOG") {
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(
                        f,
                        "{},{obj:.6},{hobj:.6},{gap:.6},{milp_s:.6},{heur_s:.6},{},{pobj:.6},\
                         {applied_obj:.6},{moved},{dropped},{}",
                        batch.vms.len(),
                        sol.status.replace(',', ";"),
                        sol.pool_overflow
                    );
                }
            }
        }
        Ok((fixes, info))
    }
}

/// The heuristic's (site, server) per VM of `batch`, run on a copy of its state, and the
/// seconds it took.
fn heuristic_choices(batch: &Batch, p: &HeuristicParams) -> (Choices, f64) {
    let mut hb = batch.clone();
    let started = Instant::now();
    let (out, _) = heuristic::dispatch(&mut hb, p);
    let secs = started.elapsed().as_secs_f64();
    (choices_of(&out), secs)
}
