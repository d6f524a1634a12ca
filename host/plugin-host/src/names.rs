//! Strategy names as written in descriptors and on the command line: `plugin/strategy`.
//! Parsing is strict so a typo is reported where it is written, not at call time.

use super::error::PluginHostError;
use super::loader::PluginInfo;
use std::fmt;

/// Whether `part` may be either half of `plugin/strategy`: ASCII letters, digits, `-`, `_`
/// and `.`, not empty.
pub fn is_valid_part(part: &str) -> bool {
    !part.is_empty()
        && part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// A parsed `plugin/strategy` name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrategyName {
    pub plugin: String,
    pub strategy: String,
}

impl StrategyName {
    pub fn parse(text: &str) -> Result<Self, PluginHostError> {
        let bad = || PluginHostError::BadName(text.to_string());
        let (plugin, strategy) = text.split_once('/').ok_or_else(bad)?;
        if !is_valid_part(plugin) || !is_valid_part(strategy) {
            return Err(bad());
        }
        Ok(Self {
            plugin: plugin.to_string(),
            strategy: strategy.to_string(),
        })
    }
}

impl fmt::Display for StrategyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.plugin, self.strategy)
    }
}

/// Why `name` cannot serve as a strategy of `kind` (`placement`, `scaling`, `migration`)
/// among `plugins`: no such plugin, no such strategy in it, or a strategy of another kind. The
/// reason lists the `plugin/strategy` names of that kind the plugins offer. `None` when it can.
pub fn refusal<'a>(
    name: &StrategyName,
    kind: &str,
    plugins: impl IntoIterator<Item = &'a PluginInfo>,
) -> Option<String> {
    let plugins: Vec<&PluginInfo> = plugins.into_iter().collect();
    let mut of_kind: Vec<String> = plugins
        .iter()
        .flat_map(|p| {
            p.strategies
                .iter()
                .filter(|s| s.kind == kind)
                .map(|s| format!("{}/{}", p.name, s.name))
        })
        .collect();
    of_kind.sort();
    let available = if of_kind.is_empty() {
        format!("no {kind} strategy is available")
    } else {
        format!("the {kind} strategies available: {}", of_kind.join(", "))
    };
    let Some(plugin) = plugins.iter().find(|p| p.name == name.plugin) else {
        return Some(format!(
            "no plugin `{}` in the plugin directories; {available}",
            name.plugin
        ));
    };
    let named: Vec<&str> = plugin
        .strategies
        .iter()
        .filter(|s| s.name == name.strategy)
        .map(|s| s.kind.as_str())
        .collect();
    if named.contains(&kind) {
        None
    } else if let Some(other) = named.first() {
        Some(format!(
            "`{name}` is a {other} strategy, not a {kind} strategy; {available}"
        ))
    } else {
        Some(format!(
            "plugin `{}` has no strategy `{}`; {available}",
            name.plugin, name.strategy
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plugin_and_strategy() {
        let n = StrategyName::parse("default-lp/placement").unwrap();
        assert_eq!(n.plugin, "default-lp");
        assert_eq!(n.strategy, "placement");
        assert_eq!(n.to_string(), "default-lp/placement");
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in ["", "x", "/y", "x/", "a b/c", "a/b/c"] {
            assert!(StrategyName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn info(name: &str, strategies: &[(&str, &str)]) -> PluginInfo {
        serde_json::from_value(serde_json::json!({
            "name": name,
            "version": "1.0.0",
            "api_version": "1.0.0",
            "panic_unwind": true,
            "strategies": strategies
                .iter()
                .map(|(name, kind)| serde_json::json!({"name": name, "kind": kind, "description": ""}))
                .collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn a_name_is_refused_unless_its_plugin_offers_it_for_that_kind() {
        let plugins = [
            info(
                "default-lp",
                &[("placement", "placement"), ("scaling", "scaling")],
            ),
            info("ecmr", &[("heuristic", "placement")]),
        ];
        let name = |text: &str| StrategyName::parse(text).unwrap();
        assert_eq!(
            refusal(&name("ecmr/heuristic"), "placement", &plugins),
            None
        );
        let missing = refusal(&name("nosuch/placement"), "placement", &plugins).unwrap();
        assert!(missing.contains("no plugin `nosuch`"), "{missing}");
        assert!(
            missing.ends_with("available: default-lp/placement, ecmr/heuristic"),
            "{missing}"
        );
        let unknown = refusal(&name("ecmr/greedy"), "placement", &plugins).unwrap();
        assert!(unknown.contains("has no strategy `greedy`"), "{unknown}");
        let wrong = refusal(&name("default-lp/scaling"), "placement", &plugins).unwrap();
        assert!(
            wrong.starts_with("`default-lp/scaling` is a scaling strategy, not a placement"),
            "{wrong}"
        );
        let none = refusal(&name("ecmr/heuristic"), "migration", &plugins).unwrap();
        assert!(
            none.ends_with("no migration strategy is available"),
            "{none}"
        );
    }
}
