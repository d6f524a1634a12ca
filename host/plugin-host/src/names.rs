//! Strategy names as written in descriptors and on the command line: `plugin/strategy`.
//! Parsing is strict so a typo is reported where it is written, not at call time.

use super::error::PluginHostError;
use std::fmt;

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
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        };
        if !valid(plugin) || !valid(strategy) {
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
}
