//! Server power models: linear in CPU utilisation between idle and peak watts (Fan, Weber and
//! Barroso 2007; ECMR eq. 5), or piecewise linear through evenly spaced points (SPECpower).

/// Power draw of one switched-on server as a function of its CPU utilisation `u` in 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub enum PowerModel {
    /// `P(u) = idle + (peak - idle) * u`.
    Linear { idle_w: f64, peak_w: f64 },
    /// Points at `u = 0, 1/(n-1), ..., 1` (11 points for SPECpower's 0 %, 10 %, ..., 100 %),
    /// linearly interpolated in between.
    Piecewise { points_w: Vec<f64> },
}

impl PowerModel {
    /// Watts at utilisation `u` (clamped to 0..=1).
    pub fn watts(&self, u: f64) -> f64 {
        let u = if u.is_finite() {
            u.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match self {
            PowerModel::Linear { idle_w, peak_w } => idle_w + (peak_w - idle_w) * u,
            PowerModel::Piecewise { points_w } => match points_w.len() {
                0 => 0.0,
                1 => points_w[0],
                n => {
                    let x = u * (n - 1) as f64;
                    let i = (x.floor() as usize).min(n - 2);
                    let frac = x - i as f64;
                    points_w[i] + (points_w[i + 1] - points_w[i]) * frac
                }
            },
        }
    }

    /// Watts of a switched-on server with no load.
    pub fn idle_w(&self) -> f64 {
        self.watts(0.0)
    }

    /// Watts at full load.
    pub fn peak_w(&self) -> f64 {
        self.watts(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_model_interpolates_between_idle_and_peak() {
        let m = PowerModel::Linear {
            idle_w: 100.0,
            peak_w: 300.0,
        };
        assert_eq!(m.watts(0.0), 100.0);
        assert_eq!(m.watts(0.25), 150.0);
        assert_eq!(m.watts(1.0), 300.0);
        assert_eq!(m.watts(1.7), 300.0, "utilisation is clamped");
        assert_eq!(m.watts(f64::NAN), 100.0);
    }

    #[test]
    fn piecewise_model_follows_the_specpower_points() {
        // Huawei RH2285 V2, ECMR Table 4.
        let m = PowerModel::Piecewise {
            points_w: vec![
                51.0, 72.5, 81.9, 92.0, 101.0, 114.0, 133.0, 154.0, 178.0, 218.0, 241.0,
            ],
        };
        assert_eq!(m.idle_w(), 51.0);
        assert_eq!(m.peak_w(), 241.0);
        assert!((m.watts(0.1) - 72.5).abs() < 1e-9);
        assert!((m.watts(0.05) - (51.0 + 72.5) / 2.0).abs() < 1e-9);
        assert!((m.watts(0.95) - (218.0 + 241.0) / 2.0).abs() < 1e-9);
    }
}
