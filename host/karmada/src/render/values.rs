//! The Helm values smo gives a service's chart: the descriptor's `valuesOverwrite` with upstream
//! SMO's two placement keys injected, `clustersAffinity` (the service's clusters) and
//! `serviceImportClusters` (where its callers run), under `voChartOverwrite` for a WoT chart.
//!
//! `serviceImportClusters` is computed as upstream's `create_service_imports` does: for every
//! service S (descriptor order) and every T in S's `connectionPoints`, S's clusters are appended
//! to T's list, duplicates and T's own clusters included.
//!
//! Unlike upstream, the keys are injected with `useStaticPlacement` too: smo's decision is then
//! confined to the descriptor's `clustersAffinity` (any cluster when it names none), and the
//! chart must run where smo reports the service placed.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::PlacedService;

/// Upstream's `serviceImportClusters` of every called service, in upstream's order.
pub fn service_import_clusters(placed: &[PlacedService<'_>]) -> BTreeMap<String, Vec<String>> {
    let mut imports: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for caller in placed {
        for callee in &caller.spec.connection_points {
            imports
                .entry(callee.clone())
                .or_default()
                .extend(caller.replicas_by_cluster.keys().cloned());
        }
    }
    imports
}

/// The values of `service`'s chart.
pub fn chart_values(service: &PlacedService<'_>, imports: &BTreeMap<String, Vec<String>>) -> Value {
    let artifact = service.artifact;
    let mut values = match artifact.map(|a| &a.values_overwrite) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    let affinity = Value::from(service.clusters());
    let importers = Value::from(imports.get(&service.spec.name).cloned().unwrap_or_default());
    let inject = |map: &mut Map<String, Value>| {
        map.insert("clustersAffinity".into(), affinity.clone());
        map.insert("serviceImportClusters".into(), importers.clone());
    };
    if artifact.is_some_and(|a| a.is_wot()) {
        let mut nested = match values.remove("voChartOverwrite") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        inject(&mut nested);
        values.insert("voChartOverwrite".into(), Value::Object(nested));
    } else {
        inject(&mut values);
    }
    Value::Object(values)
}
