//! The ports: the traits through which the engine acts on the continuum and reads what it
//! measures. A backend is one implementation of them; nothing in the engine names a backend.

pub mod continuum;
pub mod telemetry;

pub use continuum::{
    ClusterInventory, Continuum, ContinuumError, DesiredState, Observation, ObservedReplicas,
};
pub use telemetry::{MigrationInputs, TelemetryError, TelemetrySource};
