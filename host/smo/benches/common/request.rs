//! The placement request the plugin-call benches send: `services` services of 0.5 CPU and
//! 512 MiB on `clusters` cloud clusters of `cluster_cpu` CPU and `cluster_mib` MiB free each.

use smo_plugin_api::*;

pub fn placement(
    services: usize,
    clusters: usize,
    cluster_cpu: f64,
    cluster_mib: f64,
) -> PlacementRequest {
    let cluster = |i: usize| {
        let mut cluster = testing::cluster(&format!("c{i}"), cluster_cpu, cluster_mib, 0);
        cluster.role = ClusterRole::Cloud;
        cluster.energy.carbon_intensity_g_per_kwh = 100.0 + (i * 37 % 300) as f64;
        cluster
    };
    let service = |i: usize| testing::service(&format!("s{i}"), 0.5, 512.0, 0);
    PlacementRequest {
        graph: Graph {
            name: "bench".into(),
            services: (0..services).map(service).collect(),
        },
        clusters: (0..clusters).map(cluster).collect(),
        current: ROption::RNone,
        telemetry: Telemetry::default(),
        extra: "{}".into(),
    }
}
