//! systemd's service contract: readiness, reload and stop notifications and status lines on
//! `NOTIFY_SOCKET` ([`notify`]), and the watchdog fed by the engine's heartbeat ([`watchdog`]).
//!
//! Without `NOTIFY_SOCKET` (not started by systemd) every notification is a no-op.

pub mod notify;
pub mod watchdog;

pub use notify::Notifier;
