//! The smo extension of `services[i].artifact` for a service without a Helm chart: the container
//! image, ports and environment a backend renders its own Deployment and Service from.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::read::{describe, field, kind, opt_list, opt_string, scalar_text, Errors, FieldPath};

/// One port the container listens on (and its Service exposes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// A name (an IANA service name: lowercase letters, digits and `-`, at most 15); default
    /// `p<port>`.
    pub name: String,
    pub port: u16,
    /// TCP (default), UDP or SCTP.
    pub protocol: String,
}

/// One environment variable of the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// `artifact.image`, `artifact.ports`, `artifact.env`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ContainerFields {
    pub image: Option<String>,
    pub ports: Vec<ContainerPort>,
    pub env: Vec<EnvVar>,
}

/// Reads the container fields of an `artifact` mapping at `path`.
pub(crate) fn read_container(
    map: &Map<String, Value>,
    path: &FieldPath,
    errors: &mut Errors,
) -> ContainerFields {
    let image = opt_string(map, "image", path, errors);
    if let Some(image) = &image {
        if image.trim().is_empty() || image.chars().any(char::is_whitespace) {
            errors.push(
                &path.key("image"),
                format!("expected a container image reference such as nginx:1.27, found {image:?}"),
            );
        }
    }
    let list = path.key("ports");
    let mut ports: Vec<ContainerPort> = Vec::new();
    for (i, item) in opt_list(map, "ports", path, errors)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(port) = read_port(item, &list.index(i), errors) else {
            continue;
        };
        let twice = ports.iter().any(|before| {
            before.name == port.name
                || (before.port, &before.protocol) == (port.port, &port.protocol)
        });
        if twice {
            errors.push(
                &list.index(i),
                format!(
                    "port {} ({}, name {:?}) is listed twice",
                    port.port, port.protocol, port.name
                ),
            );
            continue;
        }
        ports.push(port);
    }
    let env = read_env(map, path, errors);
    ContainerFields { image, ports, env }
}

/// A port: a number, or `{port, name?, protocol?}`.
fn read_port(item: &Value, path: &FieldPath, errors: &mut Errors) -> Option<ContainerPort> {
    let (number, name, protocol) = match item {
        Value::Number(_) => (item, None, None),
        Value::Object(map) => {
            for key in map.keys() {
                if !["port", "name", "protocol"].contains(&key.as_str()) {
                    errors.push(
                        &path.key(key),
                        "unknown key (expected one of: port, name, protocol)",
                    );
                }
            }
            let Some(number) = field(map, "port") else {
                errors.push(&path.key("port"), "missing: the port number");
                return None;
            };
            (
                number,
                opt_string(map, "name", path, errors),
                opt_string(map, "protocol", path, errors),
            )
        }
        other => {
            errors.push(
                path,
                format!(
                    "expected a port number or {{port, name, protocol}}, found {}",
                    kind(other)
                ),
            );
            return None;
        }
    };
    let number_path = if item.is_object() {
        path.key("port")
    } else {
        path.clone()
    };
    let port = match number.as_u64().map(u16::try_from) {
        Some(Ok(port)) if port > 0 => port,
        _ => {
            errors.push(
                &number_path,
                format!(
                    "expected a port from 1 to 65535, found {}",
                    describe(number)
                ),
            );
            return None;
        }
    };
    let protocol = protocol.unwrap_or_else(|| "TCP".to_owned());
    if !["TCP", "UDP", "SCTP"].contains(&protocol.as_str()) {
        errors.push(
            &path.key("protocol"),
            format!("expected TCP, UDP or SCTP, found {protocol:?}"),
        );
        return None;
    }
    let name = name.unwrap_or_else(|| format!("p{port}"));
    if !is_port_name(&name) {
        errors.push(
            &path.key("name"),
            format!(
                "{name:?} is not a port name (at most 15 lowercase letters, digits and '-', with a \
                 letter, not starting or ending with '-')"
            ),
        );
        return None;
    }
    Some(ContainerPort {
        name,
        port,
        protocol,
    })
}

/// Kubernetes' IANA_SVC_NAME: 1-15 of `[a-z0-9-]`, at least one letter, no leading, trailing or
/// doubled `-`.
fn is_port_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// `env`: a mapping of names to scalar values, sorted by name.
fn read_env(map: &Map<String, Value>, path: &FieldPath, errors: &mut Errors) -> Vec<EnvVar> {
    let Some(value) = field(map, "env") else {
        return Vec::new();
    };
    let env_path = path.key("env");
    let Value::Object(vars) = value else {
        errors.push(
            &env_path,
            format!("expected a mapping of NAME: value, found {}", kind(value)),
        );
        return Vec::new();
    };
    vars.iter()
        .filter_map(|(name, value)| {
            let var_path = env_path.key(name);
            if !is_env_name(name) {
                errors.push(
                    &var_path,
                    "not an environment variable name (letters, digits, '_', '-', '.', not \
                     starting with a digit)",
                );
                return None;
            }
            match scalar_text(value) {
                Some(value) => Some(EnvVar {
                    name: name.clone(),
                    value,
                }),
                None => {
                    errors.push(
                        &var_path,
                        format!("expected a single value, found {}", kind(value)),
                    );
                    None
                }
            }
        })
        .collect()
}

/// Kubernetes' C_IDENTIFIER-ish rule for env names: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.';
    matches!(bytes.next(), Some(first) if valid(first) && !first.is_ascii_digit())
        && bytes.all(valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> (ContainerFields, Vec<String>) {
        let value: Value = serde_norway::from_str(yaml).expect("yaml");
        let Value::Object(map) = value else {
            panic!("not a mapping")
        };
        let mut errors = Errors::default();
        let fields = read_container(&map, &FieldPath::root().key("artifact"), &mut errors);
        let messages = errors
            .into_vec()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        (fields, messages)
    }

    #[test]
    fn ports_default_their_name_and_protocol_and_env_is_sorted_by_name() {
        let (fields, errors) = read(
            "image: nginx:1.27\nports: [8080, {port: 53, protocol: UDP, name: dns}]\n\
             env: {B: 2, A: text, C: true}\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(fields.image.as_deref(), Some("nginx:1.27"));
        assert_eq!(
            fields.ports,
            vec![
                ContainerPort {
                    name: "p8080".into(),
                    port: 8080,
                    protocol: "TCP".into()
                },
                ContainerPort {
                    name: "dns".into(),
                    port: 53,
                    protocol: "UDP".into()
                },
            ]
        );
        let env: Vec<(&str, &str)> = fields
            .env
            .iter()
            .map(|v| (v.name.as_str(), v.value.as_str()))
            .collect();
        assert_eq!(env, [("A", "text"), ("B", "2"), ("C", "true")]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let (_, errors) = read(
            "image: 'two words'\nports: [0, {port: 80, protocol: ICMP}, {port: 81, name: Web}, \
             {port: 82, nmae: x}, 80, 80]\nenv: {1X: a, OK: [1]}\n",
        );
        let joined = errors.join("\n");
        for expected in [
            "artifact.image",
            "artifact.ports[0]: expected a port from 1 to 65535",
            "artifact.ports[1].protocol",
            "artifact.ports[2].name",
            "artifact.ports[3].nmae: unknown key",
            "artifact.ports[5]: port 80 (TCP, name \"p80\") is listed twice",
            "artifact.env.1X",
            "artifact.env.OK: expected a single value",
        ] {
            assert!(
                joined.contains(expected),
                "missing {expected:?} in:\n{joined}"
            );
        }
    }
}
