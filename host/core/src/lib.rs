//! smo's core: what every other crate of the host shares and nothing depends on but the plugin
//! API — descriptors, the pure models, the decision record, and the ports backends implement.
//!
//! [`graphs`] reads and validates HDAG descriptors into a [`graphs::GraphSpec`]; [`placement`]
//! is a desired-state row; [`decision`] is the one record of a strategy's decision; the pure
//! models are the offload state machine ([`offload`]), the delay of requests routed to copies
//! ([`delay`], [`user_delay`]) and great-circle distances ([`geo`]); [`ecosystem`] is the
//! workloads' dependency map and satisfaction score; [`ports`] are the traits a
//! continuum backend and a telemetry source implement. No I/O happens here.

pub mod clock;
pub mod decision;
pub mod delay;
pub mod ecosystem;
pub mod geo;
pub mod graphs;
pub mod offload;
pub mod placement;
pub mod ports;
pub mod user_delay;
