//! A local HTTP server that answers as a Karmada API server does for what smo's backend uses
//! (discovery, server-side apply, get, list and watch, delete by name and by label), and
//! records every request. There is no Kubernetes or Karmada API server on the test machines.
//!
//! Objects are kept as JSON by (group version, namespace, resource, name). ResourceBindings are
//! not stored: a GET of `<name>-deployment` is answered from the PropagationPolicy selecting
//! that Deployment, dividing its replicas by the policy's static weights as Karmada's scheduler
//! does, with ready replicas as the test sets them. Clusters are set by the test and pushed to
//! every open watch. Faults (an error status or no answer) are injected per request.

mod bindings;
mod routes;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::broadcast;

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query's pairs, decoded.
    pub query: BTreeMap<String, String>,
    /// The `content-type` header (`application/apply-patch+yaml` for a server-side apply).
    pub content_type: Option<String>,
    /// The `authorization` header (`Bearer <token>` from the kubeconfig's user).
    pub authorization: Option<String>,
    /// The body, when it was JSON.
    pub body: Option<Value>,
}

impl Recorded {
    /// `PATCH /apis/apps/v1/namespaces/smo/deployments/front` (no query).
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// `line()` with the label selector, when there is one.
    pub fn line_with_selector(&self) -> String {
        match self.query.get("labelSelector") {
            Some(selector) => format!("{} {}?labelSelector={selector}", self.method, self.path),
            None => self.line(),
        }
    }

    /// Whether it is a discovery request (`/api/v1`, `/apis/<group>/<version>`).
    pub fn is_discovery(&self) -> bool {
        routes::split_group_version(&self.path).is_some_and(|(_, rest)| rest.is_empty())
    }

    /// Whether it is about member clusters (the inventory's list and watch).
    pub fn is_cluster_inventory(&self) -> bool {
        self.path.starts_with("/apis/cluster.karmada.io/")
    }
}

/// What the server answers to the next request matching a fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// An error status with this code and reason (`409`, `Conflict`).
    Status(u16, String, String),
    /// No answer at all (the client's deadline passes).
    Hang,
}

#[derive(Debug, Clone)]
struct Fault {
    method: String,
    path_contains: String,
    answer: Answer,
    times: usize,
}

/// How member clusters run what Karmada sends them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberBehaviour {
    /// Karmada has not scheduled yet: GET of a ResourceBinding is 404.
    pub unscheduled: bool,
    /// Scheduled replicas are ready.
    pub ready: bool,
    /// Clusters whose work failed to apply, with the member's message.
    pub failing: BTreeMap<String, String>,
}

pub(crate) type ObjectKey = (String, Option<String>, String, String);

pub(crate) struct State {
    pub(crate) objects: Mutex<BTreeMap<ObjectKey, Value>>,
    pub(crate) requests: Mutex<Vec<Recorded>>,
    faults: Mutex<VecDeque<Fault>>,
    pub(crate) members: Mutex<MemberBehaviour>,
    pub(crate) version: AtomicU64,
    /// Watch events of Clusters (`{"type", "object"}`); `None` ends every open watch.
    pub(crate) cluster_events: broadcast::Sender<Option<Value>>,
    /// Group versions not served (a 404 to their discovery).
    pub(crate) unserved: Mutex<BTreeSet<String>>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    pub(crate) fn next_version(&self) -> String {
        (self.version.fetch_add(1, Ordering::SeqCst) + 1).to_string()
    }

    /// The answer injected for `method path`, if a fault matches (and counts it down).
    pub(crate) fn fault_for(&self, method: &str, path: &str) -> Option<Answer> {
        let mut faults = lock(&self.faults);
        let at = faults
            .iter()
            .position(|f| f.method == method && path.contains(&f.path_contains))?;
        let answer = faults[at].answer.clone();
        faults[at].times -= 1;
        if faults[at].times == 0 {
            faults.remove(at);
        }
        Some(answer)
    }
}

/// The running fake API server; stops when dropped.
pub struct FakeApiServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeApiServer {
    /// Starts the server on a free port of 127.0.0.1 (call inside a tokio runtime).
    pub async fn start() -> Self {
        let (cluster_events, _) = broadcast::channel(256);
        let state = Arc::new(State {
            objects: Mutex::new(BTreeMap::new()),
            requests: Mutex::new(Vec::new()),
            faults: Mutex::new(VecDeque::new()),
            members: Mutex::new(MemberBehaviour {
                ready: true,
                ..MemberBehaviour::default()
            }),
            version: AtomicU64::new(100),
            cluster_events,
            unserved: Mutex::new(BTreeSet::new()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let app = routes::router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, state, task }
    }

    /// A two-worker runtime for a test that is not async, and the server started on it (keep
    /// the runtime as long as the server).
    pub fn start_with_runtime() -> (tokio::runtime::Runtime, Self) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let server = runtime.block_on(Self::start());
        (runtime, server)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("karmada.kubeconfig");
        self.write_kubeconfig_at(&path, "test-token");
        path
    }

    /// Writes a kubeconfig for this server with user token `token` at `path`.
    pub fn write_kubeconfig_at(&self, path: &Path, token: &str) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake-karmada\n  cluster:\n    server: {}\n\
             users:\n- name: smo\n  user:\n    token: {token}\ncontexts:\n- name: fake-karmada\n  \
             context:\n    cluster: fake-karmada\n    user: smo\ncurrent-context: fake-karmada\n",
            self.url()
        );
        std::fs::write(path, text).expect("write the kubeconfig");
    }

    /// The two ready members the shop graph is placed on: `edge-1` (role edge, region
    /// eu-west) and `cloud-a` (32 CPU, 64 GiB, 2 GPUs).
    pub fn set_shop_members(&self) {
        self.set_cluster(ClusterSpec {
            labels: &[("smo.io/role", "edge")],
            region: Some("eu-west"),
            ..ClusterSpec::ready("edge-1")
        });
        self.set_cluster(ClusterSpec {
            allocatable: ("32", "64Gi"),
            gpus: 2,
            ..ClusterSpec::ready("cloud-a")
        });
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// The requests about graph objects (no discovery, no cluster list or watch), from `from` on.
    pub fn object_requests(&self, from: usize) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .skip(from)
            .filter(|r| !r.is_discovery() && !r.is_cluster_inventory())
            .collect()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// The stored objects, as `Kind/namespace/name` (or `Kind/name`) with their body.
    pub fn objects(&self) -> BTreeMap<String, Value> {
        lock(&self.state.objects)
            .iter()
            .map(|((_, namespace, _, name), body)| {
                let kind = body["kind"].as_str().unwrap_or("?");
                let id = match namespace {
                    Some(namespace) => format!("{kind}/{namespace}/{name}"),
                    None => format!("{kind}/{name}"),
                };
                (id, body.clone())
            })
            .filter(|(id, _)| !id.starts_with("Cluster/"))
            .collect()
    }

    /// [`Self::objects`] as applied: without the metadata the server adds (resourceVersion,
    /// generation, uid), so that two applies of the same state compare equal.
    pub fn applied_objects(&self) -> BTreeMap<String, Value> {
        self.objects()
            .into_iter()
            .map(|(id, mut body)| {
                if let Some(metadata) = body["metadata"].as_object_mut() {
                    for key in ["resourceVersion", "generation", "uid"] {
                        metadata.remove(key);
                    }
                }
                (id, body)
            })
            .collect()
    }

    /// The next `times` requests `method` whose path contains `path_contains` get `answer`.
    pub fn inject(&self, method: &str, path_contains: &str, answer: Answer, times: usize) {
        lock(&self.state.faults).push_back(Fault {
            method: method.to_owned(),
            path_contains: path_contains.to_owned(),
            answer,
            times,
        });
    }

    /// Removes every injected fault not yet used.
    pub fn clear_faults(&self) {
        lock(&self.state.faults).clear();
    }

    /// How the member clusters run the work.
    pub fn set_members(&self, behaviour: MemberBehaviour) {
        *lock(&self.state.members) = behaviour;
    }

    /// Stops serving group version `group_version` (its discovery answers 404).
    pub fn unserve(&self, group_version: &str) {
        lock(&self.state.unserved).insert(group_version.to_owned());
    }

    /// Creates or replaces member cluster `name` (ready or not, with its allocatable and
    /// allocated resources and labels) and tells every open watch.
    pub fn set_cluster(&self, cluster: ClusterSpec<'_>) {
        let name = cluster.name.to_owned();
        let key: ObjectKey = (
            "cluster.karmada.io/v1alpha1".into(),
            None,
            "clusters".into(),
            name.clone(),
        );
        let version = self.state.next_version();
        let body = cluster.to_object(&version);
        let event = {
            let mut objects = lock(&self.state.objects);
            let kind = if objects.contains_key(&key) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            objects.insert(key, body.clone());
            json!({"type": kind, "object": body})
        };
        let _ = self.state.cluster_events.send(Some(event));
    }

    /// Ends every open watch (the client has to watch again).
    pub fn drop_watches(&self) {
        let _ = self.state.cluster_events.send(None);
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A member cluster as the test describes it.
#[derive(Debug, Clone)]
pub struct ClusterSpec<'a> {
    pub name: &'a str,
    pub ready: bool,
    /// `cpu`, `memory` quantities (`"8"`, `"16Gi"`).
    pub allocatable: (&'a str, &'a str),
    pub allocated: (&'a str, &'a str),
    /// `nvidia.com/gpu` allocatable.
    pub gpus: u32,
    pub labels: &'a [(&'a str, &'a str)],
    pub region: Option<&'a str>,
}

impl<'a> ClusterSpec<'a> {
    /// A ready cluster with 8 cores and 16 GiB, nothing allocated.
    pub fn ready(name: &'a str) -> Self {
        Self {
            name,
            ready: true,
            allocatable: ("8", "16Gi"),
            allocated: ("0", "0"),
            gpus: 0,
            labels: &[],
            region: None,
        }
    }

    fn to_object(&self, version: &str) -> Value {
        let labels: serde_json::Map<String, Value> = self
            .labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        let condition = if self.ready {
            json!({"type": "Ready", "status": "True", "reason": "ClusterReady",
                   "message": "cluster is healthy and ready to accept workloads"})
        } else {
            json!({"type": "Ready", "status": "False", "reason": "ClusterNotReachable",
                   "message": "cluster is not reachable"})
        };
        let mut allocatable =
            json!({"cpu": self.allocatable.0, "memory": self.allocatable.1, "pods": "110"});
        if self.gpus > 0 {
            allocatable["nvidia.com/gpu"] = Value::from(self.gpus.to_string());
        }
        let mut spec = json!({"syncMode": "Push"});
        if let Some(region) = self.region {
            spec["region"] = Value::from(region);
        }
        json!({
            "apiVersion": "cluster.karmada.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": self.name, "labels": labels, "resourceVersion": version,
                         "uid": format!("uid-cluster-{}", self.name)},
            "spec": spec,
            "status": {
                "conditions": [condition],
                "resourceSummary": {
                    "allocatable": allocatable,
                    "allocated": {"cpu": self.allocated.0, "memory": self.allocated.1}
                }
            }
        })
    }
}
