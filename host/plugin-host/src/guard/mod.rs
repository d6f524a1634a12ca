//! The call guard: every strategy call runs under a per-plugin permit, on one of the plugin
//! version's own worker threads, with a deadline; repeated malfunctions quarantine the strategy.

mod workers;

pub use workers::Workers;

use super::error::CallError;
use super::registry::PluginEntry;
use super::stats::Outcome;
use smo_plugin_api::{ErrorKind, PluginError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Limits applied to each call.
#[derive(Debug, Clone)]
pub struct GuardConfig {
    /// Deadline of one call, including the wait for a permit.
    pub timeout: Duration,
    /// Consecutive malfunctions (panic, timeout, internal error) before quarantine; 0 = never.
    pub quarantine_after: u32,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            quarantine_after: 3,
        }
    }
}

/// Runs strategy calls safely.
#[derive(Debug, Clone)]
pub struct CallGuard {
    config: GuardConfig,
    /// Also count each call per strategy for `/metrics` (see [`CallGuard::with_metrics`]).
    metrics: bool,
}

impl Default for CallGuard {
    fn default() -> Self {
        Self::new(GuardConfig::default())
    }
}

impl CallGuard {
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            metrics: true,
        }
    }

    /// Whether calls are also counted per strategy, by outcome and latency, for `/metrics`
    /// (on by default; off only to measure what that costs, as the `plugin_call` bench does).
    pub fn with_metrics(mut self, on: bool) -> Self {
        self.metrics = on;
        self
    }

    pub fn config(&self) -> &GuardConfig {
        &self.config
    }

    /// Runs `f` against `entry` for the strategy `strategy` (the name inside the plugin).
    ///
    /// A call that outlives the deadline keeps running on its thread (threads cannot be
    /// cancelled) and keeps its permit, so a hung plugin can only block itself; a plugin in a
    /// process of its own is killed instead, which ends the call.
    pub async fn run<T, F>(
        &self,
        entry: &Arc<PluginEntry>,
        strategy: &str,
        f: F,
    ) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(&PluginEntry) -> Result<T, PluginError> + Send + 'static,
    {
        // Named in errors only: built when one happens.
        let label = || format!("{}/{} {}", entry.info.name, strategy, entry.info.version);
        if let Some(reason) = entry.stats.quarantined(strategy) {
            return Err(CallError::Quarantined {
                strategy: label(),
                reason,
            });
        }
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let permit =
            match tokio::time::timeout_at(deadline, Arc::clone(&entry.permits).acquire_owned())
                .await
            {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => {
                    return Err(CallError::Unavailable {
                        strategy: label(),
                        message: "plugin is shutting down".into(),
                    })
                }
                Err(_) => {
                    let error = CallError::Timeout {
                        strategy: label(),
                        after: self.config.timeout,
                    };
                    self.record(
                        entry,
                        strategy,
                        Outcome::Timeout,
                        started,
                        &error.to_string(),
                    );
                    return Err(error);
                }
            };
        let (answer, mut answered) = tokio::sync::oneshot::channel();
        let worker = Arc::clone(entry);
        let job: workers::Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&worker)));
            // The permit goes back before the answer, so the caller's next call finds it.
            drop(permit);
            drop(worker);
            let _ = answer.send(result);
        });
        if let Err(workers::Unavailable(message)) = entry.workers.submit(job) {
            return Err(CallError::Unavailable {
                strategy: label(),
                message,
            });
        }
        let received = match answer_soon(&mut answered) {
            Some(received) => received,
            None => match tokio::time::timeout_at(deadline, answered).await {
                Ok(Ok(answer)) => Received::Answer(answer),
                Ok(Err(_)) => Received::Dropped,
                Err(_) => Received::Late,
            },
        };
        let (result, outcome) = match received {
            Received::Answer(Ok(Ok(value))) => (Ok(value), Outcome::Ok),
            Received::Answer(Ok(Err(e))) => {
                let outcome = match e.kind {
                    ErrorKind::PANIC => Outcome::Panic,
                    ErrorKind::INFEASIBLE
                    | ErrorKind::INVALID_INPUT
                    | ErrorKind::BAD_PARAMETERS
                    | ErrorKind::TIME_LIMIT => Outcome::Answered,
                    _ => Outcome::Error,
                };
                let error = if outcome == Outcome::Panic {
                    CallError::Panicked {
                        strategy: label(),
                        message: e.message.to_string(),
                    }
                } else {
                    CallError::Failed {
                        strategy: label(),
                        kind: e.kind.name().to_string(),
                        message: e.message.to_string(),
                    }
                };
                (Err(error), outcome)
            }
            Received::Answer(Err(panic)) => (
                Err(CallError::Panicked {
                    strategy: label(),
                    message: format!("host-side code panicked: {}", panic_message(&*panic)),
                }),
                Outcome::Panic,
            ),
            Received::Dropped => (
                Err(CallError::Panicked {
                    strategy: label(),
                    message: "the worker running the call ended without an answer".into(),
                }),
                Outcome::Panic,
            ),
            Received::Late => {
                // A plugin in its own process is killed, which frees the call's thread.
                entry.abandon(&format!(
                    "{} passed its deadline of {:?}",
                    label(),
                    self.config.timeout
                ));
                (
                    Err(CallError::Timeout {
                        strategy: label(),
                        after: self.config.timeout,
                    }),
                    Outcome::Timeout,
                )
            }
        };
        let detail = match &result {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        };
        self.record(entry, strategy, outcome, started, &detail);
        result
    }

    fn record(
        &self,
        entry: &PluginEntry,
        strategy: &str,
        outcome: Outcome,
        started: Instant,
        detail: &str,
    ) {
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if self.metrics {
            if let Some(calls) = entry.calls.get(strategy) {
                calls.record(outcome, micros);
            }
        }
        if outcome == Outcome::Answered {
            // "infeasible", "bad input": answers, not malfunctions.
            tracing::debug!(plugin = %entry.info.name, version = %entry.info.version, strategy, detail, "strategy answered with an error");
        } else if outcome != Outcome::Ok {
            tracing::warn!(plugin = %entry.info.name, version = %entry.info.version, strategy, ?outcome, detail, "strategy call failed");
        }
        if let Some(reason) = entry.stats.record(
            strategy,
            outcome,
            micros,
            self.config.quarantine_after,
            detail,
        ) {
            tracing::error!(plugin = %entry.info.name, version = %entry.info.version, strategy, %reason, "strategy quarantined");
        }
    }
}

/// What came back from a worker: the call's answer (or the panic of host code around it), the
/// worker gone without one, or nothing before the deadline.
enum Received<T> {
    Answer(std::thread::Result<Result<T, PluginError>>),
    Dropped,
    Late,
}

/// How long a caller looks for its answer before it yields its thread to other tasks: a short
/// call answers within this, and its caller then needs no wake-up.
const ANSWER_SPIN: Duration = Duration::from_micros(20);

/// The answer, when it comes within [`ANSWER_SPIN`]; `None` to wait for it asynchronously.
fn answer_soon<T>(
    answered: &mut tokio::sync::oneshot::Receiver<std::thread::Result<Result<T, PluginError>>>,
) -> Option<Received<T>> {
    let until = Instant::now() + ANSWER_SPIN;
    loop {
        match answered.try_recv() {
            Ok(answer) => return Some(Received::Answer(answer)),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                return Some(Received::Dropped)
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) if Instant::now() < until => {
                // Yield rather than spin: on a busy machine the worker may need this core.
                std::thread::yield_now()
            }
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => return None,
        }
    }
}

/// The text of a panic's payload (a `&str` or `String`; anything else is named as such).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::Poll;

    fn guard(timeout: Duration) -> CallGuard {
        CallGuard::new(GuardConfig {
            timeout,
            quarantine_after: 0,
        })
    }

    /// Polls `future` once: `Some` if it finished.
    async fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_call_answers_and_is_counted() {
        let entry = PluginEntry::unloaded("quick", 2);
        let answer = guard(Duration::from_secs(10))
            .run(&entry, "echo", |e| Ok(e.info.name.clone()))
            .await;
        assert_eq!(answer.ok().as_deref(), Some("quick"));
        assert_eq!(entry.stats.snapshot().calls, 1);
        assert_eq!(entry.workers.threads(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_call_still_running_after_the_first_poll_is_awaited() {
        let entry = PluginEntry::unloaded("slow", 2);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let guard = guard(Duration::from_secs(10));
        let mut call = pin!(guard.run(&entry, "wait", move |_| {
            released
                .recv()
                .map_err(|_| PluginError::internal("test ended"))?;
            Ok(7)
        }));
        assert!(
            poll_once(call.as_mut()).await.is_none(),
            "the call cannot answer before it is released"
        );
        release.send(()).expect("the call waits");
        assert_eq!(call.await.ok(), Some(7));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn host_code_that_panics_fails_its_call_only() {
        let entry = PluginEntry::unloaded("panics", 1);
        let guard = guard(Duration::from_secs(10));
        let failed = guard
            .run(&entry, "boom", |_| -> Result<(), PluginError> {
                panic!("host-side bug")
            })
            .await;
        match failed {
            Err(CallError::Panicked { message, .. }) => {
                assert!(message.contains("host-side bug"), "{message}")
            }
            other => panic!("expected a panic error, got {other:?}"),
        }
        assert_eq!(guard.run(&entry, "ok", |_| Ok(1)).await.ok(), Some(1));
        assert_eq!(entry.stats.snapshot().panics, 1);
        assert_eq!(entry.workers.threads(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hung_call_times_out_and_blocks_only_its_own_permit() {
        let entry = PluginEntry::unloaded("hangs", 2);
        let other = PluginEntry::unloaded("other", 1);
        let guard = guard(Duration::from_millis(200));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let hung = guard
            .run(&entry, "hang", move |_| {
                let _ = released.recv();
                Ok(())
            })
            .await;
        assert!(matches!(hung, Err(CallError::Timeout { .. })), "{hung:?}");
        // The hung call keeps one permit and one thread; the version's second permit and other
        // plugins still answer.
        assert_eq!(guard.run(&entry, "ok", |_| Ok(2)).await.ok(), Some(2));
        assert_eq!(guard.run(&other, "ok", |_| Ok(3)).await.ok(), Some(3));
        assert_eq!(entry.permits.available_permits(), 1);
        assert_eq!(entry.stats.snapshot().timeouts, 1);
        drop(release);
    }
}
