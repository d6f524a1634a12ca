//! The checks of a declaration as JSON, before it is read: every problem at once, each with
//! the path of its field, so a bad declaration is refused whole and nothing stored changes.

use super::criteria::{parse_latency, parse_version_rule};
use super::declaration::FieldError;
use serde_json::{Map, Value};

const DECLARATION: &[&str] = &["vm_name", "provides", "dependencies"];
const PROVIDES: &[&str] = &[
    "type",
    "version",
    "resource_profile",
    "cpu_architecture",
    "ram_gib",
    "bandwidth_gbps",
    "storage_type",
    "software_stack",
    "signature",
    "state_gib",
    "critical",
];
const REQUIREMENT: &[&str] = &[
    "type",
    "version",
    "network_latency_requirement",
    "resource_profile",
    "cpu_architecture",
    "min_ram_gib",
    "min_bandwidth_gbps",
    "storage_type",
    "software_stack",
    "fuzzy_match",
];

struct Errors<'a>(&'a mut Vec<FieldError>);

impl Errors<'_> {
    fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.to_owned(),
            message: message.into(),
        });
    }
}

fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The members of an object (none, with an error, when `value` is not one), unknown keys named.
fn object<'v>(
    value: &'v Value,
    path: &str,
    known: &[&str],
    errors: &mut Errors<'_>,
) -> Option<&'v Map<String, Value>> {
    let Some(map) = value.as_object() else {
        errors.push(path, "must be an object");
        return None;
    };
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        errors.push(
            &at(path, key),
            format!("unknown field (known: {})", known.join(", ")),
        );
    }
    Some(map)
}

fn text<'v>(
    map: &'v Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut Errors<'_>,
) -> Option<&'v str> {
    let value = map.get(key)?;
    match value.as_str() {
        Some(s) if !s.trim().is_empty() => Some(s),
        Some(_) => {
            errors.push(&at(path, key), "must not be empty");
            None
        }
        None => {
            errors.push(&at(path, key), "must be a string");
            None
        }
    }
}

fn number(map: &Map<String, Value>, key: &str, path: &str, errors: &mut Errors<'_>) {
    if let Some(value) = map.get(key) {
        match value.as_f64() {
            Some(n) if (0.0..1e15).contains(&n) => {}
            _ => errors.push(&at(path, key), "must be a number, 0 or more"),
        }
    }
}

fn strings(value: &Value, path: &str, one_allowed: bool, errors: &mut Errors<'_>) {
    match value {
        Value::String(s) if one_allowed && !s.trim().is_empty() => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item.as_str().is_none_or(|s| s.trim().is_empty()) {
                    errors.push(&format!("{path}[{i}]"), "must be a non-empty string");
                }
            }
        }
        _ if one_allowed => errors.push(path, "must be a string or a list of strings"),
        _ => errors.push(path, "must be a list of strings"),
    }
}

fn signature(value: &Value, path: &str, errors: &mut Errors<'_>) {
    let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
        errors.push(path, "must be a non-empty list of tags or of numbers");
        return;
    };
    if items.iter().all(Value::is_number) {
        if items
            .iter()
            .any(|n| !n.as_f64().is_some_and(f64::is_finite))
        {
            errors.push(path, "every number must be finite");
        }
    } else if items
        .iter()
        .all(|t| t.as_str().is_some_and(|s| !s.trim().is_empty()))
    {
    } else {
        errors.push(path, "must be all tags (strings) or all numbers");
    }
}

fn characteristics(value: &Value, path: &str, errors: &mut Errors<'_>) {
    let Some(map) = object(value, path, PROVIDES, errors) else {
        return;
    };
    for key in ["type", "version", "cpu_architecture", "storage_type"] {
        text(map, key, path, errors);
    }
    for key in ["ram_gib", "bandwidth_gbps", "state_gib"] {
        number(map, key, path, errors);
    }
    for key in ["resource_profile", "software_stack"] {
        if let Some(value) = map.get(key) {
            strings(value, &at(path, key), false, errors);
        }
    }
    if let Some(value) = map.get("signature") {
        signature(value, &at(path, "signature"), errors);
    }
    if map.get("critical").is_some_and(|v| !v.is_boolean()) {
        errors.push(&at(path, "critical"), "must be true or false");
    }
}

fn requirement(value: &Value, path: &str, errors: &mut Errors<'_>) {
    let Some(map) = object(value, path, REQUIREMENT, errors) else {
        return;
    };
    let criteria = REQUIREMENT
        .iter()
        .filter(|k| **k != "network_latency_requirement")
        .any(|k| map.contains_key(*k));
    if !criteria {
        errors.push(
            path,
            "names no characteristic (type, version, resource_profile, ...): it would match any workload",
        );
    }
    for key in ["type", "cpu_architecture", "storage_type"] {
        text(map, key, path, errors);
    }
    if let Some(version) = text(map, "version", path, errors) {
        if let Err(e) = parse_version_rule(version) {
            errors.push(&at(path, "version"), e);
        }
    }
    if let Some(latency) = text(map, "network_latency_requirement", path, errors) {
        if let Err(e) = parse_latency(latency) {
            errors.push(&at(path, "network_latency_requirement"), e);
        }
    }
    for key in ["min_ram_gib", "min_bandwidth_gbps"] {
        number(map, key, path, errors);
    }
    if let Some(value) = map.get("resource_profile") {
        strings(value, &at(path, "resource_profile"), true, errors);
    }
    if let Some(value) = map.get("software_stack") {
        strings(value, &at(path, "software_stack"), false, errors);
    }
    if let Some(rule) = map.get("fuzzy_match") {
        let rule_path = at(path, "fuzzy_match");
        match rule {
            Value::String(s) if !s.trim().is_empty() => {}
            Value::Object(_) => {
                if let Some(rule) =
                    object(rule, &rule_path, &["signature", "min_similarity"], errors)
                {
                    if let Some(value) = rule.get("signature") {
                        signature(value, &at(&rule_path, "signature"), errors);
                    }
                    if let Some(min) = rule.get("min_similarity") {
                        if !min.as_f64().is_some_and(|m| (0.0..=1.0).contains(&m)) {
                            errors.push(
                                &at(&rule_path, "min_similarity"),
                                "must be a number in [0, 1]",
                            );
                        }
                    }
                }
            }
            _ => errors.push(
                &rule_path,
                "must be a description (string) or {signature, min_similarity}",
            ),
        }
    }
}

/// Every problem of `value` as a declaration.
pub fn declaration(value: &Value, errors: &mut Vec<FieldError>) {
    let errors = &mut Errors(errors);
    let Some(map) = object(value, "", DECLARATION, errors) else {
        return;
    };
    match map.get("vm_name") {
        None => errors.push("vm_name", "missing: the workload's name"),
        Some(_) => {
            text(map, "vm_name", "", errors);
        }
    }
    if let Some(provides) = map.get("provides") {
        characteristics(provides, "provides", errors);
    }
    let Some(dependencies) = map.get("dependencies") else {
        return;
    };
    let Some(dependencies) = object(
        dependencies,
        "dependencies",
        &["required", "preferred"],
        errors,
    ) else {
        return;
    };
    for kind in ["required", "preferred"] {
        let Some(list) = dependencies.get(kind) else {
            continue;
        };
        let path = format!("dependencies.{kind}");
        match list.as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    requirement(item, &format!("{path}[{i}]"), errors);
                }
            }
            None => errors.push(&path, "must be a list"),
        }
    }
}
