//! Benchmarks of the REST API on the embedded default backend: `GET /v1/graphs/{name}` and a
//! deploy, in-process through the router (criterion), then a short load test over real HTTP
//! on 127.0.0.1 that prints requests/s and p50/p99 latency with 4 client threads.
//!
//! Needs the plugins and the `smo` binary built in the profile's directory (`cargo build
//! --workspace` for `--profile dev`, `cargo build --release --workspace` for `cargo bench`).

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::load::{load, Call};
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tower::ServiceExt;

mod common;

const HELLO: &str = include_str!("../../../tests/fixtures/hdag/hello-world.yaml");

fn named(id: &str) -> String {
    HELLO
        .replace("id: hello-world-graph", &format!("id: {id}"))
        .replace("- id: hello-world", &format!("- id: {id}-svc"))
}

struct Fixture {
    daemon: common::Daemon,
    token: String,
}

fn fixture() -> Fixture {
    let daemon = common::daemon(|_| {});
    let token = std::fs::read_to_string(daemon.dir.path().join("state/admin.token"))
        .expect("admin token")
        .trim()
        .to_owned();
    Fixture { daemon, token }
}

impl Fixture {
    async fn call(&self, method: &str, uri: &str, body: Option<String>) -> StatusCode {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/yaml");
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .expect("request");
        let response = self
            .daemon
            .app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        status
    }
}

fn in_process(c: &mut Criterion) {
    let f = fixture();
    assert_eq!(
        f.daemon
            .runtime
            .block_on(f.call("POST", "/v1/graphs", Some(HELLO.to_owned()))),
        StatusCode::CREATED
    );
    let mut group = c.benchmark_group("api");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("GET /v1/graphs/{name}", |b| {
        b.iter(|| {
            let status =
                f.daemon
                    .runtime
                    .block_on(f.call("GET", "/v1/graphs/hello-world-graph", None));
            assert_eq!(status, StatusCode::OK);
        })
    });
    let n = AtomicU64::new(0);
    group.bench_function("POST /v1/graphs (deploy; delete untimed)", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let name = format!("bench-{}", n.fetch_add(1, Ordering::Relaxed));
                let started = Instant::now();
                let status =
                    f.daemon
                        .runtime
                        .block_on(f.call("POST", "/v1/graphs", Some(named(&name))));
                total += started.elapsed();
                assert_eq!(status, StatusCode::CREATED);
                let deleted = f.daemon.runtime.block_on(f.call(
                    "DELETE",
                    &format!("/v1/graphs/{name}"),
                    None,
                ));
                assert_eq!(deleted, StatusCode::NO_CONTENT);
            }
            total
        })
    });
    group.finish();
}

fn over_http(_: &mut Criterion) {
    let f = fixture();
    let listener = f
        .daemon
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let router = f.daemon.app.router.clone();
    f.daemon.runtime.spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    assert_eq!(
        f.daemon
            .runtime
            .block_on(f.call("POST", "/v1/graphs", Some(HELLO.to_owned()))),
        StatusCode::CREATED
    );
    let seconds = Duration::from_secs(3);
    let _ = load(
        "GET /v1/graphs/{name}",
        4,
        seconds,
        |_, _| Call {
            path: "/v1/graphs/hello-world-graph".to_owned(),
            deploy: None,
        },
        &addr,
        &f.token,
    );
    let _ = load(
        "POST /v1/graphs (deploy; each then deleted, untimed)",
        4,
        seconds,
        |t, i| {
            let name = format!("load-{t}-{i}");
            Call {
                path: "/v1/graphs".to_owned(),
                deploy: Some((name.clone(), named(&name))),
            }
        },
        &addr,
        &f.token,
    );
}

criterion_group!(benches, in_process, over_http);
criterion_main!(benches);
