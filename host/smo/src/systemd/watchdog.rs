//! The watchdog loop: a trigger every half of `WATCHDOG_USEC`, a runner that probes the engine
//! (its commit lock and a store read, within that half) and pings only when the probe passes.
//!
//! A wedged engine (a lock never released, a store that does not answer) stops the pings, and
//! systemd restarts the service; a live process alone does not keep it alive.

use super::Notifier;
use crate::engine::lifecycle::Engine;
use std::sync::Weak;
use std::time::Duration;

/// The interval systemd expects keep-alives at, when it watches this process: `WATCHDOG_USEC`,
/// unless `WATCHDOG_PID` names another process (`sd_watchdog_enabled(3)`).
pub fn interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// Pings every `interval / 2` while the engine's heartbeat passes, until the engine is dropped.
pub fn spawn(
    engine: Weak<Engine>,
    notifier: Notifier,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    let half = (interval / 2).max(Duration::from_millis(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(half);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticks.tick().await;
            let Some(engine) = engine.upgrade() else {
                return;
            };
            match engine.heartbeat(half).await {
                Ok(()) => {
                    if failing {
                        tracing::info!("the engine's heartbeat is back: watchdog pings resume");
                        notifier.status("serving: the engine's heartbeat is back");
                        failing = false;
                    }
                    notifier.watchdog();
                }
                Err(error) => {
                    if !failing {
                        tracing::error!(%error, "the engine's heartbeat failed: no watchdog ping (systemd restarts the service if it lasts)");
                        notifier.status(&format!(
                            "engine heartbeat failed, watchdog pings withheld: {error}"
                        ));
                    }
                    failing = true;
                }
            }
        }
    })
}
