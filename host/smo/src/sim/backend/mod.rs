//! The simulated continuum as the backend of `smo serve`: [`continuum`] implements the
//! Continuum port (clusters, applies, readiness), [`telemetry`] the telemetry of a scenario.

pub mod continuum;
pub mod telemetry;

pub use continuum::{SimBehaviour, SimContinuum};
pub use telemetry::ScenarioTelemetry;
