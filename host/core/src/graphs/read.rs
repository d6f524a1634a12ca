//! Path-tracking readers over a parsed descriptor tree: each records a [`ValidationError`] with
//! the field's path and carries on, so that one pass reports every mistake.

use serde_json::{Map, Value};

use super::validate::ValidationError;

/// The path of a field, written as in the error messages: `hdaGraph.services[2].id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    /// The document root (an empty path).
    pub(crate) fn root() -> Self {
        Self(String::new())
    }

    /// The path of member `key` of this mapping.
    pub(crate) fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            Self(key.to_owned())
        } else {
            Self(format!("{}.{key}", self.0))
        }
    }

    /// The path `relative` (written as in the messages: `a.b[0].c`) under this one; this one
    /// when `relative` is empty.
    pub(crate) fn join(&self, relative: &str) -> Self {
        if relative.is_empty() {
            self.clone()
        } else {
            self.key(relative)
        }
    }

    /// The path of item `index` of this list.
    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The errors found so far.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<ValidationError>);

impl Errors {
    pub(crate) fn push(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.0.push(ValidationError::new(path.as_str(), message));
    }

    pub(crate) fn push_error(&mut self, error: ValidationError) {
        self.0.push(error);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<ValidationError> {
        self.0
    }
}

/// What a value is, for messages: "a string", "a list", ...
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// `map[key]`, treating an explicit YAML `~`/empty value like a missing key.
pub(crate) fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    match map.get(key) {
        None | Some(Value::Null) => None,
        Some(value) => Some(value),
    }
}

/// `value` as a mapping, or an error at `path`.
pub(crate) fn as_mapping<'a>(
    value: &'a Value,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        other => {
            errors.push(path, format!("expected a mapping, found {}", kind(other)));
            None
        }
    }
}

/// Optional member `key` that must be a mapping.
pub(crate) fn opt_mapping<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<&'a Map<String, Value>> {
    field(map, key).and_then(|value| as_mapping(value, &path.key(key), errors))
}

/// Optional member `key` that must be a list.
pub(crate) fn opt_list<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<&'a Vec<Value>> {
    match field(map, key)? {
        Value::Array(items) => Some(items),
        other => {
            errors.push(
                &path.key(key),
                format!("expected a list, found {}", kind(other)),
            );
            None
        }
    }
}

/// A scalar written as text: strings as they are, numbers and booleans in their usual spelling.
/// Lenient on purpose, for upstream fields such as `version: 1.0`.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Optional member `key` holding a scalar, returned as text (see [`scalar_text`]).
pub(crate) fn opt_text(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<String> {
    let value = field(map, key)?;
    let text = scalar_text(value);
    if text.is_none() {
        errors.push(
            &path.key(key),
            format!("expected a single value, found {}", kind(value)),
        );
    }
    text
}

/// Optional member `key` that must be a string.
pub(crate) fn opt_string(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<String> {
    match field(map, key)? {
        Value::String(text) => Some(text.clone()),
        other => {
            errors.push(
                &path.key(key),
                format!("expected a string, found {}", kind(other)),
            );
            None
        }
    }
}

/// A flag: a YAML/JSON boolean, or the strings "true"/"false" in any case (upstream descriptors
/// sometimes quote `"True"`).
pub(crate) fn flag_value(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Optional member `key` holding a flag (see [`flag_value`]).
pub(crate) fn opt_flag(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<bool> {
    let value = field(map, key)?;
    let flag = flag_value(value);
    if flag.is_none() {
        errors.push(
            &path.key(key),
            format!("expected true or false, found {}", describe(value)),
        );
    }
    flag
}

/// Optional member `key` that must be a finite number.
pub(crate) fn opt_number(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<f64> {
    let value = field(map, key)?;
    match value.as_f64() {
        Some(number) if number.is_finite() => Some(number),
        _ => {
            errors.push(
                &path.key(key),
                format!("expected a number, found {}", describe(value)),
            );
            None
        }
    }
}

/// Optional member `key` that must be a whole number from 0 to `u32::MAX`.
pub(crate) fn opt_count(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Option<u32> {
    let value = field(map, key)?;
    match value.as_u64().map(u32::try_from) {
        Some(Ok(count)) => Some(count),
        _ => {
            errors.push(
                &path.key(key),
                format!(
                    "expected a whole number of 0 or more, found {}",
                    describe(value)
                ),
            );
            None
        }
    }
}

/// Optional member `key` holding a list of strings; a bad item is reported at its index and
/// skipped.
pub(crate) fn string_list(
    map: &Map<String, Value>,
    key: &str,
    path: &FieldPath,
    errors: &mut Errors,
) -> Vec<String> {
    let Some(items) = opt_list(map, key, path, errors) else {
        return Vec::new();
    };
    let list_path = path.key(key);
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            Value::String(text) => Some(text.clone()),
            other => {
                errors.push(
                    &list_path.index(i),
                    format!("expected a string, found {}", kind(other)),
                );
                None
            }
        })
        .collect()
}

/// Reports every member of `map` not in `allowed`. Used for smo's own extension objects, where a
/// misspelt key (`maxReplica`) must not be silently ignored; upstream objects stay lenient.
pub(crate) fn reject_unknown_keys(
    map: &Map<String, Value>,
    allowed: &[&str],
    path: &FieldPath,
    errors: &mut Errors,
) {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            errors.push(
                &path.key(key),
                format!("unknown key (expected one of: {})", allowed.join(", ")),
            );
        }
    }
}

/// A value for a message: strings quoted, scalars as written, containers by kind.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => kind(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_like_the_messages() {
        let path = FieldPath::root()
            .key("hdaGraph")
            .key("services")
            .index(2)
            .key("id");
        assert_eq!(path.as_str(), "hdaGraph.services[2].id");
        let intent = FieldPath::root().key("intent");
        assert_eq!(intent.join("").as_str(), "intent");
        assert_eq!(
            intent.join("dependencies.required[0].version").as_str(),
            "intent.dependencies.required[0].version"
        );
    }

    #[test]
    fn flags_accept_upstream_spellings() {
        assert_eq!(flag_value(&json!(true)), Some(true));
        assert_eq!(flag_value(&json!("True")), Some(true));
        assert_eq!(flag_value(&json!("FALSE")), Some(false));
        assert_eq!(flag_value(&json!(1)), None);
    }

    #[test]
    fn readers_record_errors_and_go_on() {
        let map = json!({"a": [1, "x", {}], "n": "5", "c": -1, "k": null});
        let Value::Object(map) = map else {
            panic!("not an object")
        };
        let mut errors = Errors::default();
        let root = FieldPath::root();
        assert_eq!(string_list(&map, "a", &root, &mut errors), vec!["x"]);
        assert_eq!(opt_number(&map, "n", &root, &mut errors), None);
        assert_eq!(opt_count(&map, "c", &root, &mut errors), None);
        assert_eq!(opt_string(&map, "k", &root, &mut errors), None);
        let paths: Vec<String> = errors.into_vec().into_iter().map(|e| e.path).collect();
        assert_eq!(paths, ["a[0]", "a[2]", "n", "c"]);
    }
}
