//! Offload telemetry from a real Prometheus (research note §5): an HTTP API client for instant
//! queries, and [`PrometheusTelemetry`] (light [`OffloadTelemetry`] observations, and the full
//! refresh that feeds the migration strategy of an action, [`apply_refresh`] and
//! [`refresh_extra`]).

use super::offload::{MigrationInputs, Observation, OffloadTelemetry, PromQueries, TelemetryError};
use super::user_delay;
use serde::{Deserialize, Serialize};
use smo_plugin_api::{RVec, ServiceLoad, Telemetry};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One sample of an instant vector: its labels (`__name__` included when Prometheus kept it),
/// its value and its evaluation time (Unix seconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub timestamp_s: f64,
}

impl Sample {
    /// The value of label `name`, `""` when absent (as PromQL treats it).
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Why a Prometheus query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    /// Nothing listens at the URL (or the host cannot be reached).
    #[error("cannot connect to Prometheus at {url}: {detail}")]
    Connect { url: String, detail: String },
    /// No complete answer within the configured timeout.
    #[error("Prometheus at {url} did not answer within {timeout_ms} ms (query `{query}`)")]
    Timeout {
        url: String,
        query: String,
        timeout_ms: u128,
    },
    /// A non-2xx status without a Prometheus error document.
    #[error("Prometheus at {url} answered HTTP {status} to query `{query}`: {body}")]
    Status {
        url: String,
        status: u16,
        query: String,
        body: String,
    },
    /// Prometheus answered `"status": "error"` (a bad query, a timeout on its side, …).
    #[error("Prometheus refused query `{query}`: {error_type}: {error}")]
    Query {
        query: String,
        error_type: String,
        error: String,
    },
    /// The body is not the JSON document of the HTTP API.
    #[error("Prometheus at {url} sent a malformed answer to query `{query}`: {detail}")]
    Malformed {
        url: String,
        query: String,
        detail: String,
    },
    /// The query evaluated to a scalar, a string or a matrix instead of an instant vector.
    #[error("query `{query}` gave a {result_type} result, an instant vector was expected")]
    NotVector { query: String, result_type: String },
    /// Any other transport failure.
    #[error("HTTP request to Prometheus at {url} failed: {detail}")]
    Http { url: String, detail: String },
}

/// A client of the Prometheus HTTP API (`/api/v1/query`), blocking, with one timeout for the
/// whole exchange. Proxies come from the environment as in `ureq`.
#[derive(Clone, Debug)]
pub struct PromClient {
    base_url: String,
    timeout: Duration,
    agent: ureq::Agent,
}

/// At most this many bytes of an unexpected body are quoted in an error.
const QUOTE_LIMIT: usize = 512;

fn quote(body: &str) -> String {
    let body = body.trim();
    if body.len() <= QUOTE_LIMIT {
        return body.to_owned();
    }
    let mut end = QUOTE_LIMIT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

impl PromClient {
    /// A client of the server at `base_url` (e.g. `http://127.0.0.1:9090`; a trailing `/` is
    /// ignored).
    pub fn new(base_url: impl Into<String>, timeout: Duration) -> Self {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self {
            base_url,
            timeout,
            agent,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Evaluates `query` at `time_s` (Unix seconds; `None`: the server's now) and returns the
    /// samples of the instant vector (empty when nothing matched).
    pub fn instant_query(
        &self,
        query: &str,
        time_s: Option<f64>,
    ) -> Result<Vec<Sample>, PromError> {
        let _span = tracing::debug_span!("prometheus_query", url = %self.base_url, query).entered();
        let url = format!("{}/api/v1/query", self.base_url);
        let mut request = self.agent.get(&url).query("query", query);
        if let Some(t) = time_s {
            request = request.query("time", format!("{t:.3}"));
        }
        let response = request.call().map_err(|e| self.transport_error(e, query))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .read_to_string()
            .map_err(|e| self.transport_error(e, query))?;
        let samples = parse_query_response(&self.base_url, query, status, &body)?;
        tracing::debug!(samples = samples.len(), "prometheus query answered");
        Ok(samples)
    }

    fn transport_error(&self, e: ureq::Error, query: &str) -> PromError {
        let url = self.base_url.clone();
        match e {
            ureq::Error::Io(io) if is_connect_error(io.kind()) => PromError::Connect {
                url,
                detail: io.to_string(),
            },
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => PromError::Connect {
                url,
                detail: e.to_string(),
            },
            ureq::Error::Timeout(_) => PromError::Timeout {
                url,
                query: query.to_owned(),
                timeout_ms: self.timeout.as_millis(),
            },
            other => PromError::Http {
                url,
                detail: other.to_string(),
            },
        }
    }
}

fn is_connect_error(kind: std::io::ErrorKind) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        kind,
        ConnectionRefused | ConnectionReset | ConnectionAborted | NotConnected | AddrNotAvailable
    )
}

/// Parses a `/api/v1/query` answer (HTTP `status`, `body`) into the samples of an instant
/// vector. `url` and `query` only name things in errors.
pub fn parse_query_response(
    url: &str,
    query: &str,
    status: u16,
    body: &str,
) -> Result<Vec<Sample>, PromError> {
    let malformed = |detail: String| PromError::Malformed {
        url: url.to_owned(),
        query: query.to_owned(),
        detail,
    };
    let doc: serde_json::Value = match serde_json::from_str(body) {
        Ok(doc) => doc,
        Err(e) if (200..300).contains(&status) => {
            return Err(malformed(format!("{e} in `{}`", quote(body))))
        }
        Err(_) => {
            return Err(PromError::Status {
                url: url.to_owned(),
                status,
                query: query.to_owned(),
                body: quote(body),
            })
        }
    };
    // Prometheus answers 400/422/503 with an error document: report its own words.
    if doc.get("status").and_then(|s| s.as_str()) == Some("error") {
        let text = |k: &str| doc.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        return Err(PromError::Query {
            query: query.to_owned(),
            error_type: text("errorType"),
            error: text("error"),
        });
    }
    if !(200..300).contains(&status) {
        return Err(PromError::Status {
            url: url.to_owned(),
            status,
            query: query.to_owned(),
            body: quote(body),
        });
    }
    if doc.get("status").and_then(|s| s.as_str()) != Some("success") {
        return Err(malformed(format!(
            "no \"status\": \"success\" in `{}`",
            quote(body)
        )));
    }
    let data = doc
        .get("data")
        .ok_or_else(|| malformed("no \"data\" member".into()))?;
    let result_type = data
        .get("resultType")
        .and_then(|t| t.as_str())
        .ok_or_else(|| malformed("no \"data.resultType\" string".into()))?;
    if result_type != "vector" {
        return Err(PromError::NotVector {
            query: query.to_owned(),
            result_type: result_type.to_owned(),
        });
    }
    let result = data
        .get("result")
        .and_then(|r| r.as_array())
        .ok_or_else(|| malformed("no \"data.result\" array".into()))?;
    result
        .iter()
        .enumerate()
        .map(|(i, item)| parse_sample(item).map_err(|why| malformed(format!("sample {i}: {why}"))))
        .collect()
}

fn parse_sample(item: &serde_json::Value) -> Result<Sample, String> {
    let labels = match item.get("metric") {
        None => BTreeMap::new(),
        Some(m) => m
            .as_object()
            .ok_or("\"metric\" is not an object")?
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_owned()))
                    .ok_or_else(|| format!("label `{k}` is not a string"))
            })
            .collect::<Result<_, _>>()?,
    };
    let pair = item
        .get("value")
        .and_then(|v| v.as_array())
        .filter(|a| a.len() == 2)
        .ok_or("\"value\" is not a [time, \"value\"] pair")?;
    let timestamp_s = pair[0].as_f64().ok_or("the sample time is not a number")?;
    let text = pair[1].as_str().ok_or("the sample value is not a string")?;
    let value = parse_value(text).ok_or_else(|| format!("bad sample value `{text}`"))?;
    Ok(Sample {
        labels,
        value,
        timestamp_s,
    })
}

/// A Prometheus float: decimal, `NaN`, `+Inf`, `-Inf`.
fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

/// Escapes `s` for a double-quoted PromQL string.
fn promql_str(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

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

/// CPU and memory of one area (cloud or edge).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AreaUsage {
    /// CPU cores used, per pod (rate over the window).
    pub cpu_cores_by_pod: BTreeMap<String, f64>,
    /// Memory bytes used, per pod (instant).
    pub memory_bytes_by_pod: BTreeMap<String, f64>,
    /// CPU cores per service (its pods summed); empty when the pods of services are unknown.
    pub cpu_cores: BTreeMap<String, f64>,
    /// Memory bytes per service; empty when the pods of services are unknown.
    pub memory_bytes: BTreeMap<String, f64>,
}

/// One edge of the measured call graph: `rate` calls per second from `source` to
/// `destination` (the ingress app is a source like the services).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRate {
    pub source: String,
    pub destination: String,
    pub rate: f64,
}

/// The full refresh of research note §5, before an offload or unoffload. Services without
/// traffic in the window are absent from the maps; unknown delays are NaN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbmpRefresh {
    /// The ingress app (the user node of the call graph).
    pub ingress_app: String,
    /// The services, in the order of [`PromQueries::services`] (node `i` of the call graph).
    pub services: Vec<String>,
    /// Mean user delay at the edge ingress (ms).
    pub user_delay_ms: f64,
    /// The configured quantile and the rate-weighted user delay at it (ms), if configured.
    pub user_delay_quantile_ms: Option<(f64, f64)>,
    /// λ: user requests per second entering at this edge.
    pub user_rate: f64,
    /// λ over all edges.
    pub user_rate_all_edges: f64,
    /// Requests per second received by each service (both areas).
    pub service_rates: BTreeMap<String, f64>,
    /// Calls per second between apps (both areas), sorted by source then destination.
    pub call_rates: Vec<CallRate>,
    /// Mean response size per service (bytes).
    pub response_bytes: BTreeMap<String, f64>,
    pub cloud: AreaUsage,
    pub edge: AreaUsage,
}

impl SbmpRefresh {
    /// GMA's multi-edge resource scaling `λ / λ_all` (1 when there is no traffic at all).
    pub fn resource_scaling(&self) -> f64 {
        if self.user_rate_all_edges > 0.0 {
            self.user_rate / self.user_rate_all_edges
        } else {
            1.0
        }
    }

    /// The call frequencies Fm as `(i, j, Fm[i][j])`, nodes numbered as
    /// [`SbmpRefresh::services`] with the user last: `Fm[i][j] = rate(i→j) / rate into i`, and
    /// for the user row `rate(ingress→j) / λ` (research note §5). Edges whose divisor is not
    /// positive, or naming unknown apps, are left out.
    pub fn call_frequencies(&self) -> Vec<(usize, usize, f64)> {
        let index = |app: &str| self.services.iter().position(|s| s == app);
        let user = self.services.len();
        self.call_rates
            .iter()
            .filter_map(|c| {
                let j = index(&c.destination)?;
                let (i, divisor) = if c.source == self.ingress_app {
                    (user, self.user_rate)
                } else {
                    let i = index(&c.source)?;
                    (i, self.service_rates.get(&c.source).copied().unwrap_or(0.0))
                };
                (divisor > 0.0).then(|| (i, j, c.rate / divisor))
            })
            .collect()
    }
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
    fn user_delay(
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
            promql_str(&q.edge_cluster),
            promql_str(&q.namespace),
            services_re(&q.services),
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
        let user_delay_ms = self.user_delay(graph, g, at)?;
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
        let replacement = promql_str(service).replace('$', "$$");
        expr = format!(
            "label_replace({expr}, \"{SERVICE_LABEL}\", \"{replacement}\", \"pod\", \"{}\")",
            promql_str(&regexes.join("|"))
        );
    }
    format!("{agg} by ({SERVICE_LABEL}) ({expr})")
}

/// Service names as a `=~` alternative, regex metacharacters escaped.
fn services_re(services: &[String]) -> String {
    services
        .iter()
        .map(|s| {
            let mut out = String::with_capacity(s.len());
            for c in s.chars() {
                if "\\.+*?()|[]{}^$".contains(c) {
                    out.push_str("\\\\");
                } else if c == '"' {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// A measured quantity usable as a rate, a size or a usage: finite and not negative, else 0
/// (absent: no traffic or no pod in the window; NaN: Prometheus's 0/0).
fn measured(v: Option<&f64>) -> f64 {
    v.copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0)
}

/// `base` with the measurements of `refresh` in place of the host's own figures (research note
/// §2: what GMA gives its strategy connector):
///
/// - `loads`: one a service of `base.loads`, then one for each service of the refresh that
///   `base` lacks; `current_rps` = `predicted_rps` = the measured rate into the service (0
///   without traffic), `response_time_ms` = the measured mean user delay (0 when unknown).
///   `cpu_utilisation` and `memory_utilisation` stay `base`'s: they are fractions of the
///   requests, which Prometheus does not know; the measured cores and bytes go in
///   `request.extra` instead ([`refresh_extra`]).
/// - `calls`: the measured call rates (Fm × λ), the ingress app renamed `users_node` (the user
///   node of the strategies, [`user_delay::USERS`]); calls from or to an app that is neither a
///   service nor the ingress, calls to the ingress, and rates that are not positive are left
///   out. `mean_response_bytes` is the callee's measured response size (0 when unknown).
/// - `links` and `time_unix_s` stay `base`'s.
pub fn apply_refresh(base: Telemetry, refresh: &SbmpRefresh, users_node: &str) -> Telemetry {
    let delay = measured(Some(&refresh.user_delay_ms));
    let mut names: Vec<String> = base.loads.iter().map(|l| l.service.to_string()).collect();
    for s in &refresh.services {
        if !names.contains(s) {
            names.push(s.clone());
        }
    }
    let loads: Vec<ServiceLoad> = names
        .iter()
        .map(|name| {
            let rps = measured(refresh.service_rates.get(name));
            let before = base.loads.iter().find(|l| l.service.as_str() == name);
            ServiceLoad {
                service: name.as_str().into(),
                current_rps: rps,
                predicted_rps: rps,
                cpu_utilisation: before.map_or(0.0, |l| l.cpu_utilisation),
                memory_utilisation: before.map_or(0.0, |l| l.memory_utilisation),
                response_time_ms: delay,
            }
        })
        .collect();
    let service = |app: &str| refresh.services.iter().any(|s| s == app);
    let calls: Vec<smo_plugin_api::CallRate> = refresh
        .call_rates
        .iter()
        .filter(|c| c.rate.is_finite() && c.rate > 0.0 && service(&c.destination))
        .filter_map(|c| {
            let from = if c.source == refresh.ingress_app {
                users_node
            } else if service(&c.source) {
                c.source.as_str()
            } else {
                return None;
            };
            Some(smo_plugin_api::CallRate {
                from: from.into(),
                to: c.destination.as_str().into(),
                rps: c.rate,
                mean_response_bytes: measured(refresh.response_bytes.get(&c.destination)),
            })
        })
        .collect();
    Telemetry {
        time_unix_s: base.time_unix_s,
        loads: RVec::from(loads),
        links: base.links,
        calls: RVec::from(calls),
    }
}

/// The members of `request.extra` a refresh gives (those `sbmp-gma/offload` reads):
/// `meResourceScaling` = λ / λ over all edges (when positive), and `usage` = the measured CPU
/// cores and memory (MiB) of each service of the refresh in the cloud and at the edge
/// (`cloudCpu`, `edgeCpu`, `cloudMemoryMib`, `edgeMemoryMib`; 0 where it has no pod). `usage`
/// is left out when the pods of services are unknown (no per-service sums at all), so that the
/// strategy derives usage from the loads.
pub fn refresh_extra(refresh: &SbmpRefresh) -> serde_json::Map<String, serde_json::Value> {
    const MIB: f64 = 1024.0 * 1024.0;
    let mut extra = serde_json::Map::new();
    let scaling = refresh.resource_scaling();
    if scaling.is_finite() && scaling > 0.0 {
        extra.insert("meResourceScaling".into(), scaling.into());
    }
    let (cloud, edge) = (&refresh.cloud, &refresh.edge);
    let known = [
        &cloud.cpu_cores,
        &cloud.memory_bytes,
        &edge.cpu_cores,
        &edge.memory_bytes,
    ]
    .iter()
    .any(|m| !m.is_empty());
    if known {
        let usage: serde_json::Map<String, serde_json::Value> = refresh
            .services
            .iter()
            .map(|s| {
                let v = serde_json::json!({
                    "cloudCpu": measured(cloud.cpu_cores.get(s)),
                    "edgeCpu": measured(edge.cpu_cores.get(s)),
                    "cloudMemoryMib": measured(cloud.memory_bytes.get(s)) / MIB,
                    "edgeMemoryMib": measured(edge.memory_bytes.get(s)) / MIB,
                });
                (s.clone(), v)
            })
            .collect();
        extra.insert("usage".into(), usage.into());
    }
    extra
}

impl OffloadTelemetry for PrometheusTelemetry {
    /// The light refresh: the mean user delay at the edge ingress (NaN without traffic), and
    /// the directions possible, derived from the edge cluster: a service is at the edge when
    /// it has pods there (by its pod regexes, if known) or receives traffic there
    /// (`reporter="destination"`, the edge `cluster`). `can_unoffload`: some service is at
    /// the edge; `can_offload`: some service is not. Prometheus does not know pinned services,
    /// nor an idle service at the edge without pod regexes, so these err on "possible" (the
    /// strategy then decides). `autoscaler_active` is always false: GMA reads it from the
    /// Kubernetes autoscaling API, not Prometheus. `now` (the caller's clock) is only logged;
    /// queries are evaluated at the server's now.
    fn observe(&mut self, graph: &str, now: Duration) -> Result<Observation, TelemetryError> {
        let _span =
            tracing::debug_span!("prometheus_observe", graph, now_s = now.as_secs_f64()).entered();
        let g = self.graph(graph)?;
        let delay_ms = self.user_delay(graph, g, None)?;
        let (at_edge, pod_evidence) = self.services_at_edge(graph, g)?;
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
        &mut self,
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

    fn parse(status: u16, body: &str) -> Result<Vec<Sample>, PromError> {
        parse_query_response("http://prom:9090", "up", status, body)
    }

    #[test]
    fn a_vector_gives_its_samples_with_labels() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"source_app":"istio-ingress","job":"x"},"value":[1700000000.5,"42.25"]},
            {"metric":{},"value":[1700000000.5,"NaN"]},
            {"metric":{"le":"+Inf"},"value":[1700000000.5,"+Inf"]}]}}"#;
        let samples = parse(200, body).unwrap();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].label("source_app"), "istio-ingress");
        assert_eq!(samples[0].label("absent"), "");
        assert_eq!(samples[0].value, 42.25);
        assert_eq!(samples[0].timestamp_s, 1_700_000_000.5);
        assert!(samples[1].value.is_nan());
        assert!(samples[1].labels.is_empty());
        assert_eq!(samples[2].value, f64::INFINITY);
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse(200, empty).unwrap().is_empty());
    }

    #[test]
    fn a_scalar_is_not_a_vector() {
        let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#;
        let e = parse(200, body).unwrap_err();
        assert_eq!(
            e,
            PromError::NotVector {
                query: "up".into(),
                result_type: "scalar".into()
            }
        );
        assert!(e.to_string().contains("scalar"), "{e}");
    }

    #[test]
    fn a_prometheus_error_names_the_query_and_its_words() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"1:3: parse error: unexpected end of input"}"#;
        let e = parse(400, body).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, PromError::Query { .. }), "{e:?}");
        assert!(text.contains("`up`"), "{text}");
        assert!(text.contains("bad_data"), "{text}");
        assert!(
            text.contains("parse error: unexpected end of input"),
            "{text}"
        );
        // The same document with a 200 is still an error.
        assert!(matches!(parse(200, body), Err(PromError::Query { .. })));
    }

    #[test]
    fn malformed_answers_and_bad_statuses_are_named() {
        let e = parse(200, "{not json").unwrap_err();
        assert!(matches!(e, PromError::Malformed { .. }), "{e:?}");
        assert!(e.to_string().contains("http://prom:9090"), "{e}");
        for body in [
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"vector"}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}"#,
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}"#,
            r#"{"data":{"resultType":"vector","result":[]}}"#,
        ] {
            assert!(
                matches!(parse(200, body), Err(PromError::Malformed { .. })),
                "{body}"
            );
        }
        let e = parse(502, "<html>bad gateway</html>").unwrap_err();
        assert!(matches!(e, PromError::Status { status: 502, .. }), "{e:?}");
        assert!(e.to_string().contains("bad gateway"), "{e}");
        let long = "x".repeat(5000);
        let text = parse(500, &long).unwrap_err().to_string();
        assert!(text.len() < 1000, "{}", text.len());
    }

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
        assert_eq!(services_re(&["a.b".into(), "c".into()]), "a\\\\.b|c");
    }

    #[test]
    fn call_frequencies_divide_by_the_callers_rate() {
        let r = SbmpRefresh {
            ingress_app: "gw".into(),
            services: vec!["s0".into(), "s1".into()],
            user_delay_ms: 1.0,
            user_delay_quantile_ms: None,
            user_rate: 10.0,
            user_rate_all_edges: 40.0,
            service_rates: [("s0".to_owned(), 10.0), ("s1".to_owned(), 5.0)].into(),
            call_rates: vec![
                CallRate {
                    source: "gw".into(),
                    destination: "s0".into(),
                    rate: 10.0,
                },
                CallRate {
                    source: "s0".into(),
                    destination: "s1".into(),
                    rate: 5.0,
                },
                CallRate {
                    source: "other".into(),
                    destination: "s1".into(),
                    rate: 5.0,
                },
            ],
            response_bytes: BTreeMap::new(),
            cloud: AreaUsage::default(),
            edge: AreaUsage::default(),
        };
        assert_eq!(r.call_frequencies(), vec![(2, 0, 1.0), (0, 1, 0.5)]);
        assert_eq!(r.resource_scaling(), 0.25);
    }

    fn call(source: &str, destination: &str, rate: f64) -> CallRate {
        CallRate {
            source: source.into(),
            destination: destination.into(),
            rate,
        }
    }

    /// gw → s0 (10/s), s0 → s1 (5/s), plus calls the mapping must drop.
    fn shop_refresh() -> SbmpRefresh {
        let map = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
        };
        SbmpRefresh {
            ingress_app: "gw".into(),
            services: vec!["s0".into(), "s1".into()],
            user_delay_ms: 87.5,
            user_delay_quantile_ms: None,
            user_rate: 10.0,
            user_rate_all_edges: 40.0,
            service_rates: map(&[("s0", 10.0), ("s1", 5.0)]),
            call_rates: vec![
                call("gw", "s0", 10.0),
                call("loadgen", "s1", 3.0),
                call("s0", "gw", 1.0),
                call("s0", "s1", 5.0),
                call("s1", "s0", 0.0),
                call("s1", "s1", f64::NAN),
            ],
            response_bytes: map(&[("s0", 2000.0), ("s1", f64::NAN)]),
            cloud: AreaUsage {
                cpu_cores: map(&[("s0", 0.5), ("s1", 2.0)]),
                memory_bytes: map(&[("s0", 2.0 * 1024.0 * 1024.0), ("s1", 1024.0 * 1024.0)]),
                ..AreaUsage::default()
            },
            edge: AreaUsage {
                cpu_cores: map(&[("s0", 0.25)]),
                memory_bytes: map(&[("s0", 512.0 * 1024.0)]),
                ..AreaUsage::default()
            },
        }
    }

    fn load(service: &str, rps: f64, cpu: f64) -> ServiceLoad {
        ServiceLoad {
            service: service.into(),
            current_rps: rps,
            predicted_rps: rps * 2.0,
            cpu_utilisation: cpu,
            memory_utilisation: cpu / 2.0,
            response_time_ms: 3.0,
        }
    }

    fn base() -> Telemetry {
        Telemetry {
            time_unix_s: 1_700_000_000,
            loads: RVec::from(vec![load("s1", 99.0, 0.8), load("old", 7.0, 0.1)]),
            links: RVec::from(vec![smo_plugin_api::Link {
                from: "cloud".into(),
                to: "edge".into(),
                latency_ms: 30.0,
                bandwidth_mbps: 100.0,
            }]),
            calls: RVec::from(vec![smo_plugin_api::CallRate {
                from: "users".into(),
                to: "s1".into(),
                rps: 99.0,
                mean_response_bytes: 20480.0,
            }]),
        }
    }

    #[test]
    fn a_refresh_replaces_the_loads_and_calls_and_keeps_the_links() {
        let base = base();
        let t = apply_refresh(base.clone(), &shop_refresh(), "users");
        assert_eq!(t.time_unix_s, base.time_unix_s);
        assert_eq!(t.links, base.links);
        // Base order first, then the refresh's services it lacked; utilisation kept.
        let loads: Vec<(&str, f64, f64, f64, f64, f64)> = t
            .loads
            .iter()
            .map(|l| {
                (
                    l.service.as_str(),
                    l.current_rps,
                    l.predicted_rps,
                    l.cpu_utilisation,
                    l.memory_utilisation,
                    l.response_time_ms,
                )
            })
            .collect();
        assert_eq!(
            loads,
            [
                ("s1", 5.0, 5.0, 0.8, 0.4, 87.5),
                ("old", 0.0, 0.0, 0.1, 0.05, 87.5),
                ("s0", 10.0, 10.0, 0.0, 0.0, 87.5),
            ]
        );
        // The ingress becomes the user node; loadgen, calls to the ingress, zero and NaN
        // rates are dropped; sizes are the callee's (NaN: 0).
        let calls: Vec<(&str, &str, f64, f64)> = t
            .calls
            .iter()
            .map(|c| (c.from.as_str(), c.to.as_str(), c.rps, c.mean_response_bytes))
            .collect();
        assert_eq!(
            calls,
            [("users", "s0", 10.0, 2000.0), ("s0", "s1", 5.0, 0.0)]
        );
        // Another user node name is used as given.
        let t = apply_refresh(base, &shop_refresh(), "ingress");
        assert_eq!(t.calls[0].from.as_str(), "ingress");
    }

    #[test]
    fn an_unknown_delay_is_a_zero_response_time() {
        let mut r = shop_refresh();
        r.user_delay_ms = f64::NAN;
        r.service_rates.insert("s0".into(), f64::NAN);
        let t = apply_refresh(Telemetry::default(), &r, "users");
        assert!(t.loads.iter().all(|l| l.response_time_ms == 0.0));
        assert_eq!(t.loads[0].service.as_str(), "s0");
        assert_eq!(t.loads[0].current_rps, 0.0);
    }

    #[test]
    fn the_extra_gives_usage_in_mib_and_the_resource_scaling() {
        let extra = refresh_extra(&shop_refresh());
        assert_eq!(
            serde_json::Value::Object(extra),
            serde_json::json!({
                "meResourceScaling": 0.25,
                "usage": {
                    "s0": {"cloudCpu": 0.5, "edgeCpu": 0.25, "cloudMemoryMib": 2.0, "edgeMemoryMib": 0.5},
                    "s1": {"cloudCpu": 2.0, "edgeCpu": 0.0, "cloudMemoryMib": 1.0, "edgeMemoryMib": 0.0},
                }
            })
        );
        // Pods of services unknown: no usage. No user traffic here but some elsewhere: a
        // scaling of 0 is left out (the strategy's default is 1).
        let mut r = shop_refresh();
        r.cloud = AreaUsage::default();
        r.edge = AreaUsage::default();
        r.user_rate = 0.0;
        assert!(refresh_extra(&r).is_empty(), "{:?}", refresh_extra(&r));
    }

    #[test]
    fn the_default_migration_inputs_are_the_base() {
        struct Fixed;
        impl OffloadTelemetry for Fixed {
            fn observe(&mut self, _: &str, _: Duration) -> Result<Observation, TelemetryError> {
                unreachable!()
            }
        }
        let inputs = Fixed.migration_inputs("g", base()).unwrap();
        assert_eq!(inputs, MigrationInputs::from(base()));
        assert!(inputs.extra.is_empty());
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
