//! A configuration reload of `smo serve` on the Karmada backend, against the fake Karmada API
//! server (no API server runs on these machines): a rotated credential in the kubeconfig is
//! put in force by SIGHUP (a new connection, every graph applied again through it, the old
//! token no longer sent); a kubeconfig whose server cannot be reached and a new namespace are
//! refused, and the connection in force keeps serving.

use std::time::Duration;

use smo_tests::fake_apiserver::{FakeApiServer, Recorded};
use smo_tests::notify::{status_of, Notifications};
use smo_tests::*;

fn config(kubeconfig: &std::path::Path, namespace: &str) -> String {
    format!(
        "[engine]\nscaling_period_ms = 3600000\n[applier]\npoll_ms = 50\nresync_ms = 100\n\
         backoff_base_ms = 100\nbackoff_max_ms = 200\n[backend]\nkind = \"karmada\"\n\
         [backend.karmada]\nkubeconfig = \"{}\"\nnamespace = \"{namespace}\"\n\
         request_timeout_ms = 2000\nadopt_period_ms = 50\n",
        kubeconfig.display()
    )
}

fn bearer(request: &Recorded) -> &str {
    request.authorization.as_deref().unwrap_or("")
}

/// Sends SIGHUP and returns the status line systemd is told once the reload is over.
fn reload(daemon: &Daemon, notify: &Notifications) -> String {
    let before = notify.all().len();
    daemon.signal("HUP");
    let done = notify.wait_for(before, "READY=1 after the reload", |m| {
        m.contains("READY=1")
    });
    status_of(&notify.all()[done]).to_owned()
}

/// Whether the last `count` requests the server received (at least that many since `from`)
/// all carry `token`.
fn latest_carry(server: &FakeApiServer, from: usize, count: usize, token: &str) -> bool {
    let requests = server.requests();
    let since = &requests[from.min(requests.len())..];
    since.len() >= count
        && since[since.len() - count..]
            .iter()
            .all(|r| bearer(r) == format!("Bearer {token}"))
}

#[test]
fn a_reload_reconnects_with_a_rotated_credential_and_refuses_what_cannot_serve() {
    let (runtime, server) = FakeApiServer::start_with_runtime();
    server.set_shop_members();
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    let kubeconfig = server.write_kubeconfig(sandbox.root.path());
    let config_file = sandbox.config(&config(&kubeconfig, "shop"));
    let notify = Notifications::listen(&sandbox);
    let daemon = Daemon::start_with_env(
        &sandbox,
        &["--no-auth", "--config", &config_file],
        &[("NOTIFY_SOCKET", notify.path.as_os_str())],
    );
    notify.wait_for(0, "READY=1", |m| m.contains("READY=1"));
    let descriptor = std::fs::read_to_string(repo_root().join("tests/fixtures/karmada/shop.yaml"))
        .expect("the shop descriptor");
    let (status, created) = send("POST", &daemon.url("/v1/graphs"), &descriptor);
    assert_eq!(status, 201, "{created}");
    wait(&daemon, "shop", 30, "the graph ready", ready);
    assert!(server
        .requests()
        .iter()
        .all(|r| bearer(r) == "Bearer test-token"));

    // The token is rotated in the kubeconfig file, at the same path, the configuration as it
    // was: the reload connects anew and applies every graph again through the new connection.
    let mark = server.request_count();
    server.write_kubeconfig_at(&kubeconfig, "rotated-token");
    let line = reload(&daemon, &notify);
    assert!(
        line.starts_with("configuration reloaded (changed: backend)"),
        "{line}"
    );
    let reapplied = |server: &FakeApiServer| {
        server.requests()[mark..].iter().any(|r| {
            r.method == "PATCH"
                && r.path.ends_with("/namespaces/shop/deployments/frontend")
                && bearer(r) == "Bearer rotated-token"
        })
    };
    assert!(
        eventually(Duration::from_secs(20), || reapplied(&server)),
        "no apply with the new token: {:#?}",
        &server.requests()[mark..]
    );
    assert!(
        server.requests()[mark..]
            .iter()
            .any(|r| r.is_cluster_inventory() && bearer(r) == "Bearer rotated-token"),
        "the member clusters are listed through the new connection"
    );
    // The old connection is gone: what follows carries the new token only.
    let after = server.request_count();
    assert!(
        eventually(Duration::from_secs(20), || latest_carry(
            &server,
            after,
            20,
            "rotated-token"
        )),
        "{:#?}",
        &server.requests()[after..]
    );
    wait(&daemon, "shop", 30, "the graph ready again", ready);

    // A kubeconfig whose server cannot be reached: refused once the new connection could not
    // list the clusters within the request deadline; the connection in force keeps serving.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let dead = sandbox.root.path().join("dead.kubeconfig");
    std::fs::write(
        &dead,
        std::fs::read_to_string(&kubeconfig)
            .expect("read")
            .replace(&server.url(), &dead_url),
    )
    .expect("write");
    std::fs::write(&config_file, config(&dead, "shop")).expect("write");
    let line = reload(&daemon, &notify);
    assert!(
        line.starts_with("reload refused")
            && line.contains("backend.karmada")
            && line.contains("keeps serving"),
        "{line}"
    );

    // A new namespace would leave the graphs' objects behind in the old one: restart only.
    std::fs::write(&config_file, config(&kubeconfig, "elsewhere")).expect("write");
    let line = reload(&daemon, &notify);
    assert!(
        line.starts_with("reload refused")
            && line.contains("backend.karmada.namespace: changed, but only a restart"),
        "{line}"
    );

    // Still the rotated connection: deleting the graph withdraws its objects through it.
    let mark = server.request_count();
    let response = http()
        .delete(&daemon.url("/v1/graphs/shop"))
        .call()
        .expect("DELETE");
    assert_eq!(response.status().as_u16(), 204);
    let requests = server.requests();
    let deletes: Vec<&Recorded> = requests[mark..]
        .iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert!(!deletes.is_empty(), "{:#?}", &requests[mark..]);
    assert!(
        deletes.iter().all(|r| bearer(r) == "Bearer rotated-token"),
        "{deletes:#?}"
    );
    assert!(server
        .applied_objects()
        .keys()
        .all(|id| id.starts_with("Namespace/")));
    drop(runtime);
}
