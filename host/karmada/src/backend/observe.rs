//! What runs of a graph: for each service's PropagationPolicy (found by the graph's label), the
//! ResourceBinding Karmada made for its workload: the replicas scheduled per cluster
//! (`spec.clusters`) and those ready there (`status.aggregatedStatus[].status.readyReplicas`),
//! with the member's error when the work could not be applied. Before Karmada has scheduled,
//! the replicas smo decided (the policy's annotation) with none ready.

use std::collections::BTreeMap;

use kube::api::DynamicObject;
use serde_json::Value;
use smo_core::ports::continuum::{ContinuumError, Observation, ObservedReplicas};

use futures::StreamExt;

use super::apply::{
    GENERATION_ANNOTATION, REPLICAS_ANNOTATION, REQUESTS_IN_FLIGHT, WORKLOAD_ANNOTATION,
};
use super::KarmadaContinuum;
use crate::manifest::SERVICE_LABEL;

impl KarmadaContinuum {
    pub(super) async fn observe_graph(&self, graph: &str) -> Result<Observation, ContinuumError> {
        let policies = self
            .resources
            .resolve("policy.karmada.io/v1alpha1", "PropagationPolicy")
            .await?;
        let api = self.resources.api(&policies, &self.settings.namespace);
        let selector = super::apply::graph_selector(graph);
        let listed = self
            .timed(
                &format!("list the PropagationPolicies of graph {graph:?}"),
                api.list(&selector),
            )
            .await?;
        let bindings = self
            .resources
            .resolve("work.karmada.io/v1alpha2", "ResourceBinding")
            .await?;
        let bindings = self.resources.api(&bindings, &self.settings.namespace);
        let mut observation = Observation::default();
        let mut generations = Vec::new();
        let mut workloads: Vec<(String, String, BTreeMap<String, String>)> = Vec::new();
        for policy in &listed.items {
            let annotations: BTreeMap<String, String> = policy
                .metadata
                .annotations
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect();
            let Some(workload) = annotations.get(WORKLOAD_ANNOTATION) else {
                continue;
            };
            let service = policy
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(SERVICE_LABEL))
                .cloned()
                .unwrap_or_default();
            if let Some(generation) = annotations
                .get(GENERATION_ANNOTATION)
                .and_then(|g| g.parse::<u64>().ok())
            {
                generations.push(generation);
            }
            workloads.push((service, binding_name(workload), annotations));
        }
        // The bindings side by side (by index: see `apply_graph`).
        let found: Vec<Result<Option<DynamicObject>, ContinuumError>> =
            futures::stream::iter(0..workloads.len())
                .map(|at| {
                    let name = &workloads[at].1;
                    self.timed_owned(
                        format!("get ResourceBinding {name}"),
                        bindings.get_opt(name),
                    )
                })
                .buffered(REQUESTS_IN_FLIGHT)
                .collect()
                .await;
        for ((service, _, annotations), binding) in workloads.iter().zip(found) {
            match binding? {
                Some(binding) => observation.replicas.extend(binding_rows(service, &binding)),
                None => {
                    let decided: BTreeMap<String, u32> = annotations
                        .get(REPLICAS_ANNOTATION)
                        .and_then(|text| serde_json::from_str(text).ok())
                        .unwrap_or_default();
                    observation
                        .replicas
                        .extend(
                            decided
                                .into_iter()
                                .map(|(cluster, desired)| ObservedReplicas {
                                    service: service.clone(),
                                    cluster,
                                    desired,
                                    ready: 0,
                                    last_error: None,
                                }),
                        );
                }
            }
        }
        observation.generation = generations.into_iter().min();
        Ok(observation)
    }
}

/// Karmada's name of the binding of workload `deployment/front`: `front-deployment`.
pub fn binding_name(workload: &str) -> String {
    match workload.split_once('/') {
        Some((kind, name)) => format!("{name}-{kind}"),
        None => workload.to_owned(),
    }
}

/// Per cluster of a ResourceBinding: replicas scheduled, ready, and the member's error.
pub fn binding_rows(service: &str, binding: &DynamicObject) -> Vec<ObservedReplicas> {
    let mut rows: BTreeMap<String, ObservedReplicas> = BTreeMap::new();
    let row = |cluster: &str| ObservedReplicas {
        service: service.to_owned(),
        cluster: cluster.to_owned(),
        desired: 0,
        ready: 0,
        last_error: None,
    };
    for target in binding.data["spec"]["clusters"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(cluster) = target["name"].as_str() else {
            continue;
        };
        rows.entry(cluster.to_owned())
            .or_insert_with(|| row(cluster))
            .desired = count(&target["replicas"]);
    }
    for item in binding.data["status"]["aggregatedStatus"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(cluster) = item["clusterName"].as_str() else {
            continue;
        };
        let entry = rows
            .entry(cluster.to_owned())
            .or_insert_with(|| row(cluster));
        entry.ready = count(&item["status"]["readyReplicas"]);
        if item["applied"] == false {
            entry.last_error = Some(
                item["appliedMessage"]
                    .as_str()
                    .unwrap_or("the member cluster did not apply the work")
                    .to_owned(),
            );
        }
    }
    rows.into_values().collect()
}

fn count(value: &Value) -> u32 {
    value
        .as_u64()
        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_binding_gives_scheduled_ready_and_the_members_error() {
        let binding: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "work.karmada.io/v1alpha2", "kind": "ResourceBinding",
            "metadata": {"name": "front-deployment", "namespace": "smo"},
            "spec": {"clusters": [{"name": "edge-1", "replicas": 2}, {"name": "cloud-a", "replicas": 1}]},
            "status": {"aggregatedStatus": [
                {"clusterName": "edge-1", "applied": true, "status": {"readyReplicas": 2, "replicas": 2}},
                {"clusterName": "cloud-a", "applied": false, "appliedMessage": "quota exceeded"},
                {"clusterName": "old", "applied": true, "status": {"readyReplicas": 1}}
            ]}
        }))
        .unwrap();
        let rows = binding_rows("front", &binding);
        let view: Vec<(&str, u32, u32, Option<&str>)> = rows
            .iter()
            .map(|r| {
                (
                    r.cluster.as_str(),
                    r.desired,
                    r.ready,
                    r.last_error.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("cloud-a", 1, 0, Some("quota exceeded")),
                ("edge-1", 2, 2, None),
                ("old", 0, 1, None),
            ]
        );
        assert_eq!(binding_name("deployment/front"), "front-deployment");
    }
}
