//! Descriptor text (YAML or JSON) to a JSON tree, with syntax errors located by line and column.
//! YAML is read with the YAML 1.2 core schema, so upstream `True`/`False` are booleans.

use serde_json::{Map, Number, Value};

use super::read::{Errors, FieldPath};
use super::validate::ValidationError;

/// Descriptors larger than this are refused before parsing (a real one is a few KiB).
pub const MAX_DESCRIPTOR_BYTES: usize = 4 * 1024 * 1024;

/// Parses `text` as JSON when it starts with `{`, otherwise as YAML.
///
/// A text starting with `{` is JSON only: retrying it as a YAML flow mapping would turn JSON
/// mistakes into silently different values (`{"id": }` is a valid YAML null).
pub(crate) fn parse_text(text: &str, errors: &mut Errors) -> Option<Value> {
    if text.len() > MAX_DESCRIPTOR_BYTES {
        errors.push(
            &FieldPath::root(),
            format!(
                "descriptor is {} bytes, more than the limit of {MAX_DESCRIPTOR_BYTES}",
                text.len()
            ),
        );
        return None;
    }
    let depth = super::nesting::nesting_depth(text);
    if depth > super::nesting::MAX_NESTING_DEPTH {
        errors.push(
            &FieldPath::root(),
            format!(
                "descriptor nests {depth} levels deep, more than the limit of {}",
                super::nesting::MAX_NESTING_DEPTH
            ),
        );
        return None;
    }
    // Editors on some systems start files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let result = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Value>(text).map_err(|error| json_syntax_error(&error))
    } else {
        parse_yaml(text, errors)
    };
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            errors.push_error(error);
            None
        }
    }
}

fn json_syntax_error(error: &serde_json::Error) -> ValidationError {
    let mut message = error.to_string();
    // serde_json appends " at line L column C"; we report the location in our own words.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    ValidationError::located(
        format!(
            "JSON syntax error at line {}, column {}: {message}",
            error.line(),
            error.column()
        ),
        error.line(),
        error.column(),
    )
}

fn parse_yaml(text: &str, errors: &mut Errors) -> Result<Value, ValidationError> {
    let yaml: serde_norway::Value = serde_norway::from_str(text).map_err(|error| {
        let mut message = error.to_string();
        match error.location() {
            Some(location) => {
                if let Some(at) = message.find(" at line ") {
                    message.truncate(at);
                }
                ValidationError::located(
                    format!(
                        "YAML syntax error at line {}, column {}: {message}",
                        location.line(),
                        location.column()
                    ),
                    location.line(),
                    location.column(),
                )
            }
            None => ValidationError::new("", format!("YAML syntax error: {message}")),
        }
    })?;
    Ok(yaml_to_json(yaml, &FieldPath::root(), errors))
}

/// Converts a YAML tree to JSON: scalar keys become strings, tags are dropped (the tagged value
/// is kept), non-finite floats become strings such as ".inf"; a list or mapping used as a key is
/// an error at its path.
fn yaml_to_json(yaml: serde_norway::Value, path: &FieldPath, errors: &mut Errors) -> Value {
    use serde_norway::Value as Y;
    match yaml {
        Y::Null => Value::Null,
        Y::Bool(flag) => Value::Bool(flag),
        Y::Number(number) => {
            if let Some(int) = number.as_i64() {
                Value::Number(int.into())
            } else if let Some(uint) = number.as_u64() {
                Value::Number(uint.into())
            } else {
                number
                    .as_f64()
                    .and_then(Number::from_f64)
                    .map_or_else(|| Value::String(number.to_string()), Value::Number)
            }
        }
        Y::String(text) => Value::String(text),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| yaml_to_json(item, &path.index(i), errors))
                .collect(),
        ),
        Y::Mapping(mapping) => {
            let mut map = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Y::String(text) => text,
                    Y::Bool(flag) => flag.to_string(),
                    Y::Number(number) => number.to_string(),
                    Y::Null => "null".to_owned(),
                    Y::Sequence(_) | Y::Mapping(_) | Y::Tagged(_) => {
                        errors.push(path, "a list or mapping cannot be used as a key");
                        continue;
                    }
                };
                let value = yaml_to_json(value, &path.key(&key), errors);
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value, path, errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Value, Vec<ValidationError>> {
        let mut errors = Errors::default();
        let value = parse_text(text, &mut errors);
        match value {
            Some(value) if errors.is_empty() => Ok(value),
            _ => Err(errors.into_vec()),
        }
    }

    #[test]
    fn yaml_booleans_folded_scalars_and_numbers() {
        let value = parse("a: True\nb: False\nc: >-\n  Brussels\n  demo\nd: 0.4.0\ne: 2\nf: 0.5\n")
            .expect("valid YAML");
        assert_eq!(
            value,
            json!({"a": true, "b": false, "c": "Brussels demo", "d": "0.4.0", "e": 2, "f": 0.5})
        );
    }

    #[test]
    fn json_is_accepted() {
        let value = parse(r#"{"hdaGraph": {"id": "g", "services": []}}"#).expect("valid JSON");
        assert_eq!(value["hdaGraph"]["id"], "g");
        // Text starting with `{` is JSON only.
        assert!(parse("{hdaGraph: {id: g}}").is_err());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(parse("\u{feff}a: 1\n").expect("yaml"), json!({"a": 1}));
        assert_eq!(parse("\u{feff}{\"a\": 1}").expect("json"), json!({"a": 1}));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let errors = parse("hdaGraph:\n  id: g\n   services: [\n").expect_err("invalid YAML");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].line.is_some(), "{errors:?}");
        assert!(errors[0].message.starts_with("YAML syntax error at line "));

        let errors = parse("{\"hdaGraph\": {\"id\": }}").expect_err("invalid JSON");
        assert_eq!(errors[0].line, Some(1));
        assert!(errors[0]
            .message
            .starts_with("JSON syntax error at line 1, column "));
    }

    #[test]
    fn duplicate_keys_are_syntax_errors() {
        let errors = parse("a: 1\na: 2\n").expect_err("duplicate key");
        assert!(errors[0].message.contains("duplicate"), "{errors:?}");
    }

    #[test]
    fn scalar_keys_become_strings() {
        assert_eq!(
            parse("1: a\ntrue: b\n").expect("valid"),
            json!({"1": "a", "true": "b"})
        );
        let errors = parse("? [a]\n: b\n").expect_err("complex key");
        assert_eq!(errors.len(), 1);
    }
}
