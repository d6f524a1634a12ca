//! Compute intents to numbers: upstream's light/small/medium/large words translated exactly as
//! upstream does, exact quantities (`cpu: 2`, `"500m"`, `ram: 3Gi`), and the GPU flag as a boolean.
//!
//! | intent  | cpu (cores) | ram        | storage   |
//! |---------|-------------|------------|-----------|
//! | light   | 0.5         | 500 MiB    | (none upstream: an error) |
//! | small   | 1           | 1 GiB      | 10 GB     |
//! | medium  | 4           | 2 GiB      | 20 GB     |
//! | large   | 8           | 8 GiB      | 40 GB     |
//!
//! Words are matched without regard to case. Upstream storage is written "10GB"; it is read here
//! as GiB (10240 MiB), the unit Kubernetes volumes use. Upstream computes the GPU flag as
//! `gpu.enabled == 'True'`, a string comparison that makes a YAML `true` mean "no GPU"; here a
//! boolean `true` (or the string "True") means one GPU, and the extension `count` asks for more.

/// CPU cores per intent word, as upstream (`utils/intent_translation.py`).
pub const CPU_INTENTS: [(&str, f64); 4] = [
    ("light", 0.5),
    ("small", 1.0),
    ("medium", 4.0),
    ("large", 8.0),
];

/// Memory in MiB per intent word, as upstream.
pub const RAM_INTENTS_MIB: [(&str, f64); 4] = [
    ("light", 500.0),
    ("small", 1024.0),
    ("medium", 2048.0),
    ("large", 8192.0),
];

/// Storage in MiB per intent word (upstream: 10/20/40 GB; there is no `light`).
pub const STORAGE_INTENTS_MIB: [(&str, f64); 3] = [
    ("small", 10.0 * 1024.0),
    ("medium", 20.0 * 1024.0),
    ("large", 40.0 * 1024.0),
];

fn lookup(table: &[(&str, f64)], word: &str) -> Option<f64> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, value)| *value)
}

fn words(table: &[(&str, f64)]) -> String {
    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, {last}", rest.join(", ")),
        Some((last, _)) => (*last).to_owned(),
        None => String::new(),
    }
}

fn looks_numeric(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '-' || c == '+')
}

fn positive(value: f64, text: &str) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("{text:?} must be greater than 0"))
    }
}

/// CPU cores from an intent word or a Kubernetes CPU quantity: `2`, `1.5`, `500m`.
pub fn cpu_cores(text: &str) -> Result<f64, String> {
    let text = text.trim();
    if let Some(cores) = lookup(&CPU_INTENTS, text) {
        return Ok(cores);
    }
    let quantity = match text.strip_suffix('m') {
        Some(millis) => millis.parse::<f64>().ok().map(|m| m / 1000.0),
        None => text.parse::<f64>().ok(),
    };
    match quantity {
        Some(cores) => positive(cores, text),
        None if looks_numeric(text) => Err(format!(
            "{text:?} is not a CPU quantity (expected cores such as 2 or 0.5, or millicores such as 500m)"
        )),
        None => Err(format!(
            "unknown intent {text:?} (expected {} or a quantity such as 2 or 500m)",
            words(&CPU_INTENTS)
        )),
    }
}

/// Binary and decimal suffixes of Kubernetes memory quantities, in bytes.
const MEMORY_SUFFIXES: [(&str, f64); 12] = [
    ("Ki", 1024.0),
    ("Mi", 1024.0 * 1024.0),
    ("Gi", 1024.0 * 1024.0 * 1024.0),
    ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("Pi", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("Ei", 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
    ("P", 1e15),
    ("E", 1e18),
];

const MIB: f64 = 1024.0 * 1024.0;

/// MiB from a Kubernetes memory quantity with a unit: `512Mi`, `3Gi`, `1G`, `1.5Gi`.
/// A bare number is refused: in Kubernetes it means bytes, which nobody writing `ram: 4` means.
pub fn memory_quantity_mib(text: &str) -> Result<f64, String> {
    let text = text.trim();
    // Two-letter suffixes first, so that "Mi" is not read as "M".
    let mut suffixes = MEMORY_SUFFIXES;
    suffixes.sort_by_key(|(suffix, _)| std::cmp::Reverse(suffix.len()));
    for (suffix, bytes) in suffixes {
        if let Some(number) = text.strip_suffix(suffix) {
            return match number.trim().parse::<f64>() {
                Ok(value) => positive(value * bytes / MIB, text),
                Err(_) => Err(format!(
                    "{text:?} is not a memory quantity (expected a number and a unit, e.g. 512Mi or 3Gi)"
                )),
            };
        }
    }
    if text.parse::<f64>().is_ok() {
        Err(format!(
            "{text:?} has no unit (a bare number would be bytes): write e.g. 512Mi or 3Gi"
        ))
    } else {
        Err(format!(
            "{text:?} is not a memory quantity (expected a number and a unit, e.g. 512Mi or 3Gi)"
        ))
    }
}

/// Memory in MiB from an intent word or a memory quantity.
pub fn memory_mib(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    if let Some(mib) = lookup(&RAM_INTENTS_MIB, trimmed) {
        return Ok(mib);
    }
    if looks_numeric(trimmed) {
        return memory_quantity_mib(trimmed);
    }
    Err(format!(
        "unknown intent {trimmed:?} (expected {} or a quantity such as 512Mi or 3Gi)",
        words(&RAM_INTENTS_MIB)
    ))
}

/// Storage in MiB from an intent word or a memory-style quantity (`50Gi`).
pub fn storage_mib(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    if let Some(mib) = lookup(&STORAGE_INTENTS_MIB, trimmed) {
        return Ok(mib);
    }
    if looks_numeric(trimmed) {
        return memory_quantity_mib(trimmed);
    }
    Err(format!(
        "unknown intent {trimmed:?} (expected {} or a quantity such as 50Gi)",
        words(&STORAGE_INTENTS_MIB)
    ))
}

/// The GPU intent as written: upstream `gpu: {enabled: bool}`, plus the smo extension `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct GpuIntent {
    pub enabled: bool,
    /// GPUs per replica when enabled (extension; default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl GpuIntent {
    /// Whole GPUs one replica needs: 0 when disabled, `count` (default 1) when enabled.
    pub fn gpus(&self) -> u32 {
        if self.enabled {
            self.count.unwrap_or(1)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intent_words_translate_as_upstream() {
        assert_eq!(cpu_cores("light"), Ok(0.5));
        assert_eq!(cpu_cores("small"), Ok(1.0));
        assert_eq!(cpu_cores("medium"), Ok(4.0));
        assert_eq!(cpu_cores("Large"), Ok(8.0));
        assert_eq!(memory_mib("light"), Ok(500.0));
        assert_eq!(memory_mib("small"), Ok(1024.0));
        assert_eq!(memory_mib("medium"), Ok(2048.0));
        assert_eq!(memory_mib("large"), Ok(8192.0));
        assert_eq!(storage_mib("small"), Ok(10240.0));
        assert_eq!(storage_mib("large"), Ok(40960.0));
        // Upstream has no light storage (a KeyError there, a clear error here).
        let error = storage_mib("light").expect_err("no light storage");
        assert!(error.contains("expected small, medium, large"), "{error}");
    }

    #[test]
    fn exact_cpu_quantities() {
        assert_eq!(cpu_cores("2"), Ok(2.0));
        assert_eq!(cpu_cores("0.25"), Ok(0.25));
        assert_eq!(cpu_cores("500m"), Ok(0.5));
        assert_eq!(cpu_cores(" 1500m "), Ok(1.5));
        assert!(cpu_cores("0").is_err());
        assert!(cpu_cores("-1").is_err());
        assert!(cpu_cores("2x")
            .expect_err("bad")
            .contains("not a CPU quantity"));
        assert_eq!(
            cpu_cores("huge"),
            Err(
                "unknown intent \"huge\" (expected light, small, medium, large or a quantity such as 2 or 500m)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn exact_memory_quantities() {
        assert_eq!(memory_mib("3Gi"), Ok(3072.0));
        assert_eq!(memory_mib("512Mi"), Ok(512.0));
        assert_eq!(memory_mib("1.5Gi"), Ok(1536.0));
        assert_eq!(memory_mib("1024Ki"), Ok(1.0));
        let one_gb = memory_mib("1G").expect("decimal unit");
        assert!((one_gb - 953.674_316_406_25).abs() < 1e-9);
        assert!(memory_mib("4").expect_err("bare").contains("no unit"));
        assert!(memory_mib("0Mi").is_err());
        assert!(memory_mib("3Gb").is_err());
        assert!(memory_mib("tiny")
            .expect_err("word")
            .starts_with("unknown intent"));
        assert_eq!(storage_mib("50Gi"), Ok(51200.0));
    }

    #[test]
    fn gpu_count() {
        assert_eq!(GpuIntent::default().gpus(), 0);
        let one = GpuIntent {
            enabled: true,
            count: None,
        };
        assert_eq!(one.gpus(), 1);
        let two = GpuIntent {
            enabled: true,
            count: Some(2),
        };
        assert_eq!(two.gpus(), 2);
    }
}
