//! The members that travel in the `extra` JSON strings of requests, clusters, services and
//! decisions: one typed struct per place, read with [`read`] and written with [`write`].
//!
//! `extra` is how the host and strategies exchange what the ABI's fixed fields do not carry,
//! without an ABI change. Every member is optional, and members a reader does not know are
//! ignored, so either side may add one. What each member means, who writes it and who reads it
//! is documented on its field:
//!
//! | where | struct | written by | read by |
//! |---|---|---|---|
//! | `PlacementRequest.extra` | [`PlacementRequestExtra`] | `smo serve` | h3ni-energy (held room) |
//! | `Cluster.extra` | [`ClusterExtra`] | `smo serve` (`slo_ms`), `smo simulate` (all) | ecmr, h3ni-energy |
//! | `Service.extra` of a VM | [`VmExtra`] | `smo simulate` | ecmr, h3ni-energy |
//! | `MigrationRequest.extra` of a VM migration | [`VmMigrationRequestExtra`] | `smo simulate` | h3ni-energy/repack |
//! | `MigrationRequest.extra` of an ecosystem migration | [`EcosystemMigrationExtra`] | `smo serve` | ecosystem/satisfy |
//! | `PlacementDecision.extra` | [`PlacementDecisionExtra`] | h3ni-energy/placement | `smo simulate` |
//! | `MigrationDecision.extra` of a VM migration | [`VmMovesExtra`] | h3ni-energy/repack | `smo simulate` |
//! | `ScalingDecision.extra` | [`ScalingDecisionExtra`] | h3ni-energy/predictive | `smo simulate` |

use abi_stable::std_types::RString;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// An `extra` that is not the JSON object its place expects; `path` names the member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraError {
    /// The member that could not be read (`.` for the document itself).
    pub path: String,
    pub message: String,
}

impl fmt::Display for ExtraError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "extra.{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ExtraError {}

/// Reads an `extra` string as `T`; an empty string is `T::default()`.
pub fn read<T: DeserializeOwned + Default>(extra: &str) -> Result<T, ExtraError> {
    if extra.trim().is_empty() {
        return Ok(T::default());
    }
    let mut deserializer = serde_json::Deserializer::from_str(extra);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| ExtraError {
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// Writes `value` as an `extra` string (`{}` if it cannot be written, which the types of this
/// module never cause).
pub fn write<T: Serialize>(value: &T) -> RString {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "{}".to_owned())
        .into()
}

/// `PlacementRequest.extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementRequestExtra {
    /// Written by `smo serve`: the names of every graph it holds, the one being placed among
    /// them, sorted. A strategy that keeps state per graph may forget the graphs not listed.
    /// Absent (empty) from requests that do not list them (`smo simulate`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub graphs: Vec<String>,
}

/// `Cluster.extra`. `smo serve` writes `slo_ms` (from the cluster's registration); `smo simulate`
/// writes every member, for each datacenter at each step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterExtra {
    /// The response-time objective of the services placed here (ms, > 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo_ms: Option<f64>,
    /// Processing time of one request on an idle replica here (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processing_ms: Option<f64>,
    /// IT power drawn now (W).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub it_power_w: Option<f64>,
    /// Facility power drawn now: IT power × PUE (W).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_power_w: Option<f64>,
    /// Servers in the cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<u64>,
    /// Servers drawing power now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers_on: Option<u64>,
    /// Reserved share of the cluster's CPU (0..1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<f64>,
    /// Free room of the emptiest server: what one replica may use at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub largest_free_cpu: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub largest_free_memory_mib: Option<f64>,
    /// Every server of the cluster, for strategies that choose servers themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_detail: Option<ServerDetail>,
}

/// The servers of a cluster (`ClusterExtra::server_detail`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerDetail {
    /// An empty server keeps drawing its idle power.
    pub idle_on: bool,
    /// The host's own server choice for a decision that asks for none (a policy name, see
    /// [`PlacementDecisionExtra::server_selection`]).
    pub selection: Option<String>,
    /// The policies a decision may ask for.
    pub selectable: Vec<String>,
    /// The server models, indexed by each server's `kind`.
    pub types: Vec<ServerModel>,
    /// One entry a server: `[kind, used_cpu, used_memory_mib, used_gpu, busy_cores, watts]`.
    pub servers: Vec<[f64; 6]>,
}

/// One server model (`ServerDetail::types`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerModel {
    pub cores: f64,
    pub memory_mib: f64,
    pub gpus: f64,
    /// Watts at equally spaced utilisations from 0 to 1 (two points: linear from idle to
    /// peak).
    pub curve_w: Vec<f64>,
}

/// `Service.extra` of a VM (`smo simulate`: the VMs of a placement or VM migration request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmExtra {
    /// How long the VM runs in all (s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// How long it still runs (s); in VM migration requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_s: Option<f64>,
    /// The server it runs on, as an index into its cluster's `server_detail.servers`; in VM
    /// migration requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<u64>,
}

/// `MigrationRequest.extra` of a VM migration (`smo simulate`'s `vm_migration` strategy).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmMigrationRequestExtra {
    /// The request's services are running VMs, not a service graph.
    pub vms: bool,
    /// Energy of copying one GiB of a VM's memory to another server (Wh).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_wh_per_gib: Option<f64>,
}

/// `MigrationRequest.extra` of an ecosystem migration (`smo serve`'s dependency-satisfaction
/// engine, seed 001): the moves the host found would raise a workload's Dependency
/// Satisfaction Score, each with what it changes and what carrying it out involves. The
/// strategy answers some of them (at most `budget`) as its `moves`, same service, clusters and
/// replicas; the host refuses any other.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcosystemMigrationExtra {
    pub ecosystem: EcosystemOptions,
}

/// The options of an ecosystem migration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcosystemOptions {
    /// Scores below it are to be raised.
    pub threshold: f64,
    /// Most moves to answer.
    pub budget: u32,
    pub options: Vec<EcosystemMoveOption>,
}

/// One move the host could make for the ecosystem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EcosystemMoveOption {
    /// The service (of the request's graph) and the workload name (`<graph>/<service>`).
    pub service: String,
    pub workload: String,
    pub from: String,
    pub to: String,
    pub replicas: u32,
    /// The workload's score now and after the move.
    pub score_before: f64,
    pub score_after: f64,
    /// The change of the scores of the workloads that depend on it.
    pub dependents_delta: f64,
    /// Whether a required dependency of it is unmet now, and would be after.
    pub violated_before: bool,
    pub violated_after: bool,
    /// The state carried over (its declared `state_gib`, 0 when none) and the bandwidth and
    /// latency between the two clusters (Gb/s, ms).
    pub state_gib: f64,
    pub bandwidth_gbps: f64,
    pub latency_ms: f64,
    /// The seconds the host expects the move to take, from the cost model it learned from
    /// earlier moves (0 when it has none).
    pub expected_s: f64,
}

/// `PlacementDecision.extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlacementDecisionExtra {
    /// How the host should pick servers inside the clusters the decision chose: one of the
    /// cluster's `server_detail.selectable` (e.g. `least_power_shared_idle`); absent: the
    /// host's own choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_selection: Option<String>,
}

/// `MigrationDecision.extra` of a VM migration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmMovesExtra {
    /// The target server of each moved VM (`vm-<id>` → index into its target cluster's
    /// `server_detail.servers`); a VM not listed goes where the host picks.
    pub servers: BTreeMap<String, u32>,
}

/// `ScalingDecision.extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingDecisionExtra {
    /// The load the strategy forecast for each service, which the host compares with the load
    /// that came.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forecasts: Vec<Forecast>,
}

/// One service's forecast (`ScalingDecisionExtra::forecasts`); a strategy may report more
/// members (its model, its error), which the host ignores.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Forecast {
    pub service: String,
    /// What the strategy forecast, at its previous call, for the load of now (requests/s);
    /// absent (`null`) at its first call.
    pub forecast_rps: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_extra_is_the_default_and_unknown_members_are_ignored() {
        assert_eq!(read::<ClusterExtra>(""), Ok(ClusterExtra::default()));
        let extra: ClusterExtra = read(r#"{"slo_ms": 30, "site": "paris"}"#).expect("reads");
        assert_eq!(extra.slo_ms, Some(30.0));
    }

    #[test]
    fn a_bad_member_is_named_with_its_path() {
        let e = read::<ClusterExtra>(r#"{"server_detail": {"servers": [[0, 1]]}}"#).unwrap_err();
        assert_eq!(e.path, "server_detail.servers[0]");
        let e = read::<PlacementDecisionExtra>(r#"{"server_selection": 3}"#).unwrap_err();
        assert_eq!(e.path, "server_selection");
        assert!(e.to_string().starts_with("extra.server_selection: "), "{e}");
    }

    #[test]
    fn what_is_written_reads_back() {
        let moves = VmMovesExtra {
            servers: [("vm-3".to_owned(), 7)].into_iter().collect(),
        };
        assert_eq!(write(&moves).as_str(), r#"{"servers":{"vm-3":7}}"#);
        assert_eq!(read::<VmMovesExtra>(write(&moves).as_str()), Ok(moves));
        let request = PlacementRequestExtra {
            graphs: vec!["a".into(), "b".into()],
        };
        assert_eq!(write(&request).as_str(), r#"{"graphs":["a","b"]}"#);
        assert_eq!(write(&PlacementRequestExtra::default()).as_str(), "{}");
    }
}
