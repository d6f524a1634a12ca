//! A client of the Prometheus HTTP API (`/api/v1/query`): instant queries, with one timeout
//! for the whole exchange, and the answer parsed into samples or a named error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
}
