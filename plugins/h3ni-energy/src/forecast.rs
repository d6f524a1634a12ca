//! Forecasters of a request-rate series sampled at a fixed period: additive Holt-Winters
//! with a known season, a linear autoregression fitted by least squares, and the naive last value.

use nalgebra::{DMatrix, DVector};

/// Which model made a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    HoltWinters,
    Autoregression,
    Naive,
}

impl Model {
    pub const ALL: [Model; 3] = [Model::HoltWinters, Model::Autoregression, Model::Naive];

    pub fn name(self) -> &'static str {
        match self {
            Model::HoltWinters => "holt-winters",
            Model::Autoregression => "autoregression",
            Model::Naive => "naive",
        }
    }
}

/// Smoothing constants of Holt-Winters.
#[derive(Debug, Clone, Copy)]
pub struct HwParams {
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
}

/// Additive Holt-Winters with season `m`: forecasts `h` steps after the last value. Needs at
/// least two whole seasons (level and trend start from the first two season means).
pub fn holt_winters(y: &[f64], m: usize, p: HwParams, h: usize) -> Option<Vec<f64>> {
    if m < 2 || y.len() < 2 * m {
        return None;
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (m1, m2) = (mean(&y[..m]), mean(&y[m..2 * m]));
    let mut level = m1;
    let mut trend = (m2 - m1) / m as f64;
    let mut season: Vec<f64> = y[..m].iter().map(|v| v - m1).collect();
    for (t, &v) in y.iter().enumerate().skip(m) {
        let s = season[t % m];
        let prev = level;
        level = p.alpha * (v - s) + (1.0 - p.alpha) * (level + trend);
        trend = p.beta * (level - prev) + (1.0 - p.beta) * trend;
        season[t % m] = p.gamma * (v - level) + (1.0 - p.gamma) * s;
    }
    let n = y.len();
    Some(
        (1..=h)
            .map(|k| (level + k as f64 * trend + season[(n + k - 1) % m]).max(0.0))
            .collect(),
    )
}

/// Linear autoregression of order `p` with an intercept, fitted by least squares (SVD) on the
/// last `window` values; forecasts `h` steps recursively.
pub fn autoregression(y: &[f64], p: usize, window: usize, h: usize) -> Option<Vec<f64>> {
    let y = &y[y.len().saturating_sub(window)..];
    let rows = y.len().checked_sub(p)?;
    if p == 0 || rows < p + 2 {
        return None;
    }
    let x = DMatrix::from_fn(rows, p + 1, |r, c| if c == 0 { 1.0 } else { y[r + p - c] });
    let b = DVector::from_fn(rows, |r, _| y[r + p]);
    let coef = x.svd(true, true).solve(&b, 1e-9).ok()?;
    let mut hist: Vec<f64> = y[y.len() - p..].to_vec();
    let mut out = Vec::with_capacity(h);
    for _ in 0..h {
        let n = hist.len();
        let v = coef[0] + (1..=p).map(|c| coef[c] * hist[n - c]).sum::<f64>();
        let v = if v.is_finite() {
            v.max(0.0)
        } else {
            hist[n - 1]
        };
        hist.push(v);
        out.push(v);
    }
    Some(out)
}

/// Forecast of `model` for the next `h` values, when it has enough history.
pub fn forecast(
    model: Model,
    y: &[f64],
    season: usize,
    hw: HwParams,
    ar: (usize, usize),
    h: usize,
) -> Option<Vec<f64>> {
    match model {
        Model::HoltWinters => holt_winters(y, season, hw, h),
        Model::Autoregression => autoregression(y, ar.0, ar.1, h),
        Model::Naive => y.last().map(|v| vec![*v; h]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A daily cycle of 24 samples, a slow trend and deterministic pseudo-noise of +-2 %.
    fn series(days: usize) -> Vec<f64> {
        (0..days * 24)
            .map(|t| {
                let x = t as f64;
                let base = 100.0 + 0.05 * x + 40.0 * (2.0 * std::f64::consts::PI * x / 24.0).sin();
                let noise = ((t * 7919) % 101) as f64 / 100.0 - 0.5; // -0.5..0.5
                base * (1.0 + 0.04 * noise)
            })
            .collect()
    }

    fn truth(t: usize) -> f64 {
        let x = t as f64;
        100.0 + 0.05 * x + 40.0 * (2.0 * std::f64::consts::PI * x / 24.0).sin()
    }

    fn mape(f: &[f64], from: usize) -> f64 {
        f.iter()
            .enumerate()
            .map(|(k, v)| ((v - truth(from + k)) / truth(from + k)).abs())
            .sum::<f64>()
            / f.len() as f64
    }

    #[test]
    fn holt_winters_learns_a_daily_season() {
        let y = series(5);
        let hw = HwParams {
            alpha: 0.3,
            beta: 0.01,
            gamma: 0.3,
        };
        let f = holt_winters(&y, 24, hw, 24).expect("two seasons");
        let e = mape(&f, y.len());
        assert!(e < 0.05, "24-step MAPE {e}");
        assert!(holt_winters(&y[..30], 24, hw, 1).is_none());
    }

    #[test]
    fn autoregression_tracks_a_smooth_series_one_step_ahead() {
        let y = series(3);
        let mut err = 0.0;
        for n in 40..y.len() {
            let f = autoregression(&y[..n], 3, 48, 1).expect("enough history");
            err += ((f[0] - truth(n)) / truth(n)).abs();
        }
        let e = err / (y.len() - 40) as f64;
        assert!(e < 0.05, "one-step MAPE {e}");
    }

    #[test]
    fn autoregression_recovers_an_ar1_process_exactly() {
        let mut y = vec![10.0];
        for _ in 0..30 {
            let last = y[y.len() - 1];
            y.push(5.0 + 0.5 * last);
        }
        let f = autoregression(&y, 1, 30, 3).expect("fit");
        let mut v = y[y.len() - 1];
        for fk in f {
            v = 5.0 + 0.5 * v;
            assert!((fk - v).abs() < 1e-6);
        }
    }

    #[test]
    fn naive_repeats_the_last_value() {
        let hw = HwParams {
            alpha: 0.5,
            beta: 0.0,
            gamma: 0.5,
        };
        let f = forecast(Model::Naive, &[1.0, 2.0], 24, hw, (2, 8), 2);
        assert_eq!(f, Some(vec![2.0, 2.0]));
    }
}
