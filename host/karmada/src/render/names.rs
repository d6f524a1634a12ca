//! The naming rules of Kubernetes that smo's object names and labels must follow, checked before
//! anything is sent, so that a bad name is an error naming the descriptor field.

use crate::RenderError;

/// A DNS-1035 label (Service names): 1-63 of `[a-z0-9-]`, starting with a letter, ending with a
/// letter or digit.
pub fn check_dns_label(field: &str, value: &str) -> Result<(), RenderError> {
    let bytes = value.as_bytes();
    let reason = if value.is_empty() || value.len() > 63 {
        Some("it must have 1 to 63 characters".to_owned())
    } else if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        Some("only lowercase letters, digits and '-' are allowed".to_owned())
    } else if !bytes[0].is_ascii_lowercase() {
        Some("it must start with a lowercase letter".to_owned())
    } else if bytes[bytes.len() - 1] == b'-' {
        Some("it must end with a letter or a digit".to_owned())
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(RenderError::InvalidName {
            field: field.to_owned(),
            value: value.to_owned(),
            reason,
        }),
    }
}

/// A label value: at most 63 of `[A-Za-z0-9-_.]`, starting and ending alphanumeric (or empty).
pub fn check_label_value(field: &str, value: &str) -> Result<(), RenderError> {
    let bytes = value.as_bytes();
    let valid = value.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes.first().is_none_or(u8::is_ascii_alphanumeric)
        && bytes.last().is_none_or(u8::is_ascii_alphanumeric);
    if valid {
        Ok(())
    } else {
        Err(RenderError::InvalidName {
            field: field.to_owned(),
            value: value.to_owned(),
            reason: "a label value has at most 63 letters, digits, '-', '_' or '.', and starts \
                     and ends with a letter or digit"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_follow_dns_1035() {
        for good in ["a", "noise-reduction", "image-compression-vo", "x1"] {
            assert!(check_dns_label("f", good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("", "1 to 63"),
            ("Upper", "lowercase"),
            ("under_score", "lowercase"),
            ("1st", "start with a lowercase letter"),
            ("trailing-", "end with"),
        ] {
            let error = check_dns_label("hdaGraph.services[0].id", bad)
                .expect_err(bad)
                .to_string();
            assert!(
                error.contains(why) && error.starts_with("hdaGraph.services[0].id"),
                "{error}"
            );
        }
        assert!(check_dns_label("f", &"a".repeat(64)).is_err());
    }

    #[test]
    fn label_values_allow_dots_and_underscores_inside() {
        assert!(check_label_value("f", "hello-world-graph").is_ok());
        assert!(check_label_value("f", "v1.2_x").is_ok());
        assert!(check_label_value("f", "-x").is_err());
        assert!(check_label_value("f", "x y").is_err());
        assert!(check_label_value("f", &"a".repeat(64)).is_err());
    }
}
