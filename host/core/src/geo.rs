//! Geography of the continuum: great-circle distance between two points and the network
//! latency model built on it (a per-kilometre factor plus fixed per-link bases).

/// Mean Earth radius used by the haversine formula, in km.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in km between two `(lat, lon)` points in degrees (haversine).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Network latency in ms: `base_ms + distance_km * ms_per_km`.
pub fn latency_ms(distance_km: f64, ms_per_km: f64, base_ms: f64) -> f64 {
    base_ms + distance_km * ms_per_km
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: (f64, f64) = (48.8566, 2.3522);

    #[test]
    fn distances_match_the_ecmr_seed_table() {
        // research/ecmr-data.md §2.1: Paris -> Frankfurt 477.9 km, -> Milan 639.6 km,
        // -> Stockholm 1543.5 km, -> Madrid 1052.9 km (haversine, R = 6371 km).
        let cases = [
            ((50.1109, 8.6821), 477.9),
            ((45.4642, 9.1900), 639.6),
            ((59.3293, 18.0686), 1543.5),
            ((40.4168, -3.7038), 1052.9),
        ];
        for (to, km) in cases {
            let d = distance_km(PARIS, to);
            assert!((d - km).abs() < 0.1, "{to:?}: {d} km, expected {km}");
        }
        assert_eq!(distance_km(PARIS, PARIS), 0.0);
    }

    #[test]
    fn latency_is_base_plus_distance_term() {
        assert!((latency_ms(477.9, 0.1, 0.0) - 47.79).abs() < 1e-9);
        assert!((latency_ms(100.0, 0.02, 3.0) - 5.0).abs() < 1e-9);
    }
}
