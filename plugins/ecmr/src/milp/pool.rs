//! Pooled switched-off servers (`pool_off_servers`): one integer count per server type and site
//! instead of one binary per server, and the unpacking of a solution onto concrete servers.

use super::checked::Checked;
use crate::objective::linear;
use crate::params::MilpParams;
use crate::request::Batch;

/// The switched-off servers of one type at one site as a pool (`pool_off_servers`): x_r = 1
/// puts VM r on one of them, N of them are switched on, and the pool's CPU, memory and GPUs
/// bound what it takes (Σ cpu·x <= cores·N, ...). A relaxation of packing them one by one.
pub struct Pool {
    pub site: usize,
    pub servers: Vec<usize>,
    pub n: highs::Col,
    pub xs: Vec<(usize, highs::Col)>,
}

/// Adds the pool of type `k`'s off `servers` at site `j`: x columns, the count N and its
/// capacity rows; its power terms go to `power_terms`. `None` when no VM can use it.
pub fn add_pool(
    pb: &mut Checked,
    batch: &Batch,
    j: usize,
    k: usize,
    servers: Vec<usize>,
    p: &MilpParams,
    power_terms: &mut Vec<(highs::Col, f64)>,
) -> Option<Pool> {
    let w = &p.weights;
    let site = &batch.sites[j];
    let t = &site.types[k];
    let (idle, slope) = linear(t);
    let mut xs = Vec::new();
    let (mut cpu, mut mem, mut gpu) = (Vec::new(), Vec::new(), Vec::new());
    for (r, vm) in batch.vms.iter().enumerate() {
        let d = vm.demand;
        let lat = batch.latency(r, j);
        let fits =
            d.cpu <= t.cores + 1e-9 && d.memory_mib <= t.memory_mib + 1e-9 && d.gpu <= t.gpus;
        if !fits || lat >= p.latency_threshold_ms {
            continue;
        }
        let cost = w.energy * site.pue * slope * d.cpu / w.energy_ref_w
            + w.latency * lat / w.latency_ref_ms;
        let x = pb.integer(cost, 0.0..=1.0, || {
            format!(
                "cluster `{}`: VM `{}` on a switched-off type {k} server",
                site.name, vm.name
            )
        });
        xs.push((r, x));
        cpu.push((x, d.cpu));
        mem.push((x, d.memory_mib));
        gpu.push((x, f64::from(d.gpu)));
        power_terms.push((x, site.pue * slope * d.cpu));
    }
    if xs.is_empty() || servers.is_empty() {
        return None;
    }
    let at = |what: &str| {
        format!(
            "cluster `{}`: switched-off type {k} servers' {what}",
            site.name
        )
    };
    let n = pb.integer(
        w.energy * site.pue * idle / w.energy_ref_w,
        0.0..=servers.len() as f64,
        || at("count"),
    );
    power_terms.push((n, site.pue * idle));
    cpu.push((n, -t.cores));
    mem.push((n, -t.memory_mib));
    pb.row(..=0.0, &cpu, || at("CPU capacity"));
    pb.row(..=0.0, &mem, || at("memory capacity"));
    if gpu.iter().any(|(_, g)| *g > 0.0) {
        gpu.push((n, -f64::from(t.gpus)));
        pb.row(..=0.0, &gpu, || at("GPU capacity"));
    }
    Some(Pool {
        site: j,
        servers,
        n,
        xs,
    })
}

impl Pool {
    /// Puts the pool's VMs on its servers, largest first, each on the first with room (the
    /// last when none has: the host re-packs by MESF anyway, see [`crate::repair`]).
    /// Returns how many VMs found no server with room (the relaxation packed them too tight).
    pub fn unpack(
        &self,
        batch: &Batch,
        values: &[f64],
        assign: &mut [Option<(usize, usize)>],
    ) -> usize {
        let site = &batch.sites[self.site];
        let mut mine: Vec<usize> = self
            .xs
            .iter()
            .filter(|(_, x)| values.get(x.index()).copied().unwrap_or(0.0) > 0.5)
            .map(|(r, _)| *r)
            .collect();
        mine.sort_by(|&a, &b| {
            let (da, db) = (batch.vms[a].demand, batch.vms[b].demand);
            db.cpu.total_cmp(&da.cpu).then(a.cmp(&b))
        });
        let mut used = vec![(0.0, 0.0); self.servers.len()];
        let mut overflow = 0;
        for r in mine {
            let d = batch.vms[r].demand;
            let slot = self.servers.iter().enumerate().position(|(q, &i)| {
                let t = &site.types[site.servers[i].kind];
                used[q].0 + d.cpu <= t.cores + 1e-9
                    && used[q].1 + d.memory_mib <= t.memory_mib + 1e-9
            });
            overflow += usize::from(slot.is_none());
            let q = slot.unwrap_or(self.servers.len() - 1);
            used[q].0 += d.cpu;
            used[q].1 += d.memory_mib;
            assign[r] = Some((self.site, self.servers[q]));
        }
        overflow
    }
}
