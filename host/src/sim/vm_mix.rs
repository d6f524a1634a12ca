//! The VMs running during a run, counted by shape (cores, memory) and averaged per hour: the
//! demand that the energy lower bound ([`super::bound`]) spreads over the servers.

/// VMs of one shape running in one hour, on average over its steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeLoad {
    pub cpu: f64,
    pub memory_mib: f64,
    pub gpu: u32,
    pub vms: f64,
}

/// Running VMs by shape now, and their hourly means so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmMix {
    /// `(cpu, memory_mib, gpu, running)` per shape seen.
    running: Vec<(f64, f64, u32, u64)>,
    hourly: Vec<Vec<ShapeLoad>>,
}

impl VmMix {
    pub fn new(hours: usize) -> Self {
        VmMix {
            running: Vec::new(),
            hourly: vec![Vec::new(); hours],
        }
    }

    fn shape(&mut self, cpu: f64, memory_mib: f64, gpu: u32) -> &mut u64 {
        let i = match self
            .running
            .iter()
            .position(|s| s.0 == cpu && s.1 == memory_mib && s.2 == gpu)
        {
            Some(i) => i,
            None => {
                self.running.push((cpu, memory_mib, gpu, 0));
                self.running.len() - 1
            }
        };
        &mut self.running[i].3
    }

    /// A VM of this shape started.
    pub fn start(&mut self, cpu: f64, memory_mib: f64, gpu: u32) {
        *self.shape(cpu, memory_mib, gpu) += 1;
    }

    /// A VM of this shape ended.
    pub fn stop(&mut self, cpu: f64, memory_mib: f64, gpu: u32) {
        let n = self.shape(cpu, memory_mib, gpu);
        *n = n.saturating_sub(1);
    }

    /// Adds the VMs running now, weighted by `share` of `hour` (a step's length in hours).
    pub fn sample(&mut self, hour: usize, share: f64) {
        let Some(out) = self.hourly.get_mut(hour) else {
            return;
        };
        for &(cpu, memory_mib, gpu, n) in &self.running {
            if n == 0 {
                continue;
            }
            let w = n as f64 * share;
            match out
                .iter_mut()
                .find(|s| s.cpu == cpu && s.memory_mib == memory_mib && s.gpu == gpu)
            {
                Some(s) => s.vms += w,
                None => out.push(ShapeLoad {
                    cpu,
                    memory_mib,
                    gpu,
                    vms: w,
                }),
            }
        }
    }

    /// Per hour: the mean number of VMs running, by shape.
    pub fn into_hourly(self) -> Vec<Vec<ShapeLoad>> {
        self.hourly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hourly_means_weigh_each_step_by_its_length() {
        let mut m = VmMix::new(2);
        m.start(2.0, 4096.0, 0);
        m.start(2.0, 4096.0, 0);
        m.sample(0, 0.5);
        m.stop(2.0, 4096.0, 0);
        m.start(8.0, 57344.0, 0);
        m.sample(0, 0.5);
        m.stop(2.0, 4096.0, 0);
        m.sample(1, 1.0);
        let h = m.into_hourly();
        assert_eq!(h[0].len(), 2);
        assert_eq!((h[0][0].cpu, h[0][0].vms), (2.0, 1.5));
        assert_eq!((h[0][1].memory_mib, h[0][1].vms), (57344.0, 0.5));
        assert_eq!(h[1].len(), 1);
        assert_eq!((h[1][0].cpu, h[1][0].vms), (8.0, 1.0));
    }
}
