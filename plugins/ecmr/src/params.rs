//! The parameters of the three ECMR modes, each with the default the README justifies.
//! Unknown fields are refused, so a typo never silently falls back to a default.

use serde::Deserialize;
use smo_plugin_api::PluginError;

/// Where Algorithm 1 sends a VM that no green datacenter accepts (step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// The datacenter with the most free CPU share (the paper's step 5 text).
    MostFree,
    /// The nearest datacenter (the paper's complexity paragraph).
    Nearest,
    /// The datacenter with the lowest grid carbon intensity now (ours; eq. 19 with E^G = 0).
    #[default]
    LowestCarbon,
}

/// How Algorithm 1 picks among the datacenters a tier (green, then fallback) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// The first in the tier's order (nearest green; the `fallback` order): the paper's rule.
    First,
    /// The one whose MESF server adds least to the batch's weighted objective (the MILP's).
    #[default]
    Objective,
}

/// `ecmr/heuristic`: Algorithm 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeuristicParams {
    /// `T_thre`: a datacenter at or beyond this latency from the VM's users is never chosen.
    pub latency_threshold_ms: f64,
    /// Fallback order when no green datacenter fits (with `choice: first`, the order tried).
    pub fallback: Fallback,
    /// Apply the renewable-margin check (`RES_margin > E_r`) to green datacenters.
    pub res_margin_check: bool,
    /// How a tier's candidate is chosen.
    pub choice: Choice,
    /// Try green datacenters (with margin) before the fallback tier; `false` makes every
    /// datacenter within the threshold one tier.
    pub green_first: bool,
    /// Local-improvement passes over the batch: move a VM to another datacenter when that lowers
    /// the weighted objective (0 = none, the paper's algorithm).
    pub improve_passes: usize,
    /// Also try exchanging two VMs between datacenters in each pass (quadratic in the batch).
    pub improve_swaps: bool,
    /// Batches of at least this many VMs get the exchanges even without `improve_swaps`: single
    /// moves leave the largest gap to the optimum there, and such batches are rare.
    pub improve_swaps_from_vms: usize,
    /// Larger batches (a queue backlog) keep the greedy pass: the improvement pass costs
    /// about the square of the batch in MESF replays.
    pub improve_max_vms: usize,
    /// Process (and list) a batch's VMs by decreasing memory, then CPU, instead of in arrival
    /// order, so the large ones find a server before small ones fragment it.
    pub largest_first: bool,
    /// Larger batches (a queue backlog: the simulator puts the queued VMs first, oldest first)
    /// keep the arrival order, so new large VMs do not overtake queued ones about to time out.
    pub largest_first_max_vms: usize,
    /// The objective that `choice: objective` and the improvement pass minimise.
    pub weights: Weights,
    /// Share of the power a datacenter's on-site supply covers *now* that the heuristic counts
    /// as carbon-free; the rest is charged at its grid's intensity (a VM outlives the slot its
    /// margin was measured in). 1 = eq. 20 as the MILP has it.
    pub renewable_credit: f64,
    /// Queue length of the stateful dispatcher ([`crate::dispatcher`]); 0 = fail at once.
    pub queue_capacity: usize,
    /// A queued VM that waited this long fails.
    pub max_queue_wait_s: f64,
}

impl Default for HeuristicParams {
    fn default() -> Self {
        Self {
            latency_threshold_ms: 35.0,
            fallback: Fallback::default(),
            res_margin_check: true,
            choice: Choice::default(),
            green_first: true,
            improve_passes: 2,
            improve_swaps: false,
            improve_swaps_from_vms: 21,
            improve_max_vms: 50,
            largest_first: true,
            largest_first_max_vms: 50,
            weights: Weights::default(),
            renewable_credit: 1.0,
            queue_capacity: 1000,
            max_queue_wait_s: 3600.0,
        }
    }
}

/// `ecmr/seed`: the seed implementation's datacenter-level weighted score.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeedParams {
    pub w_energy: f64,
    pub w_carbon: f64,
    pub w_latency: f64,
    /// Green iff the grid's renewable share is above this.
    pub green_share: f64,
    pub ms_per_km: f64,
    pub latency_threshold_ms: f64,
    /// The seed's fixed user position (Paris).
    pub user_lat: f64,
    pub user_lon: f64,
}

impl Default for SeedParams {
    fn default() -> Self {
        Self {
            w_energy: 0.33,
            w_carbon: 0.33,
            w_latency: 0.34,
            green_share: 0.5,
            ms_per_km: 0.1,
            latency_threshold_ms: 100.0,
            user_lat: 48.8566,
            user_lon: 2.3522,
        }
    }
}

/// `ecmr/milp`: the paper's model, scalarised, solved exactly per batch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MilpParams {
    pub weights: Weights,
    pub latency_threshold_ms: f64,
    pub time_limit_s: f64,
    pub mip_rel_gap: f64,
    /// Keep the best feasible solution when the time limit is hit (else it is an error).
    pub accept_incumbent: bool,
    /// Also run the heuristic on the batch and report both objectives (`extra`).
    pub compare_heuristic: bool,
    /// Larger batches are solved in consecutive chunks of this many VMs (state carried over).
    pub max_batch: usize,
    /// Give HiGHS the heuristic's placement as a starting incumbent.
    pub warm_start: bool,
    /// Model each type's switched-off servers at a site as one pool with an integer count
    /// instead of one binary per server: far fewer columns, but packing within the pool is
    /// relaxed to its total CPU, memory and GPUs (the host re-packs by MESF anyway).
    pub pool_off_servers: bool,
    /// Replay the host's one-at-a-time MESF packing on the solution and move (or leave out) the
    /// VMs it cannot pack where the MILP put them, so that every emitted assignment is applied.
    pub repair: bool,
}

impl Default for MilpParams {
    fn default() -> Self {
        Self {
            weights: Weights::default(),
            latency_threshold_ms: 35.0,
            time_limit_s: 5.0,
            mip_rel_gap: 1e-6,
            accept_incumbent: true,
            compare_heuristic: true,
            max_batch: 50,
            warm_start: true,
            pool_off_servers: true,
            repair: true,
        }
    }
}

/// Scalarisation of eq. 28: each term divided by its reference, then weighted.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Weights {
    pub energy: f64,
    pub carbon: f64,
    pub latency: f64,
    /// Facility power increase that counts as 1 (W).
    pub energy_ref_w: f64,
    /// Brown-power carbon rate that counts as 1 (g/h).
    pub carbon_ref_g_per_h: f64,
    pub latency_ref_ms: f64,
    /// Cost of leaving one VM unplaced (larger than any placement's cost).
    pub unplaced_penalty: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            energy: 0.2,
            carbon: 0.7,
            latency: 0.1,
            energy_ref_w: 100.0,
            carbon_ref_g_per_h: 10.0,
            latency_ref_ms: 100.0,
            unplaced_penalty: 1000.0,
        }
    }
}

/// Parses JSON parameters (empty = defaults), naming the field on error.
pub fn parse<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, PluginError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(json).map_err(|e| PluginError::bad_parameters(e.to_string()))
}

impl HeuristicParams {
    /// `ecmr/heuristic-grid`: on-site supply earns no carbon credit in the objective (the green
    /// tier and the margin check still use it).
    pub fn grid(self) -> Self {
        Self {
            renewable_credit: 0.0,
            ..self
        }
    }

    /// The paper's literal Algorithm 1: first acceptable datacenter, most-free fallback, no
    /// improvement pass (`ecmr/heuristic-paper`).
    pub fn paper(self) -> Self {
        Self {
            fallback: Fallback::MostFree,
            choice: Choice::First,
            improve_passes: 0,
            largest_first: false,
            ..self
        }
    }
}
