//! `[telemetry]` and `[telemetry.prometheus]`: where the loops' observations come from, and the
//! Prometheus server, queries and per-graph settings when they come from Prometheus.

use super::ConfigError;
use serde::Deserialize;
use smo_prometheus::{GraphTelemetry, PromQueries, PrometheusConfig};
use std::collections::BTreeMap;

/// Where the offload loops' observations come from (`[telemetry] source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelemetrySourceKind {
    /// The daemon's own delay model (the simulated continuum, or the no-scenario model).
    Builtin,
    /// A real Prometheus with Istio metrics (`[telemetry.prometheus]`).
    Prometheus,
}

/// `[telemetry]`: the source of the offload loops' observations.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `"builtin"` (default) or `"prometheus"`.
    pub source: String,
    /// `[telemetry.prometheus]`: the server and each graph's queries.
    pub prometheus: PrometheusSettings,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        Self {
            source: "builtin".into(),
            prometheus: PrometheusSettings::default(),
        }
    }
}

impl TelemetrySettings {
    /// The parsed `source`; the error names `telemetry.source`.
    pub fn source_kind(&self) -> Result<TelemetrySourceKind, ConfigError> {
        match self.source.as_str() {
            "builtin" => Ok(TelemetrySourceKind::Builtin),
            "prometheus" => Ok(TelemetrySourceKind::Prometheus),
            other => Err(ConfigError::Invalid {
                field: "telemetry.source".into(),
                message: format!("unknown source `{other}` (expected `builtin` or `prometheus`)"),
            }),
        }
    }

    /// Checks the source and, when it is `prometheus` or the section is filled in anyway,
    /// `[telemetry.prometheus]`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let kind = self.source_kind()?;
        if kind == TelemetrySourceKind::Prometheus
            || self.prometheus != PrometheusSettings::default()
        {
            self.prometheus.validate()?;
        }
        Ok(())
    }
}

/// `[telemetry.prometheus]`: a Prometheus server scraping Istio and cAdvisor metrics.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusSettings {
    /// Base URL, `http://` or `https://` (e.g. `http://prometheus.istio-system:9090`).
    pub url: String,
    /// Timeout of one query, whole exchange (ms).
    pub timeout_ms: u64,
    /// `[telemetry.prometheus.graphs.<graph>]`: the queries of each graph, by graph name.
    pub graphs: BTreeMap<String, PromGraphSettings>,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout_ms: 5000,
            graphs: BTreeMap::new(),
        }
    }
}

/// `[telemetry.prometheus.graphs.<graph>]`: where one graph's metrics are (research note §5).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PromGraphSettings {
    /// The application's namespace.
    pub namespace: String,
    /// Its services, as the Istio `app` label (`destination_app` / `source_app`).
    pub services: Vec<String>,
    /// Value of the `cluster` label in the cloud area (empty: series without the label).
    #[serde(default)]
    pub cloud_cluster: String,
    /// Value of the `cluster` label in the edge area.
    #[serde(default)]
    pub edge_cluster: String,
    /// The edge ingress gateway's `app` label and namespace.
    pub ingress_app: String,
    pub ingress_namespace: String,
    /// Regex on the ingress `instance` (pod IP) identifying the edge area.
    #[serde(default = "match_all")]
    pub edge_pod_cidr_regex: String,
    /// Pod-name regexes of the services' workloads (one a service, in order, pairs them).
    #[serde(default)]
    pub pod_regexes: Vec<String>,
    /// The range window of the rates (s).
    #[serde(default = "default_window_s")]
    pub window_s: u64,
    /// Pod-name regexes per service, when `pod_regexes` does not pair one to one.
    #[serde(default)]
    pub service_pods: BTreeMap<String, Vec<String>>,
    /// A quantile of the user delay to read in full refreshes too (e.g. 0.9).
    #[serde(default)]
    pub delay_quantile: Option<f64>,
}

fn match_all() -> String {
    ".*".into()
}

fn default_window_s() -> u64 {
    60
}

impl PrometheusSettings {
    /// Checks the URL, the timeout and every graph; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field: String, message: String| Err(ConfigError::Invalid { field, message });
        if let Err(message) = check_url(&self.url) {
            return invalid("telemetry.prometheus.url".into(), message);
        }
        if self.timeout_ms == 0 {
            return invalid(
                "telemetry.prometheus.timeout_ms".into(),
                "must be > 0".into(),
            );
        }
        for (name, g) in &self.graphs {
            let field = |key: &str| format!("telemetry.prometheus.graphs.{name}.{key}");
            for (key, value) in [
                ("namespace", &g.namespace),
                ("ingress_app", &g.ingress_app),
                ("ingress_namespace", &g.ingress_namespace),
            ] {
                if value.trim().is_empty() {
                    return invalid(field(key), "must not be empty".into());
                }
            }
            if g.services.is_empty() {
                return invalid(field("services"), "lists no service".into());
            }
            if let Some(i) = g.services.iter().position(|s| s.trim().is_empty()) {
                return invalid(field("services"), format!("entry {i} is empty"));
            }
            if g.window_s == 0 {
                return invalid(field("window_s"), "must be > 0 (seconds)".into());
            }
            if let Some(unknown) = g.service_pods.keys().find(|s| !g.services.contains(s)) {
                return invalid(
                    field("service_pods"),
                    format!("`{unknown}` is not one of the graph's services"),
                );
            }
            if let Some(q) = g.delay_quantile {
                if !(q > 0.0 && q < 1.0) {
                    return invalid(
                        field("delay_quantile"),
                        format!("{q} is not strictly between 0 and 1"),
                    );
                }
            }
        }
        Ok(())
    }

    /// The configuration of [`smo_prometheus::PrometheusTelemetry`].
    pub fn to_prometheus_config(&self) -> PrometheusConfig {
        PrometheusConfig {
            url: self.url.clone(),
            timeout_ms: self.timeout_ms,
            graphs: self
                .graphs
                .iter()
                .map(|(name, g)| (name.clone(), g.to_graph_telemetry()))
                .collect(),
        }
    }
}

impl PromGraphSettings {
    fn to_graph_telemetry(&self) -> GraphTelemetry {
        GraphTelemetry {
            queries: PromQueries {
                namespace: self.namespace.clone(),
                services: self.services.clone(),
                cloud_cluster: self.cloud_cluster.clone(),
                edge_cluster: self.edge_cluster.clone(),
                ingress_app: self.ingress_app.clone(),
                ingress_namespace: self.ingress_namespace.clone(),
                edge_pod_cidr_regex: self.edge_pod_cidr_regex.clone(),
                pod_regexes: self.pod_regexes.clone(),
                window_s: self.window_s,
            },
            service_pods: self.service_pods.clone(),
            delay_quantile: self.delay_quantile,
        }
    }
}

/// `Ok` for an `http://` or `https://` URL with a host; else why not.
fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err(
            "required with source = \"prometheus\" (e.g. \"http://127.0.0.1:9090\")".into(),
        );
    }
    let uri: ureq::http::Uri = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(format!(
                "`{url}`: scheme `{other}` is not supported (use http:// or https://)"
            ))
        }
        None => return Err(format!("`{url}` has no scheme (use http:// or https://)")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` names no host"));
    }
    if uri.query().is_some() {
        return Err(format!(
            "`{url}` has a query string; give the server's base URL"
        ));
    }
    Ok(())
}
