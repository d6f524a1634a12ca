//! Which API resource serves each kind smo writes (discovery: one request per group version,
//! cached), and the `Api` handle for it in the graph's namespace.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiResource, Scope};
use kube::Client;
use smo_core::ports::continuum::ContinuumError;

use super::errors;

/// A kind's resource and whether it is namespaced.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// The discovery cache of one API server.
pub struct Resources {
    client: Client,
    cache: Mutex<HashMap<GroupVersionKind, Resolved>>,
}

impl Resources {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The resource serving `kind` of `api_version` (`apps/v1`, `v1`).
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, ContinuumError> {
        let gvk = gvk(api_version, kind);
        if let Some(found) = self.lock().get(&gvk) {
            return Ok(found.clone());
        }
        let (resource, capabilities) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|error| match error {
                kube::Error::Api(status) if status.code == 404 => {
                    ContinuumError::Rejected(format!(
                        "the API server does not serve {api_version} {kind}: {}",
                        status.message
                    ))
                }
                kube::Error::Discovery(error) => ContinuumError::Rejected(format!(
                    "the API server does not serve {api_version} {kind}: {error}"
                )),
                other => errors::classify(&format!("discover {api_version} {kind}"), other),
            })?;
        let resolved = Resolved {
            resource,
            namespaced: capabilities.scope == Scope::Namespaced,
        };
        self.lock().insert(gvk, resolved.clone());
        Ok(resolved)
    }

    /// The handle for `resolved` objects in `namespace` (ignored for cluster-scoped kinds).
    pub fn api(&self, resolved: &Resolved, namespace: &str) -> Api<DynamicObject> {
        if resolved.namespaced {
            Api::namespaced_with(self.client.clone(), namespace, &resolved.resource)
        } else {
            Api::all_with(self.client.clone(), &resolved.resource)
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<GroupVersionKind, Resolved>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `apps/v1` + `Deployment` as a group-version-kind (`v1` is the core group).
pub fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    match api_version.split_once('/') {
        Some((group, version)) => GroupVersionKind::gvk(group, version, kind),
        None => GroupVersionKind::gvk("", api_version, kind),
    }
}
