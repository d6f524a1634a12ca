//! SBMP unoffload: re-offload from an empty edge, restricted to the services there now, to the
//! largest delay allowed (research note §1.5), with the depth passed explicitly (Q4).

use crate::bitset::Set;
use crate::model::Evaluator;
use crate::offload::{offload, Outcome, Search};
use crate::traces::{CandidateRules, Traces};

/// What an unoffload is asked to do.
#[derive(Clone, Debug)]
pub struct Unoffload<'a> {
    /// E₀: the edge set now (with the user).
    pub current: Set,
    /// Δ⁺: the allowed delay increase, seconds (positive).
    pub allowed_increase_s: f64,
    /// The stop multiplier: the search stops within `multiplier × Δ⁺` of the current delay.
    pub stop_multiplier: f64,
    /// Services that must stay at the edge (pinned there): the search starts with them.
    pub keep: &'a Set,
    /// Services that must not be at the edge (besides those not there now).
    pub locked: &'a Set,
    pub rules: CandidateRules,
    /// Decision N9, see [`Search::cheapest_finisher`].
    pub cheapest_finisher: bool,
    /// Decision N10, see [`Search::refine_budget`].
    pub refine_budget: usize,
}

/// The unoffload result, with the void state it started from.
#[derive(Clone, Debug)]
pub struct UnoffloadOutcome {
    pub outcome: Outcome,
    /// D of the start state (the user and kept services only), seconds.
    pub void_delay_s: f64,
    /// The decrease from the void state the search had to reach, seconds.
    pub required_from_void_s: f64,
}

/// Runs the unoffload search.
pub fn unoffload(ev: &mut Evaluator<'_>, traces: &Traces, u: &Unoffload<'_>) -> UnoffloadOutcome {
    let model = ev.model();
    let user = model.graph().user();
    let mut current = u.current.clone();
    current.insert(user);
    let d_old = ev.eval(&current).delay_s;
    let d_target = d_old + u.allowed_increase_s;
    let d_stop = d_old + u.stop_multiplier * u.allowed_increase_s;

    // Decision N7: the void state keeps the services pinned at the edge.
    let mut void = model.void_set();
    for k in u.keep.iter() {
        if current.contains(k) {
            void.insert(k);
        }
    }
    let d_void = ev.eval(&void).delay_s;
    let target_s = (d_void - d_target).max(0.0);
    // Decision N8: when the void state already meets the full target the edge is emptied at
    // once (the note's stated behaviour); otherwise the stop multiplier keeps the search on
    // the conservative side (stop threshold ≥ Δ*).
    let stop_s = if target_s > 0.0 {
        (d_void - d_stop).max(target_s)
    } else {
        0.0
    };

    // Only a subset of what is at the edge now may come out.
    let locked = Set::full(model.m()).difference(&current).union(u.locked);
    let search = Search {
        start: void,
        base_delay_s: d_void,
        target_s,
        stop_s,
        locked: &locked,
        keep: u.keep,
        rules: u.rules,
        cheapest_finisher: u.cheapest_finisher,
        refine_budget: u.refine_budget,
    };
    UnoffloadOutcome {
        outcome: offload(ev, traces, &search),
        void_delay_s: d_void,
        required_from_void_s: target_s,
    }
}
