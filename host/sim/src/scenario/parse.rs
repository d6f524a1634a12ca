//! Reading the scenario YAML: serde's model of it, and when that fails, every type error of the
//! file at once, each element of a list checked on its own so that two bad ones give two errors.

use super::*;
use serde::de::DeserializeOwned;

/// Parses the YAML; on a type error, goes on element by element to collect the others.
pub(super) fn parse_spec(text: &str) -> Result<ScenarioSpec, Vec<String>> {
    let first = match serde_norway::from_str::<ScenarioSpec>(text) {
        Ok(spec) => return Ok(spec),
        Err(e) => e.to_string(),
    };
    let mut errors = vec![first.clone()];
    let Ok(serde_norway::Value::Mapping(root)) =
        serde_norway::from_str::<serde_norway::Value>(text)
    else {
        return Err(errors);
    };
    let mut more = Vec::new();
    let get = |k: &str| root.get(serde_norway::Value::from(k));
    if let Some(serde_norway::Value::Sequence(items)) = get("datacenters") {
        each::<DatacenterSpec>(items, "datacenters", &mut more);
    }
    if let Some(serde_norway::Value::Sequence(items)) = get("users") {
        each::<UserSpec>(items, "users", &mut more);
    }
    if let Some(serde_norway::Value::Mapping(w)) = get("workload") {
        if let Some(serde_norway::Value::Sequence(items)) =
            w.get(serde_norway::Value::from("services"))
        {
            each::<ServiceSpec>(items, "workload.services", &mut more);
        }
        if let Some(v) = w.get(serde_norway::Value::from("vms")) {
            check_one::<VmSource>(v, "workload.vms", &mut more);
        }
    }
    for (key, check) in [
        (
            "network",
            check_one::<NetworkSpec> as fn(&serde_norway::Value, &str, &mut Vec<String>),
        ),
        ("strategies", check_one::<StrategyDefaults>),
        ("migration", check_one::<MigrationSpec>),
        ("ecosystem", check_one::<EcosystemSpec>),
    ] {
        if let Some(v) = get(key) {
            check(v, key, &mut more);
        }
    }
    // The whole-document error already names its element, with a line number: keep that one.
    let first_path = first.split(':').next().unwrap_or("").to_string();
    for m in more {
        let path = m.split(':').next().unwrap_or("");
        let same_element = path == first_path
            || first_path.starts_with(&format!("{path}."))
            || path.starts_with(&format!("{first_path}."));
        if path.is_empty() || !same_element {
            errors.push(m);
        }
    }
    Err(errors)
}

fn each<T: DeserializeOwned>(items: &[serde_norway::Value], prefix: &str, out: &mut Vec<String>) {
    for (i, item) in items.iter().enumerate() {
        check_one::<T>(item, &format!("{prefix}[{i}]"), out);
    }
}

/// Deserializes one element on its own (re-serialized, so the YAML deserializer tracks the inner path).
fn check_one<T: DeserializeOwned>(
    value: &serde_norway::Value,
    prefix: &str,
    out: &mut Vec<String>,
) {
    let Ok(text) = serde_norway::to_string(value) else {
        return;
    };
    if let Err(e) = serde_norway::from_str::<T>(&text) {
        let msg = e.to_string();
        // Line numbers are relative to the element here: drop them.
        let msg = msg.split(" at line ").next().unwrap_or(&msg);
        let full = match msg.split_once(": ") {
            Some((path, rest)) if !path.contains(' ') && e.location().is_some() => {
                format!("{prefix}.{path}: {rest}")
            }
            _ => format!("{prefix}: {msg}"),
        };
        out.push(full);
    }
}
