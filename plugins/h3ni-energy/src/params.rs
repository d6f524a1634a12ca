//! Parameters of the two strategies, with their defaults (JSON, unknown fields refused).
//! Weights are per hour of running; the migration weight is per move (see the README).

use serde::Deserialize;
use smo_plugin_api::PluginError;

/// `h3ni-energy/placement` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlacementParams {
    /// Cost of one facility Wh (per hour of running: W).
    pub w_energy: f64,
    /// Cost of one gram of CO2eq.
    pub w_carbon: f64,
    /// Cost of one ms of user latency per core placed.
    pub w_latency: f64,
    /// Cost of one Wh of migration energy (a move books `migration_wh_per_gib` per GiB).
    pub w_migration: f64,
    /// Migration energy per GiB of memory moved, Wh.
    pub migration_wh_per_gib: f64,
    /// Hours a move must pay back within: its one-off migration cost is spread over them
    /// and weighed against the hourly running costs.
    pub horizon_h: f64,
    /// Hard cap on user latency (ms); `None`: only the SLO-derived cap applies.
    pub max_latency_ms: Option<f64>,
    /// Reserved-CPU share a cluster may reach when the host gives no SLO.
    pub max_utilisation: f64,
    /// Share of the SLO the planned response time may use (latency + inflated processing).
    pub slo_margin: f64,
    /// Above this many (service, cluster) pairs the greedy heuristic is used instead.
    pub milp_max_pairs: usize,
    /// HiGHS time limit, s (the best incumbent is kept, else greedy).
    pub time_limit_s: f64,
    /// HiGHS relative MIP gap.
    pub mip_rel_gap: f64,
    /// Prefer clusters the operator marked `preferred_for_saving` by this share of cost.
    pub preferred_discount: f64,
    /// Cost a server switched on at its full-load watts per core rather than its idle power.
    pub amortise_idle: bool,
    /// Share of a placed scalable service's growth (up to `max_replicas`) held free on its
    /// cluster for it: other requests (VM batches) do not plan on that room.
    pub growth_reserve: f64,
    /// Cost each replica at the power of the server the host would book it on, given the
    /// batch's earlier replicas (else one static marginal power per cluster).
    pub slot_costs: bool,
    /// Cap on the expected running hours (`duration_s`) by which a batch is ordered.
    pub max_duration_h: f64,
    /// What has no room within the SLO is placed past it, where there is hard room (a slower
    /// answer beats a failure); `false`: it is left unplaced (refused).
    pub slo_fallback: bool,
    /// Cost of one request served past the SLO (Wh, the unit of `w_energy` = 1): a cluster
    /// whose latency alone breaks the SLO becomes a candidate at that price per request
    /// (a VM is one request over its expected hours; a service, its rate x 3600 an hour).
    /// `None`: the SLO is a hard constraint (only `slo_fallback` goes past it).
    pub w_slo: Option<f64>,
    /// User latency a scheduled move (`consolidate`) may add to a service, ms. The plugin does
    /// not know a service's processing time, so it cannot tell whether more latency still meets
    /// the SLO when the replicas run hot at the day's peak: by default no move goes further.
    pub max_added_latency_ms: f64,
    /// How the host should pick servers inside the chosen clusters for this decision's
    /// replicas (`least_power_increase`, `least_power_shared_idle`, `first_fit`), asked in the
    /// decision's `extra` and mirrored in the plan where the host offers it (`selectable` in
    /// its server detail); `None`: the host's own choice.
    pub server_selection: Option<String>,
}

impl Default for PlacementParams {
    fn default() -> Self {
        Self {
            w_energy: 1.0,
            w_carbon: 0.3,
            w_latency: 0.05,
            w_migration: 1.0,
            migration_wh_per_gib: 10.0,
            horizon_h: 4.0,
            max_latency_ms: None,
            max_utilisation: 0.9,
            slo_margin: 1.0,
            milp_max_pairs: 4000,
            time_limit_s: 1.0,
            mip_rel_gap: 1e-3,
            preferred_discount: 0.05,
            amortise_idle: true,
            growth_reserve: 1.0,
            slot_costs: true,
            max_duration_h: 24.0,
            slo_fallback: true,
            w_slo: None,
            max_added_latency_ms: 0.0,
            server_selection: Some("least_power_shared_idle".into()),
        }
    }
}

/// `h3ni-energy/predictive` parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScalingParams {
    /// Season of the Holt-Winters model, s (one day).
    pub season_s: f64,
    /// How far ahead to provision, s; `None`: until the next call (the observed call period).
    pub horizon_s: Option<f64>,
    /// Order of the linear autoregression.
    pub ar_order: usize,
    /// Observations the autoregression is fitted on.
    pub ar_window: usize,
    /// Holt-Winters smoothing: level, trend, season.
    pub hw_alpha: f64,
    pub hw_beta: f64,
    pub hw_gamma: f64,
    /// Recent one-step errors kept per model to choose the model and the margin.
    pub error_window: usize,
    /// Quantile of the recent relative under-forecasts used as the confidence margin.
    pub margin_quantile: f64,
    /// Bounds of the confidence margin (share of the forecast); `max_margin` is also the
    /// margin until 3 errors are known. Above about 10 %, margin plus the rounding up to whole
    /// replicas often crosses the 20 % over-provisioning band of the accuracy KPI.
    pub min_margin: f64,
    pub max_margin: f64,
    /// Observations kept per service (bounded memory).
    pub max_history: usize,
    /// Also provision for the SLO: enough replicas that the planned response (user latency
    /// plus the service's processing time / (1 - rho)) stays within this share of the
    /// cluster's `slo_ms`. The processing time is estimated from the measured response time and
    /// utilisation; without `slo_ms` in the cluster's `extra` or a measured response it does
    /// nothing. `None` (default): replicas follow the forecast alone, which the accuracy KPI
    /// rewards; more replicas than the forecast needs count as over-provisioning there.
    pub slo_margin: Option<f64>,
}

impl Default for ScalingParams {
    fn default() -> Self {
        Self {
            season_s: 86_400.0,
            horizon_s: None,
            ar_order: 3,
            ar_window: 48,
            hw_alpha: 0.5,
            hw_beta: 0.01,
            hw_gamma: 0.3,
            error_window: 24,
            margin_quantile: 0.95,
            min_margin: 0.03,
            max_margin: 0.1,
            max_history: 4096,
            slo_margin: None,
        }
    }
}

/// Parses `params` (empty means defaults) and checks ranges.
pub fn parse<T: for<'de> Deserialize<'de> + Default>(params: &str) -> Result<T, PluginError> {
    if params.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(params).map_err(|e| PluginError::bad_parameters(e.to_string()))
}

impl PlacementParams {
    pub fn check(self) -> Result<Self, PluginError> {
        let bad = |f: &str| Err(PluginError::bad_parameters(format!("`{f}` out of range")));
        if self.w_energy < 0.0 || self.w_carbon < 0.0 || self.w_latency < 0.0 {
            return bad("w_energy/w_carbon/w_latency must be >= 0");
        }
        if self.w_migration < 0.0 || self.migration_wh_per_gib < 0.0 || self.horizon_h <= 0.0 {
            return bad("w_migration, migration_wh_per_gib >= 0, horizon_h > 0");
        }
        if !(0.0..=1.0).contains(&self.max_utilisation) || !(0.0..=1.0).contains(&self.slo_margin) {
            return bad("max_utilisation and slo_margin in 0..1");
        }
        if !(0.0..=1.0).contains(&self.growth_reserve) {
            return bad("growth_reserve in 0..1");
        }
        if self.time_limit_s <= 0.0 || self.mip_rel_gap < 0.0 {
            return bad("time_limit_s > 0, mip_rel_gap >= 0");
        }
        if self.w_slo.is_some_and(|w| !(w >= 0.0 && w.is_finite())) {
            return bad("w_slo must be a finite number >= 0");
        }
        if self.max_added_latency_ms.is_nan() || self.max_added_latency_ms < 0.0 {
            return bad("max_added_latency_ms must be >= 0");
        }
        if let Some(name) = self.server_selection.as_deref() {
            if crate::energy::ServerPick::from_name(name).is_none() {
                return Err(PluginError::bad_parameters(format!(
                    "`server_selection`: unknown policy {name:?} (least_power_increase, least_power_shared_idle, first_fit)"
                )));
            }
        }
        Ok(self)
    }
}

impl ScalingParams {
    pub fn check(self) -> Result<Self, PluginError> {
        let bad = |f: &str| Err(PluginError::bad_parameters(format!("`{f}` out of range")));
        if self.season_s <= 0.0 || self.ar_order == 0 || self.ar_window <= self.ar_order + 1 {
            return bad("season_s > 0, ar_order >= 1, ar_window > ar_order + 1");
        }
        for (n, v) in [
            ("hw_alpha", self.hw_alpha),
            ("hw_beta", self.hw_beta),
            ("hw_gamma", self.hw_gamma),
            ("margin_quantile", self.margin_quantile),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(n);
            }
        }
        if self.min_margin < 0.0 || self.max_margin < self.min_margin || self.error_window == 0 {
            return bad("0 <= min_margin <= max_margin, error_window >= 1");
        }
        if self.slo_margin.is_some_and(|m| !(m > 0.0 && m <= 1.0)) {
            return bad("slo_margin in (0, 1]");
        }
        Ok(self)
    }
}
