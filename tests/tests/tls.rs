//! `[tls]`: the daemon serving HTTPS with a certificate made here (rcgen), clients that trust its
//! CA (`smo plugin list --cacert`, ureq) or not, plain HTTP on the port, and bad settings.

mod api_support;

use api_support::{sandbox, start};
use smo_tests::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A CA and a server certificate it signed (for 127.0.0.1 and localhost), as PEM files.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    /// Writes `NAME-ca.pem`, `NAME-cert.pem` and `NAME-key.pem` (mode 600) into `dir`.
    fn new(dir: &Path, name: &str) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("smo test CA {name}"));
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("certificate");
        let pki = Self {
            ca: dir.join(format!("{name}-ca.pem")),
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&pki.ca, ca.pem()).expect("write CA");
        std::fs::write(&pki.cert, cert.pem()).expect("write certificate");
        std::fs::write(&pki.key, key.serialize_pem()).expect("write key");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pki.key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        pki
    }

    fn config(&self) -> String {
        format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            self.cert.display(),
            self.key.display()
        )
    }
}

/// An agent that trusts only the CA in `ca` (PEM) and returns error statuses as answers.
fn trusting(ca: &Path) -> ureq::Agent {
    let pem = std::fs::read(ca).expect("read CA");
    let root = ureq::tls::Certificate::from_pem(&pem).expect("CA PEM");
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[root]))
                .build(),
        )
        .build()
        .into()
}

fn https(daemon: &Daemon, path: &str) -> String {
    format!("https://{}{path}", daemon.addr)
}

/// Runs `smo ARGS` and returns its exit success, stdout and stderr.
fn smo(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(smo_bin())
        .args(args)
        .env_remove("SMO_TOKEN")
        .env_remove("SMO_URL")
        .env_remove("SMO_CACERT")
        .output()
        .expect("smo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Everything the server sends until it closes the connection (a reset counts as a close).
fn read_to_close(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(error) => panic!("the server kept the connection open: {error}"),
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn clients_trusting_the_ca_are_served_and_others_are_refused() {
    let sandbox = sandbox();
    let pki = Pki::new(sandbox.root.path(), "a");
    let other = Pki::new(sandbox.root.path(), "other");
    let api = start(&sandbox, &pki.config());
    let token = api.token.clone().expect("admin token");
    let state_dir = sandbox.state_dir().display().to_string();
    let base = https(&api.daemon, "");

    // ureq trusting the CA: served, with the token checked as over HTTP.
    let agent = trusting(&pki.ca);
    let response = agent
        .get(https(&api.daemon, "/v1/plugins"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("HTTPS request");
    assert_eq!(response.status(), 200);
    let plugins: serde_json::Value = response.into_body().read_json().expect("JSON");
    assert!(plugins.to_string().contains("default-lp"), "{plugins}");
    let response = agent
        .get(https(&api.daemon, "/v1/plugins"))
        .call()
        .expect("HTTPS request");
    assert_eq!(response.status(), 401);

    // The smo client through the real binary.
    let (ok, stdout, stderr) = smo(&[
        "plugin",
        "list",
        "--url",
        &base,
        "--cacert",
        &pki.ca.display().to_string(),
        "--state-dir",
        &state_dir,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("default-lp"), "{stdout}");

    // Not trusting the CA: refused, and the error says how to fix it.
    let (ok, _, stderr) = smo(&["plugin", "list", "--url", &base, "--state-dir", &state_dir]);
    assert!(!ok);
    assert!(stderr.contains("--cacert"), "{stderr}");
    let (ok, _, stderr) = smo(&[
        "plugin",
        "list",
        "--url",
        &base,
        "--cacert",
        &other.ca.display().to_string(),
        "--state-dir",
        &state_dir,
    ]);
    assert!(!ok);
    assert!(stderr.contains("cannot reach the daemon"), "{stderr}");
    let refused = trusting(&other.ca)
        .get(https(&api.daemon, "/healthz"))
        .call();
    assert!(refused.is_err(), "{refused:?}");

    // A CA file that is not one is named.
    let (ok, _, stderr) = smo(&[
        "plugin",
        "list",
        "--url",
        &base,
        "--cacert",
        &pki.key.display().to_string(),
        "--state-dir",
        &state_dir,
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("--cacert") && stderr.contains("a-key.pem"),
        "{stderr}"
    );

    // Plain HTTP on the HTTPS port: a 400 saying so, through the client and a raw socket.
    let (ok, _, stderr) = smo(&[
        "plugin",
        "list",
        "--listen",
        &api.daemon.addr,
        "--state-dir",
        &state_dir,
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("400") && stderr.contains("https://"),
        "{stderr}"
    );
    let mut plain = TcpStream::connect(&api.daemon.addr).expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("write");
    let answer = read_to_close(&mut plain);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("https://"), "{answer}");
    // Bytes that are neither TLS nor HTTP: closed.
    let mut junk = TcpStream::connect(&api.daemon.addr).expect("connect");
    junk.write_all(&[0u8; 64]).expect("write");
    read_to_close(&mut junk);

    // The daemon survived all of it.
    let response = agent
        .get(https(&api.daemon, "/healthz"))
        .call()
        .expect("HTTPS request");
    assert_eq!(response.status(), 200);
}

#[test]
fn a_stalled_handshake_is_cut_off_and_its_connection_slot_released() {
    let sandbox = Sandbox::new();
    let pki = Pki::new(sandbox.root.path(), "a");
    let config = sandbox.config(&format!(
        "{}[http]\nmax_connections = 1\nheader_read_timeout_ms = 300\n",
        pki.config()
    ));
    let daemon = Daemon::start(&sandbox, &["--no-auth", "--config", &config]);
    // Connects and never says hello: holds the only slot until the timeout closes it.
    let mut stalled = TcpStream::connect(&daemon.addr).expect("connect");
    assert_eq!(read_to_close(&mut stalled), "");
    let agent = trusting(&pki.ca);
    assert!(eventually(Duration::from_secs(20), || {
        agent
            .get(https(&daemon, "/healthz"))
            .call()
            .is_ok_and(|response| response.status() == 200)
    }));
}

#[test]
fn bad_tls_settings_stop_the_start_naming_the_key_and_the_file() {
    let sandbox = Sandbox::new();
    let pki = Pki::new(sandbox.root.path(), "a");
    let other = Pki::new(sandbox.root.path(), "b");
    let missing = sandbox.root.path().join("missing.pem");
    let cases = [
        (
            format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                missing.display(),
                pki.key.display()
            ),
            "tls.cert",
            "missing.pem",
        ),
        (
            format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                pki.cert.display(),
                pki.cert.display()
            ),
            "tls.key",
            "a-cert.pem",
        ),
        (
            format!(
                "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                pki.cert.display(),
                other.key.display()
            ),
            "tls.key",
            "b-key.pem",
        ),
        (
            format!("[tls]\ncert = \"{}\"\n", pki.cert.display()),
            "tls.key",
            "missing",
        ),
        (
            "[tls]\ncertificate = \"/x.pem\"\n".to_owned(),
            "certificate",
            "expected `cert` or `key`",
        ),
    ];
    for (toml, key, detail) in cases {
        let config = sandbox.config(&toml);
        let (status, stderr) =
            serve_expecting_exit(&sandbox, &["--config", &config], Duration::from_secs(30));
        assert!(!status.success(), "{toml}");
        assert!(
            stderr.contains(key) && stderr.contains(detail),
            "{toml}: {stderr}"
        );
    }
}

/// `smo serve` with `args` and `RUST_LOG=warn` until it prints its address; its stderr so far.
fn stderr_until_listening(sandbox: &Sandbox, args: &[&str]) -> String {
    use std::io::BufRead;
    let mut child = std::process::Command::new(smo_bin())
        .args(["serve", "--no-auth", "--plugin-dir"])
        .arg(sandbox.plugin_dir())
        .arg("--state-dir")
        .arg(sandbox.state_dir())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("smo serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address line");
    assert!(line.starts_with("listening on "), "{line:?}");
    // The warning is written before the address line; stop the daemon and read what it said.
    let _ = child.kill();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let _ = child.wait();
    stderr
}

#[test]
fn plain_http_beyond_loopback_is_warned_about() {
    let sandbox = Sandbox::new();
    const WARNING: &str = "plain HTTP on a non-loopback address";
    let stderr = stderr_until_listening(&sandbox, &["--listen", "0.0.0.0:0"]);
    assert!(stderr.contains(WARNING), "{stderr}");
    let stderr = stderr_until_listening(&sandbox, &["--listen", "127.0.0.1:0"]);
    assert!(!stderr.contains(WARNING), "{stderr}");
    let pki = Pki::new(sandbox.root.path(), "a");
    let config = sandbox.config(&pki.config());
    let stderr = stderr_until_listening(&sandbox, &["--listen", "0.0.0.0:0", "--config", &config]);
    assert!(!stderr.contains(WARNING), "{stderr}");
}

/// A datagram socket standing in for systemd's `NOTIFY_SOCKET`: the daemon says there when a
/// reload starts (`RELOADING=1`) and how it ended (`READY=1` with `STATUS=`).
struct NotifySocket {
    socket: std::os::unix::net::UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).expect("bind NOTIFY_SOCKET");
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        Self { socket, path }
    }

    fn next(&self) -> String {
        let mut buffer = vec![0u8; 4096];
        let read = self.socket.recv(&mut buffer).expect("a notification");
        String::from_utf8_lossy(&buffer[..read]).into_owned()
    }

    /// Waits for `READY=1` (after `RELOADING=1` when `reload`); returns its `STATUS=` line.
    fn ready(&self, reload: bool) -> String {
        let mut reloading = !reload;
        loop {
            let message = self.next();
            reloading |= message.lines().any(|line| line == "RELOADING=1");
            if reloading && message.lines().any(|line| line == "READY=1") {
                return message
                    .lines()
                    .find_map(|line| line.strip_prefix("STATUS="))
                    .unwrap_or_default()
                    .to_owned();
            }
        }
    }
}

/// `smo serve --no-auth --config CONFIG` with `NOTIFY_SOCKET` set.
fn serve_notifying(sandbox: &Sandbox, config: &str, notify: &NotifySocket) -> Daemon {
    let mut child = std::process::Command::new(smo_bin())
        .args([
            "serve",
            "--no-auth",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config,
        ])
        .arg("--plugin-dir")
        .arg(sandbox.plugin_dir())
        .arg("--state-dir")
        .arg(sandbox.state_dir())
        .env("RUST_LOG", "warn")
        .env("NOTIFY_SOCKET", &notify.path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("smo serve starts");
    let addr = smo_tests::read_address(&mut child);
    Daemon { child, addr }
}

/// Replaces the daemon's certificate and key files in place, as a renewal does.
fn renew(live: &Pki, from: &Pki) {
    for (to, from) in [(&live.cert, &from.cert), (&live.key, &from.key)] {
        let tmp = to.with_extension("tmp");
        std::fs::copy(from, &tmp).expect("copy");
        std::fs::rename(&tmp, to).expect("rename");
    }
}

/// GET /healthz through `agent`: whether it answered 200 (the body read, so the connection
/// goes back to the agent's pool).
fn healthy(agent: &ureq::Agent, daemon: &Daemon) -> bool {
    agent
        .get(https(daemon, "/healthz"))
        .call()
        .is_ok_and(|response| {
            let ok = response.status() == 200;
            let _ = response.into_body().read_to_string();
            ok
        })
}

/// Where a renewal puts the new certificate and key.
#[derive(Clone, Copy)]
enum Renewal {
    /// Over the files the configuration names (certbot's deploy hooks, cert-manager's secrets).
    InPlace,
    /// Into new files, the configuration edited to name them.
    NewPaths,
}

/// The daemon serving `[tls]`, a renewal, SIGHUP: new connections get the renewed certificate,
/// an open connection keeps its own, and a broken renewal is refused with the old one kept.
fn reload_after(renewal: Renewal) {
    let sandbox = Sandbox::new();
    let dir = sandbox.root.path();
    let first = Pki::new(dir, "first");
    let second = Pki::new(dir, "second");
    let live = Pki {
        ca: first.ca.clone(),
        cert: dir.join("server-cert.pem"),
        key: dir.join("server-key.pem"),
    };
    renew(&live, &first);
    let config = sandbox.config(&live.config());
    let notify = NotifySocket::bind(dir);
    let daemon = serve_notifying(&sandbox, &config, &notify);
    notify.ready(false);

    // A client with a kept-alive connection from before the renewal.
    let open = trusting(&first.ca);
    assert!(healthy(&open, &daemon));

    let broken = match renewal {
        Renewal::InPlace => {
            renew(&live, &second);
            live.cert.clone()
        }
        Renewal::NewPaths => {
            sandbox.config(&second.config());
            dir.join("broken-cert.pem")
        }
    };
    daemon.signal("HUP");
    let status = notify.ready(true);
    assert!(!status.starts_with("reload refused"), "{status}");
    // New connections get the renewed certificate.
    assert!(healthy(&trusting(&second.ca), &daemon));
    assert!(!healthy(&trusting(&first.ca), &daemon));
    // The open connection keeps its own: it still answers (a new one would not verify).
    assert!(healthy(&open, &daemon));

    // A broken renewal is refused, naming the key, and the renewed certificate stays.
    std::fs::write(&broken, "not a certificate\n").expect("write");
    if let Renewal::NewPaths = renewal {
        sandbox.config(&format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            broken.display(),
            second.key.display()
        ));
    }
    daemon.signal("HUP");
    let status = notify.ready(true);
    assert!(
        status.starts_with("reload refused") && status.contains("tls.cert"),
        "{status}"
    );
    assert!(healthy(&trusting(&second.ca), &daemon));
}

#[test]
fn a_reload_serves_a_certificate_renewed_into_new_files() {
    reload_after(Renewal::NewPaths);
}

#[test]
fn a_reload_serves_a_certificate_renewed_in_place() {
    reload_after(Renewal::InPlace);
}
