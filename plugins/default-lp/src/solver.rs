//! A thin wrapper over the HiGHS MILP solver: build columns and rows, solve, check the status.
//! Every outcome other than "optimal" (or an accepted time-limited incumbent) is an error.

use highs::{Col, HighsModelStatus, HighsSolutionStatus, RowProblem, Sense};
use smo_plugin_api::{ErrorKind, PluginError};
use std::time::Instant;
use thiserror::Error;

/// Solver settings taken from the parameters.
#[derive(Debug, Clone, Copy)]
pub struct SolveOptions {
    pub time_limit_s: f64,
    pub mip_rel_gap: f64,
    /// On a time limit, return the best feasible solution found instead of an error.
    pub accept_incumbent: bool,
}

/// How a returned solution was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SolveStatus {
    /// HiGHS proved optimality (within `mip_rel_gap`).
    Optimal,
    /// The time limit was reached; this is the best feasible solution, with its relative gap.
    TimeLimitIncumbent { gap: f64 },
}

impl SolveStatus {
    pub fn describe(&self) -> String {
        match self {
            SolveStatus::Optimal => "optimal".to_string(),
            SolveStatus::TimeLimitIncumbent { gap } => {
                format!("time limit reached, best feasible solution kept (gap {gap:.2e})")
            }
        }
    }
}

/// A solved model: column values in the order the columns were added.
#[derive(Debug, Clone)]
pub struct Solved {
    pub values: Vec<f64>,
    pub objective: f64,
    pub status: SolveStatus,
    pub seconds: f64,
}

impl Solved {
    pub fn value(&self, col: Col) -> f64 {
        self.values.get(col.index()).copied().unwrap_or(0.0)
    }
}

/// Why a solve produced no usable solution.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SolveError {
    #[error("the model is infeasible (HiGHS proved that no solution satisfies the constraints)")]
    Infeasible,
    #[error(
        "the time limit of {limit_s} s was reached {}",
        if *.incumbent { "before optimality was proved (a feasible solution exists; set `use_incumbent_on_time_limit` to accept it)" } else { "before any feasible solution was found" }
    )]
    TimeLimit { limit_s: f64, incumbent: bool },
    #[error("HiGHS rejected the model: {0}")]
    Rejected(String),
    /// A number of the model HiGHS would refuse or silently read as infinite: the input's,
    /// since the model's shape is fixed, so it is invalid input, not a malfunction.
    #[error("the model cannot be solved with {0}")]
    BadNumber(String),
    #[error("HiGHS stopped with status {0}")]
    Failed(String),
    /// The model could not be built from the request (e.g. a service fits no cluster): the
    /// plugin error that said so, with its kind.
    #[error("{}", .0.message)]
    Model(PluginError),
}

impl SolveError {
    /// The plugin error, with `context` (what was being solved) in front of the message.
    pub fn into_plugin_error(self, context: &str) -> PluginError {
        let message = format!("{context}: {self}");
        match self {
            SolveError::Infeasible => PluginError::infeasible(message),
            SolveError::BadNumber(_) => PluginError::invalid_input(message),
            SolveError::TimeLimit { .. } => PluginError::new(ErrorKind::TIME_LIMIT, message),
            SolveError::Rejected(_) | SolveError::Failed(_) => PluginError::internal(message),
            SolveError::Model(error) => PluginError::new(error.kind, message),
        }
    }
}

/// HiGHS reads a cost of this magnitude or more as infinite (`infinite_cost`).
pub const HIGHS_INFINITY: f64 = 1e20;

/// HiGHS refuses a model with a matrix value of this magnitude or more (`large_matrix_value`).
pub const HIGHS_LARGEST_VALUE: f64 = 1e15;

/// HiGHS options every solve sets, beside `threads` = 1 (see [`Milp::solve_from`]). Measured
/// on the re-placement bench: each only costs time on these small assignment programs, whose
/// LP bound is strong, and none changes which solutions are optimal.
/// - `mip_heuristic_run_feasibility_jump`: a primal heuristic run before the root LP; it was a
///   quarter of the time at 50 services x 20 clusters.
/// - `mip_heuristic_run_root_reduced_cost`: a sub-MIP heuristic at the root, a sixth of the
///   time at 500 x 100.
const FIXED_OPTIONS: &[(&str, bool)] = &[
    ("mip_heuristic_run_feasibility_jump", false),
    ("mip_heuristic_run_root_reduced_cost", false),
];

/// A mixed-integer linear program to minimise. Every number is checked as it is added; the
/// first HiGHS would refuse (or read as infinite) makes [`Milp::solve`] a
/// [`SolveError::BadNumber`] instead of a model handed to HiGHS.
#[derive(Debug, Default)]
pub struct Milp {
    problem: RowProblem,
    bad: Option<String>,
}

impl Milp {
    pub fn new() -> Self {
        Self::default()
    }

    /// A 0/1 variable with objective coefficient `cost`.
    pub fn binary(&mut self, cost: f64) -> Col {
        self.check_column(cost, 0.0, 1.0);
        self.problem.add_integer_column(cost, 0.0..=1.0)
    }

    /// An integer variable in `[lo, hi]`.
    pub fn integer(&mut self, cost: f64, lo: f64, hi: f64) -> Col {
        self.check_column(cost, lo, hi);
        self.problem.add_integer_column(cost, lo..=hi)
    }

    /// A continuous variable in `[lo, hi]` (`hi` may be infinite).
    pub fn continuous(&mut self, cost: f64, lo: f64, hi: f64) -> Col {
        self.check_column(cost, lo, hi);
        self.problem.add_column(cost, lo..=hi)
    }

    /// The constraint `lo <= Σ coef·col <= hi` (either bound may be infinite).
    pub fn row(&mut self, lo: f64, hi: f64, terms: &[(Col, f64)]) {
        if self.bad.is_none() {
            let row = self.problem.num_rows();
            if let Some(&(col, v)) = terms
                .iter()
                .find(|(_, v)| !(v.is_finite() && v.abs() < HIGHS_LARGEST_VALUE))
            {
                self.bad = Some(format!(
                    "coefficient {v:e} of column {} in row {row} (HiGHS takes values below \
                     {HIGHS_LARGEST_VALUE:e})",
                    col.index()
                ));
            } else if lo.is_nan() || hi.is_nan() {
                self.bad = Some(format!("a NaN bound of row {row}"));
            }
        }
        self.problem.add_row(lo..=hi, terms);
    }

    fn check_column(&mut self, cost: f64, lo: f64, hi: f64) {
        if self.bad.is_some() {
            return;
        }
        let col = self.problem.num_cols();
        if !(cost.is_finite() && cost.abs() < HIGHS_INFINITY) {
            self.bad = Some(format!(
                "cost {cost:e} of column {col} (HiGHS takes costs below {HIGHS_INFINITY:e})"
            ));
        } else if lo.is_nan() || hi.is_nan() {
            self.bad = Some(format!("a NaN bound of column {col}"));
        }
    }

    pub fn num_cols(&self) -> usize {
        self.problem.num_cols()
    }

    pub fn num_rows(&self) -> usize {
        self.problem.num_rows()
    }

    /// Minimises the objective and checks HiGHS's model status.
    pub fn solve(self, options: &SolveOptions) -> Result<Solved, SolveError> {
        self.solve_from(options, None)
    }

    /// Like [`Milp::solve`], starting from `hint` (one value per column, a feasible solution
    /// HiGHS may use as its first incumbent; it is ignored if it is not feasible).
    pub fn solve_from(
        self,
        options: &SolveOptions,
        hint: Option<&[f64]>,
    ) -> Result<Solved, SolveError> {
        if let Some(bad) = self.bad {
            return Err(SolveError::BadNumber(bad));
        }
        if self.problem.num_cols() == 0 && self.problem.num_rows() == 0 {
            // Nothing to decide (every unit fixed): HiGHS would call the model empty.
            return Ok(Solved {
                values: Vec::new(),
                objective: 0.0,
                status: SolveStatus::Optimal,
                seconds: 0.0,
            });
        }
        let started = Instant::now();
        let mut model = self
            .problem
            .try_optimise(Sense::Minimise)
            .map_err(|status| SolveError::Rejected(format!("{status:?}")))?;
        model
            .try_set_option("time_limit", options.time_limit_s)
            .map_err(|e| SolveError::Rejected(format!("time_limit: {e}")))?;
        model
            .try_set_option("mip_rel_gap", options.mip_rel_gap)
            .map_err(|e| SolveError::Rejected(format!("mip_rel_gap: {e}")))?;
        for (name, value) in FIXED_OPTIONS {
            model
                .try_set_option(*name, *value)
                .map_err(|e| SolveError::Rejected(format!("{name}: {e}")))?;
        }
        // One thread: HiGHS keeps one scheduler per calling thread, sized by the first solve on
        // it, and refuses a run asking for another size; ecmr and the simulator's bound ask for 1
        // too. Its idle workers spinning were a third of the CPU of a 50 x 20 re-placement.
        model
            .try_set_option("threads", 1)
            .map_err(|e| SolveError::Rejected(format!("threads: {e}")))?;
        if let Some(hint) = hint {
            // A rejected hint (wrong length) only loses the head start.
            let _ = model.try_set_solution(Some(hint), None, None, None);
        }
        let solved = model
            .try_solve()
            .map_err(|status| SolveError::Failed(format!("{status:?} from Highs_run")))?;
        let seconds = started.elapsed().as_secs_f64();
        let status = match solved.status() {
            HighsModelStatus::Optimal => SolveStatus::Optimal,
            HighsModelStatus::Infeasible => return Err(SolveError::Infeasible),
            HighsModelStatus::ReachedTimeLimit => {
                let incumbent = solved.primal_solution_status() == HighsSolutionStatus::Feasible;
                if incumbent && options.accept_incumbent {
                    SolveStatus::TimeLimitIncumbent {
                        gap: solved.mip_gap(),
                    }
                } else {
                    return Err(SolveError::TimeLimit {
                        limit_s: options.time_limit_s,
                        incumbent,
                    });
                }
            }
            other => return Err(SolveError::Failed(format!("{other:?}"))),
        };
        let solution = solved.get_solution();
        Ok(Solved {
            values: solution.columns().to_vec(),
            objective: solved.objective_value(),
            status,
            seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SolveOptions {
        SolveOptions {
            time_limit_s: 10.0,
            mip_rel_gap: 1e-6,
            accept_incumbent: false,
        }
    }

    #[test]
    fn solves_a_small_integer_program() {
        // min -x - y, x + y <= 1.5, x, y binary: one of them is 1, objective -1.
        let mut milp = Milp::new();
        let x = milp.binary(-1.0);
        let y = milp.binary(-1.0);
        milp.row(f64::NEG_INFINITY, 1.5, &[(x, 1.0), (y, 1.0)]);
        let solved = milp.solve(&options()).expect("optimal");
        assert_eq!(solved.status, SolveStatus::Optimal);
        assert!((solved.objective + 1.0).abs() < 1e-9);
        assert!((solved.value(x) + solved.value(y) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn infeasible_model_is_an_infeasible_error() {
        // x binary, x >= 2 cannot hold.
        let mut milp = Milp::new();
        let x = milp.binary(1.0);
        milp.row(2.0, f64::INFINITY, &[(x, 1.0)]);
        let err = milp.solve(&options()).expect_err("infeasible");
        assert_eq!(err, SolveError::Infeasible);
        let plugin = err.into_plugin_error("test");
        assert_eq!(plugin.kind, ErrorKind::INFEASIBLE);
        assert!(plugin.message.starts_with("test: "));
    }

    #[test]
    fn a_number_highs_would_refuse_is_invalid_input_not_a_rejection() {
        let mut milp = Milp::new();
        let x = milp.binary(1.0);
        milp.row(f64::NEG_INFINITY, 1.0, &[(x, 1e300)]);
        let err = milp.solve(&options()).expect_err("refused");
        assert!(matches!(err, SolveError::BadNumber(_)), "{err}");
        let plugin = err.into_plugin_error("re-placement");
        assert_eq!(plugin.kind, ErrorKind::INVALID_INPUT);
        assert!(plugin.message.contains("coefficient 1e300"), "{plugin}");
        let mut milp = Milp::new();
        milp.continuous(f64::NAN, 0.0, 1.0);
        let err = milp.solve(&options()).expect_err("refused");
        assert!(err.to_string().contains("cost NaN"), "{err}");
    }

    #[test]
    fn time_limit_maps_to_time_limit_kind() {
        let err = SolveError::TimeLimit {
            limit_s: 1.0,
            incumbent: true,
        }
        .into_plugin_error("re-placement");
        assert_eq!(err.kind, ErrorKind::TIME_LIMIT);
        assert!(err.message.contains("use_incumbent_on_time_limit"));
    }
}
