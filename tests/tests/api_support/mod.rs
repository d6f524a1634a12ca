//! Shared helpers of the `api_*` tests: a daemon with a config file and its admin token, and
//! HTTP calls with or without a token that return the status, headers and JSON body.
#![allow(dead_code)]

use serde_json::Value;
use smo_tests::*;
use std::time::Duration;

pub const HELLO: &str = include_str!("../../fixtures/hdag/hello-world.yaml");
pub const BRUSSELS: &str = include_str!("../../fixtures/hdag/brussels-demo.yaml");

/// The hello-world descriptor renamed to `id` (graph id and service id).
pub fn hello_named(id: &str) -> String {
    HELLO
        .replace("id: hello-world-graph", &format!("id: {id}"))
        .replace("- id: hello-world", &format!("- id: {id}-svc"))
}

/// A sandbox with the default-lp and ecmr plugins installed.
pub fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.install("smo_default_lp", "default-lp.so");
    sandbox.install("smo_ecmr", "ecmr.so");
    sandbox
}

/// An answer: status, headers, body (JSON, or `Null` when empty; a string if not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A running daemon and the admin token it created.
pub struct Api {
    pub daemon: Daemon,
    pub token: Option<String>,
}

/// `config` is written to `ROOT/smo.toml` and passed with `--config`.
pub fn start(sandbox: &Sandbox, config: &str) -> Api {
    let path = sandbox.root.path().join("smo.toml");
    std::fs::write(&path, config).expect("write config");
    let daemon = Daemon::start(sandbox, &["--config", &path.display().to_string()]);
    let token = std::fs::read_to_string(sandbox.state_dir().join("admin.token"))
        .ok()
        .map(|t| t.trim().to_owned());
    Api { daemon, token }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        self.daemon.url(path)
    }

    /// Any request; `token` is sent as a bearer token when given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        if let Some(token) = token {
            builder = builder.header("Authorization", format!("Bearer {token}"));
        }
        let response = match body {
            Some((content_type, bytes)) => {
                let request = builder
                    .header("Content-Type", content_type)
                    .body(bytes)
                    .expect("request");
                http().run(request)
            }
            None => http().run(builder.body(()).expect("request")),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.into_body().read_to_string().expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    fn admin(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, self.admin(), None)
    }
    pub fn delete(&self, path: &str) -> Reply {
        self.call("DELETE", path, self.admin(), None)
    }
    pub fn post_empty(&self, path: &str) -> Reply {
        self.call("POST", path, self.admin(), None)
    }
    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.call(
            "POST",
            path,
            self.admin(),
            Some(("application/json", body.to_string().into_bytes())),
        )
    }
    /// `POST /v1/strategies/{strategy}/place` with the small request without a GPU service and
    /// `params`: the decision record (the call must be answered, fallback or not).
    pub fn place_small(&self, strategy: &str, params: Value) -> Value {
        let reply = self.post_json(
            &format!("/v1/strategies/{strategy}/place"),
            &serde_json::json!({"request": small_request_without_gpu(), "params": params}),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }
    pub fn put_json(&self, path: &str, body: &Value) -> Reply {
        self.call(
            "PUT",
            path,
            self.admin(),
            Some(("application/json", body.to_string().into_bytes())),
        )
    }
    pub fn post_yaml(&self, path: &str, text: &str) -> Reply {
        self.call(
            "POST",
            path,
            self.admin(),
            Some(("application/yaml", text.as_bytes().to_vec())),
        )
    }
    pub fn put_yaml(&self, path: &str, text: &str) -> Reply {
        self.call(
            "PUT",
            path,
            self.admin(),
            Some(("application/yaml", text.as_bytes().to_vec())),
        )
    }

    /// Posts `yaml` to `path` with the admin token on a thread of its own (a request the test
    /// lets run while it does other things); the thread answers the status, or the error.
    pub fn post_yaml_in_background(
        &self,
        path: &str,
        yaml: String,
    ) -> std::thread::JoinHandle<Result<u16, ureq::Error>> {
        let (url, token) = (self.url(path), self.admin().unwrap_or_default().to_owned());
        std::thread::spawn(move || {
            let request = ureq::http::Request::builder()
                .method("POST")
                .uri(url)
                .header("Content-Type", "application/yaml")
                .header("Authorization", format!("Bearer {token}"))
                .body(yaml.into_bytes())
                .expect("request");
            http()
                .run(request)
                .map(|response| response.status().as_u16())
        })
    }

    /// Deploys `yaml` and checks it was created.
    pub fn deploy(&self, yaml: &str) -> Value {
        let reply = self.post_yaml("/v1/graphs", yaml);
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }

    /// Polls `GET path` until `condition` holds on the body (at most 30 s).
    pub fn wait_for(&self, path: &str, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let held = eventually(Duration::from_secs(30), || {
            last = self.get(path).body;
            condition(&last)
        });
        assert!(held, "timed out waiting for {what}; last answer: {last}");
        last
    }
}

/// The cluster of each service in a status or summary body's `placement`.
pub fn placement(body: &Value) -> Vec<(String, String, u64)> {
    body["placement"]
        .as_array()
        .expect("placement")
        .iter()
        .map(|e| {
            (
                e["service"].as_str().expect("service").to_owned(),
                e["cluster"].as_str().expect("cluster").to_owned(),
                e["replicas"].as_u64().expect("replicas"),
            )
        })
        .collect()
}
