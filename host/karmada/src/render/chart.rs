//! A service whose artifact is a Helm chart: rendered with `helm template` (Helm as a
//! subprocess: render, then apply ourselves, as Argo CD does) with the values of [`super::values`],
//! then given smo's labels, the namespace, the decided replicas and, when the chart has none, a
//! PropagationPolicy.
//!
//! A chart named `oci://registry/project/<name>[:tag]` is looked up first as `<dir>/<name>` (a
//! chart directory) or `<dir>/<name>-*.tgz` in each chart directory, for air-gapped sites and
//! tests; otherwise helm pulls the reference. A chart that templates its own PropagationPolicy
//! for the workload (NEPHELE's charts do, from `clustersAffinity`) keeps it; when the service runs
//! on several clusters and that policy says nothing about replicas, smo adds the static-weight
//! division (Karmada would otherwise run the template's replicas on every cluster).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::propagation::{weighted_division, weighted_placement};
use super::{Labels, PlacedService, RenderOptions};
use crate::crd::{PropagationPolicy, PropagationSpec, ResourceSelector};
use crate::{Manifest, RenderError};

/// How charts are rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmSettings {
    /// The `helm` binary (v3 or v4).
    pub helm: PathBuf,
    /// Directories searched for a chart before helm pulls its reference.
    pub chart_dirs: Vec<PathBuf>,
    /// Pull over plain HTTP (an insecure registry, as upstream's `INSECURE_REGISTRY`).
    pub plain_http: bool,
    /// `Capabilities.KubeVersion` for the templates (e.g. `1.33.0`); helm's default otherwise.
    pub kube_version: Option<String>,
}

impl Default for HelmSettings {
    fn default() -> Self {
        Self {
            helm: PathBuf::from("helm"),
            chart_dirs: Vec::new(),
            plain_http: false,
            kube_version: None,
        }
    }
}

/// Kinds that have no namespace, among those a chart may hold.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "ClusterPropagationPolicy",
    "ClusterOverridePolicy",
];

/// The objects of `service`'s chart `chart` rendered with `values`.
pub fn render(
    service: &PlacedService<'_>,
    chart: &str,
    values: &Value,
    labels: &Labels,
    options: &RenderOptions,
    helm: &HelmSettings,
) -> Result<Vec<Manifest>, RenderError> {
    let name = &service.spec.name;
    let _span = tracing::debug_span!("helm_template", service = %name, chart).entered();
    let failed = |reason: String| RenderError::Chart {
        field: service.field("artifact.ociImage"),
        service: name.clone(),
        chart: chart.to_owned(),
        reason,
    };
    let output = helm_template(name, chart, values, options, helm).map_err(&failed)?;
    let mut objects = Vec::new();
    for (i, document) in serde_norway::Deserializer::from_str(&output).enumerate() {
        let value = Value::deserialize(document)
            .map_err(|e| failed(format!("helm's document {} is not YAML: {e}", i + 1)))?;
        if value.is_null() {
            continue;
        }
        let Value::Object(object) = value else {
            return Err(failed(format!(
                "helm's document {} is not an object",
                i + 1
            )));
        };
        objects.push(object);
    }
    if objects.is_empty() {
        return Err(failed("the chart renders no object".into()));
    }
    for object in &mut objects {
        adopt(object, labels, &options.namespace);
    }
    let workload = set_replicas(&mut objects, name, service.total_replicas());
    let has_policy = match &workload {
        Some((kind, workload_name)) => {
            keep_chart_policy(&mut objects, kind, workload_name, service)
        }
        None => false,
    };
    let mut manifests = objects
        .iter()
        .map(Manifest::of)
        .collect::<Result<Vec<_>, _>>()?;
    if !has_policy {
        manifests.push(Manifest::of(&smo_policy(
            &manifests, service, labels, options,
        ))?);
    }
    Ok(manifests)
}

/// Runs `helm template` and returns its standard output, or why it failed.
fn helm_template(
    release: &str,
    chart: &str,
    values: &Value,
    options: &RenderOptions,
    helm: &HelmSettings,
) -> Result<String, String> {
    let mut values_file =
        tempfile::NamedTempFile::new().map_err(|e| format!("cannot write the values: {e}"))?;
    let yaml =
        serde_norway::to_string(values).map_err(|e| format!("cannot write the values: {e}"))?;
    values_file
        .write_all(yaml.as_bytes())
        .map_err(|e| format!("cannot write the values: {e}"))?;
    let reference = resolve(chart, &helm.chart_dirs);
    let mut command = Command::new(&helm.helm);
    command
        .args([
            "template",
            release,
            &reference,
            "--namespace",
            &options.namespace,
        ])
        .arg("--values")
        .arg(values_file.path())
        .args(["--no-hooks", "--skip-tests"]);
    if helm.plain_http {
        command.arg("--plain-http");
    }
    if let Some(version) = &helm.kube_version {
        command.args(["--kube-version", version]);
    }
    let output = command.output().map_err(|e| {
        format!(
            "cannot run {} ({e}): install Helm or name it with --helm",
            helm.helm.display()
        )
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "`helm template {release} {reference}` failed: {}",
            stderr.trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| "helm's output is not UTF-8".into())
}

/// A local copy of `chart` in `dirs` (a directory `<name>` with a `Chart.yaml`, or the newest
/// `<name>-<version>.tgz`), else `chart` as written.
pub fn resolve(chart: &str, dirs: &[PathBuf]) -> String {
    let name = chart_name(chart);
    for dir in dirs {
        let unpacked = dir.join(name);
        if unpacked.join("Chart.yaml").is_file() {
            return unpacked.display().to_string();
        }
        let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| is_archive_of(path, name))
            .collect();
        archives.sort();
        if let Some(newest) = archives.pop() {
            return newest.display().to_string();
        }
    }
    chart.to_owned()
}

/// The chart's name: the last path segment of its reference, without a tag.
pub fn chart_name(chart: &str) -> &str {
    let last = chart
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(chart);
    last.split(':').next().unwrap_or(last)
}

fn is_archive_of(path: &Path, name: &str) -> bool {
    path.file_name()
        .and_then(|file| file.to_str())
        .and_then(|file| file.strip_suffix(".tgz"))
        .and_then(|stem| stem.strip_prefix(name))
        .is_some_and(|version| version.starts_with('-'))
}

/// Gives a chart object smo's labels and, when namespaced without a namespace, the graph's.
fn adopt(object: &mut Map<String, Value>, labels: &Labels, namespace: &str) {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(metadata) = metadata else {
        return;
    };
    if !CLUSTER_SCOPED.contains(&kind.as_str()) && !metadata.contains_key("namespace") {
        metadata.insert("namespace".into(), Value::from(namespace));
    }
    let own = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !own.is_object() {
        *own = Value::Object(Map::new());
    }
    if let Value::Object(own) = own {
        for (key, value) in labels.ownership() {
            own.insert(key, Value::from(value));
        }
    }
}

/// Sets the replicas of the service's workload (the Deployment or StatefulSet named as the
/// service, else the chart's only one); returns its kind and name.
fn set_replicas(
    objects: &mut [Map<String, Value>],
    service: &str,
    replicas: u32,
) -> Option<(String, String)> {
    let is_workload = |o: &Map<String, Value>| {
        matches!(
            o.get("kind").and_then(Value::as_str),
            Some("Deployment" | "StatefulSet")
        )
    };
    let named = objects
        .iter()
        .position(|o| is_workload(o) && object_name(o) == Some(service));
    let index = named.or_else(|| {
        let mut workloads = objects.iter().enumerate().filter(|(_, o)| is_workload(o));
        match (workloads.next(), workloads.next()) {
            (Some((index, _)), None) => Some(index),
            _ => None,
        }
    })?;
    let object = &mut objects[index];
    if let Some(Value::Object(spec)) = object.get_mut("spec") {
        spec.insert("replicas".into(), Value::from(replicas));
    }
    Some((
        object.get("kind")?.as_str()?.to_owned(),
        object_name(object)?.to_owned(),
    ))
}

fn object_name(object: &Map<String, Value>) -> Option<&str> {
    object.get("metadata")?.get("name")?.as_str()
}

/// Whether the chart has a PropagationPolicy selecting the workload; if it has, and the service
/// runs on several clusters without a replica division in that policy, adds the division.
fn keep_chart_policy(
    objects: &mut [Map<String, Value>],
    kind: &str,
    name: &str,
    service: &PlacedService<'_>,
) -> bool {
    let selects = |policy: &Map<String, Value>| {
        policy.get("kind").and_then(Value::as_str) == Some("PropagationPolicy")
            && policy
                .get("spec")
                .and_then(|spec| spec.get("resourceSelectors"))
                .and_then(Value::as_array)
                .is_some_and(|selectors| {
                    selectors.iter().any(|s| {
                        s.get("kind").and_then(Value::as_str) == Some(kind)
                            && s.get("name").and_then(Value::as_str) == Some(name)
                    })
                })
    };
    let Some(policy) = objects.iter_mut().find(|o| selects(o)) else {
        return false;
    };
    let placement = policy
        .get_mut("spec")
        .and_then(|spec| spec.get_mut("placement"))
        .and_then(Value::as_object_mut);
    if let Some(placement) = placement {
        if service.replicas_by_cluster.len() > 1 && !placement.contains_key("replicaScheduling") {
            if let Ok(division) = serde_json::to_value(weighted_division(service)) {
                placement.insert("replicaScheduling".into(), division);
            }
        }
    }
    true
}

/// smo's policy for a chart without one: every namespaced object of the chart (but policies)
/// to the service's clusters, the workload's replicas divided by static weight.
fn smo_policy(
    manifests: &[Manifest],
    service: &PlacedService<'_>,
    labels: &Labels,
    options: &RenderOptions,
) -> PropagationPolicy {
    let selectors = manifests
        .iter()
        .filter(|m| {
            m.namespace.is_some()
                && !matches!(m.kind.as_str(), "PropagationPolicy" | "OverridePolicy")
        })
        .map(|m| ResourceSelector {
            api_version: m.api_version.clone(),
            kind: m.kind.clone(),
            namespace: None,
            name: Some(m.name.clone()),
        })
        .collect();
    PropagationPolicy::new(
        labels.metadata(&service.spec.name, &options.namespace),
        PropagationSpec {
            resource_selectors: selectors,
            propagate_deps: Some(true),
            placement: weighted_placement(service),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_named_by_its_last_segment_without_a_tag() {
        assert_eq!(
            chart_name("oci://10.0.3.53:5000/test/noise-reduction"),
            "noise-reduction"
        );
        assert_eq!(chart_name("oci://registry/x/app:1.2.0"), "app");
        assert_eq!(chart_name("./charts/app/"), "app");
    }

    #[test]
    fn a_local_chart_is_found_as_a_directory_or_the_newest_archive() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("unpacked")).unwrap();
        std::fs::write(dir.path().join("unpacked/Chart.yaml"), "name: unpacked").unwrap();
        for file in [
            "packed-0.1.0.tgz",
            "packed-0.2.0.tgz",
            "packedother-9.0.0.tgz",
        ] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let dirs = vec![dir.path().to_path_buf()];
        assert_eq!(
            resolve("oci://r/p/unpacked", &dirs),
            dir.path().join("unpacked").display().to_string()
        );
        assert_eq!(
            resolve("oci://r/p/packed:0.2.0", &dirs),
            dir.path().join("packed-0.2.0.tgz").display().to_string()
        );
        assert_eq!(resolve("oci://r/p/absent", &dirs), "oci://r/p/absent");
    }
}
