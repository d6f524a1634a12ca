//! Strategy parameters on the `smo simulate` command line: `plugin/name?key=value&key=value`.
//! Each value is read as JSON when it parses as JSON (numbers, booleans, arrays), else as a string.

use serde_json::{Map, Value};

/// Splits `plugin/name?k=v&k2=v2` into the strategy name and its parameters as one JSON object
/// (`{}` without `?`). A key given twice, an empty key or a pair without `=` is an error that
/// names it.
pub fn split(text: &str) -> Result<(&str, String), String> {
    let Some((name, query)) = text.split_once('?') else {
        return Ok((text, "{}".to_string()));
    };
    let mut params = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, raw) = pair.split_once('=').ok_or_else(|| {
            format!("`{name}` parameter `{pair}`: expected key=value (e.g. w_carbon=0.5)")
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("`{name}` parameter `{pair}`: the key is empty"));
        }
        let raw = raw.trim();
        let value =
            serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
        if params.insert(key.to_string(), value).is_some() {
            return Err(format!("`{name}` parameter `{key}` is given twice"));
        }
    }
    Ok((name, Value::Object(params).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_query_means_empty_parameters() {
        assert_eq!(split("a/b").unwrap(), ("a/b", "{}".to_string()));
    }

    #[test]
    fn values_are_json_when_they_parse_and_strings_otherwise() {
        let (name, params) =
            split("h3ni-energy/placement?w_carbon=0.5&slot_costs=false&x=[1,2]&m=fast").unwrap();
        assert_eq!(name, "h3ni-energy/placement");
        let v: Value = serde_json::from_str(&params).unwrap();
        assert_eq!(v["w_carbon"], 0.5);
        assert_eq!(v["slot_costs"], false);
        assert_eq!(v["x"], serde_json::json!([1, 2]));
        assert_eq!(v["m"], "fast");
    }

    #[test]
    fn malformed_pairs_are_named() {
        let e = split("a/b?w_carbon").unwrap_err();
        assert!(e.contains("`w_carbon`") && e.contains("key=value"), "{e}");
        let e = split("a/b?x=1&x=2").unwrap_err();
        assert!(e.contains("`x` is given twice"), "{e}");
        assert!(split("a/b?=3").unwrap_err().contains("key is empty"));
    }
}
