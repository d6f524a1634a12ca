//! The criteria of a requirement, compiled: product and version constraints, the latency bound,
//! profile and stack tags, and signature similarity (Jaccard for tags, cosine for vectors).
//!
//! Similarity: two tag sets A and B score |A ∩ B| / |A ∪ B| (tags compared without case; two
//! empty sets score 0); two vectors a and b score max(0, a·b / (|a| |b|)) (0 when either is zero
//! or their lengths differ); a tag set and a vector score 0. A rule holds at `min_similarity` or
//! more (default 0.8).

use super::declaration::{Characteristics, FuzzyMatch, Requirement, Signature};

/// `min_similarity` when a rule gives none.
pub const DEFAULT_MIN_SIMILARITY: f64 = 0.8;

/// A version constraint: a product name (optional) and comparisons on the numeric version.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRule {
    pub product: Option<String>,
    pub constraints: Vec<(Comparison, Vec<u64>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `14` matches 14, 14.2, 14.2.1 (a prefix).
    Prefix,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

fn numbers(text: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = text.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// Reads `PostgreSQL 14`, `Redis >=6 <8`, `>= 14, < 16`.
pub fn parse_version_rule(text: &str) -> Result<VersionRule, String> {
    let mut product = Vec::new();
    let mut constraints = Vec::new();
    let spaced = text
        .replace(',', " ")
        .replace(">=", " >=")
        .replace("<=", " <=");
    let mut tokens = spaced.split_whitespace().peekable();
    while let Some(token) = tokens.next() {
        let (comparison, rest) = if let Some(r) = token.strip_prefix(">=") {
            (Comparison::GreaterOrEqual, r)
        } else if let Some(r) = token.strip_prefix("<=") {
            (Comparison::LessOrEqual, r)
        } else if let Some(r) = token.strip_prefix('>') {
            (Comparison::Greater, r)
        } else if let Some(r) = token.strip_prefix('<') {
            (Comparison::Less, r)
        } else if token.starts_with(|c: char| c.is_ascii_digit()) {
            (Comparison::Prefix, token)
        } else {
            if !constraints.is_empty() {
                return Err(format!(
                    "`{token}` after a version: write the product first (`PostgreSQL >=14`)"
                ));
            }
            product.push(token);
            continue;
        };
        // `>= 14` with a space.
        let rest = if rest.is_empty() {
            tokens.next().unwrap_or_default()
        } else {
            rest
        };
        let version = numbers(rest.trim_start_matches(['v', 'V']))
            .ok_or_else(|| format!("`{rest}` is not a version (digits and dots, e.g. 14.2)"))?;
        constraints.push((comparison, version));
    }
    if product.is_empty() && constraints.is_empty() {
        return Err("empty: give a product, a version or both".into());
    }
    Ok(VersionRule {
        product: (!product.is_empty()).then(|| product.join(" ")),
        constraints,
    })
}

/// The product and numeric version of a provided version string (`PostgreSQL 14.2`).
fn provided(text: &str) -> (String, Option<Vec<u64>>) {
    let mut product = Vec::new();
    let mut version = None;
    for token in text.split_whitespace() {
        match numbers(token.trim_start_matches(['v', 'V'])) {
            Some(v)
                if version.is_none()
                    && token.starts_with(|c: char| c.is_ascii_digit() || c == 'v' || c == 'V') =>
            {
                version = Some(v)
            }
            _ => product.push(token),
        }
    }
    (product.join(" "), version)
}

fn compare(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

impl VersionRule {
    /// Whether a workload providing `version` meets the rule.
    pub fn matches(&self, version: &str) -> bool {
        let (product, number) = provided(version);
        if let Some(wanted) = &self.product {
            if !wanted.eq_ignore_ascii_case(&product) {
                return false;
            }
        }
        if self.constraints.is_empty() {
            return true;
        }
        let Some(number) = number else {
            return false;
        };
        self.constraints.iter().all(|(comparison, bound)| {
            use std::cmp::Ordering::*;
            match comparison {
                Comparison::Prefix => {
                    number.len() >= bound.len() && number[..bound.len()] == bound[..]
                }
                Comparison::Less => compare(&number, bound) == Less,
                Comparison::LessOrEqual => compare(&number, bound) != Greater,
                Comparison::Greater => compare(&number, bound) == Greater,
                Comparison::GreaterOrEqual => compare(&number, bound) != Less,
            }
        })
    }
}

/// An upper bound on latency, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyBound {
    pub ms: f64,
    /// `<` (the bound itself is too slow) rather than `<=`.
    pub strict: bool,
}

impl LatencyBound {
    pub fn holds(&self, ms: f64) -> bool {
        if self.strict {
            ms < self.ms
        } else {
            ms <= self.ms
        }
    }
}

/// Reads `< 1ms`, `<= 20 ms`, `<500us`, `≤ 0.5 s`.
pub fn parse_latency(text: &str) -> Result<LatencyBound, String> {
    let t = text.trim();
    let (strict, rest) = if let Some(r) = t.strip_prefix("<=").or_else(|| t.strip_prefix('≤')) {
        (false, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (true, r)
    } else {
        return Err(format!(
            "`{text}`: an upper bound is expected, `< 1ms` or `<= 20 ms`"
        ));
    };
    let rest = rest.trim();
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, unit) = rest.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: no number before the unit"))?;
    let scale = match unit.trim() {
        "ms" => 1.0,
        "us" | "µs" => 1e-3,
        "s" => 1e3,
        other => return Err(format!("`{text}`: unit `{other}` (use ms, us or s)")),
    };
    let ms = value * scale;
    if !ms.is_finite() || ms <= 0.0 {
        return Err(format!("`{text}`: the bound must be positive"));
    }
    Ok(LatencyBound { ms, strict })
}

/// Similarity of two signatures in [0, 1] (see the module documentation).
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    match (a, b) {
        (Signature::Tags(a), Signature::Tags(b)) => {
            let a: std::collections::HashSet<String> = a.iter().map(|t| t.to_lowercase()).collect();
            let b: std::collections::HashSet<String> = b.iter().map(|t| t.to_lowercase()).collect();
            let union = a.union(&b).count();
            if union == 0 {
                0.0
            } else {
                a.intersection(&b).count() as f64 / union as f64
            }
        }
        (Signature::Vector(a), Signature::Vector(b)) => {
            if a.len() != b.len() || a.is_empty() {
                return 0.0;
            }
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let norm = a.iter().map(|x| x * x).sum::<f64>().sqrt()
                * b.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                0.0
            } else {
                (dot / norm).clamp(0.0, 1.0)
            }
        }
        _ => 0.0,
    }
}

fn has_all(have: &[String], want: &[&str]) -> bool {
    want.iter()
        .all(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w)))
}

fn same(have: Option<&String>, want: Option<&String>) -> bool {
    match want {
        None => true,
        Some(w) => have.is_some_and(|h| h.eq_ignore_ascii_case(w)),
    }
}

/// A requirement ready to match: its criteria parsed (a declaration is checked before, so the
/// parse cannot fail here; a criterion that would not parse matches nothing).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub requirement: Requirement,
    version: Option<Option<VersionRule>>,
    /// Without a bound the neighbour must be on the same cluster.
    pub latency: Option<LatencyBound>,
    /// The signature compared and the threshold.
    fuzzy: Option<(Option<Signature>, f64)>,
}

impl Compiled {
    pub fn new(requirement: &Requirement, own: Option<&Signature>) -> Self {
        let fuzzy = requirement.fuzzy_match.as_ref().map(|rule| match rule {
            FuzzyMatch::Text(_) => (own.cloned(), DEFAULT_MIN_SIMILARITY),
            FuzzyMatch::Rule {
                signature,
                min_similarity,
            } => (
                signature.clone().or_else(|| own.cloned()),
                min_similarity.unwrap_or(DEFAULT_MIN_SIMILARITY),
            ),
        });
        Self {
            version: requirement
                .version
                .as_deref()
                .map(|v| parse_version_rule(v).ok()),
            latency: requirement
                .network_latency_requirement
                .as_deref()
                .and_then(|l| parse_latency(l).ok()),
            fuzzy,
            requirement: requirement.clone(),
        }
    }

    /// The type it asks for, lower case (the map indexes workloads by it).
    pub fn kind(&self) -> Option<String> {
        self.requirement.kind.as_ref().map(|k| k.to_lowercase())
    }

    /// Whether a workload with characteristics `c` is the kind of neighbour asked for (where
    /// it runs is checked apart).
    pub fn matches(&self, c: &Characteristics) -> bool {
        let r = &self.requirement;
        if !same(c.kind.as_ref(), r.kind.as_ref()) {
            return false;
        }
        let version_ok = match &self.version {
            None => true,
            Some(None) => false,
            Some(Some(rule)) => c.version.as_deref().is_some_and(|v| rule.matches(v)),
        };
        if !version_ok {
            return false;
        }
        if let Some(profile) = &r.resource_profile {
            if !has_all(&c.resource_profile, &profile.items()) {
                return false;
            }
        }
        if !same(c.cpu_architecture.as_ref(), r.cpu_architecture.as_ref())
            || !same(c.storage_type.as_ref(), r.storage_type.as_ref())
        {
            return false;
        }
        let at_least = |have: Option<f64>, want: Option<f64>| match want {
            None => true,
            Some(w) => have.is_some_and(|h| h >= w),
        };
        if !at_least(c.ram_gib, r.min_ram_gib) || !at_least(c.bandwidth_gbps, r.min_bandwidth_gbps)
        {
            return false;
        }
        let stack: Vec<&str> = r.software_stack.iter().map(String::as_str).collect();
        if !has_all(&c.software_stack, &stack) {
            return false;
        }
        match &self.fuzzy {
            None => true,
            Some((None, _)) => false,
            Some((Some(wanted), min)) => c
                .signature
                .as_ref()
                .is_some_and(|s| similarity(wanted, s) >= *min),
        }
    }

    /// Whether a neighbour `latency_ms` away (on the same cluster or not) meets the placement
    /// part: within the bound, or, without one, on the same cluster.
    pub fn placed_well(&self, same_cluster: bool, latency_ms: f64) -> bool {
        match self.latency {
            None => same_cluster,
            Some(bound) => bound.holds(latency_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_match_by_product_and_prefix_or_range() {
        let pg14 = parse_version_rule("PostgreSQL 14").expect("rule");
        assert!(pg14.matches("PostgreSQL 14.2"));
        assert!(pg14.matches("postgresql 14"));
        assert!(!pg14.matches("PostgreSQL 15.1"));
        assert!(!pg14.matches("MySQL 14.0"));
        let range = parse_version_rule("Redis >=6, <8").expect("rule");
        assert!(range.matches("Redis 6.2.1") && range.matches("Redis 7"));
        assert!(!range.matches("Redis 8.0") && !range.matches("Redis 5.9"));
        let spaced = parse_version_rule(">= 14 < 16").expect("rule");
        assert!(spaced.matches("PostgreSQL 15") && !spaced.matches("PostgreSQL 16.0"));
        assert!(parse_version_rule("14 PostgreSQL").is_err());
        assert!(parse_version_rule(">=x").is_err());
        assert!(parse_version_rule("  ").is_err());
    }

    #[test]
    fn latency_bounds_read_units_and_strictness() {
        let one = parse_latency(" < 1ms").expect("bound");
        assert_eq!(
            one,
            LatencyBound {
                ms: 1.0,
                strict: true
            }
        );
        assert!(one.holds(0.99) && !one.holds(1.0));
        let twenty = parse_latency("<= 20 ms").expect("bound");
        assert!(twenty.holds(20.0));
        assert_eq!(parse_latency("<500us").expect("bound").ms, 0.5);
        assert_eq!(parse_latency("≤ 0.5 s").expect("bound").ms, 500.0);
        for bad in ["> 1ms", "< ms", "< 1 hour", "< 0 ms", "1ms"] {
            assert!(parse_latency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn similarity_is_jaccard_for_tags_and_cosine_for_vectors() {
        let tags = |t: &[&str]| Signature::Tags(t.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            similarity(&tags(&["a", "b"]), &tags(&["B", "c"])),
            1.0 / 3.0
        );
        assert_eq!(similarity(&tags(&[]), &tags(&[])), 0.0);
        let v = |x: &[f64]| Signature::Vector(x.to_vec());
        assert!((similarity(&v(&[1.0, 0.0]), &v(&[1.0, 1.0])) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(similarity(&v(&[1.0, 0.0]), &v(&[-1.0, 0.0])), 0.0);
        assert_eq!(similarity(&v(&[1.0]), &v(&[1.0, 2.0])), 0.0);
        assert_eq!(similarity(&v(&[1.0]), &tags(&["a"])), 0.0);
    }
}
