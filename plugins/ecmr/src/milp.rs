//! `ecmr/milp`: the paper's model (eqs. 1-5, 10, 19-20, 28) solved exactly per batch with HiGHS,
//! linearised with server-on binaries z, brown-power variables b and a weighted objective.

use crate::objective::{brown_now_w, is_off, linear};
use crate::params::MilpParams;
use crate::request::Batch;
use highs::{HighsModelStatus, HighsSolutionStatus, RowProblem, Sense};
use smo_plugin_api::{ErrorKind, PluginError};

/// The solved batch: (site, server) per VM or `None`, and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct MilpSolution {
    pub assign: Vec<Option<(usize, usize)>>,
    pub status: String,
    pub columns: usize,
    pub rows: usize,
}

/// Candidate servers of a site for a batch: every switched-on server, plus per server type the
/// first `n` switched-off ones (no batch of n VMs needs more; the rest are symmetric copies).
fn candidates(batch: &Batch, j: usize) -> Vec<usize> {
    let site = &batch.sites[j];
    let n = batch.vms.len();
    let mut off_per_type = vec![0usize; site.types.len()];
    let mut out = Vec::new();
    for i in 0..site.servers.len() {
        let k = site.servers[i].kind;
        if is_off(site, i) {
            if off_per_type[k] < n {
                off_per_type[k] += 1;
                out.push(i);
            }
        } else {
            out.push(i);
        }
    }
    out
}

/// Solves the batch. VMs no feasible server accepts are left unplaced at `unplaced_penalty`.
pub fn solve(batch: &Batch, p: &MilpParams) -> Result<MilpSolution, PluginError> {
    let w = &p.weights;
    let mut pb = RowProblem::default();
    let n = batch.vms.len();
    // y columns per VM: (site, server, col); per server its y terms (for capacity and power).
    let mut per_vm: Vec<Vec<(usize, usize, highs::Col)>> = vec![Vec::new(); n];
    for j in 0..batch.sites.len() {
        let site = &batch.sites[j];
        let mut power_terms = Vec::new();
        let mut prev_off: Option<(usize, highs::Col)> = None;
        for i in candidates(batch, j) {
            let s = &site.servers[i];
            let t = &site.types[s.kind];
            let (idle, slope) = linear(t);
            let mut ys = Vec::new();
            for (r, vm) in batch.vms.iter().enumerate() {
                let d = vm.demand;
                let lat = batch.latency(r, j);
                let fits = s.used_cpu + d.cpu <= t.cores + 1e-9
                    && s.used_memory_mib + d.memory_mib <= t.memory_mib + 1e-9
                    && s.used_gpu + d.gpu <= t.gpus;
                if !fits || lat >= p.latency_threshold_ms {
                    continue;
                }
                let cost = w.energy * site.pue * slope * d.cpu / w.energy_ref_w
                    + w.latency * lat / w.latency_ref_ms;
                let y = pb.add_integer_column(cost, 0.0..=1.0);
                per_vm[r].push((j, i, y));
                ys.push((y, d));
                power_terms.push((y, site.pue * slope * d.cpu));
            }
            if ys.is_empty() {
                continue;
            }
            // Capacity (eqs. 2-4): CPU and memory of the server.
            let cpu: Vec<_> = ys.iter().map(|(y, d)| (*y, d.cpu)).collect();
            pb.add_row(..=(t.cores - s.used_cpu).max(0.0), &cpu);
            let mem: Vec<_> = ys.iter().map(|(y, d)| (*y, d.memory_mib)).collect();
            pb.add_row(..=(t.memory_mib - s.used_memory_mib).max(0.0), &mem);
            if is_off(site, i) {
                // z_i >= y_ri: switching the server on costs its idle power.
                let z =
                    pb.add_integer_column(w.energy * site.pue * idle / w.energy_ref_w, 0.0..=1.0);
                for (y, _) in &ys {
                    pb.add_row(0.0.., [(z, 1.0), (*y, -1.0)]);
                }
                power_terms.push((z, site.pue * idle));
                // Symmetry breaking among identical off servers: switch them on in order.
                if let Some((k, prev)) = prev_off {
                    if k == s.kind {
                        pb.add_row(0.0.., [(prev, 1.0), (z, -1.0)]);
                    }
                }
                prev_off = Some((s.kind, z));
            }
        }
        if power_terms.is_empty() {
            continue;
        }
        // b_j >= P_now + ΔP − supply, b_j >= 0 (eq. 20 linearised; exact since CI >= 0).
        let b = pb.add_column(
            w.carbon * site.carbon_g_per_kwh / 1000.0 / w.carbon_ref_g_per_h,
            0.0..,
        );
        let mut row = vec![(b, 1.0)];
        row.extend(power_terms.iter().map(|(c, v)| (*c, -v)));
        pb.add_row((site.facility_w() - site.renewable_w).., &row);
        let _ = brown_now_w(site);
    }
    // Eq. 1 as "at most once", with an unplaced slack at a penalty.
    for ys in &per_vm {
        let f = pb.add_column(w.unplaced_penalty, 0.0..=1.0);
        let mut row = vec![(f, 1.0)];
        row.extend(ys.iter().map(|(_, _, y)| (*y, 1.0)));
        pb.add_row(1.0..=1.0, &row);
    }
    let (columns, rows) = (pb.num_cols(), pb.num_rows());
    let mut model = pb
        .try_optimise(Sense::Minimise)
        .map_err(|e| PluginError::internal(format!("HiGHS rejected the model: {e:?}")))?;
    let set = |m: &mut highs::Model, k: &str, v: f64| {
        m.try_set_option(k, v)
            .map_err(|e| PluginError::internal(format!("HiGHS option {k}: {e:?}")))
    };
    set(&mut model, "time_limit", p.time_limit_s)?;
    set(&mut model, "mip_rel_gap", p.mip_rel_gap)?;
    model
        .try_set_option("output_flag", false)
        .map_err(|e| PluginError::internal(format!("HiGHS option output_flag: {e:?}")))?;
    model
        .try_set_option("threads", 1)
        .map_err(|e| PluginError::internal(format!("HiGHS option threads: {e:?}")))?;
    let solved = model
        .try_solve()
        .map_err(|e| PluginError::internal(format!("HiGHS failed: {e:?}")))?;
    let status = match solved.status() {
        HighsModelStatus::Optimal => "optimal".to_string(),
        HighsModelStatus::ReachedTimeLimit
            if p.accept_incumbent
                && solved.primal_solution_status() == HighsSolutionStatus::Feasible =>
        {
            format!("time limit, incumbent kept (gap {:.2e})", solved.mip_gap())
        }
        HighsModelStatus::ReachedTimeLimit => {
            return Err(PluginError::new(
                ErrorKind::TIME_LIMIT,
                format!("time limit of {} s reached", p.time_limit_s),
            ))
        }
        other => {
            return Err(PluginError::internal(format!(
                "HiGHS stopped with status {other:?}"
            )))
        }
    };
    let values = solved.get_solution().columns().to_vec();
    let assign = per_vm
        .iter()
        .map(|ys| {
            ys.iter()
                .find(|(_, _, y)| values.get(y.index()).copied().unwrap_or(0.0) > 0.5)
                .map(|(j, i, _)| (*j, *i))
        })
        .collect();
    Ok(MilpSolution {
        assign,
        status,
        columns,
        rows,
    })
}
