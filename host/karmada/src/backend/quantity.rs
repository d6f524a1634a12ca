//! Kubernetes resource quantities (`3500m`, `16Gi`, `1e3`, `2`) as numbers: CPU in cores, memory
//! in MiB, counts as whole numbers; a quantity that does not parse is an error naming it.

/// The value of quantity `text` in base units (cores, bytes, items).
pub fn parse(text: &str) -> Result<f64, String> {
    let text = text.trim();
    let not_a_quantity = || format!("{text:?} is not a Kubernetes quantity");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, rest) = text.split_at(split);
    let mantissa: f64 = number.parse().map_err(|_| not_a_quantity())?;
    // `1e3` is a decimal exponent; `1E` alone is exa.
    let (exponent, suffix) = match rest.strip_prefix(['e', 'E']) {
        Some(digits) if !digits.is_empty() => {
            (digits.parse::<i32>().map_err(|_| not_a_quantity())?, "")
        }
        Some(_) if rest == "e" => return Err(not_a_quantity()),
        _ => (0, rest),
    };
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        other => return Err(format!("{text:?} has an unknown unit {other:?}")),
    };
    let value = mantissa * 10f64.powi(exponent) * scale;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("{text:?} is not a quantity of 0 or more"))
    }
}

/// Memory quantity `text` in MiB.
pub fn mebibytes(text: &str) -> Result<f64, String> {
    parse(text).map(|bytes| bytes / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_memory_and_counts() {
        assert_eq!(parse("3500m").unwrap(), 3.5);
        assert_eq!(parse("4").unwrap(), 4.0);
        assert_eq!(parse("250000000n").unwrap(), 0.25);
        assert_eq!(mebibytes("16Gi").unwrap(), 16384.0);
        assert_eq!(mebibytes("512Mi").unwrap(), 512.0);
        assert_eq!(mebibytes("1048576").unwrap(), 1.0);
        assert_eq!(parse("1e3").unwrap(), 1000.0);
        assert_eq!(parse("1.5k").unwrap(), 1500.0);
        assert_eq!(parse("2G").unwrap(), 2e9);
        assert_eq!(parse("1E").unwrap(), 1e18);
    }

    #[test]
    fn garbage_is_named() {
        for bad in ["", "lots", "4Xi", "-1", "1e"] {
            let error = parse(bad).expect_err(bad);
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }
}
