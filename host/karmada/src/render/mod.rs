//! A graph's desired state as objects: per placed service its workload ([`workload`]), its
//! PropagationPolicy ([`propagation`]) and its multi-cluster exports and imports ([`imports`]).
//!
//! Rendering is pure and deterministic (clusters and objects in a fixed order), so applying the
//! same desired state twice sends the same bodies, and `smo render` shows exactly what would go.

pub mod chart;
pub mod imports;
pub mod names;
pub mod overrides;
pub mod propagation;
pub mod values;
pub mod workload;

pub use chart::HelmSettings;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use smo_core::graphs::descriptor::Artifact;
use smo_core::graphs::{GraphSpec, ServiceSpec};
use smo_core::placement::PlacementEntry;

use crate::manifest::{Manifest, GRAPH_LABEL, MANAGED_BY, SERVICE_LABEL};
use crate::RenderError;

/// Where and how a graph is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// The namespace of every object (one per project, as upstream SMO's Helm namespace).
    pub namespace: String,
    /// How Helm charts are rendered; `None`: a service with a chart is an error.
    pub helm: Option<HelmSettings>,
    /// The pods' `schedulerName` on their clusters (an OverridePolicy per workload), when the
    /// placement decision asked for a server choice the member clusters' schedulers offer.
    pub scheduler_name: Option<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            namespace: "smo".into(),
            helm: None,
            scheduler_name: None,
        }
    }
}

/// One placed service: where its replicas run, by cluster name (sorted), and their total.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedService<'a> {
    /// Its index in the descriptor (for the paths in errors).
    pub index: usize,
    pub spec: &'a ServiceSpec,
    /// `services[i].artifact`: the chart, or the container smo renders.
    pub artifact: Option<&'a Artifact>,
    pub replicas_by_cluster: BTreeMap<String, u32>,
}

impl PlacedService<'_> {
    pub fn total_replicas(&self) -> u32 {
        self.replicas_by_cluster.values().sum()
    }

    pub fn clusters(&self) -> Vec<String> {
        self.replicas_by_cluster.keys().cloned().collect()
    }

    /// The descriptor path of this service's field `key`.
    pub fn field(&self, key: &str) -> String {
        format!("hdaGraph.services[{}].{key}", self.index)
    }
}

/// The objects of `graph` placed as `placement`, in apply order: the namespace, then per
/// service (in descriptor order) its workload, its PropagationPolicy, then the exports and
/// imports. Services without replicas (a conditional service before its alert) render nothing.
pub fn render_graph(
    graph: &GraphSpec,
    placement: &[PlacementEntry],
    options: &RenderOptions,
) -> Result<Vec<Manifest>, RenderError> {
    let _span = tracing::debug_span!("render_graph", graph = %graph.name).entered();
    names::check_dns_label("namespace", &options.namespace)?;
    names::check_label_value("hdaGraph.id", &graph.name)?;
    let placed = placed_services(graph, placement)?;
    let imports = values::service_import_clusters(&placed);
    let mut manifests = vec![Manifest::of(&namespace(&options.namespace))?];
    for service in &placed {
        names::check_dns_label(&service.field("id"), &service.spec.name)?;
        let labels = Labels::new(&graph.name, &service.spec.name);
        let first = manifests.len();
        match service.artifact.and_then(|a| a.oci_image.as_deref()) {
            Some(reference) => {
                let Some(helm) = &options.helm else {
                    return Err(RenderError::Chart {
                        field: service.field("artifact.ociImage"),
                        service: service.spec.name.clone(),
                        chart: reference.to_owned(),
                        reason: "charts are rendered by `helm template`, and no Helm was given"
                            .into(),
                    });
                };
                let values = values::chart_values(service, &imports);
                manifests.extend(chart::render(
                    service, reference, &values, &labels, options, helm,
                )?);
            }
            None => {
                manifests.extend(workload::render(service, &labels, options)?);
                manifests.push(Manifest::of(&propagation::workload_policy(
                    service, &labels, options,
                ))?);
            }
        }
        if let Some(scheduler) = &options.scheduler_name {
            let added = overrides::scheduler_overrides(
                service,
                &manifests[first..],
                scheduler,
                &labels,
                options,
            )?;
            manifests.extend(added);
        }
    }
    manifests.extend(imports::render(graph, &placed, options)?);
    Ok(manifests)
}

/// The services of `graph` with replicas in `placement`, in descriptor order.
pub fn placed_services<'a>(
    graph: &'a GraphSpec,
    placement: &[PlacementEntry],
) -> Result<Vec<PlacedService<'a>>, RenderError> {
    if let Some(unknown) = placement
        .iter()
        .find(|entry| !graph.services.iter().any(|s| s.name == entry.service))
    {
        return Err(RenderError::UnknownService {
            graph: graph.name.clone(),
            service: unknown.service.clone(),
        });
    }
    Ok(graph
        .services
        .iter()
        .enumerate()
        .filter_map(|(index, spec)| {
            let mut replicas_by_cluster = BTreeMap::new();
            for entry in placement
                .iter()
                .filter(|e| e.service == spec.name && e.replicas > 0)
            {
                *replicas_by_cluster
                    .entry(entry.cluster.clone())
                    .or_insert(0) += entry.replicas;
            }
            (!replicas_by_cluster.is_empty()).then_some(PlacedService {
                index,
                spec,
                artifact: graph
                    .descriptor
                    .services
                    .get(index)
                    .and_then(|descriptor| descriptor.artifact.as_ref()),
                replicas_by_cluster,
            })
        })
        .collect())
}

/// The labels of one service's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub graph: String,
    pub service: String,
}

impl Labels {
    pub fn new(graph: &str, service: &str) -> Self {
        Self {
            graph: graph.to_owned(),
            service: service.to_owned(),
        }
    }

    /// What selects the service's pods: its name and graph.
    pub fn selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), self.service.clone()),
            (GRAPH_LABEL.to_owned(), self.graph.clone()),
        ])
    }

    /// Every label of the service's objects: the selector, the service and `managed-by: smo`.
    pub fn all(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector();
        labels.extend(self.ownership());
        labels
    }

    /// What says an object is smo's and whose (added to a chart's objects): the graph, the
    /// service and `managed-by: smo`.
    pub fn ownership(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (GRAPH_LABEL.to_owned(), self.graph.clone()),
            (SERVICE_LABEL.to_owned(), self.service.clone()),
            (MANAGED_BY.to_owned(), "smo".to_owned()),
        ])
    }

    /// Metadata of an object named `name` in `namespace` with these labels.
    pub fn metadata(&self, name: &str, namespace: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(self.all()),
            ..ObjectMeta::default()
        }
    }
}

/// The project's namespace (Karmada propagates namespaces to its member clusters itself).
fn namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(BTreeMap::from([(MANAGED_BY.to_owned(), "smo".to_owned())])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

#[cfg(test)]
mod tests;
