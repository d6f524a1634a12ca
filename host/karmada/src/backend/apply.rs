//! Applying a graph: its objects rendered, annotated with the generation, sent by server-side
//! apply (field manager `smo`, never forced: a field another manager owns is a conflict), then
//! the graph's objects that are no longer rendered pruned. Withdrawing deletes by label.

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::{Map, Value};
use smo_core::graphs::GraphSpec;
use smo_core::ports::continuum::{ContinuumError, DesiredState};

use super::KarmadaContinuum;
use crate::manifest::GRAPH_LABEL;
use crate::render::placed_services;
use crate::{render_graph, Manifest, RenderOptions};

/// The annotation holding the generation of the desired state an object was applied for.
pub const GENERATION_ANNOTATION: &str = "smo.io/generation";
/// On a service's PropagationPolicy: the workload it propagates (`deployment/front`).
pub const WORKLOAD_ANNOTATION: &str = "smo.io/workload";
/// On a service's PropagationPolicy: the replicas decided per cluster (JSON).
pub const REPLICAS_ANNOTATION: &str = "smo.io/replicas";

/// The kinds a graph's objects may have, besides those rendered now: pruned and withdrawn by
/// label. (API version, kind.)
pub const MANAGED_KINDS: &[(&str, &str)] = &[
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("policy.karmada.io/v1alpha1", "PropagationPolicy"),
    ("policy.karmada.io/v1alpha1", "OverridePolicy"),
    ("multicluster.x-k8s.io/v1alpha1", "ServiceExport"),
    ("multicluster.x-k8s.io/v1alpha1", "ServiceImport"),
];

type Kind = (String, String);

/// Requests one apply keeps in flight to the API server.
pub const REQUESTS_IN_FLIGHT: usize = 8;

impl KarmadaContinuum {
    /// Renders `graph` as `desired` places it and applies every object, then prunes.
    pub(super) async fn apply_graph(
        &self,
        graph: &GraphSpec,
        desired: &DesiredState,
    ) -> Result<(), ContinuumError> {
        let manifests = self.render(graph, desired).await?;
        // Cluster-scoped objects (the namespace) first, then the rest, several at a time.
        let (first, rest): (Vec<&Manifest>, Vec<&Manifest>) =
            manifests.iter().partition(|m| m.kind == "Namespace");
        for manifest in first {
            self.server_side_apply(manifest).await?;
        }
        // By index: a closure over references trips async-trait's Send bound (rust#64552).
        let results: Vec<Result<(), ContinuumError>> = futures::stream::iter(0..rest.len())
            .map(|at| self.server_side_apply(rest[at]))
            .buffered(REQUESTS_IN_FLIGHT)
            .collect()
            .await;
        first_failure(results)?;
        let rendered: BTreeSet<(Kind, String)> = manifests
            .iter()
            .map(|m| ((m.api_version.clone(), m.kind.clone()), m.name.clone()))
            .collect();
        let mut kinds: BTreeSet<Kind> = rendered.iter().map(|(kind, _)| kind.clone()).collect();
        kinds.remove(&("v1".to_owned(), "Namespace".to_owned()));
        let earlier = self.applied_kinds(&graph.name);
        let to_prune: BTreeSet<Kind> = kinds.union(&earlier).cloned().collect();
        self.prune(&graph.name, &to_prune, &rendered).await?;
        self.remember_kinds(&graph.name, kinds);
        Ok(())
    }

    /// The graph's objects, annotated (helm may run: off the async workers).
    async fn render(
        &self,
        graph: &GraphSpec,
        desired: &DesiredState,
    ) -> Result<Vec<Manifest>, ContinuumError> {
        let scheduler_name = desired.server_selection.as_ref().and_then(|policy| {
            let found = self.settings.scheduler_names.get(policy).cloned();
            if found.is_none() {
                tracing::debug!(
                    policy,
                    "the decision asks for a server choice no member scheduler is mapped to \
                     (backend.karmada.scheduler_names): the members' default scheduler places"
                );
            }
            found
        });
        let options = RenderOptions {
            namespace: self.settings.namespace.clone(),
            helm: Some(self.settings.helm.clone()),
            scheduler_name,
        };
        let (graph, state) = (graph.clone(), desired.clone());
        let rendered = tokio::task::spawn_blocking(move || {
            let mut manifests = render_graph(&graph, &state.placement, &options)?;
            annotate(&graph, &state, &mut manifests)?;
            Ok::<_, crate::RenderError>(manifests)
        })
        .await
        .map_err(|e| ContinuumError::Unavailable(format!("rendering stopped: {e}")))?;
        rendered.map_err(|e| ContinuumError::Rejected(e.to_string()))
    }

    async fn server_side_apply(&self, manifest: &Manifest) -> Result<(), ContinuumError> {
        let what = format!("apply {}", manifest.id());
        let resolved = self
            .resources
            .resolve(&manifest.api_version, &manifest.kind)
            .await?;
        let api = self.resources.api(&resolved, &self.settings.namespace);
        let params = PatchParams::apply("smo");
        self.timed(
            &what,
            api.patch(&manifest.name, &params, &Patch::Apply(&manifest.body)),
        )
        .await?;
        Ok(())
    }

    /// Deletes the graph's objects of `kinds` that are not in `keep` (the kinds side by side).
    async fn prune(
        &self,
        graph: &str,
        kinds: &BTreeSet<Kind>,
        keep: &BTreeSet<(Kind, String)>,
    ) -> Result<(), ContinuumError> {
        let kinds: Vec<&Kind> = kinds.iter().collect();
        first_failure(
            futures::stream::iter(0..kinds.len())
                .map(|at| self.prune_kind(graph, kinds[at], keep))
                .buffered(REQUESTS_IN_FLIGHT)
                .collect()
                .await,
        )
    }

    async fn prune_kind(
        &self,
        graph: &str,
        (api_version, kind): &Kind,
        keep: &BTreeSet<(Kind, String)>,
    ) -> Result<(), ContinuumError> {
        let Some(resolved) = self.resolve_if_served(api_version, kind).await? else {
            return Ok(());
        };
        let api = self.resources.api(&resolved, &self.settings.namespace);
        let selector = graph_selector(graph);
        let what = format!("list {kind} of graph {graph:?}");
        let listed = self.timed(&what, api.list(&selector)).await?;
        for object in listed.items {
            let Some(name) = object.metadata.name else {
                continue;
            };
            if keep.contains(&((api_version.clone(), kind.clone()), name.clone())) {
                continue;
            }
            let what = format!("prune {kind}/{name}");
            match self
                .timed(&what, api.delete(&name, &DeleteParams::default()))
                .await
            {
                Ok(_) => tracing::info!(graph, kind = %kind, name, "pruned"),
                Err(ContinuumError::Rejected(message)) if message.contains(" 404 ") => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Deletes every object labelled with `graph`, the kinds side by side.
    pub(super) async fn withdraw_graph(&self, graph: &str) -> Result<(), ContinuumError> {
        let mut kinds: BTreeSet<Kind> = MANAGED_KINDS
            .iter()
            .map(|(v, k)| ((*v).to_owned(), (*k).to_owned()))
            .collect();
        kinds.extend(self.applied_kinds(graph));
        let listed: Vec<&Kind> = kinds.iter().collect();
        first_failure(
            futures::stream::iter(0..listed.len())
                .map(|at| self.delete_kind(graph, listed[at]))
                .buffered(REQUESTS_IN_FLIGHT)
                .collect()
                .await,
        )?;
        self.forget_kinds(graph);
        Ok(())
    }

    async fn delete_kind(
        &self,
        graph: &str,
        (api_version, kind): &Kind,
    ) -> Result<(), ContinuumError> {
        let Some(resolved) = self.resolve_if_served(api_version, kind).await? else {
            return Ok(());
        };
        let api = self.resources.api(&resolved, &self.settings.namespace);
        let selector = graph_selector(graph);
        let what = format!("delete the {kind}s of graph {graph:?}");
        self.timed(
            &what,
            api.delete_collection(&DeleteParams::default(), &selector),
        )
        .await?;
        Ok(())
    }

    /// The resource of a kind, or `None` when the API server does not serve it (nothing of it
    /// can exist).
    async fn resolve_if_served(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<super::resources::Resolved>, ContinuumError> {
        match self.resources.resolve(api_version, kind).await {
            Ok(resolved) => Ok(Some(resolved)),
            Err(ContinuumError::Rejected(message)) if message.contains("does not serve") => {
                tracing::debug!(api_version, kind, "not served; nothing to delete");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}

/// The objects of graph `graph`, by its label.
pub(super) fn graph_selector(graph: &str) -> ListParams {
    ListParams::default().labels(&format!("{GRAPH_LABEL}={graph}"))
}

/// The first failure of `results` in their order (the same one whichever request ended first).
pub(super) fn first_failure(
    results: Vec<Result<(), ContinuumError>>,
) -> Result<(), ContinuumError> {
    results.into_iter().collect()
}

/// Adds the generation to every object, and to each service's PropagationPolicy its workload
/// and the replicas decided per cluster (what `observe` reports before Karmada schedules).
fn annotate(
    graph: &GraphSpec,
    state: &DesiredState,
    manifests: &mut [Manifest],
) -> Result<(), crate::RenderError> {
    let placed = placed_services(graph, &state.placement)?;
    let workloads: Vec<(String, String, BTreeMap<String, u32>)> = placed
        .iter()
        .filter_map(|service| {
            let workload = workload_of(manifests, &service.spec.name)?;
            Some((workload.0, workload.1, service.replicas_by_cluster.clone()))
        })
        .collect();
    for manifest in manifests.iter_mut() {
        let mut notes = vec![(
            GENERATION_ANNOTATION.to_owned(),
            state.generation.to_string(),
        )];
        if manifest.kind == "PropagationPolicy" {
            for (kind, name, replicas) in &workloads {
                if selects(&manifest.body, kind, name) {
                    notes.push((
                        WORKLOAD_ANNOTATION.to_owned(),
                        format!("{}/{name}", kind.to_ascii_lowercase()),
                    ));
                    notes.push((
                        REPLICAS_ANNOTATION.to_owned(),
                        serde_json::to_string(replicas).unwrap_or_default(),
                    ));
                }
            }
        }
        let metadata = manifest
            .body
            .as_object_mut()
            .and_then(|o| o.get_mut("metadata"))
            .and_then(Value::as_object_mut);
        if let Some(metadata) = metadata {
            let annotations = metadata
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                for (key, value) in notes {
                    annotations.insert(key, Value::from(value));
                }
            }
        }
    }
    Ok(())
}

/// The workload of service `service` among `manifests`: its Deployment or StatefulSet named as
/// the service, else the only one carrying its label. (kind, name).
fn workload_of(manifests: &[Manifest], service: &str) -> Option<(String, String)> {
    let workloads: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| m.is_workload_of(service))
        .collect();
    let chosen = workloads
        .iter()
        .find(|m| m.name == service)
        .or_else(|| (workloads.len() == 1).then(|| &workloads[0]))?;
    Some((chosen.kind.clone(), chosen.name.clone()))
}

/// Whether policy `body` selects `kind` `name`.
fn selects(body: &Value, kind: &str, name: &str) -> bool {
    body["spec"]["resourceSelectors"]
        .as_array()
        .is_some_and(|selectors| {
            selectors
                .iter()
                .any(|s| s["kind"] == kind && s["name"] == name)
        })
}
