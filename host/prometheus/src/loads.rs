//! The loads the scaling loop scales on, measured: per deployed service, the request rate into
//! it from Istio's `istio_requests_total`, its response time, and its pods' CPU and memory.
//!
//! Prometheus does not forecast: the predicted rate is the measured one. A service the
//! Prometheus settings do not list, or without traffic in the window, has a rate of 0.

use crate::refresh::measured;
use crate::{per_service, GraphTelemetry, PrometheusTelemetry, SERVICE_LABEL};
use smo_core::graphs::GraphSpec;
use smo_core::placement::PlacementEntry;
use smo_core::ports::TelemetryError;
use smo_plugin_api::{RVec, ServiceLoad, Telemetry};
use std::collections::BTreeMap;

/// Per service, the cores and the bytes its pods use in both areas.
type Usage = (BTreeMap<String, f64>, BTreeMap<String, f64>);

/// `used / reserved`, in [0, 1]; 0 when either is unknown.
fn utilisation(used: f64, reserved: f64) -> f64 {
    if used > 0.0 && reserved > 0.0 {
        (used / reserved).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

impl PrometheusTelemetry {
    /// The loads of `graph`'s services placed as `placement` (see the module documentation):
    /// one a service with replicas, with `current_rps` = `predicted_rps` = the measured rate
    /// into it (`reporter="destination"`, from the ingress or the graph's services, both
    /// areas), `response_time_ms` = the mean time it took to answer, and CPU and memory
    /// utilisation = what its pods use over what its replicas reserve (0 when its pods are
    /// unknown). All queries are evaluated at the server's now.
    pub fn measure_loads(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        let name = graph.name.as_str();
        let _span = tracing::debug_span!("prometheus_loads", graph = name).entered();
        let g = self.graph(name)?;
        let q = &g.queries;
        let at = self.server_time(name)?;
        let rates = self.by_label(name, &q.service_rates(), "destination_app", at)?;
        let response = self.by_label(name, &q.service_response_ms(), "destination_app", at)?;
        let (cores, bytes) = self.service_usage(name, g, at)?;
        let loads: Vec<ServiceLoad> = graph
            .services
            .iter()
            .filter_map(|service| {
                let replicas: u32 = PlacementEntry::replicas_of(placement, &service.name);
                if replicas == 0 {
                    return None;
                }
                let rps = measured(rates.get(&service.name));
                let n = f64::from(replicas);
                Some(ServiceLoad {
                    service: service.name.as_str().into(),
                    current_rps: rps,
                    predicted_rps: rps,
                    cpu_utilisation: utilisation(
                        measured(cores.get(&service.name)),
                        n * service.demand.cpu,
                    ),
                    memory_utilisation: utilisation(
                        measured(bytes.get(&service.name)),
                        n * service.demand.memory_mib * 1024.0 * 1024.0,
                    ),
                    response_time_ms: measured(response.get(&service.name)),
                })
            })
            .collect();
        tracing::debug!(services = loads.len(), "prometheus loads");
        Ok(Telemetry {
            time_unix_s: now_s.floor() as i64,
            loads: RVec::from(loads),
            links: RVec::new(),
            calls: RVec::new(),
        })
    }

    /// The cores and bytes each service's pods use, cloud and edge together; empty when the
    /// pods of services are unknown.
    fn service_usage(
        &self,
        name: &str,
        g: &GraphTelemetry,
        at: Option<f64>,
    ) -> Result<Usage, TelemetryError> {
        let pods = g.pod_map();
        let (mut cores, mut bytes) = (BTreeMap::new(), BTreeMap::new());
        if pods.is_empty() {
            return Ok((cores, bytes));
        }
        for edge in [false, true] {
            for (query, into) in [
                (g.queries.cpu_usage(edge), &mut cores),
                (g.queries.memory_usage(edge), &mut bytes),
            ] {
                let per =
                    self.by_label(name, &per_service(&query, &pods, "sum"), SERVICE_LABEL, at)?;
                for (service, value) in per.into_iter().filter(|(s, _)| !s.is_empty()) {
                    *into.entry(service).or_insert(0.0) += value;
                }
            }
        }
        Ok((cores, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilisation_is_a_fraction_or_zero_when_unknown() {
        assert_eq!(utilisation(1.0, 4.0), 0.25);
        assert_eq!(utilisation(8.0, 4.0), 1.0);
        assert_eq!(utilisation(0.0, 4.0), 0.0);
        assert_eq!(utilisation(1.0, 0.0), 0.0);
    }
}
