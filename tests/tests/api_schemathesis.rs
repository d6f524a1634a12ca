//! The REST API against its own OpenAPI document, with schemathesis (property-based tests
//! generated from `GET /v1/openapi.json`): a daemon on 127.0.0.1 with a temporary state
//! directory, its admin token, and a bounded run (a fixed seed, a few examples per operation,
//! one worker, a wall-time limit) of the checks not_a_server_error, status_code_conformance,
//! content_type_conformance, response_schema_conformance and negative_data_rejection. Any
//! failure fails the test, naming the failing checks and operations.
//!
//! The document's examples and links let the run deploy the hello-world graph and register a
//! cluster, then reach the operations on them (status, offload, start/stop, re-placement,
//! execute_strategy, delete), so their answers are checked too.
//!
//! schemathesis comes from PyPI into `.tools/venv` (scripts/tools.sh, run by scripts/deps.sh);
//! without it the test fails saying so.

mod api_support;

use api_support::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The checks run (schemathesis names).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection";
/// Examples per operation and phase: enough to reach every operation's error paths, small
/// enough for about half a minute on two cores.
const MAX_EXAMPLES: &str = "25";
/// The seed of the generated data (a failure is reproduced with the same seed).
const SEED: &str = "27";
/// The longest the run may take.
const WALL_TIME: Duration = Duration::from_secs(150);

fn schemathesis() -> std::path::PathBuf {
    let path = smo_tests::tools_dir().join("venv/bin/schemathesis");
    assert!(
        path.is_file(),
        "{} is missing: install it with scripts/tools.sh (scripts/deps.sh runs it), which puts \
         schemathesis from PyPI into the tools venv",
        path.display()
    );
    path
}

/// The failing part of schemathesis's report: each failure's section title, check and
/// reproduction, then its summary.
fn failures(report: &str) -> String {
    let mut out = Vec::new();
    let mut keep = false;
    for line in report.lines() {
        if line.contains("FAILURES") || line.contains("ERRORS") {
            keep = true;
        } else if line.contains("WARNINGS") || line.contains("SUMMARY") {
            keep = line.contains("SUMMARY");
        }
        if keep {
            out.push(line);
        }
    }
    if out.is_empty() {
        report.to_owned()
    } else {
        out.join("\n")
    }
}

#[test]
fn the_api_conforms_to_its_openapi_document() {
    let bin = schemathesis();
    let sandbox = sandbox();
    let api = start(
        &sandbox,
        "[backend.sim]\nready_after_s = 0.2\n[applier]\npoll_ms = 50\n",
    );
    let token = api.token.clone().expect("the daemon wrote an admin token");
    let mut child = Command::new(&bin)
        .arg("run")
        .arg(api.url("/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--workers", "1"])
        .args(["--request-timeout", "20"])
        .args(["--generation-database", "none"])
        .args(["--no-color", "--output-truncate", "true"])
        // nothing of the run (reports, caches) lands in the repository
        .current_dir(sandbox.root.path())
        .env("HOME", sandbox.root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", bin.display()));
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break Some(status);
        }
        if started.elapsed() > WALL_TIME {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let report = reader.join().expect("the report");
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let elapsed = started.elapsed();
    let Some(status) = status else {
        panic!(
            "schemathesis did not finish within {WALL_TIME:?}; its output so far:\n{report}\n{stderr}"
        );
    };
    assert!(
        status.success(),
        "schemathesis found mismatches between the API and host/smo/openapi.json ({status}, \
         seed {SEED}, {elapsed:?}):\n{}\n{stderr}",
        failures(&report)
    );
    // It did test every operation it found in the document.
    let figure = |label: &str| {
        report
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .map(|rest| rest.trim().to_owned())
    };
    let selected = figure("Selected:");
    assert!(
        selected
            .as_deref()
            .is_some_and(|s| { s.split_once('/').is_some_and(|(a, b)| a == b && a != "0") })
            && figure("Tested:").as_deref()
                == selected.as_deref().and_then(|s| s.split('/').next()),
        "schemathesis did not test every operation (selected {selected:?}):\n{report}"
    );
    eprintln!("schemathesis passed in {elapsed:?}");
}
