//! The MILP built through one gate that checks every cost, bound and matrix value against what
//! HiGHS accepts, so a model it would refuse is an error naming the cluster and the figure.

use crate::check::fig;
use highs::{Col, RowProblem};
use std::ops::{Bound, RangeBounds};

/// HiGHS treats a cost or bound of this magnitude or more as infinite (`infinite_cost`,
/// `infinite_bound`): a finite figure there would silently change the model.
pub const HIGHS_INFINITY: f64 = 1e20;

/// HiGHS refuses a model with a matrix value of this magnitude or more (`large_matrix_value`).
pub const HIGHS_LARGEST_VALUE: f64 = 1e15;

/// A [`RowProblem`] that remembers the first figure HiGHS would not take, with its label.
#[derive(Default)]
pub struct Checked {
    pb: RowProblem,
    bad: Option<String>,
}

impl Checked {
    /// An integer column of objective coefficient `cost`; `what` names it in an error.
    pub fn integer<B: RangeBounds<f64>>(
        &mut self,
        cost: f64,
        bounds: B,
        what: impl FnOnce() -> String,
    ) -> Col {
        self.column_checks(cost, &bounds, what);
        self.pb.add_integer_column(cost, bounds)
    }

    /// A continuous column of objective coefficient `cost`; `what` names it in an error.
    pub fn continuous<B: RangeBounds<f64>>(
        &mut self,
        cost: f64,
        bounds: B,
        what: impl FnOnce() -> String,
    ) -> Col {
        self.column_checks(cost, &bounds, what);
        self.pb.add_column(cost, bounds)
    }

    /// The row `bounds` ∋ Σ value·col; `what` names it in an error.
    pub fn row<B: RangeBounds<f64>>(
        &mut self,
        bounds: B,
        terms: &[(Col, f64)],
        what: impl FnOnce() -> String,
    ) {
        if self.bad.is_none() {
            if let Some(v) = terms
                .iter()
                .map(|(_, v)| *v)
                .find(|v| !(v.is_finite() && v.abs() < HIGHS_LARGEST_VALUE))
            {
                self.bad = Some(format!(
                    "{}: coefficient {} (HiGHS takes values below {})",
                    what(),
                    fig(v),
                    fig(HIGHS_LARGEST_VALUE)
                ));
            } else if let Some(b) = bad_bound(&bounds) {
                self.bad = Some(format!("{}: bound {}", what(), b));
            }
        }
        self.pb.add_row(bounds, terms);
    }

    fn column_checks<B: RangeBounds<f64>>(
        &mut self,
        cost: f64,
        bounds: &B,
        what: impl FnOnce() -> String,
    ) {
        if self.bad.is_some() {
            return;
        }
        if !(cost.is_finite() && cost.abs() < HIGHS_INFINITY) {
            self.bad = Some(format!(
                "{}: cost {} (HiGHS takes costs below {})",
                what(),
                fig(cost),
                fig(HIGHS_INFINITY)
            ));
        } else if let Some(b) = bad_bound(bounds) {
            self.bad = Some(format!("{}: bound {}", what(), b));
        }
    }

    pub fn num_cols(&self) -> usize {
        self.pb.num_cols()
    }

    pub fn num_rows(&self) -> usize {
        self.pb.num_rows()
    }

    /// The model, or the first figure HiGHS would not take.
    pub fn finish(self) -> Result<RowProblem, String> {
        match self.bad {
            Some(bad) => Err(bad),
            None => Ok(self.pb),
        }
    }
}

/// A given bound that is NaN, infinite or as large as HiGHS's infinity (an omitted one is fine).
fn bad_bound<B: RangeBounds<f64>>(bounds: &B) -> Option<String> {
    let value = |b: Bound<&f64>| match b {
        Bound::Included(v) | Bound::Excluded(v) => Some(*v),
        Bound::Unbounded => None,
    };
    [bounds.start_bound(), bounds.end_bound()]
        .into_iter()
        .filter_map(value)
        .find(|v| !(v.is_finite() && v.abs() < HIGHS_INFINITY))
        .map(|v| {
            format!(
                "{} (HiGHS takes finite bounds below {})",
                fig(v),
                fig(HIGHS_INFINITY)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_first_figure_highs_would_refuse() {
        let mut m = Checked::default();
        let x = m.integer(1.0, 0.0..=1.0, || "x".into());
        let y = m.continuous(0.0, 0.0.., || "y".into());
        m.row(..=5.0, &[(x, 1.0), (y, 2.0)], || "fine".into());
        m.row(..=1.0, &[(x, 1e308)], || "cluster `big`: capacity".into());
        m.row(..=f64::NAN, &[(y, 1.0)], || "later".into());
        let e = m.finish().err().unwrap_or_default();
        assert!(
            e.starts_with("cluster `big`: capacity: coefficient 1e308"),
            "{e}"
        );
        let mut m = Checked::default();
        m.continuous(f64::INFINITY, 0.0.., || "cluster `hot`: brown power".into());
        let e = m.finish().err().unwrap_or_default();
        assert!(e.contains("cluster `hot`: brown power: cost +inf"), "{e}");
        let mut m = Checked::default();
        let x = m.integer(1.0, 0.0..=1.0, || "x".into());
        m.row(1e25.., &[(x, 1.0)], || "cluster `far`: brown row".into());
        let e = m.finish().err().unwrap_or_default();
        assert!(e.contains("cluster `far`: brown row: bound 1e25"), "{e}");
    }
}
