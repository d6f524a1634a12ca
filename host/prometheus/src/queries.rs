//! The Prometheus/Istio queries of the research note §5, for one application and one
//! cloud–edge pair: PromQL builders, and the escaping of what goes inside their strings.

use serde::{Deserialize, Serialize};

/// The Prometheus/Istio queries of the research note §5, for one application and one
/// cloud–edge pair. Only `response_code="200"` traffic counts; rates use `[window]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromQueries {
    /// Application namespace.
    pub namespace: String,
    /// Service names (the Istio `app` label: `destination_app` / `source_app`).
    pub services: Vec<String>,
    /// Value of the `cluster` label of each area (may be empty).
    pub cloud_cluster: String,
    pub edge_cluster: String,
    /// The edge ingress gateway: its `app` label and namespace.
    pub ingress_app: String,
    pub ingress_namespace: String,
    /// Regex on pod IPs identifying the edge area (the `instance` filter of the user rate).
    pub edge_pod_cidr_regex: String,
    /// Pod-name regexes of each service's workloads (`<workload>-.*`), all areas.
    pub pod_regexes: Vec<String>,
    /// The range window, seconds (the policy's `queryPeriodS`).
    pub window_s: u64,
}

/// Escapes regex metacharacters of a label value used inside `=~"..."`.
pub(crate) fn regex_escape(s: &str) -> String {
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
}

/// `s` (a regex as configured) inside a double-quoted PromQL string: `\` and `"` escaped, so
/// that `^10\.244\..*` reaches Prometheus as that regex.
pub(crate) fn promql_string(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Names as a `=~` alternative, regex metacharacters escaped.
pub(crate) fn regex_alternatives(names: &[String]) -> String {
    names
        .iter()
        .map(|s| regex_escape(s))
        .collect::<Vec<_>>()
        .join("|")
}

impl PromQueries {
    fn w(&self) -> String {
        format!("{}s", self.window_s.max(1))
    }

    fn services_re(&self) -> String {
        regex_alternatives(&self.services)
    }

    fn both_clusters_re(&self) -> String {
        format!(
            "{}|{}",
            regex_escape(&self.cloud_cluster),
            regex_escape(&self.edge_cluster)
        )
    }

    /// Edge ingress → services, as seen by the ingress (reporter="source").
    fn ingress_selector(&self, with_edge_filters: bool) -> String {
        let edge = if with_edge_filters {
            format!(
                "cluster=\"{}\",instance=~\"{}\",",
                self.edge_cluster,
                promql_string(&self.edge_pod_cidr_regex)
            )
        } else {
            String::new()
        };
        format!(
            "{edge}namespace=\"{}\",source_app=\"{}\",destination_app=~\"{}\",reporter=\"source\",response_code=\"200\"",
            self.ingress_namespace,
            self.ingress_app,
            self.services_re()
        )
    }

    /// Mean user delay at the edge ingress (ms): duration sum rate / count rate.
    pub fn user_delay_avg(&self) -> String {
        let sel = format!(
            "cluster=\"{}\",namespace=\"{}\",source_app=\"{}\",destination_app=~\"{}\",reporter=\"source\",response_code=\"200\"",
            self.edge_cluster,
            self.ingress_namespace,
            self.ingress_app,
            self.services_re()
        );
        format!(
            "sum by (source_app) (rate(istio_request_duration_milliseconds_sum{{{sel}}}[{w}])) / sum by (source_app) (rate(istio_request_duration_milliseconds_count{{{sel}}}[{w}]))",
            w = self.w()
        )
    }

    /// The two queries of the quantile user delay: the `q`-quantile per destination, and the
    /// per-destination request rate (the `le="+Inf"` bucket) used to weight their average.
    pub fn user_delay_quantile(&self, q: f64) -> (String, String) {
        let sel = format!(
            "cluster=\"{}\",namespace=\"{}\",source_app=\"{}\",destination_app=~\"{}\",reporter=\"source\",response_code=\"200\"",
            self.edge_cluster,
            self.ingress_namespace,
            self.ingress_app,
            self.services_re()
        );
        (
            format!(
                "histogram_quantile({q}, sum by (destination_app, le) (rate(istio_request_duration_milliseconds_bucket{{{sel}}}[{w}])))",
                w = self.w()
            ),
            format!(
                "sum by (destination_app) (rate(istio_request_duration_milliseconds_bucket{{{sel},le=\"+Inf\"}}[{w}]))",
                w = self.w()
            ),
        )
    }

    /// λ: user requests per second entering at this edge.
    pub fn user_rate(&self) -> String {
        format!(
            "sum by (source_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.ingress_selector(true),
            self.w()
        )
    }

    /// λ over all edges (the multi-edge resource scaling is `user_rate / user_rate_all_edges`).
    pub fn user_rate_all_edges(&self) -> String {
        format!(
            "sum by (source_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.ingress_selector(false),
            self.w()
        )
    }

    fn app_selector(&self, sources: bool) -> String {
        let src = if sources {
            format!(
                "source_app=~\"{}|{}\",",
                regex_escape(&self.ingress_app),
                self.services_re()
            )
        } else {
            String::new()
        };
        format!(
            "cluster=~\"{}\",namespace=\"{}\",{src}reporter=\"destination\",response_code=\"200\"",
            self.both_clusters_re(),
            self.namespace
        )
    }

    /// Mean response size per service (bytes): increase of the byte sum / of the count.
    pub fn response_bytes(&self) -> String {
        let sel = self.app_selector(false);
        format!(
            "sum by (destination_app) (increase(istio_response_bytes_sum{{{sel}}}[{w}])) / sum by (destination_app) (increase(istio_response_bytes_count{{{sel}}}[{w}]))",
            w = self.w()
        )
    }

    /// Requests per second received by each service.
    pub fn service_rates(&self) -> String {
        format!(
            "sum by (destination_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.app_selector(true),
            self.w()
        )
    }

    /// Mean time each service took to answer (ms), as it reports it (`reporter="destination"`):
    /// duration sum rate / count rate, per destination.
    pub fn service_response_ms(&self) -> String {
        let sel = self.app_selector(true);
        format!(
            "sum by (destination_app) (rate(istio_request_duration_milliseconds_sum{{{sel}}}[{w}])) / sum by (destination_app) (rate(istio_request_duration_milliseconds_count{{{sel}}}[{w}]))",
            w = self.w()
        )
    }

    /// Calls per second between each pair (`Fm[i][j] = rate(i→j) / rate into i`; the ingress
    /// row divides by λ).
    pub fn call_rates(&self) -> String {
        format!(
            "sum by (source_app, destination_app) (rate(istio_requests_total{{{}}}[{}]))",
            self.app_selector(true),
            self.w()
        )
    }

    fn pod_selector(&self, cluster: &str) -> String {
        format!(
            "cluster=\"{cluster}\",namespace=\"{}\",pod=~\"{}\",container!=\"istio-proxy\",container!=\"\"",
            self.namespace,
            promql_string(&self.pod_regexes.join("|"))
        )
    }

    /// CPU cores used per pod in the cloud (`edge == false`) or edge area; the host sums the
    /// pods matching each service's regex.
    pub fn cpu_usage(&self, edge: bool) -> String {
        let cluster = if edge {
            &self.edge_cluster
        } else {
            &self.cloud_cluster
        };
        format!(
            "sum by (pod) (rate(container_cpu_usage_seconds_total{{{}}}[{}]))",
            self.pod_selector(cluster),
            self.w()
        )
    }

    /// Memory bytes used per pod in an area (instant).
    pub fn memory_usage(&self, edge: bool) -> String {
        let cluster = if edge {
            &self.edge_cluster
        } else {
            &self.cloud_cluster
        };
        format!(
            "sum by (pod) (container_memory_usage_bytes{{{}}})",
            self.pod_selector(cluster)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_queries() {
        let q = PromQueries {
            namespace: "app".into(),
            services: vec!["s0".into(), "s1".into()],
            cloud_cluster: "cloud".into(),
            edge_cluster: "edge1".into(),
            ingress_app: "istio-ingress".into(),
            ingress_namespace: "istio-ingress".into(),
            edge_pod_cidr_regex: "^11.244.*".into(),
            pod_regexes: vec!["s0-.*".into(), "s1-.*".into()],
            window_s: 120,
        };
        let d = q.user_delay_avg();
        assert!(d.contains("istio_request_duration_milliseconds_sum{cluster=\"edge1\""));
        assert!(d.contains("destination_app=~\"s0|s1\""));
        assert!(d.contains("[120s]"));
        assert!(q.user_rate().contains("instance=~\"^11.244.*\""));
        // Configured regexes are escaped for the PromQL string they go in.
        let mut escaped = q.clone();
        escaped.edge_pod_cidr_regex = "^10\\.244\\..*".into();
        escaped.pod_regexes = vec!["web-\\w+".into()];
        assert!(escaped
            .user_rate()
            .contains(r#"instance=~"^10\\.244\\..*""#));
        assert!(escaped.cpu_usage(true).contains(r#"pod=~"web-\\w+""#));
        assert!(!q.user_rate_all_edges().contains("cluster="));
        assert!(q
            .call_rates()
            .contains("sum by (source_app, destination_app)"));
        assert!(q.call_rates().contains("cluster=~\"cloud|edge1\""));
        assert!(q
            .response_bytes()
            .contains("increase(istio_response_bytes_count"));
        assert!(q.cpu_usage(true).contains("container!=\"istio-proxy\""));
        assert!(q.memory_usage(false).contains("cluster=\"cloud\""));
        let response = q.service_response_ms();
        assert!(
            response.contains("istio_request_duration_milliseconds_sum{cluster=~\"cloud|edge1\"")
        );
        assert!(response.contains("reporter=\"destination\""));
        let (quant, weights) = q.user_delay_quantile(0.9);
        assert!(quant.starts_with("histogram_quantile(0.9, sum by (destination_app, le)"));
        assert!(weights.contains("le=\"+Inf\""));
        assert_eq!(regex_escape("a.b"), "a\\\\.b");
        assert_eq!(regex_alternatives(&["a.b".into(), "c".into()]), "a\\\\.b|c");
    }
}
