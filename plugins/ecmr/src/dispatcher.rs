//! Algorithm 1 over time (step 6): VMs released when their duration ends, and a bounded queue
//! for VMs no datacenter accepts, retried each slot before new arrivals.

use crate::heuristic::{dispatch, Counters, Outcome};
use crate::params::HeuristicParams;
use crate::request::{Batch, Vm};
use crate::site::Site;
use smo_plugin_api::Resources;
use std::collections::VecDeque;

/// A running VM: where it is and when it ends.
#[derive(Debug, Clone, PartialEq)]
struct Running {
    end_s: f64,
    site: usize,
    server: usize,
    demand: Resources,
}

/// What happened so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    pub submitted: u64,
    pub placed: u64,
    pub placed_green: u64,
    /// Failed: queue full, or waited longer than `max_queue_wait_s`.
    pub failed: u64,
    pub queued_now: usize,
    /// VMs that waited in the queue, and their total wait (s).
    pub delayed: u64,
    pub queue_wait_s: f64,
    pub counters: Counters,
}

impl Stats {
    pub fn mean_queue_wait_s(&self) -> f64 {
        if self.placed > 0 {
            self.queue_wait_s / self.placed as f64
        } else {
            0.0
        }
    }
}

/// The stateful dispatcher: sites, running VMs, the queue.
#[derive(Debug, Clone)]
pub struct Dispatcher {
    pub sites: Vec<Site>,
    /// Latency from the (single) user population to each site, ms.
    pub latency_ms: Vec<f64>,
    pub params: HeuristicParams,
    running: Vec<Running>,
    queue: VecDeque<(Vm, f64)>,
    pub stats: Stats,
}

impl Dispatcher {
    pub fn new(sites: Vec<Site>, latency_ms: Vec<f64>, params: HeuristicParams) -> Self {
        Self {
            sites,
            latency_ms,
            params,
            running: Vec::new(),
            queue: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Releases every VM whose end time is at or before `now_s` (capacity and power freed).
    pub fn release_until(&mut self, now_s: f64) {
        let sites = &mut self.sites;
        self.running.retain(|v| {
            if v.end_s <= now_s {
                sites[v.site].release(v.server, &v.demand);
                false
            } else {
                true
            }
        });
    }

    /// Sets the on-site renewable supply of site `j` for the slot (W).
    pub fn set_supply_w(&mut self, j: usize, w: f64) {
        if let Some(s) = self.sites.get_mut(j) {
            s.renewable_w = w;
        }
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// One slot at `now_s`: releases, then the queue (oldest first) and `arrivals` in one batch.
    pub fn step(&mut self, now_s: f64, arrivals: Vec<Vm>) -> Vec<Outcome> {
        self.release_until(now_s);
        self.stats.submitted += arrivals.len() as u64;
        let mut waiting: Vec<(Vm, f64)> = self.queue.drain(..).collect();
        waiting.extend(arrivals.into_iter().map(|v| (v, now_s)));
        let vms: Vec<Vm> = waiting.iter().map(|(v, _)| v.clone()).collect();
        let latency_ms = vms
            .iter()
            .map(|_| self.latency_ms.iter().map(|l| Some(*l)).collect())
            .collect();
        let mut batch = Batch {
            vms,
            sites: std::mem::take(&mut self.sites),
            latency_ms,
        };
        let (out, counters) = dispatch(&mut batch, &self.params);
        self.sites = batch.sites;
        let c = &mut self.stats.counters;
        c.latency_rejections += counters.latency_rejections;
        c.res_rejections += counters.res_rejections;
        c.fallback += counters.fallback;
        c.moved += counters.moved;
        for ((vm, arrived), o) in waiting.into_iter().zip(&out) {
            match o {
                Outcome::Placed {
                    site,
                    server,
                    green,
                    ..
                } => {
                    self.stats.placed += 1;
                    self.stats.placed_green += u64::from(*green);
                    if now_s > arrived {
                        self.stats.delayed += 1;
                        self.stats.queue_wait_s += now_s - arrived;
                    }
                    self.running.push(Running {
                        end_s: now_s + vm.duration_s.max(0.0),
                        site: *site,
                        server: *server,
                        demand: vm.demand,
                    });
                }
                Outcome::Unplaced => {
                    let expired = now_s - arrived >= self.params.max_queue_wait_s;
                    if expired || self.queue.len() >= self.params.queue_capacity {
                        self.stats.failed += 1;
                    } else {
                        self.queue.push_back((vm, arrived));
                    }
                }
            }
        }
        self.stats.queued_now = self.queue.len();
        out
    }
}
