//! The semantic checks of a scenario: every value in range and every name known, each error with
//! the path of its field, all of them reported at once.

use super::*;

impl Scenario {
    /// Every semantic error of the scenario.
    pub(super) fn check(&self) -> Vec<String> {
        let mut e = Errs::default();
        self.check_general(&mut e);
        self.check_strategies(&mut e);
        let places = self.check_places(&mut e);
        self.check_links(&mut e, &places);
        self.check_workload(&mut e);
        self.check_ecosystem(&mut e);
        e.0
    }

    /// Name, time, horizon, step, SLO, network defaults, the continuum and migration costs.
    fn check_general(&self, e: &mut Errs) {
        let s = &self.spec;
        if s.name.trim().is_empty() {
            e.add("name".into(), "must not be empty");
        }
        if parse_utc(&s.start).is_none() {
            e.add(
                "start".into(),
                "must be a UTC time like 2024-10-14T00:00:00Z",
            );
        }
        if s.hours == 0 {
            e.add("hours".into(), "must be >= 1");
        }
        if s.step_minutes == 0 || 60 % s.step_minutes != 0 {
            e.add(
                "step_minutes".into(),
                "must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)",
            );
        }
        if !above(s.slo_ms, 0.0) {
            e.add("slo_ms".into(), "must be > 0");
        }
        let n = &s.network;
        if !at_least(n.ms_per_km, 0.0) {
            e.add("network.ms_per_km".into(), "must be >= 0");
        }
        if !at_least(n.base_ms, 0.0) {
            e.add("network.base_ms".into(), "must be >= 0");
        }
        if !above(n.bandwidth_mbps, 0.0) {
            e.add("network.bandwidth_mbps".into(), "must be > 0");
        }
        if let Some(c) = &s.continuum {
            if !at_least(c.ready_after_s, 0.0) {
                e.add("continuum.ready_after_s".into(), "must be >= 0");
            }
        }
        if !at_least(s.migration.energy_wh_per_gib, 0.0) {
            e.add("migration.energy_wh_per_gib".into(), "must be >= 0");
        }
    }

    /// The strategies to compare, the loops' strategies, the offload policy and the periods.
    fn check_strategies(&self, e: &mut Errs) {
        let s = &self.spec;
        let st = &s.strategies;
        for (i, text) in st.compare.iter().enumerate() {
            if let Err(m) = crate::step_loop::StrategySpec::parse(text, st) {
                e.add(format!("strategies.compare[{i}]"), &m);
            }
        }
        for (path, name) in [
            ("scaling", &st.scaling),
            ("migration", &st.migration),
            ("vm_migration", &st.vm_migration),
        ] {
            if name.as_deref().is_some_and(|n| !valid_strategy_name(n)) {
                e.add(format!("strategies.{path}"), "must be `plugin/strategy`");
            }
        }
        if let Some(p) = &st.offload_policy {
            if let Err(err) = p.validate() {
                e.add("strategies.offload_policy".into(), &err.to_string());
            }
        }
        for (path, every) in [
            ("scaling_every_minutes", st.scaling_every_minutes),
            ("migration_every_minutes", st.migration_every_minutes),
            ("replacement_every_minutes", st.replacement_every_minutes),
        ] {
            if let Some(m) = every {
                if m == 0 || m % s.step_minutes.max(1) != 0 {
                    e.add(
                        format!("strategies.{path}"),
                        "must be a positive multiple of step_minutes",
                    );
                }
            }
        }
    }

    /// Users and datacenters; returns the names of every place, for the links.
    fn check_places(&self, e: &mut Errs) -> BTreeSet<String> {
        let s = &self.spec;
        let mut places = BTreeSet::new();
        if s.users.is_empty() {
            e.add("users".into(), "needs at least one user population");
        }
        for (i, u) in s.users.iter().enumerate() {
            let p = format!("users[{i}]");
            if u.name.trim().is_empty() {
                e.add(format!("{p}.name"), "must not be empty");
            } else if !places.insert(u.name.clone()) {
                e.add(format!("{p}.name"), &format!("`{}` is used twice", u.name));
            }
            check_lat_lon(&p, u.lat, u.lon, e);
            if !at_least(u.weight, 0.0) {
                e.add(format!("{p}.weight"), "must be >= 0");
            }
        }
        if !s.users.is_empty() && !above(s.users.iter().map(|u| u.weight).sum::<f64>(), 0.0) {
            e.add("users".into(), "weights must not all be 0");
        }
        if s.datacenters.is_empty() {
            e.add("datacenters".into(), "needs at least one datacenter");
        }
        for (i, dc) in s.datacenters.iter().enumerate() {
            let p = format!("datacenters[{i}]");
            if dc.name.trim().is_empty() || dc.name.contains('/') {
                e.add(format!("{p}.name"), "must be a non-empty name without `/`");
            } else if !places.insert(dc.name.clone()) {
                e.add(
                    format!("{p}.name"),
                    &format!(
                        "`{}` is used twice (users and datacenters share names)",
                        dc.name
                    ),
                );
            }
            check_lat_lon(&p, dc.lat, dc.lon, e);
            if !at_least(dc.pue, 1.0) {
                e.add(format!("{p}.pue"), "must be >= 1.0");
            }
            if !at_least(dc.processing_ms, 0.0) {
                e.add(format!("{p}.processing_ms"), "must be >= 0");
            }
            if dc.servers.is_empty() {
                e.add(format!("{p}.servers"), "needs at least one server group");
            }
            for (j, sv) in dc.servers.iter().enumerate() {
                let q = format!("{p}.servers[{j}]");
                if sv.count == 0 {
                    e.add(format!("{q}.count"), "must be >= 1");
                }
                if !above(sv.cores, 0.0) {
                    e.add(format!("{q}.cores"), "must be > 0");
                }
                if !above(sv.memory_gib, 0.0) {
                    e.add(format!("{q}.memory_gib"), "must be > 0");
                }
                match (&sv.power_curve_w, sv.idle_w, sv.peak_w) {
                    (Some(_), Some(_), _) | (Some(_), _, Some(_)) => e.add(
                        q.clone(),
                        "give either `idle_w` and `peak_w` or `power_curve_w`, not both",
                    ),
                    (Some(c), None, None) => {
                        if c.len() < 2 || c.iter().any(|w| !at_least(*w, 0.0)) {
                            e.add(format!("{q}.power_curve_w"), "needs >= 2 values, all >= 0");
                        }
                    }
                    (None, Some(idle), Some(peak)) => {
                        if !at_least(idle, 0.0) {
                            e.add(format!("{q}.idle_w"), "must be >= 0");
                        }
                        if !at_least(peak, idle) {
                            e.add(format!("{q}.peak_w"), "must be >= idle_w");
                        }
                    }
                    (None, _, _) => {
                        e.add(q.clone(), "needs `idle_w` and `peak_w`, or `power_curve_w`")
                    }
                }
            }
            self.check_series(
                e,
                format!("{p}.carbon_intensity"),
                &dc.carbon_intensity,
                0.0,
                5000.0,
            );
            if let Some(g) = &dc.grid_renewable_share {
                self.check_series(e, format!("{p}.grid_renewable_share"), g, 0.0, 1.0);
            }
            if let Some(pr) = &dc.prices.energy_kwh {
                self.check_series(e, format!("{p}.prices.energy_kwh"), pr, 0.0, f64::MAX);
            }
            for (j, r) in dc.renewables.iter().enumerate() {
                let q = format!("{p}.renewables[{j}]");
                if r.kind.trim().is_empty() {
                    e.add(format!("{q}.kind"), "must not be empty");
                }
                if !at_least(r.kw, 0.0) {
                    e.add(format!("{q}.kw"), "must be >= 0");
                }
                self.check_series(e, format!("{q}.shape"), &r.shape, 0.0, 1.0);
            }
            let pr = &dc.prices;
            for (k, v) in [
                ("cpu_core_hour", pr.cpu_core_hour),
                ("memory_gib_hour", pr.memory_gib_hour),
                ("gpu_hour", pr.gpu_hour),
                ("egress_gb", pr.egress_gb),
            ] {
                if !at_least(v, 0.0) {
                    e.add(format!("{p}.prices.{k}"), "must be >= 0");
                }
            }
        }
        places
    }

    /// The network's explicit links between known places.
    fn check_links(&self, e: &mut Errs, places: &BTreeSet<String>) {
        let n = &self.spec.network;
        for (i, l) in n.links.iter().enumerate() {
            let p = format!("network.links[{i}]");
            for (k, name) in [("from", &l.from), ("to", &l.to)] {
                if !places.contains(name) {
                    e.add(
                        format!("{p}.{k}"),
                        &format!("`{name}` is no user or datacenter"),
                    );
                }
            }
            if l.base_ms.is_some_and(|b| !at_least(b, 0.0)) {
                e.add(format!("{p}.base_ms"), "must be >= 0");
            }
            if l.bandwidth_mbps.is_some_and(|b| !above(b, 0.0)) {
                e.add(format!("{p}.bandwidth_mbps"), "must be > 0");
            }
        }
    }

    /// The VM source and the services of the workload.
    fn check_workload(&self, e: &mut Errs) {
        let s = &self.spec;
        let hours = s.hours as usize;
        let w = &s.workload;
        if w.vms.is_none() && w.services.is_empty() && s.ecosystem.is_none() {
            e.add(
                "workload".into(),
                "needs `vms` or `services` (or an `ecosystem` section)",
            );
        }
        match &w.vms {
            Some(VmSource::AzureTrace { count: Some(0), .. }) => {
                e.add("workload.vms.count".into(), "must be >= 1");
            }
            Some(VmSource::Generator {
                count,
                flavours,
                duration_minutes,
                diurnal_amplitude,
                peak_hour,
            }) => {
                if *count == 0 {
                    e.add("workload.vms.count".into(), "must be >= 1");
                }
                if flavours.is_empty() {
                    e.add("workload.vms.flavours".into(), "needs at least one flavour");
                }
                for (j, f) in flavours.iter().enumerate() {
                    let q = format!("workload.vms.flavours[{j}]");
                    if !above(f.cpu, 0.0) {
                        e.add(format!("{q}.cpu"), "must be > 0");
                    }
                    if !at_least(f.memory_gib, 0.0) {
                        e.add(format!("{q}.memory_gib"), "must be >= 0");
                    }
                    if !at_least(f.weight, 0.0) {
                        e.add(format!("{q}.weight"), "must be >= 0");
                    }
                }
                if !flavours.is_empty()
                    && !above(flavours.iter().map(|f| f.weight).sum::<f64>(), 0.0)
                {
                    e.add("workload.vms.flavours".into(), "weights must not all be 0");
                }
                if !above(duration_minutes.min, 0.0) {
                    e.add("workload.vms.duration_minutes.min".into(), "must be > 0");
                }
                if !at_least(duration_minutes.max, duration_minutes.min) {
                    e.add("workload.vms.duration_minutes.max".into(), "must be >= min");
                }
                if !(0.0..=1.0).contains(diurnal_amplitude) {
                    e.add("workload.vms.diurnal_amplitude".into(), "must be in [0, 1]");
                }
                if !(0.0..24.0).contains(peak_hour) {
                    e.add("workload.vms.peak_hour".into(), "must be in [0, 24)");
                }
            }
            Some(VmSource::Csv { .. }) | Some(VmSource::List { .. }) => {
                let (rows, what): (&[VmRow], &str) = match &w.vms {
                    Some(VmSource::List { requests }) => (requests, "workload.vms.requests"),
                    _ => (
                        self.vm_rows.as_deref().map_or(&[][..], |v| v.as_slice()),
                        "workload.vms.path: row ",
                    ),
                };
                for (j, r) in rows.iter().enumerate() {
                    let p = if what.ends_with(' ') {
                        format!("{what}{}", j + 1)
                    } else {
                        format!("{what}[{j}]")
                    };
                    if let Some(u) = &r.user {
                        if !s.users.iter().any(|x| &x.name == u) {
                            e.add(format!("{p}.user"), &format!("`{u}` is no user"));
                        }
                    }
                    if !above(r.cpu, 0.0) {
                        e.add(format!("{p}.cpu"), "must be > 0");
                    }
                    if !at_least(r.memory_mib, 0.0) {
                        e.add(format!("{p}.memory_mib"), "must be >= 0");
                    }
                }
            }
            _ => {}
        }
        let services: BTreeSet<&str> = w.services.iter().map(|x| x.name.as_str()).collect();
        let dcs: BTreeSet<&str> = s.datacenters.iter().map(|d| d.name.as_str()).collect();
        let mut seen = BTreeSet::new();
        for (i, sv) in w.services.iter().enumerate() {
            let p = format!("workload.services[{i}]");
            if sv.name.trim().is_empty() {
                e.add(format!("{p}.name"), "must not be empty");
            } else if !seen.insert(sv.name.as_str()) {
                e.add(format!("{p}.name"), &format!("`{}` is used twice", sv.name));
            }
            if !above(sv.cpu, 0.0) {
                e.add(format!("{p}.cpu"), "must be > 0");
            }
            if !at_least(sv.memory_mib, 0.0) {
                e.add(format!("{p}.memory_mib"), "must be >= 0");
            }
            if !at_least(sv.alpha, 0.0) {
                e.add(format!("{p}.alpha"), "must be >= 0");
            }
            if !sv.beta.is_finite() {
                e.add(format!("{p}.beta"), "must be a number");
            }
            if sv.min_replicas == 0 {
                e.add(format!("{p}.min_replicas"), "must be >= 1");
            }
            if sv.max_replicas < sv.min_replicas {
                e.add(format!("{p}.max_replicas"), "must be >= min_replicas");
            }
            if sv.replicas < sv.min_replicas || sv.replicas > sv.max_replicas {
                e.add(
                    format!("{p}.replicas"),
                    "must be within [min_replicas, max_replicas]",
                );
            }
            if !at_least(sv.processing_ms, 0.0) {
                e.add(format!("{p}.processing_ms"), "must be >= 0");
            }
            if !(0.0..1.0).contains(&sv.rate_noise) {
                e.add(format!("{p}.rate_noise"), "must be in [0, 1)");
            }
            if !at_least(sv.response_kb, 0.0) {
                e.add(format!("{p}.response_kb"), "must be >= 0");
            }
            for (j, d) in sv.depends_on.iter().enumerate() {
                if d == &sv.name || !services.contains(d.as_str()) {
                    e.add(
                        format!("{p}.depends_on[{j}]"),
                        &format!("`{d}` is no other service"),
                    );
                }
            }
            for (j, c) in sv.allowed_clusters.iter().enumerate() {
                if !dcs.contains(c.as_str()) {
                    e.add(
                        format!("{p}.allowed_clusters[{j}]"),
                        &format!("`{c}` is no datacenter"),
                    );
                }
            }
            if let Some(u) = &sv.user {
                if !s.users.iter().any(|x| &x.name == u) {
                    e.add(format!("{p}.user"), &format!("`{u}` is no user"));
                }
            }
            match self.series(&sv.rate_rps, hours.max(1)) {
                Ok(v) => {
                    if let Some(x) = v.iter().find(|x| !at_least(**x, 0.0)) {
                        e.add(format!("{p}.rate_rps"), &format!("value {x} must be >= 0"));
                    }
                }
                Err(m) => e.add(format!("{p}.rate_rps"), &m),
            }
        }
    }

    fn check_series(&self, e: &mut Errs, path: String, spec: &SeriesSpec, lo: f64, hi: f64) {
        match self.series(spec, (self.spec.hours as usize).max(1)) {
            Ok(v) => {
                if let Some(x) = v.iter().find(|x| !(at_least(**x, lo) && **x <= hi)) {
                    e.add(path, &format!("value {x} out of range [{lo}, {hi}]"));
                }
            }
            Err(m) => e.add(path, &m),
        }
    }
}

pub(super) fn valid_strategy_name(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(p, s)| !p.is_empty() && !s.is_empty() && !s.contains('/'))
}

/// `x >= lo`, false for NaN (so `!at_least(..)` also rejects NaN).
fn at_least(x: f64, lo: f64) -> bool {
    x >= lo
}

/// `x > lo`, false for NaN.
fn above(x: f64, lo: f64) -> bool {
    x > lo
}

/// Collected `path: message` lines.
#[derive(Default)]
pub(super) struct Errs(pub(super) Vec<String>);

impl Errs {
    pub(super) fn add(&mut self, path: String, msg: &str) {
        self.0.push(format!("{path}: {msg}"));
    }
}

fn check_lat_lon(p: &str, lat: f64, lon: f64, e: &mut Errs) {
    if !(-90.0..=90.0).contains(&lat) {
        e.add(format!("{p}.lat"), "must be in [-90, 90]");
    }
    if !(-180.0..=180.0).contains(&lon) {
        e.add(format!("{p}.lon"), "must be in [-180, 180]");
    }
}
