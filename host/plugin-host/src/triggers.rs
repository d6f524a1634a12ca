//! What makes the daemon reload its plugins besides the API: SIGHUP, and (opt-in) a
//! debounced watch of the plugin directory. Each trigger calls [`Registry::reload`].

use super::registry::Registry;
use notify_debouncer_mini::{new_debouncer, notify::RecursiveMode, DebounceEventResult};
use std::sync::Arc;
use std::time::Duration;

/// Reloads on every SIGHUP until the process ends.
pub fn spawn_sighup(registry: Arc<Registry>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading plugins");
            if let Err(error) = registry.reload().await {
                tracing::error!(%error, "reload on SIGHUP failed");
            }
        }
    }))
}

/// A running directory watch; dropping it stops the watch.
pub struct Watch {
    _debouncer: notify_debouncer_mini::Debouncer<notify_debouncer_mini::notify::RecommendedWatcher>,
    _task: tokio::task::JoinHandle<()>,
}

/// Reloads when the operators' plugin directory changes, at most once per `debounce`. The shipped
/// directory is not watched: it changes only with the package, whose upgrade restarts the
/// daemon (a reload by SIGHUP or the API rescans both).
pub fn spawn_watch(registry: Arc<Registry>, debounce: Duration) -> Result<Watch, String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut debouncer = new_debouncer(debounce, move |result: DebounceEventResult| {
        let relevant = match result {
            Ok(events) => events
                .iter()
                .any(|e| super::catalog::is_candidate(&e.path) || !e.path.exists()),
            Err(_) => false,
        };
        if relevant {
            // A full channel means a reload is already pending: nothing to add.
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| format!("cannot watch plugin directory: {e}"))?;
    debouncer
        .watcher()
        .watch(&registry.config().plugin_dir, RecursiveMode::NonRecursive)
        .map_err(|e| {
            format!(
                "cannot watch {}: {e}",
                registry.config().plugin_dir.display()
            )
        })?;
    let task = tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tracing::info!("plugin directory changed: reloading plugins");
            if let Err(error) = registry.reload().await {
                tracing::error!(%error, "reload on file change failed");
            }
        }
    });
    Ok(Watch {
        _debouncer: debouncer,
        _task: task,
    })
}
