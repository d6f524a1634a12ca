//! The engine: what happens to a graph after the API accepted it — placement, the per-graph
//! control loops, and the cluster inventory the strategies see. One module a concern.

pub mod admission;
pub mod alerts;
pub mod applier;
pub mod backend_clusters;
pub mod clusters;
pub mod commit;
pub mod ecosystem;
pub mod ecosystem_learning;
pub mod ecosystem_loop;
pub mod ecosystem_migrate;
pub mod error;
pub mod graph_names;
pub mod heartbeat;
pub mod inventory;
pub mod lifecycle;
pub mod limits;
pub mod locks;
pub mod measure;
pub mod offload_apply;
pub mod offload_loop;
pub mod placing;
pub mod record;
pub mod scaling;
pub mod scenario_clusters;
pub mod shutdown;
pub mod status;
