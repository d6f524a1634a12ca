//! The ResourceBinding Karmada would make for a workload: the PropagationPolicy selecting it
//! divides its replicas by static weight (largest remainder, as Karmada's scheduler), or sends
//! every replica to each cluster when it has no division; the status follows the members.

use serde_json::{json, Value};

use super::{lock, State};

/// The binding named `name` (`<workload>-<kind>`) in `namespace`, or `None` (404) when the
/// workload or its policy does not exist or Karmada has not scheduled yet.
pub(super) fn binding(state: &State, namespace: &str, name: &str) -> Option<Value> {
    let members = lock(&state.members).clone();
    if members.unscheduled {
        return None;
    }
    let (workload, kind) = split_binding_name(name)?;
    let (template, policy) = {
        let objects = lock(&state.objects);
        let template = objects
            .iter()
            .find(|((_, ns, _, object_name), object)| {
                ns.as_deref() == Some(namespace)
                    && object_name == workload
                    && object["kind"]
                        .as_str()
                        .map(str::to_ascii_lowercase)
                        .as_deref()
                        == Some(kind)
            })
            .map(|(_, object)| object.clone())?;
        let policy = objects
            .iter()
            .filter(|((_, ns, plural, _), _)| {
                ns.as_deref() == Some(namespace) && plural == "propagationpolicies"
            })
            .map(|(_, policy)| policy)
            .find(|policy| selects(policy, &template))
            .cloned()?;
        (template, policy)
    };
    let total = template["spec"]["replicas"].as_u64().unwrap_or(1);
    let placement = &policy["spec"]["placement"];
    let scheduled = schedule(placement, total);
    let aggregated: Vec<Value> = scheduled
        .iter()
        .map(|(cluster, replicas)| match members.failing.get(cluster) {
            Some(message) => json!({
                "clusterName": cluster, "applied": false, "appliedMessage": message,
                "health": "Unknown"
            }),
            None => json!({
                "clusterName": cluster, "applied": true, "health": "Healthy",
                "status": {
                    "replicas": replicas,
                    "readyReplicas": if members.ready { *replicas } else { 0 },
                }
            }),
        })
        .collect();
    let clusters: Vec<Value> = scheduled
        .iter()
        .map(|(cluster, replicas)| json!({"name": cluster, "replicas": replicas}))
        .collect();
    Some(json!({
        "apiVersion": "work.karmada.io/v1alpha2",
        "kind": "ResourceBinding",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": state.next_version()},
        "spec": {
            "resource": {
                "apiVersion": template["apiVersion"], "kind": template["kind"],
                "name": workload, "namespace": namespace
            },
            "replicas": total,
            "clusters": clusters,
        },
        "status": {"aggregatedStatus": aggregated}
    }))
}

/// `front-deployment` as (`front`, `deployment`).
fn split_binding_name(name: &str) -> Option<(&str, &str)> {
    ["deployment", "statefulset"].iter().find_map(|kind| {
        name.strip_suffix(kind)
            .and_then(|rest| rest.strip_suffix('-'))
            .map(|workload| (workload, *kind))
    })
}

fn selects(policy: &Value, template: &Value) -> bool {
    policy["spec"]["resourceSelectors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|selector| {
            selector["kind"] == template["kind"] && selector["name"] == template["metadata"]["name"]
        })
}

/// Replicas per cluster: divided by static weight (largest remainder, ties to the first
/// cluster), else every replica on each cluster of the affinity.
fn schedule(placement: &Value, total: u64) -> Vec<(String, u64)> {
    let weights: Vec<(String, u64)> = placement["replicaScheduling"]["weightPreference"]
        ["staticWeightList"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| {
            let weight = entry["weight"].as_u64().unwrap_or(0);
            entry["targetCluster"]["clusterNames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .map(move |c| (c.to_owned(), weight))
        })
        .collect();
    if weights.is_empty() {
        return placement["clusterAffinity"]["clusterNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str())
            .map(|c| (c.to_owned(), total))
            .collect();
    }
    let sum: u64 = weights.iter().map(|(_, w)| w).sum::<u64>().max(1);
    let mut shares: Vec<(String, u64, u64)> = weights
        .iter()
        .map(|(c, w)| (c.clone(), total * w / sum, total * w % sum))
        .collect();
    let mut left = total - shares.iter().map(|(_, s, _)| s).sum::<u64>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2));
    for at in order {
        if left == 0 {
            break;
        }
        shares[at].1 += 1;
        left -= 1;
    }
    shares.into_iter().map(|(c, s, _)| (c, s)).collect()
}
