//! Latency between clusters for the ecosystem map: modelled from their locations (great-circle
//! distance) until a measurement replaces it; a cluster with itself is the intra-cluster latency.

use crate::geo;
use std::collections::HashMap;

/// Milliseconds of one-way network delay per km of great-circle distance (fibre, with routing).
pub const MS_PER_KM: f64 = 0.01;
/// Fixed part of the delay between two sites, ms.
pub const BASE_MS: f64 = 1.0;
/// Delay between two workloads on the same cluster, ms.
pub const INTRA_CLUSTER_MS: f64 = 0.1;

/// The clusters and the latency between each pair.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    names: Vec<String>,
    index: HashMap<String, usize>,
    location: Vec<Option<(f64, f64)>>,
    measured: HashMap<(usize, usize), f64>,
}

impl Topology {
    /// The index of cluster `name`, added (without a location) when unknown.
    pub fn cluster(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_owned());
        self.location.push(None);
        self.index.insert(name.to_owned(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// Cluster `name` at `(lat, lon)`.
    pub fn locate(&mut self, name: &str, lat: f64, lon: f64) {
        let i = self.cluster(name);
        self.location[i] = Some((lat, lon));
    }

    /// A measured latency between two clusters (both ways), ms.
    pub fn measure(&mut self, a: &str, b: &str, ms: f64) {
        let (a, b) = (self.cluster(a), self.cluster(b));
        self.measured.insert((a.min(b), a.max(b)), ms);
    }

    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("", String::as_str)
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Latency between clusters `a` and `b`, ms: measured, else modelled from their locations;
    /// infinite when neither is known.
    pub fn latency_ms(&self, a: usize, b: usize) -> f64 {
        if a == b {
            return INTRA_CLUSTER_MS;
        }
        if let Some(ms) = self.measured.get(&(a.min(b), a.max(b))) {
            return *ms;
        }
        match (
            self.location.get(a).copied().flatten(),
            self.location.get(b).copied().flatten(),
        ) {
            (Some(x), Some(y)) => geo::latency_ms(geo::distance_km(x, y), MS_PER_KM, BASE_MS),
            _ => f64::INFINITY,
        }
    }
}
