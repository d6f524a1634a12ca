//! `ecmr/milp`: the paper's model (eqs. 1-5, 10, 19-20, 28) solved exactly per batch with HiGHS,
//! linearised with server-on binaries z (or pooled counts), brown-power variables b, weights.

use crate::objective::{is_off, linear};
use crate::params::MilpParams;
use crate::request::Batch;
use highs::{HighsModelStatus, HighsSolutionStatus, Sense};
use smo_plugin_api::{ErrorKind, PluginError};

pub mod checked;
mod pool;
mod warm;

use checked::Checked;
use pool::{add_pool, Pool};
use warm::{warm_start, Cols};

/// The solved batch: (site, server) per VM or `None`, and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct MilpSolution {
    pub assign: Vec<Option<(usize, usize)>>,
    /// VMs of pooled off servers that first-fit could not put on one server of their pool.
    pub pool_overflow: usize,
    pub status: String,
    pub columns: usize,
    pub rows: usize,
}

/// Candidate servers of site `j` for a batch: every switched-on server, plus per server type
/// the first [`off_bound`] switched-off ones (the rest are identical copies).
fn candidates(batch: &Batch, j: usize, p: &MilpParams) -> Vec<usize> {
    let site = &batch.sites[j];
    let bound: Vec<usize> = (0..site.types.len())
        .map(|k| off_bound(batch, j, k, p))
        .collect();
    let mut off_per_type = vec![0usize; site.types.len()];
    let mut out = Vec::new();
    for i in 0..site.servers.len() {
        let k = site.servers[i].kind;
        if is_off(site, i) {
            if off_per_type[k] < bound[k] {
                off_per_type[k] += 1;
                out.push(i);
            }
        } else {
            out.push(i);
        }
    }
    out
}

/// How many switched-off servers of type `k` at site `j` an optimal solution needs at most.
/// Two newly switched-on servers of one type whose VMs fit on one can be merged without raising
/// the objective (one idle power less, same slope, brown power not higher), so some optimum has
/// at most one such server with CPU, memory and GPUs all at most half used: the others number
/// fewer than 2·ΣCPU/cores + 2·Σmemory/memory (+ GPUs) over the VMs that fit; and never more
/// than the VMs that fit.
pub fn off_bound(batch: &Batch, j: usize, k: usize, p: &MilpParams) -> usize {
    let t = &batch.sites[j].types[k];
    let (mut n, mut cpu, mut mem, mut gpu) = (0usize, 0.0, 0.0, 0.0);
    for (r, vm) in batch.vms.iter().enumerate() {
        let d = vm.demand;
        let fits =
            d.cpu <= t.cores + 1e-9 && d.memory_mib <= t.memory_mib + 1e-9 && d.gpu <= t.gpus;
        if fits && batch.latency(r, j) < p.latency_threshold_ms {
            n += 1;
            cpu += d.cpu;
            mem += d.memory_mib;
            gpu += f64::from(d.gpu);
        }
    }
    if n == 0 {
        return 0;
    }
    let half = |x: f64, cap: f64| {
        if cap > 1e-9 {
            (2.0 * x / cap).ceil() as usize
        } else {
            n
        }
    };
    let gpus = if gpu > 0.0 {
        half(gpu, f64::from(t.gpus))
    } else {
        0
    };
    n.min(half(cpu, t.cores) + half(mem, t.memory_mib) + gpus + 1)
}

/// Solves the batch. VMs no feasible server accepts are left unplaced at `unplaced_penalty`.
/// With `warm_start`, the heuristic's placement of the same batch is HiGHS's first incumbent.
/// A cost, bound or coefficient HiGHS would refuse is invalid input naming its cluster and
/// figure (the host does not count it toward quarantine); the model is then never built.
pub fn solve(batch: &Batch, p: &MilpParams) -> Result<MilpSolution, PluginError> {
    let w = &p.weights;
    let mut pb = Checked::default();
    let n = batch.vms.len();
    // y columns per VM: (site, server, col); per server its y terms (for capacity and power).
    let mut per_vm: Vec<Vec<(usize, usize, highs::Col)>> = vec![Vec::new(); n];
    // Per site: the switched-off candidates (server, z column) and the brown column b.
    let mut z_cols: Vec<Vec<(usize, highs::Col)>> = vec![Vec::new(); batch.sites.len()];
    let mut b_cols: Vec<Option<highs::Col>> = vec![None; batch.sites.len()];
    let mut pools: Vec<Pool> = Vec::new();
    for j in 0..batch.sites.len() {
        let site = &batch.sites[j];
        let mut power_terms = Vec::new();
        let mut prev_off: Option<(usize, highs::Col)> = None;
        let mut pooled: Vec<Vec<usize>> = vec![Vec::new(); site.types.len()];
        for i in candidates(batch, j, p) {
            if p.pool_off_servers && is_off(site, i) {
                pooled[site.servers[i].kind].push(i);
                continue;
            }
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
                let y = pb.integer(cost, 0.0..=1.0, || {
                    format!("cluster `{}`: VM `{}` on server {i}", site.name, vm.name)
                });
                per_vm[r].push((j, i, y));
                ys.push((y, d));
                power_terms.push((y, site.pue * slope * d.cpu));
            }
            if ys.is_empty() {
                continue;
            }
            let cpu_room = (t.cores - s.used_cpu).max(0.0);
            let mem_room = (t.memory_mib - s.used_memory_mib).max(0.0);
            let mut cpu: Vec<_> = ys.iter().map(|(y, d)| (*y, d.cpu)).collect();
            let mut mem: Vec<_> = ys.iter().map(|(y, d)| (*y, d.memory_mib)).collect();
            if is_off(site, i) {
                // Switching the server on costs its idle power. Capacity (eqs. 2-4) only when
                // on: Σ cpu·y <= cores·z, which also forces z = 1 under any y = 1 (the
                // per-VM rows z >= y_ri tighten the relaxation but made HiGHS slower here).
                let z = pb.integer(
                    w.energy * site.pue * idle / w.energy_ref_w,
                    0.0..=1.0,
                    || format!("cluster `{}`: switching server {i} on", site.name),
                );
                power_terms.push((z, site.pue * idle));
                cpu.push((z, -cpu_room));
                mem.push((z, -mem_room));
                let at = |what: &str| format!("cluster `{}`: server {i} {what}", site.name);
                pb.row(..=0.0, &cpu, || at("CPU capacity"));
                pb.row(..=0.0, &mem, || at("memory capacity"));
                // Symmetry breaking among identical off servers: switch them on in order.
                if let Some((k, prev)) = prev_off {
                    if k == s.kind {
                        pb.row(0.0.., &[(prev, 1.0), (z, -1.0)], || at("switch-on order"));
                    }
                }
                prev_off = Some((s.kind, z));
                z_cols[j].push((i, z));
            } else {
                // Capacity (eqs. 2-4): CPU and memory of the server.
                let at = |what: &str| format!("cluster `{}`: server {i} {what}", site.name);
                pb.row(..=cpu_room, &cpu, || at("CPU capacity"));
                pb.row(..=mem_room, &mem, || at("memory capacity"));
            }
        }
        for (k, servers) in pooled.into_iter().enumerate() {
            if let Some(pool) = add_pool(&mut pb, batch, j, k, servers, p, &mut power_terms) {
                for (r, x) in &pool.xs {
                    per_vm[*r].push((j, pool.servers[0], *x));
                }
                pools.push(pool);
            }
        }
        if power_terms.is_empty() {
            continue;
        }
        // b_j >= P_now + ΔP − supply, b_j >= 0 (eq. 20 linearised; exact since CI >= 0).
        let b = pb.continuous(
            w.carbon * site.carbon_g_per_kwh / 1000.0 / w.carbon_ref_g_per_h,
            0.0..,
            || format!("cluster `{}`: brown power", site.name),
        );
        let mut row = vec![(b, 1.0)];
        row.extend(power_terms.iter().map(|(c, v)| (*c, -v)));
        pb.row((site.facility_w() - site.renewable_w).., &row, || {
            format!("cluster `{}`: facility power now minus supply", site.name)
        });
        b_cols[j] = Some(b);
    }
    // Eq. 1 as "at most once", with an unplaced slack at a penalty.
    let mut f_cols = Vec::with_capacity(n);
    for (vm, ys) in batch.vms.iter().zip(&per_vm) {
        let f = pb.continuous(w.unplaced_penalty, 0.0..=1.0, || {
            format!("VM `{}`: leaving it unplaced (unplaced_penalty)", vm.name)
        });
        let mut row = vec![(f, 1.0)];
        row.extend(ys.iter().map(|(_, _, y)| (*y, 1.0)));
        pb.row(1.0..=1.0, &row, || format!("VM `{}`: placed once", vm.name));
        f_cols.push(f);
    }
    let (columns, rows) = (pb.num_cols(), pb.num_rows());
    let pb = pb.finish().map_err(|bad| {
        PluginError::invalid_input(format!("ecmr/milp cannot build the model: {bad}"))
    })?;
    let start = p.warm_start.then(|| {
        let cols = Cols {
            per_vm: &per_vm,
            z: &z_cols,
            pools: &pools,
            b: &b_cols,
            f: &f_cols,
        };
        warm_start(batch, p, &cols, columns)
    });
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
    if let Some(cols) = &start {
        // A start HiGHS cannot use is not an error: it solves from scratch.
        let _ = model.try_set_solution(Some(cols), None, None, None);
    }
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
    let mut assign: Vec<Option<(usize, usize)>> = per_vm
        .iter()
        .map(|ys| {
            ys.iter()
                .find(|(_, _, y)| values.get(y.index()).copied().unwrap_or(0.0) > 0.5)
                .map(|(j, i, _)| (*j, *i))
        })
        .collect();
    let pool_overflow = pools
        .iter()
        .map(|pool| pool.unpack(batch, &values, &mut assign))
        .sum();
    Ok(MilpSolution {
        assign,
        pool_overflow,
        status,
        columns,
        rows,
    })
}
