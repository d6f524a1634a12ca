//! A placement decision's request for how the host picks servers inside the datacenters it
//! chose (`extra.server_selection`), read and checked; anything else in `extra` is ignored.

use super::scenario::ServerSelection;
use smo_plugin_api::extra::{self, ExtraError, PlacementDecisionExtra};

/// Why a decision's `extra.server_selection` was not used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ServerHintError {
    /// The member is there but is not a policy name ([`PlacementDecisionExtra`]).
    #[error("{0}")]
    Unreadable(ExtraError),
    #[error("extra.server_selection: unknown policy {name:?} (known: {known})")]
    Unknown { name: String, known: String },
}

/// The policy a decision asks for ([`PlacementDecisionExtra::server_selection`]): `Ok(None)`
/// when `extra` is empty, not a JSON object, or names none.
pub fn requested(extra: &str) -> Result<Option<ServerSelection>, ServerHintError> {
    if !extra.contains("server_selection") {
        return Ok(None);
    }
    let hint = match extra::read::<PlacementDecisionExtra>(extra) {
        Ok(hint) => hint,
        Err(e) if e.path == "server_selection" => return Err(ServerHintError::Unreadable(e)),
        Err(_) => return Ok(None),
    };
    let Some(name) = hint.server_selection else {
        return Ok(None);
    };
    let name = name.as_str();
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
        assert!(matches!(e, ServerHintError::Unreadable(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.starts_with("extra.server_selection: "), "{text}");
        assert!(text.contains("expected a string"), "{text}");
    }
}
