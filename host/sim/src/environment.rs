//! The hourly environment of a scenario's datacenters: grid carbon intensity, grid renewable
//! share, on-site renewable supply, energy price and energy source, one series per datacenter.
//! Shared by the simulator's step loop and by `smo serve --scenario`.

use super::scenario::Scenario;
use smo_plugin_api::RString;

/// Per datacenter (outer index, scenario order), per hour (inner index).
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// Grid carbon intensity, gCO2eq/kWh.
    pub ci: Vec<Vec<f64>>,
    /// Renewable share of the grid mix, 0..1.
    pub grid_share: Vec<Vec<f64>>,
    /// On-site renewable supply, kW (installed kW times the hour's capacity factor).
    pub renew_kw: Vec<Vec<f64>>,
    /// Grid energy price per kWh.
    pub price: Vec<Vec<f64>>,
    /// "grid", "grid+solar", "mixed", ...
    pub source: Vec<RString>,
}

impl Environment {
    /// Reads every series of `sc` over its horizon; an error names the datacenter's field.
    pub fn new(sc: &Scenario) -> Result<Self, String> {
        let hours = sc.spec.hours as usize;
        let mut env = Environment {
            ci: vec![],
            grid_share: vec![],
            renew_kw: vec![],
            price: vec![],
            source: vec![],
        };
        for (i, d) in sc.spec.datacenters.iter().enumerate() {
            let p = format!("datacenters[{i}]");
            env.ci.push(
                sc.series(&d.carbon_intensity, hours)
                    .map_err(|e| format!("{p}.carbon_intensity: {e}"))?,
            );
            env.grid_share.push(match &d.grid_renewable_share {
                Some(s) => sc.series(s, hours).map_err(|e| format!("{p}: {e}"))?,
                None => vec![0.0; hours],
            });
            env.price.push(match &d.prices.energy_kwh {
                Some(s) => sc.series(s, hours).map_err(|e| format!("{p}: {e}"))?,
                None => vec![0.0; hours],
            });
            let mut kw = vec![0.0; hours];
            for r in &d.renewables {
                let shape = sc
                    .series(&r.shape, hours)
                    .map_err(|e| format!("{p}: {e}"))?;
                for (h, cf) in shape.iter().enumerate() {
                    kw[h] += r.kw * cf;
                }
            }
            env.renew_kw.push(kw);
            let kinds: Vec<&str> = d
                .renewables
                .iter()
                .filter(|r| r.kw > 0.0)
                .map(|r| r.kind.as_str())
                .collect();
            env.source.push(match kinds.as_slice() {
                [] => "grid".into(),
                [one] => format!("grid+{one}").into(),
                _ => "mixed".into(),
            });
        }
        Ok(env)
    }
}
