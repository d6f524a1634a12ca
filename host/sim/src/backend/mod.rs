//! The simulated continuum as the backend of `smo serve`: [`continuum`] implements the
//! Continuum port (clusters, applies, readiness); [`telemetry`] the Telemetry port over a
//! scenario, and [`sine`] over the demo sine load when there is none.

pub mod continuum;
pub mod sine;
pub mod telemetry;

pub use continuum::{SimBehaviour, SimContinuum};
pub use sine::SineLoad;
pub use telemetry::ScenarioTelemetry;
