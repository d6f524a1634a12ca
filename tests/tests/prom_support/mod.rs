//! Shared by the Prometheus tests: a real Prometheus server (Debian package `prometheus`,
//! installed by `scripts/deps.sh`) scraping an Istio-shaped exporter served by the test.
//!
//! Every counter of the exporter is `t * rate` (`t`: seconds since the exporter started, the
//! same `t` for all series of one scrape), so Prometheus's `rate()` of every series is its
//! nominal rate times one common factor (scrape timing, extrapolation), and any ratio of rates
//! (the delay `rate(sum) / rate(count)`, response sizes, Fm) is exact whatever the timing.
#![allow(dead_code)]

use smo_prometheus::PromClient;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The exporter's user delay at the edge ingress (ms).
pub const DELAY_MS: f64 = 87.5;
/// The user rate at the edge ingress (requests/s).
pub const USER_RATE: f64 = 20.0;
/// The rate window of the queries (s): a few 1 s scrapes.
pub const WINDOW_S: u64 = 4;

pub fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-12)
}

#[track_caller]
pub fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    assert!(
        close(got, want, rel),
        "{what}: got {got}, want {want} (relative tolerance {rel})"
    );
}

// ---------------------------------------------------------------------------------------------
// The exporter

/// One exposed series: a counter growing at `per_s`, or a gauge of that value.
struct Series {
    name: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    per_s: f64,
    counter: bool,
}

fn counter(name: &'static str, labels: &[(&'static str, &'static str)], per_s: f64) -> Series {
    Series {
        name,
        labels: labels.to_vec(),
        per_s,
        counter: true,
    }
}

fn gauge(name: &'static str, labels: &[(&'static str, &'static str)], value: f64) -> Series {
    Series {
        counter: false,
        ..counter(name, labels, value)
    }
}

fn with<'a>(base: &[(&'a str, &'a str)], more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    base.iter().chain(more).copied().collect()
}

/// Edge-ingress traffic to `frontend` in `cluster`/`namespace` with `code`: requests, the
/// duration sum/count/buckets (all requests in the (50, 100] bucket, unless `delay_ms` > 100)
/// at `rate` requests/s of `delay_ms`.
fn ingress(
    out: &mut Vec<Series>,
    labels: &[(&'static str, &'static str)],
    rate: f64,
    delay_ms: f64,
) {
    out.push(counter("istio_requests_total", labels, rate));
    out.push(counter(
        "istio_request_duration_milliseconds_sum",
        labels,
        rate * delay_ms,
    ));
    out.push(counter(
        "istio_request_duration_milliseconds_count",
        labels,
        rate,
    ));
    let in_100 = if delay_ms <= 100.0 { rate } else { 0.0 };
    for (le, v) in [("50", 0.0), ("100", in_100), ("+Inf", rate)] {
        out.push(counter(
            "istio_request_duration_milliseconds_bucket",
            &with(labels, &[("le", le)]),
            v,
        ));
    }
}

/// The time every service of the mesh takes to answer (ms), as its sidecar reports it.
pub const SERVICE_MS: f64 = 4.0;

/// Mesh traffic seen by the destination: requests, response bytes (`bytes` a response) and
/// the time taken ([`SERVICE_MS`]).
fn mesh(out: &mut Vec<Series>, labels: &[(&'static str, &'static str)], rate: f64, bytes: f64) {
    out.push(counter("istio_requests_total", labels, rate));
    out.push(counter("istio_response_bytes_sum", labels, rate * bytes));
    out.push(counter("istio_response_bytes_count", labels, rate));
    out.push(counter(
        "istio_request_duration_milliseconds_sum",
        labels,
        rate * SERVICE_MS,
    ));
    out.push(counter(
        "istio_request_duration_milliseconds_count",
        labels,
        rate,
    ));
}

/// A container: CPU cores (counter of seconds) and memory bytes (two gauges).
fn container(
    out: &mut Vec<Series>,
    cluster: &'static str,
    namespace: &'static str,
    pod: &'static str,
    name: &'static str,
    cores: f64,
    bytes: f64,
) {
    let labels = [
        ("cluster", cluster),
        ("namespace", namespace),
        ("pod", pod),
        ("container", name),
    ];
    out.push(counter("container_cpu_usage_seconds_total", &labels, cores));
    out.push(gauge("container_memory_usage_bytes", &labels, bytes));
    out.push(gauge(
        "container_memory_working_set_bytes",
        &labels,
        bytes * 0.9,
    ));
}

/// The application: an edge ingress (`istio-ingress`) calling `frontend`, which calls `cart`
/// and `db`; `cart` calls `db`. `frontend` runs in both areas, the others in the cloud. Each
/// kind of series also has decoys that the selectors must exclude.
fn series() -> Vec<Series> {
    let mut s = Vec::new();
    let edge_ingress = [
        ("cluster", "edge1"),
        ("namespace", "istio-ingress"),
        ("source_app", "istio-ingress"),
        ("destination_app", "frontend"),
        ("reporter", "source"),
        ("instance", "11.244.0.7:15020"),
    ];
    ingress(
        &mut s,
        &with(&edge_ingress, &[("response_code", "200")]),
        USER_RATE,
        DELAY_MS,
    );
    // Decoys: failed requests, another edge (counted in λ over all edges only), another
    // namespace.
    ingress(
        &mut s,
        &with(&edge_ingress, &[("response_code", "503")]),
        3.0,
        5000.0,
    );
    let edge2 = [
        ("cluster", "edge2"),
        ("namespace", "istio-ingress"),
        ("source_app", "istio-ingress"),
        ("destination_app", "frontend"),
        ("reporter", "source"),
        ("instance", "12.244.0.3:15020"),
        ("response_code", "200"),
    ];
    ingress(&mut s, &edge2, 7.0, 900.0);
    let other_ns = [
        ("cluster", "edge1"),
        ("namespace", "other"),
        ("source_app", "istio-ingress"),
        ("destination_app", "frontend"),
        ("reporter", "source"),
        ("instance", "11.244.0.8:15020"),
        ("response_code", "200"),
    ];
    ingress(&mut s, &other_ns, 11.0, 1.0);

    let m = |cluster, ns, src, dst, reporter, code| {
        vec![
            ("cluster", cluster),
            ("namespace", ns),
            ("source_app", src),
            ("destination_app", dst),
            ("reporter", reporter),
            ("response_code", code),
        ]
    };
    let d = "destination";
    mesh(
        &mut s,
        &m("edge1", "shop", "istio-ingress", "frontend", d, "200"),
        8.0,
        3000.0,
    );
    mesh(
        &mut s,
        &m("cloud", "shop", "istio-ingress", "frontend", d, "200"),
        12.0,
        2000.0,
    );
    mesh(
        &mut s,
        &m("cloud", "shop", "frontend", "cart", d, "200"),
        30.0,
        512.0,
    );
    mesh(
        &mut s,
        &m("cloud", "shop", "frontend", "db", d, "200"),
        10.0,
        128.0,
    );
    mesh(
        &mut s,
        &m("cloud", "shop", "cart", "db", d, "200"),
        15.0,
        128.0,
    );
    // A source outside the graph: not a call of the graph, but its responses count in L.
    mesh(
        &mut s,
        &m("cloud", "shop", "loadgen", "frontend", d, "200"),
        5.0,
        2000.0,
    );
    // Decoys: errors (one of them at the edge), another namespace, a third cluster, the
    // source-side report of a call.
    mesh(
        &mut s,
        &m("cloud", "shop", "frontend", "cart", d, "500"),
        99.0,
        99999.0,
    );
    mesh(
        &mut s,
        &m("edge1", "shop", "frontend", "cart", d, "500"),
        2.0,
        10.0,
    );
    mesh(
        &mut s,
        &m("cloud", "other", "frontend", "cart", d, "200"),
        50.0,
        1.0,
    );
    mesh(
        &mut s,
        &m("edge2", "shop", "frontend", "cart", d, "200"),
        40.0,
        7.0,
    );
    mesh(
        &mut s,
        &m("cloud", "shop", "frontend", "cart", "source", "200"),
        30.0,
        1.0,
    );

    let c = &mut s;
    container(
        c,
        "edge1",
        "shop",
        "frontend-edge1-7d9f",
        "frontend",
        0.25,
        1e8,
    );
    container(
        c,
        "edge1",
        "shop",
        "frontend-edge1-7d9f",
        "istio-proxy",
        0.1,
        5e7,
    );
    container(c, "edge1", "shop", "frontend-edge1-7d9f", "", 0.35, 1.5e8);
    container(
        c,
        "cloud",
        "shop",
        "frontend-cloud-5c4b",
        "frontend",
        0.5,
        2e8,
    );
    container(
        c,
        "cloud",
        "shop",
        "frontend-cloud-5c4b",
        "istio-proxy",
        0.2,
        6e7,
    );
    container(c, "cloud", "shop", "cart-cloud-1", "cart", 1.25, 3e8);
    container(c, "cloud", "shop", "cart-cloud-2", "cart", 0.75, 1e8);
    container(c, "cloud", "shop", "db-cloud-0", "db", 2.0, 1e9);
    container(c, "cloud", "shop", "redis-0", "redis", 4.0, 4e9);
    container(c, "cloud", "other", "cart-cloud-9", "cart", 8.0, 8e9);
    s
}

/// The Prometheus text exposition at `t` seconds.
fn exposition(series: &[Series], t: f64) -> String {
    let mut names: Vec<&str> = series.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    let mut out = String::new();
    for name in names {
        for s in series.iter().filter(|s| s.name == name) {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let value = if s.counter { t * s.per_s } else { s.per_s };
            out.push_str(&format!("{name}{{{}}} {value}\n", labels.join(",")));
        }
    }
    out
}

/// A `/metrics` endpoint on 127.0.0.1 in a thread; stopped on drop.
pub struct Exporter {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the exporter");
        let addr = listener.local_addr().expect("exporter address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let series = series();
        let start = Instant::now();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    // One `t` for the whole scrape.
                    let body = exposition(&series, start.elapsed().as_secs_f64());
                    answer(stream, &body);
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

/// Reads one request head and answers `body` (text format 0.0.4), closing the connection.
fn answer(mut stream: TcpStream, body: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) = if head.starts_with(b"GET /metrics") {
        ("200 OK", body)
    } else {
        ("404 Not Found", "not found\n")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The Prometheus server

pub fn prometheus_binary() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the `prometheus` binary is not on PATH: run `scripts/deps.sh` (it installs the \
                 Debian package `prometheus`, as CI does); this test needs a real Prometheus"
            )
        })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A Prometheus server on 127.0.0.1 scraping `target` every second; killed on drop.
pub struct PromServer {
    child: Child,
    pub url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl PromServer {
    pub fn start(target: SocketAddr) -> Self {
        Self::start_scraping(&format!(
            "  - job_name: exporter\n    honor_labels: true\n    \
             static_configs:\n      - targets: ['{target}']\n"
        ))
    }

    /// A Prometheus server on 127.0.0.1 with `scrape_configs` (the YAML list's items, indented
    /// by two spaces), scraping every second; killed on drop.
    pub fn start_scraping(scrape_configs: &str) -> Self {
        let bin = prometheus_binary();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n{scrape_configs}"
            ),
        )
        .expect("write the Prometheus config");
        let log = dir.path().join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let agent = smo_tests::http();
        let url = format!("{}/-/ready", self.url);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}):\n{}", self.log_text());
            }
            if let Ok(r) = agent.get(&url).call() {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "prometheus not ready at {url} after 15 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for PromServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until Prometheus holds a window of scrapes and one more, so that rates are steady.
/// (Prometheus applies new targets on a 5 s tick: the first scrape comes ~5 s after start.)
pub fn wait_for_scrapes(client: &PromClient) {
    let want = WINDOW_S as f64 + 1.0;
    let query = "count_over_time(up{job=\"exporter\"}[1m])";
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = client
            .instant_query(query, None)
            .expect("count the scrapes")
            .first()
            .map_or(0.0, |s| s.value);
        if got >= want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {got} scrapes of the exporter after 15 s (want {want})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
