//! The scenario's network: latency and bandwidth between users and datacenters, and the links
//! strategies are given.

use super::*;

pub(crate) fn network(sc: &Scenario) -> Net {
    let spec = &sc.spec;
    let n = &spec.network;
    let link = |a: &str, b: &str| {
        n.links
            .iter()
            .find(|l| (l.from == a && l.to == b) || (l.from == b && l.to == a))
    };
    let lat = |a: &str, pa: (f64, f64), b: &str, pb: (f64, f64)| {
        let base = link(a, b).and_then(|l| l.base_ms).unwrap_or(n.base_ms);
        geo::latency_ms(geo::distance_km(pa, pb), n.ms_per_km, base)
    };
    let bw = |a: &str, b: &str| {
        link(a, b)
            .and_then(|l| l.bandwidth_mbps)
            .unwrap_or(n.bandwidth_mbps)
    };
    let dcs = &spec.datacenters;
    let user_lat: Vec<Vec<f64>> = spec
        .users
        .iter()
        .map(|u| {
            dcs.iter()
                .map(|d| lat(&u.name, (u.lat, u.lon), &d.name, (d.lat, d.lon)))
                .collect()
        })
        .collect();
    let dc_lat: Vec<Vec<f64>> = dcs
        .iter()
        .map(|a| {
            dcs.iter()
                .map(|b| {
                    if a.name == b.name {
                        0.0
                    } else {
                        lat(&a.name, (a.lat, a.lon), &b.name, (b.lat, b.lon))
                    }
                })
                .collect()
        })
        .collect();
    let dc_bw: Vec<Vec<f64>> = dcs
        .iter()
        .map(|a| dcs.iter().map(|b| bw(&a.name, &b.name)).collect())
        .collect();
    let single = spec.users.len() == 1;
    let mut user_links = RVec::new();
    for (ui, u) in spec.users.iter().enumerate() {
        let from: RString = if single {
            "users".into()
        } else {
            format!("users/{}", u.name).into()
        };
        for (di, d) in dcs.iter().enumerate() {
            user_links.push(Link {
                from: from.clone(),
                to: d.name.as_str().into(),
                latency_ms: user_lat[ui][di],
                bandwidth_mbps: bw(&u.name, &d.name),
            });
        }
    }
    if !single {
        // The ABI's name for the users' ingress is "users": its latency is the users' mean,
        // weighted like their VM requests.
        let total: f64 = spec.users.iter().map(|u| u.weight).sum::<f64>().max(1e-12);
        for (di, d) in dcs.iter().enumerate() {
            let mean = |f: &dyn Fn(usize) -> f64| {
                spec.users
                    .iter()
                    .enumerate()
                    .map(|(ui, u)| u.weight * f(ui))
                    .sum::<f64>()
                    / total
            };
            user_links.push(Link {
                from: "users".into(),
                to: d.name.as_str().into(),
                latency_ms: mean(&|ui| user_lat[ui][di]),
                bandwidth_mbps: mean(&|ui| bw(&spec.users[ui].name, &d.name)),
            });
        }
    }
    let mut dc_links = RVec::new();
    for (a, da) in dcs.iter().enumerate() {
        for (b, db) in dcs.iter().enumerate() {
            if a != b {
                dc_links.push(Link {
                    from: da.name.as_str().into(),
                    to: db.name.as_str().into(),
                    latency_ms: dc_lat[a][b],
                    bandwidth_mbps: dc_bw[a][b],
                });
            }
        }
    }
    Net {
        user_lat,
        dc_lat,
        dc_bw,
        user_links,
        dc_links,
    }
}
