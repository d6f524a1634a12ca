//! Conditional deployment, as upstream's Alertmanager webhook: an alert whose `labels.service`
//! names a pending conditional service deploys it on the cluster chosen at placement time.
//!
//! Resolved alerts deploy nothing. A service name may exist in several graphs (smo does not
//! make service names global as upstream did); `labels.graph` narrows the match, otherwise
//! every running graph with such a pending service deploys it. Like upstream, the alert
//! deploys without a new placement decision: the scaling loop and re-placement take over.

use super::error::EngineError;
use super::inventory::RUNNING;
use super::lifecycle::Engine;
use crate::store::Commit;
use serde::Serialize;

/// What happened to one alert.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AlertOutcome {
    pub service: String,
    pub graph: Option<String>,
    pub cluster: Option<String>,
    /// deployed or ignored.
    pub action: &'static str,
    pub reason: String,
}

impl AlertOutcome {
    fn ignored(service: &str, graph: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            service: service.to_owned(),
            graph: graph.map(str::to_owned),
            cluster: None,
            action: "ignored",
            reason: reason.into(),
        }
    }
}

impl Engine {
    /// Deploys the pending conditional service `service` (of graph `graph`, when given).
    pub async fn alert(
        &self,
        service: &str,
        graph: Option<&str>,
    ) -> Result<Vec<AlertOutcome>, EngineError> {
        let mut outcomes = Vec::new();
        for listed in self.store.list_graphs()? {
            let name = listed.name().to_owned();
            if graph.is_some_and(|g| g != name) {
                continue;
            }
            let _turn = self.admission.turn(&name).await;
            // Read again in the graph's turn: an operation may have changed it since listed.
            let Some(stored) = self.store.get_graph(&name)? else {
                continue;
            };
            let Some(spec_service) = stored.spec.service(service) else {
                continue;
            };
            if !spec_service.conditional {
                outcomes.push(AlertOutcome::ignored(
                    service,
                    Some(&name),
                    "not a conditional (trigger: event) service",
                ));
                continue;
            }
            if stored.status != RUNNING {
                outcomes.push(AlertOutcome::ignored(
                    service,
                    Some(&name),
                    format!("graph is {}", stored.status),
                ));
                continue;
            }
            let mut placement = self.store.get_placement(&name)?;
            if placement
                .iter()
                .any(|e| e.service == service && e.replicas > 0)
            {
                outcomes.push(AlertOutcome::ignored(
                    service,
                    Some(&name),
                    "already deployed",
                ));
                continue;
            }
            let Some(entry) = placement.iter_mut().find(|e| e.service == service) else {
                outcomes.push(AlertOutcome::ignored(service, Some(&name), "not placed"));
                continue;
            };
            entry.replicas = spec_service.scaling.min_replicas.max(1);
            let cluster = entry.cluster.clone();
            self.commit(
                &name,
                Commit {
                    placement: Some(&placement),
                    ..Commit::default()
                },
            )
            .await?;
            tracing::info!(graph = %name, %service, %cluster, "conditional service deployed on alert");
            outcomes.push(AlertOutcome {
                service: service.to_owned(),
                graph: Some(name),
                cluster: Some(cluster),
                action: "deployed",
                reason: "alert received".to_owned(),
            });
        }
        if outcomes.is_empty() {
            outcomes.push(AlertOutcome::ignored(
                service,
                graph,
                match graph {
                    Some(g) => format!("graph {g:?} has no service {service:?}"),
                    None => format!("no graph has a service {service:?}"),
                },
            ));
        }
        Ok(outcomes)
    }
}
