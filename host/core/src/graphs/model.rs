//! The validated graph, [`GraphSpec`]: what the API, the store and the engine work with, and
//! how it becomes the [`smo_plugin_api::Graph`] that strategies see.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use smo_plugin_api::{
    Dependency, DependencyKind, Graph, RString, RVec, Resources, Service, StrategyKind,
};

use crate::ecosystem::Declaration;

use super::descriptor::{HdaGraph, ServiceDescriptor};
use super::extensions::{Dependencies, OffloadPolicy, Scaling, Strategies, StrategyParameters};
use super::GraphError;

/// A validated application graph. Built only by [`super::parse_descriptor`] (or read back from
/// the store), so every field is known to be consistent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphSpec {
    /// `hdaGraph.id`.
    pub name: String,
    /// In descriptor order.
    pub services: Vec<ServiceSpec>,
    /// Strategies named by the graph; `None` means the host's default for that kind.
    #[serde(default)]
    pub strategies: Strategies,
    /// `strategyParameters`, one JSON object per kind.
    #[serde(default)]
    pub strategy_parameters: StrategyParameters,
    /// `offloadPolicy`; `None` when the graph does not ask for offloading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offload_policy: Option<OffloadPolicy>,
    /// `hdaGraphIntent.useStaticPlacement`: keep the charts' `clustersAffinity`.
    #[serde(default)]
    pub use_static_placement: bool,
    /// The upstream part of the descriptor, typed (artifacts, triggers, ...).
    pub descriptor: HdaGraph,
    /// The whole document as submitted, as JSON (unknown keys included).
    pub document: Value,
    /// The descriptor text as submitted. Not serialised: the store keeps it in its own column.
    #[serde(skip)]
    pub source: String,
}

/// Per-replica demand, translated from the compute intent.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Demand {
    /// CPU cores.
    pub cpu: f64,
    /// Memory in MiB.
    pub memory_mib: f64,
    /// Whole GPUs.
    pub gpu: u32,
}

impl From<Demand> for Resources {
    fn from(demand: Demand) -> Self {
        Resources::new(demand.cpu, demand.memory_mib, demand.gpu)
    }
}

/// One validated service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `services[i].id`.
    pub name: String,
    pub demand: Demand,
    /// Storage in MiB, when the intent gives one (not used in decisions, as upstream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_mib: Option<f64>,
    #[serde(default)]
    pub scaling: Scaling,
    #[serde(default)]
    pub dependencies: Dependencies,
    /// Services this one calls (`connectionPoints`).
    #[serde(default)]
    pub connection_points: Vec<String>,
    /// Deployed on an event (alert) rather than with the graph.
    #[serde(default)]
    pub conditional: bool,
    /// With `useStaticPlacement`: the chart's `clustersAffinity` (empty: any cluster).
    #[serde(default)]
    pub static_clusters: Vec<String>,
    /// `deployment.intent.ecosystem`: the service's dependency declaration by characteristics,
    /// its `vm_name` `<graph>/<service>`; `None` when the descriptor gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<Declaration>,
}

impl ServiceSpec {
    /// The service as strategies see it, with `min_replicas` replicas (the engine overrides the
    /// count with the current one).
    pub fn to_plugin_service(&self) -> Service {
        let dependencies = self
            .dependencies
            .required
            .iter()
            .map(|name| (name, DependencyKind::Required))
            .chain(
                self.dependencies
                    .preferred
                    .iter()
                    .map(|name| (name, DependencyKind::Preferred)),
            )
            .map(|(name, kind)| Dependency {
                service: RString::from(name.as_str()),
                kind,
            })
            .collect::<Vec<_>>();
        let extra = json!({
            "connectionPoints": self.connection_points,
            "storageMib": self.storage_mib,
            "trigger": if self.conditional { "event" } else { "auto" },
        });
        Service {
            name: RString::from(self.name.as_str()),
            demand: self.demand.into(),
            replicas: self.scaling.min_replicas,
            scaling: self.scaling.into(),
            dependencies: RVec::from(dependencies),
            allowed_clusters: self
                .static_clusters
                .iter()
                .map(|cluster| RString::from(cluster.as_str()))
                .collect(),
            labels: RVec::new(),
            extra: RString::from(extra.to_string()),
        }
    }
}

impl GraphSpec {
    /// The graph as strategies see it: services in descriptor order. The `extra` JSON of each
    /// service carries `connectionPoints`, `storageMib` and `trigger` ("auto" or "event").
    pub fn to_plugin_graph(&self) -> Graph {
        Graph {
            name: RString::from(self.name.as_str()),
            services: self
                .services
                .iter()
                .map(ServiceSpec::to_plugin_service)
                .collect(),
        }
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|service| service.name == name)
    }

    /// The upstream descriptor of the service named `name` (artifact, trigger, ...).
    pub fn service_descriptor(&self, name: &str) -> Option<&ServiceDescriptor> {
        self.descriptor
            .services
            .iter()
            .find(|service| service.id == name)
    }

    /// The strategy the graph names for `kind` as `plugin/strategy`, if any.
    pub fn strategy_name(&self, kind: StrategyKind) -> Option<String> {
        self.strategies.get(kind).map(ToString::to_string)
    }

    /// The JSON parameters for the strategy of `kind` (`{}` when none are given).
    pub fn parameters_json(&self, kind: StrategyKind) -> String {
        self.strategy_parameters.json(kind)
    }

    /// A few human-readable lines about the graph, for `smo validate` and logs: its services
    /// with their translated demand and scaling bounds, and the strategies it names.
    pub fn summary(&self) -> String {
        let mut lines = vec![format!(
            "graph {}: {} service{}",
            self.name,
            self.services.len(),
            if self.services.len() == 1 { "" } else { "s" }
        )];
        for service in &self.services {
            let mut line = format!(
                "  {}: {} cpu, {} MiB, {} gpu, replicas {}..{}",
                service.name,
                service.demand.cpu,
                service.demand.memory_mib,
                service.demand.gpu,
                service.scaling.min_replicas,
                service.scaling.max_replicas
            );
            if service.conditional {
                line.push_str(", deployed on event");
            }
            if let Some(declaration) = &service.ecosystem {
                line.push_str(&format!(
                    ", ecosystem {}: {} required, {} preferred",
                    declaration.provides.kind.as_deref().unwrap_or("(no type)"),
                    declaration.dependencies.required.len(),
                    declaration.dependencies.preferred.len()
                ));
            }
            if !service.dependencies.required.is_empty() {
                line.push_str(&format!(
                    ", requires {}",
                    service.dependencies.required.join(", ")
                ));
            }
            if !service.dependencies.preferred.is_empty() {
                line.push_str(&format!(
                    ", prefers {}",
                    service.dependencies.preferred.join(", ")
                ));
            }
            lines.push(line);
        }
        for kind in [
            StrategyKind::PLACEMENT,
            StrategyKind::SCALING,
            StrategyKind::MIGRATION,
        ] {
            let name = self
                .strategy_name(kind)
                .unwrap_or_else(|| "(host default)".to_owned());
            lines.push(format!("  {} strategy: {name}", kind.name()));
        }
        if let Some(p) = &self.offload_policy {
            lines.push(format!(
                "  offload policy: offload above {} ms, unoffload below {} ms, held {} s, \
                 query window {} s, cool-down {} s",
                p.offload_delay_ms,
                p.unoffload_delay_ms,
                p.stability_window_s,
                p.query_period_s,
                p.cooldown_s
            ));
        }
        lines.join("\n")
    }

    /// Rebuilds a spec saved as JSON (see [`GraphSpec`]'s serde form), re-attaching `source`.
    pub fn from_json(spec: &str, source: &str) -> Result<Self, GraphError> {
        let mut graph: GraphSpec =
            serde_json::from_str(spec).map_err(|error| GraphError::Decode {
                reason: error.to_string(),
            })?;
        graph.source = source.to_owned();
        Ok(graph)
    }

    /// The spec as JSON, as [`GraphSpec::from_json`] reads it back.
    pub fn to_json(&self) -> Result<String, GraphError> {
        serde_json::to_string(self).map_err(|error| GraphError::Encode {
            reason: error.to_string(),
        })
    }
}
