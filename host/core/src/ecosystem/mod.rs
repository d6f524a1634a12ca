//! The workload ecosystem (seed 001): dependency declarations by characteristics, the map of
//! deployed workloads and their dependency edges, and the Dependency Satisfaction Score.
//!
//! [`declaration`] reads and checks declarations ([`checks`]) and [`criteria`] compiles their
//! criteria; [`map`] keeps the workloads and edges, [`topology`] the latency between clusters;
//! [`score`] scores workloads and says what is unmet and what a move would break. The map is
//! in memory: tens of thousands of workloads and their edges fit in a few megabytes, every query
//! is a walk over adjacency lists, and an update costs microseconds; a graph database would add
//! a network hop to each of them, and is worth it only when the map outgrows one process's
//! memory or must be shared by several orchestrators.

pub mod checks;
pub mod criteria;
pub mod declaration;
pub mod learning;
pub mod map;
pub mod options;
pub mod schema;
pub mod score;
pub mod topology;

pub use declaration::{parse, Declaration, DeclarationErrors};
pub use map::{EcosystemMap, Side, WorkloadId};
pub use score::{Edge, Score, Unmet, Weights};
pub use topology::Topology;

#[cfg(test)]
mod tests;
