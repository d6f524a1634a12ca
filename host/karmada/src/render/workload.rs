//! The resource template of a service without a Helm chart: a Deployment running the descriptor's
//! container image with the translated compute intent as requests, and a Service for its ports.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, PodSpec, PodTemplateSpec, ResourceRequirements, Service,
    ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use smo_core::graphs::container::ContainerPort as PortSpec;
use smo_core::graphs::Demand;

use super::{Labels, PlacedService, RenderOptions};
use crate::{Manifest, RenderError};

/// The GPU resource name requested for `demand.gpu` (NVIDIA's device plugin).
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The Deployment (all replicas: the PropagationPolicy divides them) and, when the container has
/// ports, the Service of `service`.
pub fn render(
    service: &PlacedService<'_>,
    labels: &Labels,
    options: &RenderOptions,
) -> Result<Vec<Manifest>, RenderError> {
    let name = &service.spec.name;
    let artifact = service.artifact;
    let Some(image) = artifact.and_then(|a| a.image.as_deref()) else {
        return Err(RenderError::NothingToRun {
            field: service.field("artifact"),
            service: name.clone(),
        });
    };
    let ports = artifact.map(|a| a.ports.as_slice()).unwrap_or_default();
    let env = artifact.map(|a| a.env.as_slice()).unwrap_or_default();
    let container = Container {
        name: name.clone(),
        image: Some(image.to_owned()),
        ports: (!ports.is_empty()).then(|| ports.iter().map(container_port).collect()),
        env: (!env.is_empty()).then(|| {
            env.iter()
                .map(|var| EnvVar {
                    name: var.name.clone(),
                    value: Some(var.value.clone()),
                    ..EnvVar::default()
                })
                .collect()
        }),
        resources: Some(resources(service.spec.demand)),
        ..Container::default()
    };
    let replicas = i32::try_from(service.total_replicas()).unwrap_or(i32::MAX);
    let deployment = Deployment {
        metadata: labels.metadata(name, &options.namespace),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.selector()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels.all()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };
    let mut manifests = vec![Manifest::of(&deployment)?];
    if !ports.is_empty() {
        manifests.push(Manifest::of(&kube_service(name, ports, labels, options))?);
    }
    Ok(manifests)
}

/// A ClusterIP Service for `ports`, selecting the service's pods.
fn kube_service(
    name: &str,
    ports: &[PortSpec],
    labels: &Labels,
    options: &RenderOptions,
) -> Service {
    Service {
        metadata: labels.metadata(name, &options.namespace),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels.selector()),
            ports: Some(
                ports
                    .iter()
                    .map(|port| ServicePort {
                        name: Some(port.name.clone()),
                        port: i32::from(port.port),
                        protocol: Some(port.protocol.clone()),
                        target_port: Some(IntOrString::String(port.name.clone())),
                        ..ServicePort::default()
                    })
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

fn container_port(port: &PortSpec) -> ContainerPort {
    ContainerPort {
        name: Some(port.name.clone()),
        container_port: i32::from(port.port),
        protocol: Some(port.protocol.clone()),
        ..ContainerPort::default()
    }
}

/// Requests from the translated compute intent (CPU in millicores, memory in MiB, rounded up);
/// memory and GPUs are also limits (a GPU can only be a limit), CPU is not (no throttling).
pub fn resources(demand: Demand) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    let millicores = (demand.cpu * 1000.0).ceil();
    if millicores >= 1.0 {
        requests.insert("cpu".to_owned(), Quantity(format!("{millicores:.0}m")));
    }
    let mebibytes = demand.memory_mib.ceil();
    if mebibytes >= 1.0 {
        let memory = Quantity(format!("{mebibytes:.0}Mi"));
        requests.insert("memory".to_owned(), memory.clone());
        limits.insert("memory".to_owned(), memory);
    }
    if demand.gpu > 0 {
        limits.insert(GPU_RESOURCE.to_owned(), Quantity(demand.gpu.to_string()));
    }
    ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    }
}
