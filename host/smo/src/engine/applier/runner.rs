//! The applier's runner: takes due graphs from the [`Scheduler`] and reconciles them, at most
//! `concurrency` at once and never two of the same graph; what a reconcile answers sets its
//! next turn ([`Action`]), with [`backoff`](super::backoff) after failures.
//!
//! A graph woken while its reconcile runs is reconciled again right after it. A reconcile that
//! panics counts as a failure (retried with backoff); the runner carries on.

use super::backoff::{jitter_unit, BackoffPolicy};
use super::scheduler::Scheduler;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reconcile again after this long (e.g. to see replicas become ready, or to resync).
    Requeue(Duration),
    /// It failed and may succeed later: again after the backoff of its consecutive failures.
    Retry,
    /// Nothing to do until something wakes the graph.
    AwaitChange,
}

#[derive(Debug, Default)]
struct RunState {
    active: HashSet<String>,
    again: HashSet<String>,
    failures: HashMap<String, u32>,
    draws: u64,
    /// Reconciles finished, and those of them that failed and were retried (for `/metrics`).
    reconciles: u64,
    retries: u64,
    /// Permits to forget as reconciles hand them back (the concurrency was lowered).
    permits_owed: usize,
}

/// The runner's figures: counts since start, and what runs or backs off now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Reconciles finished.
    pub reconciles: u64,
    /// Reconciles that failed and were scheduled again after a backoff.
    pub retries: u64,
    /// Reconciles running now.
    pub running: usize,
    /// Graphs whose last reconcile failed (backing off).
    pub backing_off: usize,
}

/// Runs reconciles (see the module documentation).
#[derive(Debug)]
pub struct Runner {
    scheduler: Arc<Scheduler>,
    limit: Arc<Semaphore>,
    backoff: Mutex<BackoffPolicy>,
    state: Mutex<RunState>,
}

impl Runner {
    pub fn new(scheduler: Arc<Scheduler>, concurrency: usize, backoff: BackoffPolicy) -> Self {
        Self {
            scheduler,
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
            backoff: Mutex::new(backoff),
            state: Mutex::new(RunState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The backoff of failures from now on.
    pub fn set_backoff(&self, backoff: BackoffPolicy) {
        *self.backoff.lock().unwrap_or_else(PoisonError::into_inner) = backoff;
    }

    /// Reconciles at once from `old` to `new` (both at least 1): more permits at once, or
    /// fewer as the running reconciles hand theirs back (taken and forgotten by a task).
    pub fn resize(&self, old: usize, new: usize) {
        let (old, new) = (old.max(1), new.max(1));
        if new > old {
            self.limit.add_permits(new - old);
        } else if new < old {
            // The free ones at once; the rest as running reconciles hand theirs back.
            let rest = (old - new) - self.limit.forget_permits(old - new);
            self.lock().permits_owed += rest;
        }
    }

    /// Hands a reconcile's permit back, or forgets it while the concurrency is being lowered.
    fn release(&self, permit: OwnedSemaphorePermit) {
        let mut state = self.lock();
        if state.permits_owed > 0 {
            state.permits_owed -= 1;
            permit.forget();
        }
    }

    /// Reconciles that may start now.
    pub fn available(&self) -> usize {
        self.limit.available_permits()
    }

    /// Consecutive failures of `key` so far (0 after a success).
    pub fn failures(&self, key: &str) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Whether a reconcile of `key` runs now.
    pub fn is_active(&self, key: &str) -> bool {
        self.lock().active.contains(key)
    }

    /// Reconciles and retries so far, and what runs or backs off now.
    pub fn counts(&self) -> RunCounts {
        let state = self.lock();
        RunCounts {
            reconciles: state.reconciles,
            retries: state.retries,
            running: state.active.len(),
            backing_off: state.failures.len(),
        }
    }

    /// Forgets `key`'s failure count (a deleted graph).
    pub fn forget(&self, key: &str) {
        self.lock().failures.remove(key);
    }

    /// Records how `key`'s reconcile ended and schedules its next turn.
    fn finish(&self, key: &str, action: Action) {
        let next = {
            let mut state = self.lock();
            state.active.remove(key);
            state.reconciles += 1;
            let again = state.again.remove(key);
            let delay = match action {
                Action::Retry => {
                    state.retries += 1;
                    let failures = {
                        let count = state.failures.entry(key.to_owned()).or_default();
                        *count = count.saturating_add(1);
                        *count
                    };
                    state.draws += 1;
                    let backoff = *self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
                    Some(backoff.delay(failures, jitter_unit(state.draws)))
                }
                Action::Requeue(after) => {
                    state.failures.remove(key);
                    Some(after)
                }
                Action::AwaitChange => {
                    state.failures.remove(key);
                    None
                }
            };
            if again {
                Some(Duration::ZERO)
            } else {
                delay
            }
        };
        if let Some(delay) = next {
            self.scheduler.schedule(key, Instant::now() + delay);
        }
    }

    /// Runs until `target` is dropped: each due graph is handed to `reconcile` with `target`.
    pub fn spawn<T, F, Fut>(self: Arc<Self>, target: Weak<T>, reconcile: F) -> JoinHandle<()>
    where
        T: Send + Sync + 'static,
        F: Fn(Arc<T>, String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Action> + Send + 'static,
    {
        tokio::spawn(async move {
            loop {
                let key = self.scheduler.next().await;
                let Some(target) = target.upgrade() else {
                    return;
                };
                {
                    let mut state = self.lock();
                    if state.active.contains(&key) {
                        state.again.insert(key);
                        continue;
                    }
                    state.active.insert(key.clone());
                }
                let Ok(permit) = Arc::clone(&self.limit).acquire_owned().await else {
                    return;
                };
                let work = tokio::spawn(reconcile(target, key.clone()));
                let runner = Arc::clone(&self);
                tokio::spawn(async move {
                    let action = match work.await {
                        Ok(action) => action,
                        Err(error) => {
                            tracing::error!(graph = %key, %error, "a reconcile panicked");
                            Action::Retry
                        }
                    };
                    runner.release(permit);
                    runner.finish(&key, action);
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokio::sync::mpsc;

    /// A target that answers each reconcile with the next scripted action and reports it.
    struct Script {
        actions: Mutex<Vec<Action>>,
        calls: AtomicU32,
        done: mpsc::UnboundedSender<(String, Instant)>,
    }

    fn script(actions: Vec<Action>) -> (Arc<Script>, mpsc::UnboundedReceiver<(String, Instant)>) {
        let (done, seen) = mpsc::unbounded_channel();
        let script = Arc::new(Script {
            actions: Mutex::new(actions.into_iter().rev().collect()),
            calls: AtomicU32::new(0),
            done,
        });
        (script, seen)
    }

    async fn play(script: Arc<Script>, key: String) -> Action {
        script.calls.fetch_add(1, Ordering::SeqCst);
        let action = script
            .actions
            .lock()
            .expect("lock")
            .pop()
            .unwrap_or(Action::AwaitChange);
        let _ = script.done.send((key, Instant::now()));
        action
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_and_a_success_resets_the_count() {
        let scheduler = Arc::new(Scheduler::default());
        let policy = BackoffPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
        };
        let runner = Arc::new(Runner::new(Arc::clone(&scheduler), 2, policy));
        let (target, mut seen) = script(vec![
            Action::Retry,
            Action::Retry,
            Action::Requeue(Duration::from_secs(30)),
            Action::AwaitChange,
        ]);
        let _task = Arc::clone(&runner).spawn(Arc::downgrade(&target), play);
        scheduler.schedule_now("g");
        let (_, first) = seen.recv().await.expect("first");
        let (_, second) = seen.recv().await.expect("second");
        let (_, third) = seen.recv().await.expect("third");
        let (_, fourth) = seen.recv().await.expect("fourth");
        let wait = |a: Instant, b: Instant| b - a;
        assert!(wait(first, second) >= Duration::from_millis(500));
        assert!(wait(first, second) <= Duration::from_secs(1));
        assert!(wait(second, third) >= Duration::from_secs(1));
        assert!(wait(second, third) <= Duration::from_secs(2));
        assert_eq!(wait(third, fourth), Duration::from_secs(30));
        assert_eq!(runner.failures("g"), 0);
        while runner.counts().reconciles < 4 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            runner.counts(),
            RunCounts {
                reconciles: 4,
                retries: 2,
                running: 0,
                backing_off: 0
            }
        );
        assert!(scheduler.is_empty(), "AwaitChange schedules nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_up_during_a_reconcile_runs_it_once_more_after() {
        let scheduler = Arc::new(Scheduler::default());
        let runner = Arc::new(Runner::new(
            Arc::clone(&scheduler),
            1,
            BackoffPolicy::default(),
        ));
        let (gate_open, gate) = tokio::sync::watch::channel(false);
        let calls = Arc::new(AtomicU32::new(0));
        let target = Arc::new(());
        let _task = {
            let calls = Arc::clone(&calls);
            Arc::clone(&runner).spawn(Arc::downgrade(&target), move |_, _| {
                let calls = Arc::clone(&calls);
                let mut gate = gate.clone();
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let _ = gate.wait_for(|open| *open).await;
                    Action::AwaitChange
                }
            })
        };
        scheduler.schedule_now("g");
        while !runner.is_active("g") {
            tokio::task::yield_now().await;
        }
        scheduler.schedule_now("g");
        scheduler.schedule_now("g");
        while scheduler.due("g").is_some() {
            tokio::task::yield_now().await;
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "never two at once");
        gate_open.send(true).expect("open");
        while calls.load(Ordering::SeqCst) < 2 || runner.is_active("g") {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            2,
            "the two wake-ups were merged"
        );
    }

    #[tokio::test]
    async fn the_concurrency_grows_at_once_and_shrinks_as_reconciles_end() {
        let runner = Runner::new(Arc::new(Scheduler::default()), 2, BackoffPolicy::default());
        runner.resize(2, 4);
        assert_eq!(runner.available(), 4);
        // Two run: of the three permits to give up, two are free now, one follows.
        let first = Arc::clone(&runner.limit)
            .acquire_owned()
            .await
            .expect("a permit");
        let second = Arc::clone(&runner.limit)
            .acquire_owned()
            .await
            .expect("a permit");
        runner.resize(4, 1);
        assert_eq!(runner.available(), 0);
        runner.release(first);
        assert_eq!(runner.available(), 0, "the first one back is given up");
        runner.release(second);
        assert_eq!(runner.available(), 1);
    }
}
