//! A load test over real HTTP: client threads send requests for a while and the requests/s
//! and latency percentiles of the timed requests are printed (and returned).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a load test measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// A request of the load test: a path and, for a deploy, the descriptor (the graph is deleted
/// again after the timed deploy, so the inventory never fills up).
pub struct Call {
    pub path: String,
    pub deploy: Option<(String, String)>,
}

/// `threads` clients for `duration`, each request from `make(thread, i)`; prints requests/s
/// and latency percentiles of the timed requests.
pub fn load(
    label: &str,
    threads: usize,
    duration: Duration,
    make: impl Fn(usize, u64) -> Call + Send + Sync + 'static,
    addr: &str,
    token: &str,
) -> Measured {
    let make = Arc::new(make);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (make, addr, token) = (Arc::clone(&make), addr.to_owned(), token.to_owned());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let auth = format!("Bearer {token}");
                let mut latencies = Vec::new();
                let mut i = 0u64;
                while started.elapsed() < duration {
                    let call = make(t, i);
                    let url = format!("http://{addr}{}", call.path);
                    let begin = Instant::now();
                    let response = match &call.deploy {
                        Some((_, text)) => agent
                            .post(&url)
                            .header("Authorization", &auth)
                            .content_type("application/yaml")
                            .send(text.as_bytes()),
                        None => agent.get(&url).header("Authorization", &auth).call(),
                    }
                    .expect("request");
                    let status = response.status();
                    let body = response.into_body().read_to_string().unwrap_or_default();
                    latencies.push(begin.elapsed());
                    assert!(status.is_success(), "{}: {status} {body}", call.path);
                    if let Some((name, _)) = call.deploy {
                        let response = agent
                            .delete(&format!("http://{addr}/v1/graphs/{name}"))
                            .header("Authorization", &auth)
                            .call()
                            .expect("delete");
                        assert_eq!(response.status().as_u16(), 204);
                    }
                    i += 1;
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = workers
        .into_iter()
        .flat_map(|w| w.join().expect("worker"))
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    let measured = Measured {
        per_second: all.len() as f64 / elapsed,
        p50_ms: pct(0.50).as_secs_f64() * 1e3,
        p99_ms: pct(0.99).as_secs_f64() * 1e3,
    };
    println!(
        "load {label}: {} requests in {elapsed:.1} s with {threads} threads = {:.0} req/s; p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        measured.per_second,
        measured.p50_ms,
        measured.p99_ms,
    );
    measured
}
