//! smo's telemetry from a real Prometheus scraping Istio and cAdvisor metrics (research note §5): the
//! [`PrometheusTelemetry`] source of the Telemetry port, over the HTTP [`client`], the PromQL of
//! [`queries`], the scaling loop's measured [`loads`] and the offload action's full [`refresh`].

pub mod client;
pub mod loads;
pub mod queries;
pub mod refresh;

pub use client::{parse_query_response, PromClient, PromError, Sample};
pub use queries::PromQueries;
pub use refresh::{apply_refresh, refresh_extra, AreaUsage, CallRate, SbmpRefresh};

use queries::{promql_string, regex_alternatives};
use serde::{Deserialize, Serialize};
use smo_core::graphs::GraphSpec;
use smo_core::offload::Observation;
use smo_core::placement::PlacementEntry;
use smo_core::ports::{MigrationInputs, TelemetryError, TelemetrySource};
use smo_core::user_delay::{self, UserDelay};
use smo_plugin_api::{Cluster, Telemetry};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The telemetry of one graph: its [`PromQueries`] and what the host needs besides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphTelemetry {
    #[serde(flatten)]
    pub queries: PromQueries,
    /// Pod-name regexes of each service (as in `pod=~"…"`), to sum CPU and memory per service
    /// and to see which services have pods at the edge. Empty: when `queries.podRegexes` has
    /// one regex a service, they are paired in order; otherwise per-service sums and pod
    /// presence are not derived (per-pod values still are).
    #[serde(default)]
    pub service_pods: BTreeMap<String, Vec<String>>,
    /// The quantile of the user delay to refresh too (GMA's `delay-quantile`, e.g. 0.9);
    /// `None`: not queried.
    #[serde(default)]
    pub delay_quantile: Option<f64>,
}

impl GraphTelemetry {
    /// Telemetry from the queries alone (pods paired by order, no quantile).
    pub fn new(queries: PromQueries) -> Self {
        Self {
            queries,
            service_pods: BTreeMap::new(),
            delay_quantile: None,
        }
    }

    /// Service → pod regexes, explicit or paired by order; empty when not derivable.
    fn pod_map(&self) -> Vec<(String, Vec<String>)> {
        if !self.service_pods.is_empty() {
            return self
                .service_pods
                .iter()
                .filter(|(_, r)| !r.is_empty())
                .map(|(s, r)| (s.clone(), r.clone()))
                .collect();
        }
        let q = &self.queries;
        if !q.services.is_empty() && q.pod_regexes.len() == q.services.len() {
            q.services
                .iter()
                .zip(&q.pod_regexes)
                .map(|(s, r)| (s.clone(), vec![r.clone()]))
                .collect()
        } else {
            Vec::new()
        }
    }
}

/// The configuration of a [`PrometheusTelemetry`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusConfig {
    /// Base URL of the server, e.g. `http://127.0.0.1:9090`.
    pub url: String,
    /// Timeout of one query, whole exchange (ms). Default 5000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The graphs observed, by name.
    #[serde(default)]
    pub graphs: BTreeMap<String, GraphTelemetry>,
}

fn default_timeout_ms() -> u64 {
    5000
}

/// Offload telemetry read from Prometheus (Istio and cAdvisor metrics), one
/// [`GraphTelemetry`] a graph.
#[derive(Clone, Debug)]
pub struct PrometheusTelemetry {
    client: PromClient,
    graphs: BTreeMap<String, GraphTelemetry>,
}

impl PrometheusTelemetry {
    pub fn new(config: PrometheusConfig) -> Self {
        Self {
            client: PromClient::new(config.url, Duration::from_millis(config.timeout_ms)),
            graphs: config.graphs,
        }
    }

    pub fn client(&self) -> &PromClient {
        &self.client
    }

    /// Adds or replaces the telemetry of `graph`.
    pub fn set_graph(&mut self, graph: impl Into<String>, telemetry: GraphTelemetry) {
        self.graphs.insert(graph.into(), telemetry);
    }

    /// Forgets `graph`; true when it was known.
    pub fn remove_graph(&mut self, graph: &str) -> bool {
        self.graphs.remove(graph).is_some()
    }

    fn graph(&self, graph: &str) -> Result<&GraphTelemetry, TelemetryError> {
        self.graphs.get(graph).ok_or_else(|| TelemetryError {
            graph: graph.to_owned(),
            message: format!(
                "no Prometheus queries configured for this graph (Prometheus at {})",
                self.client.base_url()
            ),
        })
    }

    fn query(
        &self,
        graph: &str,
        query: &str,
        at: Option<f64>,
    ) -> Result<Vec<Sample>, TelemetryError> {
        self.client
            .instant_query(query, at)
            .map_err(|e| TelemetryError {
                graph: graph.to_owned(),
                message: e.to_string(),
            })
    }

    /// `label → value` of a `sum by (label)` query.
    fn by_label(
        &self,
        graph: &str,
        query: &str,
        label: &str,
        at: Option<f64>,
    ) -> Result<BTreeMap<String, f64>, TelemetryError> {
        let mut out = BTreeMap::new();
        for s in self.query(graph, query, at)? {
            *out.entry(s.label(label).to_owned()).or_insert(0.0) += s.value;
        }
        Ok(out)
    }

    /// The mean user delay (ms) of the ingress sample, NaN when there is none (no traffic, or
    /// 0/0 which Prometheus answers as NaN).
    fn ingress_delay(
        &self,
        graph: &str,
        g: &GraphTelemetry,
        at: Option<f64>,
    ) -> Result<f64, TelemetryError> {
        let samples = self.query(graph, &g.queries.user_delay_avg(), at)?;
        Ok(samples
            .iter()
            .find(|s| s.label("source_app") == g.queries.ingress_app)
            .map_or(f64::NAN, |s| s.value))
    }

    /// Services with pods (by their pod regexes) or destination-side traffic in the edge
    /// cluster, and whether the pod evidence was available.
    fn services_at_edge(
        &self,
        graph: &str,
        g: &GraphTelemetry,
    ) -> Result<(BTreeSet<String>, bool), TelemetryError> {
        let q = &g.queries;
        let mut at_edge = BTreeSet::new();
        let pods = g.pod_map();
        let pod_evidence = !pods.is_empty();
        if pod_evidence {
            let query = per_service(
                &format!("count by (pod) ({})", q.memory_usage(true)),
                &pods,
                "count",
            );
            for s in self.query(graph, &query, None)? {
                let service = s.label(SERVICE_LABEL);
                if s.value > 0.0 && q.services.iter().any(|x| x == service) {
                    at_edge.insert(service.to_owned());
                }
            }
        }
        let traffic = format!(
            "sum by (destination_app) (rate(istio_requests_total{{cluster=\"{}\",namespace=\"{}\",destination_app=~\"{}\",reporter=\"destination\",response_code=\"200\"}}[{}s]))",
            promql_string(&q.edge_cluster),
            promql_string(&q.namespace),
            regex_alternatives(&q.services),
            q.window_s.max(1)
        );
        for (service, rate) in self.by_label(graph, &traffic, "destination_app", None)? {
            if rate > 0.0 && q.services.contains(&service) {
                at_edge.insert(service);
            }
        }
        Ok((at_edge, pod_evidence))
    }

    /// The full refresh of `graph` for the SBMP strategy (research note §5): λ and λ over all
    /// edges, per-service rates, call rates, response sizes, the user delays, and CPU and memory
    /// per pod and per service in each area. All its queries are evaluated at one instant, the
    /// server's now (read first), so that ratios such as Fm come from the same samples.
    pub fn refresh(&self, graph: &str) -> Result<SbmpRefresh, TelemetryError> {
        let _span = tracing::info_span!("prometheus_refresh", graph).entered();
        let g = self.graph(graph)?;
        let q = &g.queries;
        let at = self.server_time(graph)?;
        let user_delay_ms = self.ingress_delay(graph, g, at)?;
        let user_delay_quantile_ms = match g.delay_quantile {
            Some(quantile) => Some((quantile, self.user_delay_quantile(graph, g, quantile, at)?)),
            None => None,
        };
        let total = |m: BTreeMap<String, f64>| m.values().sum::<f64>();
        let user_rate = total(self.by_label(graph, &q.user_rate(), "source_app", at)?);
        let user_rate_all_edges =
            total(self.by_label(graph, &q.user_rate_all_edges(), "source_app", at)?);
        let service_rates = self.by_label(graph, &q.service_rates(), "destination_app", at)?;
        let mut call_rates: Vec<CallRate> = self
            .query(graph, &q.call_rates(), at)?
            .into_iter()
            .map(|s| CallRate {
                source: s.label("source_app").to_owned(),
                destination: s.label("destination_app").to_owned(),
                rate: s.value,
            })
            .collect();
        call_rates.sort_by(|a, b| (&a.source, &a.destination).cmp(&(&b.source, &b.destination)));
        let response_bytes = self.by_label(graph, &q.response_bytes(), "destination_app", at)?;
        let cloud = self.area_usage(graph, g, false, at)?;
        let edge = self.area_usage(graph, g, true, at)?;
        let refresh = SbmpRefresh {
            ingress_app: q.ingress_app.clone(),
            services: q.services.clone(),
            user_delay_ms,
            user_delay_quantile_ms,
            user_rate,
            user_rate_all_edges,
            service_rates,
            call_rates,
            response_bytes,
            cloud,
            edge,
        };
        tracing::info!(
            graph,
            user_delay_ms,
            user_rate,
            services = refresh.service_rates.len(),
            calls = refresh.call_rates.len(),
            "prometheus full refresh"
        );
        Ok(refresh)
    }

    /// The server's clock (Unix seconds), so that a refresh does not depend on ours.
    fn server_time(&self, graph: &str) -> Result<Option<f64>, TelemetryError> {
        let samples = self.query(graph, "vector(time())", None)?;
        Ok(samples.first().map(|s| s.value).filter(|t| t.is_finite()))
    }

    /// The rate-weighted average over destinations of the per-destination `quantile` delay
    /// (ms); NaN without traffic.
    fn user_delay_quantile(
        &self,
        graph: &str,
        g: &GraphTelemetry,
        quantile: f64,
        at: Option<f64>,
    ) -> Result<f64, TelemetryError> {
        let (quantiles, weights) = g.queries.user_delay_quantile(quantile);
        let quantiles = self.by_label(graph, &quantiles, "destination_app", at)?;
        let weights = self.by_label(graph, &weights, "destination_app", at)?;
        let (mut num, mut den) = (0.0, 0.0);
        for (dest, w) in &weights {
            if let Some(v) = quantiles.get(dest).filter(|v| v.is_finite()) {
                if *w > 0.0 {
                    num += v * w;
                    den += w;
                }
            }
        }
        Ok(if den > 0.0 { num / den } else { f64::NAN })
    }

    fn area_usage(
        &self,
        graph: &str,
        g: &GraphTelemetry,
        edge: bool,
        at: Option<f64>,
    ) -> Result<AreaUsage, TelemetryError> {
        let q = &g.queries;
        let pods = g.pod_map();
        let (cpu_q, mem_q) = (q.cpu_usage(edge), q.memory_usage(edge));
        let (cpu_cores, memory_bytes) = if pods.is_empty() {
            (BTreeMap::new(), BTreeMap::new())
        } else {
            let per = |query: &str| -> Result<BTreeMap<String, f64>, TelemetryError> {
                let mut m =
                    self.by_label(graph, &per_service(query, &pods, "sum"), SERVICE_LABEL, at)?;
                // Pods matching no service regex carry no service label.
                m.remove("");
                Ok(m)
            };
            (per(&cpu_q)?, per(&mem_q)?)
        };
        Ok(AreaUsage {
            cpu_cores_by_pod: self.by_label(graph, &cpu_q, "pod", at)?,
            memory_bytes_by_pod: self.by_label(graph, &mem_q, "pod", at)?,
            cpu_cores,
            memory_bytes,
        })
    }
}

/// The label [`per_service`] writes the service name into.
const SERVICE_LABEL: &str = "smo_service";

/// `agg by (smo_service) (…)` of a per-pod vector, each pod labelled with the service whose
/// regexes match its name (`label_replace` anchors them, as `pod=~` does).
fn per_service(per_pod: &str, pods: &[(String, Vec<String>)], agg: &str) -> String {
    let mut expr = per_pod.to_owned();
    for (service, regexes) in pods {
        let replacement = promql_string(service).replace('$', "$$");
        expr = format!(
            "label_replace({expr}, \"{SERVICE_LABEL}\", \"{replacement}\", \"pod\", \"{}\")",
            promql_string(&regexes.join("|"))
        );
    }
    format!("{agg} by ({SERVICE_LABEL}) ({expr})")
}

impl TelemetrySource for PrometheusTelemetry {
    /// The measured loads ([`PrometheusTelemetry::measure_loads`]).
    fn loads(
        &self,
        graph: &GraphSpec,
        placement: &[PlacementEntry],
        now_s: f64,
    ) -> Result<Telemetry, TelemetryError> {
        self.measure_loads(graph, placement, now_s)
    }

    /// The mean user delay at the edge ingress, for the whole graph (per service it is the
    /// loads' measured response time).
    fn user_delay(
        &self,
        graph: &GraphSpec,
        _placement: &[PlacementEntry],
        _clusters: &[Cluster],
        _now_s: f64,
    ) -> Result<UserDelay, TelemetryError> {
        let g = self.graph(&graph.name)?;
        let delay = self.ingress_delay(&graph.name, g, None)?;
        Ok(UserDelay {
            mean_ms: delay.is_finite().then_some(delay),
            services: Vec::new(),
        })
    }

    /// The light refresh: the mean user delay at the edge ingress (NaN without traffic), and
    /// the directions possible, derived from the edge cluster: a service is at the edge when
    /// it has pods there (by its pod regexes, if known) or receives traffic there
    /// (`reporter="destination"`, the edge `cluster`). `can_unoffload`: some service is at
    /// the edge; `can_offload`: some service is not. Prometheus does not know pinned services,
    /// nor an idle service at the edge without pod regexes, so these err on "possible" (the
    /// strategy then decides). `autoscaler_active` is always false: GMA reads it from the
    /// Kubernetes autoscaling API, not Prometheus. `now_s` (the caller's clock) is only
    /// logged; queries are evaluated at the server's now.
    fn offload_observation(
        &self,
        graph: &GraphSpec,
        _placement: &[PlacementEntry],
        _clusters: &[Cluster],
        now_s: f64,
    ) -> Result<Observation, TelemetryError> {
        let name = graph.name.as_str();
        let _span = tracing::debug_span!("prometheus_observe", graph = name, now_s).entered();
        let g = self.graph(name)?;
        let delay_ms = self.ingress_delay(name, g, None)?;
        let (at_edge, pod_evidence) = self.services_at_edge(name, g)?;
        let services = g.queries.services.len();
        let observation = Observation {
            delay_ms,
            autoscaler_active: false,
            can_offload: services == 0 || at_edge.len() < services,
            can_unoffload: !at_edge.is_empty(),
        };
        tracing::debug!(
            delay_ms,
            at_edge = ?at_edge,
            pod_evidence,
            can_offload = observation.can_offload,
            can_unoffload = observation.can_unoffload,
            "prometheus observation"
        );
        Ok(observation)
    }

    /// A full [`PrometheusTelemetry::refresh`] of `graph`, mapped by [`apply_refresh`] (with
    /// the user node [`user_delay::USERS`]) and [`refresh_extra`]. A failed refresh is an
    /// error, so the action fails with it rather than going ahead on simulated figures.
    fn migration_inputs(
        &self,
        graph: &str,
        base: Telemetry,
    ) -> Result<MigrationInputs, TelemetryError> {
        let refresh = self.refresh(graph)?;
        Ok(MigrationInputs {
            telemetry: apply_refresh(base, &refresh, user_delay::USERS),
            extra: refresh_extra(&refresh),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_service_sums_label_pods_by_regex() {
        let pods = vec![
            ("s0".to_owned(), vec!["s0-.*".to_owned()]),
            (
                "a$b".to_owned(),
                vec!["ab-.*".to_owned(), "x-.*".to_owned()],
            ),
        ];
        let q = per_service("sum by (pod) (m)", &pods, "sum");
        assert_eq!(
            q,
            "sum by (smo_service) (label_replace(label_replace(sum by (pod) (m), \"smo_service\", \"s0\", \"pod\", \"s0-.*\"), \"smo_service\", \"a$$b\", \"pod\", \"ab-.*|x-.*\"))"
        );
    }

    #[test]
    fn config_is_camel_case_with_flattened_queries() {
        let json = r#"{"url":"http://p:9090","graphs":{"g":{
            "namespace":"app","services":["s0"],"cloudCluster":"c","edgeCluster":"e",
            "ingressApp":"gw","ingressNamespace":"gwns","edgePodCidrRegex":"^11.*",
            "podRegexes":["s0-.*"],"windowS":5,"delayQuantile":0.9}}}"#;
        let c: PrometheusConfig = serde_json::from_str(json).unwrap();
        assert_eq!(c.timeout_ms, 5000);
        let g = &c.graphs["g"];
        assert_eq!(g.queries.edge_cluster, "e");
        assert_eq!(g.delay_quantile, Some(0.9));
        assert_eq!(
            g.pod_map(),
            vec![("s0".to_owned(), vec!["s0-.*".to_owned()])]
        );
    }
}
