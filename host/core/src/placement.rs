//! A placement row: which service runs how many replicas on which cluster. A graph's desired
//! state is a list of them; strategies see them as the plugin API's [`Placement`].

use serde::{Deserialize, Serialize};
use smo_plugin_api::{Assignment, Placement, RString};

/// "Service `service` runs `replicas` replicas on cluster `cluster`."
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlacementEntry {
    pub service: String,
    pub cluster: String,
    pub replicas: u32,
}

impl PlacementEntry {
    pub fn new(service: impl Into<String>, cluster: impl Into<String>, replicas: u32) -> Self {
        Self {
            service: service.into(),
            cluster: cluster.into(),
            replicas,
        }
    }

    /// The entries of a strategy's placement, in its order.
    pub fn from_plugin(placement: &Placement) -> Vec<Self> {
        placement
            .assignments
            .iter()
            .map(|a| Self::new(a.service.as_str(), a.cluster.as_str(), a.replicas))
            .collect()
    }

    /// How many replicas of `service` `entries` run, over all clusters.
    pub fn replicas_of(entries: &[Self], service: &str) -> u32 {
        entries
            .iter()
            .filter(|e| e.service == service)
            .map(|e| e.replicas)
            .sum()
    }

    /// Entries as the plugin API's placement (for a re-placement or a scaling request).
    pub fn to_plugin(entries: &[Self]) -> Placement {
        Placement {
            assignments: entries
                .iter()
                .map(|entry| Assignment {
                    service: RString::from(entry.service.as_str()),
                    cluster: RString::from(entry.cluster.as_str()),
                    replicas: entry.replicas,
                })
                .collect(),
        }
    }
}
