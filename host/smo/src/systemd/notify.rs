//! Notifications to the service manager (`sd_notify(3)`): `READY=1`, `RELOADING=1` with
//! `MONOTONIC_USEC`, `STOPPING=1`, `STATUS=` and `WATCHDOG=1`, as datagrams on `NOTIFY_SOCKET`.

use sd_notify::NotifyState;

/// Sends notifications when the daemon runs under systemd (`NOTIFY_SOCKET` set).
#[derive(Debug, Clone, Copy)]
pub struct Notifier {
    enabled: bool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` (kept in the environment: the watchdog and later notifications
    /// need it).
    pub fn from_env() -> Self {
        Self {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
        }
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(error) = sd_notify::notify(false, states) {
            tracing::warn!(%error, "cannot notify the service manager (NOTIFY_SOCKET)");
        }
    }

    /// The daemon serves: it listens, the store is open and the plugins are probed.
    pub fn ready(&self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A reload starts; `READY=1` ([`Notifier::ready`]) ends it.
    pub fn reloading(&self, status: &str) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now, NotifyState::Status(status)]),
            Err(error) => {
                tracing::warn!(%error, "cannot read the monotonic clock for MONOTONIC_USEC");
                self.send(&[NotifyState::Reloading, NotifyState::Status(status)]);
            }
        }
    }

    /// The daemon stops.
    pub fn stopping(&self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    /// A status line (`systemctl status` shows it).
    pub fn status(&self, status: &str) {
        self.send(&[NotifyState::Status(status)]);
    }

    /// The watchdog's keep-alive.
    pub fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }
}
