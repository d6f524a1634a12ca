//! Makes a joint (MILP) placement applicable by the host, which packs VMs one at a time by MESF
//! in decision order: replays that packing and moves, or leaves out, the VMs it cannot pack.

use crate::objective::{latency_term, linear_delta_w, Base};
use crate::params::Weights;
use crate::request::Batch;

/// What the replay did to one VM.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    /// Packed where the solution put it (on the server MESF picks).
    Kept { site: usize, server: usize },
    /// MESF found no server at `wanted`; moved to `site` (the lowest-objective datacenter within
    /// the threshold where MESF finds one).
    Moved {
        wanted: usize,
        site: usize,
        server: usize,
    },
    /// MESF found no server at `wanted` nor at any datacenter within the threshold.
    Dropped { wanted: usize },
    /// The solution left it unplaced.
    Unplaced,
}

impl Fix {
    /// (site, server) when the VM is placed.
    pub fn placed(&self) -> Option<(usize, usize)> {
        match self {
            Fix::Kept { site, server } | Fix::Moved { site, server, .. } => Some((*site, *server)),
            Fix::Dropped { .. } | Fix::Unplaced => None,
        }
    }
}

/// Replays `sites` of `assign` (the servers in it are ignored) in request order, the order the
/// decision lists them and the host applies them, on a copy of the batch's state.
pub fn replay(
    batch: &Batch,
    assign: &[Option<(usize, usize)>],
    latency_threshold_ms: f64,
    w: &Weights,
) -> Vec<Fix> {
    let mut sites = batch.sites.clone();
    let base: Vec<Base> = sites.iter().map(Base::of).collect();
    let mut added_w = vec![0.0; sites.len()];
    let mut out = Vec::with_capacity(assign.len());
    for (r, a) in assign.iter().enumerate() {
        let d = batch.vms[r].demand;
        let Some((wanted, _)) = *a else {
            out.push(Fix::Unplaced);
            continue;
        };
        let fix = match sites[wanted].mesf(&d) {
            Some((server, _)) => Fix::Kept {
                site: wanted,
                server,
            },
            None => {
                let mut best: Option<(f64, usize, usize)> = None;
                for (j, s) in sites.iter().enumerate() {
                    if j == wanted || batch.latency(r, j) >= latency_threshold_ms {
                        continue;
                    }
                    let Some((i, _)) = s.mesf(&d) else { continue };
                    let b = &base[j];
                    let add = linear_delta_w(s, i, d.cpu) * s.pue;
                    let v = b.cost(added_w[j] + add, w) - b.cost(added_w[j], w)
                        + latency_term(batch.latency(r, j), w);
                    if best.is_none_or(|(bv, _, _)| v < bv - 1e-12) {
                        best = Some((v, j, i));
                    }
                }
                match best {
                    Some((_, site, server)) => Fix::Moved {
                        wanted,
                        site,
                        server,
                    },
                    None => Fix::Dropped { wanted },
                }
            }
        };
        if let Some((j, i)) = fix.placed() {
            let s = &mut sites[j];
            added_w[j] += linear_delta_w(s, i, d.cpu) * s.pue;
            s.reserve(i, &d);
        }
        out.push(fix);
    }
    out
}
