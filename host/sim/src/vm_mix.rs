//! The VMs running during a run, counted by shape (cores, memory, user, answered within the
//! SLO or not) and averaged per hour, with the services' busy replicas: the demand the energy
//! lower bound ([`super::bound`]) spreads over the servers.

use super::workload::VmRequest;

/// What the bound needs to know of a VM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    pub cpu: f64,
    pub memory_mib: f64,
    pub gpu: u32,
    /// Index into the scenario's users.
    pub user: u16,
    /// Its response when placed was over `slo_ms` (a service's: the copy's response that step).
    pub late: bool,
    /// A service replica's processing time at no load, in ms; `None` for a VM (the
    /// datacenter's `processing_ms` applies).
    pub processing_ms: Option<f64>,
}

impl Shape {
    fn of(vm: &VmRequest, late: bool) -> Self {
        Shape {
            cpu: vm.cpu,
            memory_mib: vm.memory_mib,
            gpu: vm.gpu,
            user: vm.user,
            late,
            processing_ms: None,
        }
    }
}

/// VMs of one shape running in one hour, on average over its steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeLoad {
    pub shape: Shape,
    pub vms: f64,
}

/// Running VMs by shape now, and their hourly means so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmMix {
    running: Vec<(Shape, u64)>,
    /// Per VM id: whether it was late (to find its shape again when it ends).
    late: Vec<bool>,
    hourly: Vec<Vec<ShapeLoad>>,
}

impl VmMix {
    pub fn new(hours: usize, vms: usize) -> Self {
        VmMix {
            running: Vec::new(),
            late: vec![false; vms],
            hourly: vec![Vec::new(); hours],
        }
    }

    fn count(&mut self, shape: Shape) -> &mut u64 {
        let i = match self.running.iter().position(|s| s.0 == shape) {
            Some(i) => i,
            None => {
                self.running.push((shape, 0));
                self.running.len() - 1
            }
        };
        &mut self.running[i].1
    }

    /// VM `id` started; `late`: its response was over the SLO.
    pub fn start(&mut self, id: usize, vm: &VmRequest, late: bool) {
        if let Some(l) = self.late.get_mut(id) {
            *l = late;
        }
        *self.count(Shape::of(vm, late)) += 1;
    }

    /// VM `id` ended.
    pub fn stop(&mut self, id: usize, vm: &VmRequest) {
        let late = self.late.get(id).copied().unwrap_or(false);
        let n = self.count(Shape::of(vm, late));
        *n = n.saturating_sub(1);
    }

    /// Adds the VMs running now, weighted by `share` of `hour` (a step's length in hours).
    pub fn sample(&mut self, hour: usize, share: f64) {
        let Some(out) = self.hourly.get_mut(hour) else {
            return;
        };
        for &(shape, n) in &self.running {
            if n == 0 {
                continue;
            }
            let w = n as f64 * share;
            match out.iter_mut().find(|s| s.shape == shape) {
                Some(s) => s.vms += w,
                None => out.push(ShapeLoad { shape, vms: w }),
            }
        }
    }

    /// Adds `units` of a service's replicas of `shape` busy now (replicas x their load factor:
    /// the work, whatever the replica count), weighted by `share` of `hour`.
    pub fn sample_service(&mut self, hour: usize, share: f64, shape: Shape, units: f64) {
        let Some(out) = self.hourly.get_mut(hour) else {
            return;
        };
        if units <= 0.0 {
            return;
        }
        let w = units * share;
        match out.iter_mut().find(|s| s.shape == shape) {
            Some(s) => s.vms += w,
            None => out.push(ShapeLoad { shape, vms: w }),
        }
    }

    /// Per hour: the mean number of VMs running (and of busy service replicas), by shape.
    pub fn into_hourly(self) -> Vec<Vec<ShapeLoad>> {
        self.hourly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(cpu: f64, gib: f64, user: u16) -> VmRequest {
        VmRequest {
            arrival_s: 0,
            cpu,
            memory_mib: gib * 1024.0,
            gpu: 0,
            duration_s: 3600,
            user,
        }
    }

    #[test]
    fn busy_service_replicas_add_their_work_by_shape() {
        // Two replicas at 0.5 load for half an hour, then one at 0.8: 0.5 + 0.4 busy replicas
        // on average; the late copy counts apart.
        let mut m = VmMix::new(1, 0);
        let shape = Shape {
            cpu: 2.0,
            memory_mib: 4096.0,
            gpu: 0,
            user: 1,
            late: false,
            processing_ms: Some(8.0),
        };
        m.sample_service(0, 0.5, shape, 2.0 * 0.5);
        m.sample_service(0, 0.5, shape, 0.8);
        m.sample_service(
            0,
            0.5,
            Shape {
                late: true,
                ..shape
            },
            1.0,
        );
        m.sample_service(0, 0.5, shape, 0.0);
        let h = m.into_hourly();
        assert_eq!(h[0].len(), 2);
        assert_eq!(h[0][0].shape, shape);
        assert!((h[0][0].vms - 0.9).abs() < 1e-12, "{:?}", h[0]);
        assert!(h[0][1].shape.late);
        assert!((h[0][1].vms - 0.5).abs() < 1e-12);
    }

    #[test]
    fn hourly_means_weigh_each_step_by_its_length() {
        let mut m = VmMix::new(2, 4);
        let (small, big) = (vm(2.0, 4.0, 0), vm(8.0, 56.0, 0));
        m.start(0, &small, false);
        m.start(1, &small, false);
        m.sample(0, 0.5);
        m.stop(0, &small);
        m.start(2, &big, false);
        m.sample(0, 0.5);
        m.stop(1, &small);
        m.sample(1, 1.0);
        let h = m.into_hourly();
        assert_eq!(h[0].len(), 2);
        assert_eq!((h[0][0].shape.cpu, h[0][0].vms), (2.0, 1.5));
        assert_eq!((h[0][1].shape.memory_mib, h[0][1].vms), (57344.0, 0.5));
        assert_eq!(h[1].len(), 1);
        assert_eq!((h[1][0].shape.cpu, h[1][0].vms), (8.0, 1.0));
    }

    #[test]
    fn late_vms_and_users_are_counted_apart() {
        let mut m = VmMix::new(1, 3);
        m.start(0, &vm(2.0, 4.0, 0), true);
        m.start(1, &vm(2.0, 4.0, 0), false);
        m.start(2, &vm(2.0, 4.0, 1), false);
        // The late VM ends: its own shape loses it, not the one answered in time.
        m.stop(0, &vm(2.0, 4.0, 0));
        m.sample(0, 1.0);
        let h = m.into_hourly();
        let got: Vec<(u16, bool, f64)> = h[0]
            .iter()
            .map(|s| (s.shape.user, s.shape.late, s.vms))
            .collect();
        assert_eq!(got, [(0, false, 1.0), (1, false, 1.0)]);
    }
}
