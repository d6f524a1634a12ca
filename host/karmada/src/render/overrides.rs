//! The server choice a placement decision asks for (`extra.server_selection`, e.g.
//! h3ni-energy's), as an OverridePolicy per workload setting the pods' `schedulerName` on its clusters.

use crate::crd::{
    ClusterAffinity, OverridePolicy, OverrideRule, OverrideSpec, Overriders, PlaintextOverrider,
};
use crate::manifest::Manifest;
use crate::RenderError;

use super::propagation::selector;
use super::{Labels, PlacedService, RenderOptions};

/// For each workload (Deployment or StatefulSet) of `service` among `manifests`, an
/// OverridePolicy `<workload>-scheduler` that sets its pods' `schedulerName` to `scheduler` on
/// the service's clusters.
pub fn scheduler_overrides(
    service: &PlacedService<'_>,
    manifests: &[Manifest],
    scheduler: &str,
    labels: &Labels,
    options: &RenderOptions,
) -> Result<Vec<Manifest>, RenderError> {
    manifests
        .iter()
        .filter(|m| m.is_workload_of(&service.spec.name))
        .map(|workload| {
            let name = format!("{}-scheduler", workload.name);
            super::names::check_dns_label(&service.field("id"), &name)?;
            Manifest::of(&OverridePolicy::new(
                labels.metadata(&name, &options.namespace),
                OverrideSpec {
                    resource_selectors: vec![selector(
                        &workload.api_version,
                        &workload.kind,
                        &workload.name,
                    )],
                    override_rules: vec![OverrideRule {
                        target_cluster: Some(ClusterAffinity {
                            cluster_names: service.clusters(),
                        }),
                        overriders: Overriders {
                            plaintext: vec![PlaintextOverrider {
                                path: "/spec/template/spec/schedulerName".into(),
                                operator: "add".into(),
                                value: Some(scheduler.into()),
                            }],
                        },
                    }],
                },
            ))
        })
        .collect()
}
