//! Calls between services on different clusters: a service that others call (it is in their
//! `connectionPoints`) is exported where it runs and imported where its callers run, so that
//! `<service>.<namespace>.svc.clusterset.local` resolves there (Submariner Lighthouse, Karmada).
//!
//! The import clusters are upstream SMO's `serviceImportClusters` (for every service S and every
//! T that S calls, S's clusters import T), without upstream's duplicates and sorted.

use std::collections::{BTreeMap, BTreeSet};

use smo_core::graphs::GraphSpec;

use super::propagation::{object_policy, selector};
use super::{Labels, PlacedService, RenderOptions};
use crate::crd::multicluster::MCS_API_VERSION;
use crate::crd::{ServiceExport, ServiceImport, ServiceImportSpec, ServicePortSpec};
use crate::{Manifest, RenderError};

/// For each called service, the clusters where its callers run (sorted, no duplicates). A
/// service nobody calls, or whose callers are not placed, is absent.
pub fn import_clusters(placed: &[PlacedService<'_>]) -> BTreeMap<String, BTreeSet<String>> {
    super::values::service_import_clusters(placed)
        .into_iter()
        .map(|(callee, clusters)| (callee, clusters.into_iter().collect()))
        .collect()
}

/// The ServiceExport, ServiceImport and their PropagationPolicies (`<service>-export`,
/// `<service>-import`) of every placed service that is called and has ports.
pub fn render(
    graph: &GraphSpec,
    placed: &[PlacedService<'_>],
    options: &RenderOptions,
) -> Result<Vec<Manifest>, RenderError> {
    let imports = import_clusters(placed);
    let mut manifests = Vec::new();
    for callee in placed {
        let name = &callee.spec.name;
        let Some(importers) = imports.get(name) else {
            continue;
        };
        let ports = callee
            .artifact
            .map(|a| a.ports.as_slice())
            .unwrap_or_default();
        if ports.is_empty() {
            continue;
        }
        let labels = Labels::new(&graph.name, name);
        let export = ServiceExport::new(labels.metadata(name, &options.namespace));
        let import = ServiceImport::new(
            labels.metadata(name, &options.namespace),
            ServiceImportSpec {
                import_type: "ClusterSetIP".into(),
                ports: ports
                    .iter()
                    .map(|port| ServicePortSpec {
                        name: port.name.clone(),
                        protocol: port.protocol.clone(),
                        port: i32::from(port.port),
                    })
                    .collect(),
            },
        );
        manifests.push(Manifest::of(&export)?);
        manifests.push(Manifest::of(&object_policy(
            &format!("{name}-export"),
            vec![selector(MCS_API_VERSION, "ServiceExport", name)],
            callee.clusters(),
            &labels,
            options,
        ))?);
        manifests.push(Manifest::of(&import)?);
        manifests.push(Manifest::of(&object_policy(
            &format!("{name}-import"),
            vec![selector(MCS_API_VERSION, "ServiceImport", name)],
            importers.iter().cloned().collect(),
            &labels,
            options,
        ))?);
    }
    Ok(manifests)
}
