//! Strategy calls of a run: each is booked (its time, or its failure) and, with
//! [`SimOptions::decisions`](super::SimOptions), kept as a [`DecisionRecord`], the same record
//! `smo serve` stores, on the run's simulated clock.

use super::Run;
use crate::driver::DriverError;
use crate::step_loop::SimError;
use serde::Serialize;
use smo_core::decision::{DecisionKind, DecisionRecord, Outcome, Reasons};
use smo_plugin_api::{PlacementDecision, PlacementRequest};
use std::sync::Arc;
use std::time::Duration;

/// The trigger of the records of `smo simulate`.
pub const TRIGGER: &str = "simulate";

/// What a booked call was.
pub(super) struct Call<'a> {
    pub kind: DecisionKind,
    pub strategy: &'a str,
    /// The graph the request was for (the scenario's services, or its VMs).
    pub graph: &'a str,
}

impl Run<'_> {
    /// Books a call; an unknown strategy stops the run, other failures go back to the caller.
    pub(super) fn booked<T: Serialize + Reasons>(
        &mut self,
        call: Call<'_>,
        r: Result<(T, Duration), DriverError>,
    ) -> Result<Result<T, DriverError>, SimError> {
        match &r {
            Ok((_, took)) => self.acc().record_call(*took),
            Err(DriverError::UnknownStrategy(_) | DriverError::BadParameters(_)) => {}
            Err(_) => self.acc().record_call(Duration::ZERO),
        }
        if self.decisions.is_some() {
            let record = self.record(&call, &r);
            if let Some(decisions) = self.decisions.as_mut() {
                decisions.push(record);
            }
        }
        match r {
            Ok((t, _)) => Ok(Ok(t)),
            Err(e @ (DriverError::UnknownStrategy(_) | DriverError::BadParameters(_))) => {
                Err(SimError::Strategy {
                    strategy: call.strategy.to_string(),
                    message: e.to_string(),
                })
            }
            Err(e) => Ok(Err(e)),
        }
    }

    /// Asks the run's placement strategy for `req` (a placement, or a re-placement when
    /// `req.current` is set).
    pub(super) fn call_place(
        &mut self,
        req: &Arc<PlacementRequest>,
    ) -> Result<Result<PlacementDecision, DriverError>, SimError> {
        let name = self.strategy.placement.clone();
        let r = self.driver.place(&name, req);
        let call = Call {
            kind: DecisionKind::Placement,
            strategy: &name,
            graph: req.graph.name.as_str(),
        };
        self.booked(call, r)
    }

    /// The record of `call`, answered `r`, at the run's simulated time.
    fn record<T: Serialize + Reasons>(
        &self,
        call: &Call<'_>,
        r: &Result<(T, Duration), DriverError>,
    ) -> DecisionRecord {
        let mut record = DecisionRecord::new(call.kind, self.now_unix() * 1000);
        record.graph = call.graph.to_owned();
        record.trigger = Some(TRIGGER.to_owned());
        record.requested = Some(call.strategy.to_owned());
        record.strategy = call.strategy.to_owned();
        match r {
            Ok((decision, took)) => {
                record.plugin_version = self.driver.plugin_version(call.strategy);
                record.duration_ms = took.as_secs_f64() * 1e3;
                record.reasons = decision.reasons();
                record.decision = serde_json::to_value(decision).ok();
            }
            Err(error) => {
                record.outcome = Outcome::Error;
                record.error = Some(error.to_string());
            }
        }
        record
    }
}
