//! Serving requests and booking energy: routing each service's requests to its copies, the
//! busy cores they cause, and each step's facility energy, carbon and cost.

use super::*;

impl Run<'_> {
    /// Routes each service's requests of this step to its copies, nearest first, up to each
    /// copy's `alpha * replicas + beta`; the rest fail.
    pub(super) fn serve_requests(&mut self) {
        let k = self.k;
        let h = self.hour();
        let step_s = f64::from(self.step_s);
        let slo = self.sc.spec.slo_ms;
        for i in 0..self.services.len() {
            self.allocation_check(i);
            let lambda = self.rate(i, k);
            let n = (lambda * step_s).round() as u64;
            let sp = &self.sc.spec.workload.services[i];
            let user = self.services[i].user;
            let copies: Vec<delay::Copy> = self.services[i]
                .instances
                .iter()
                .map(|inst| delay::Copy {
                    latency_ms: self.net.user_lat[user][inst.dc],
                    capacity_rps: sp.alpha * inst.servers.len() as f64 + sp.beta,
                })
                .collect();
            let (served, left) = delay::route(n, step_s, sp.processing_ms, &copies);
            let acc = &mut self.hours[h];
            acc.svc.requests += n;
            for (inst, s) in self.services[i].instances.iter_mut().zip(&served) {
                let (take, rho, resp) = (s.taken, s.rho, s.response_ms);
                if take > 0 {
                    acc.svc.samples.push((resp, take as f64));
                    if resp > slo {
                        acc.svc.slo_violations += take;
                    }
                }
                acc.svc.served += take;
                inst.routed_rps = take as f64 / step_s;
                inst.response_ms = resp;
                for server in &inst.servers {
                    self.dcs[inst.dc].set_load(*server, sp.cpu, inst.load, rho);
                }
                inst.load = rho;
            }
            acc.svc.failed += left;
        }
    }

    // ---- energy ---------------------------------------------------------------------------

    /// The services' busy replicas this step (replicas x load factor, per copy, late when the
    /// copy answered over the SLO), for the energy lower bound.
    pub(super) fn sample_service_work(&mut self, h: usize, dt_h: f64) {
        let slo = self.sc.spec.slo_ms;
        for (i, svc) in self.services.iter().enumerate() {
            let sp = &self.sc.spec.workload.services[i];
            for inst in &svc.instances {
                let shape = Shape {
                    cpu: svc.demand.cpu,
                    memory_mib: svc.demand.memory_mib,
                    gpu: svc.demand.gpu,
                    user: svc.user as u16,
                    late: inst.response_ms > slo,
                    processing_ms: Some(sp.processing_ms),
                };
                let units = inst.servers.len() as f64 * inst.load;
                self.vm_mix.sample_service(h, dt_h, shape, units);
            }
        }
    }

    pub(super) fn account(&mut self) {
        let h = self.hour();
        let dt_h = f64::from(self.step_s) / 3600.0;
        let (mut used, mut cap) = (0.0, 0.0);
        let booked = self
            .sc
            .spec
            .energy_accounting_hours
            .is_none_or(|n| h < n as usize);
        if booked {
            self.vm_mix.sample(h, dt_h);
            self.sample_service_work(h, dt_h);
        }
        for d in 0..self.dcs.len() {
            let spec = &self.sc.spec.datacenters[d];
            if !booked {
                std::mem::take(&mut self.pending_kwh[d]);
                used += self.dcs[d].used.cpu;
                cap += self.dcs[d].capacity.cpu;
                continue;
            }
            let dc = &self.dcs[d];
            let it_w = dc.accrue_by_type(dt_h, &mut self.type_use[d]);
            let it_kwh = it_w * dt_h / 1000.0 + std::mem::take(&mut self.pending_kwh[d]);
            let facility = it_kwh * spec.pue;
            let supply = self.env.renew_kw[d][h] * dt_h;
            let renewable = facility.min(supply);
            let brown = facility - renewable;
            let p = &spec.prices;
            let step = Acc {
                it_kwh,
                facility_kwh: facility,
                renewable_supply_kwh: supply,
                renewable_kwh: renewable,
                brown_kwh: brown,
                carbon_kg: brown * self.env.ci[d][h] / 1000.0,
                energy_cost: brown * self.env.price[d][h],
                resource_cost: (dc.used.cpu * p.cpu_core_hour
                    + dc.used.memory_mib / 1024.0 * p.memory_gib_hour
                    + f64::from(dc.used.gpu) * p.gpu_hour)
                    * dt_h,
                ..Acc::default()
            };
            used += dc.used.cpu;
            cap += dc.capacity.cpu;
            self.hours[h].add(&step);
            self.dc_acc[d].add(&step);
        }
        self.hours[h].running_vms = self.running;
        self.hours[h].utilisation = if cap > 0.0 { used / cap } else { 0.0 };
    }
}
