//! A placement decision's request for how the host picks servers inside the datacenters it
//! chose (`extra.server_selection`), read and checked; anything else in `extra` is ignored.

use super::scenario::ServerSelection;

/// Why a decision's `extra.server_selection` was not used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ServerHintError {
    #[error("extra.server_selection: expected a string, got {0}")]
    NotAString(String),
    #[error("extra.server_selection: unknown policy {name:?} (known: {known})")]
    Unknown { name: String, known: String },
}

/// The policy a decision asks for: `Ok(None)` when `extra` is empty, not JSON or names none.
pub fn requested(extra: &str) -> Result<Option<ServerSelection>, ServerHintError> {
    if !extra.contains("server_selection") {
        return Ok(None);
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(extra) else {
        return Ok(None);
    };
    let Some(field) = v.get("server_selection") else {
        return Ok(None);
    };
    let Some(name) = field.as_str() else {
        return Err(ServerHintError::NotAString(field.to_string()));
    };
    ServerSelection::from_name(name)
        .map(Some)
        .ok_or_else(|| ServerHintError::Unknown {
            name: name.to_string(),
            known: ServerSelection::ALL.map(|s| s.as_str()).join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_names_a_policy_or_none() {
        assert_eq!(requested(""), Ok(None));
        assert_eq!(requested(r#"{"forecasts": []}"#), Ok(None));
        assert_eq!(
            requested(r#"{"server_selection": "least_power_shared_idle"}"#),
            Ok(Some(ServerSelection::LeastPowerSharedIdle))
        );
        assert_eq!(
            requested(r#"{"server_selection": "first_fit", "other": 1}"#),
            Ok(Some(ServerSelection::FirstFit))
        );
    }

    #[test]
    fn a_bad_policy_is_named_in_the_error() {
        let e = requested(r#"{"server_selection": "best_fit"}"#).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("extra.server_selection"), "{text}");
        assert!(text.contains("best_fit"), "{text}");
        assert!(text.contains("least_power_shared_idle"), "{text}");
        let e = requested(r#"{"server_selection": 3}"#).unwrap_err();
        assert_eq!(e, ServerHintError::NotAString("3".into()));
    }
}
