//! The applier's scheduler: when each graph is next due for a reconcile. One entry a graph, so
//! wake-ups are de-duplicated (a second one keeps the earlier time); handed out in time order.
//!
//! One consumer (the runner) waits in [`Scheduler::next`]; any number of producers schedule.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Default)]
struct Queue {
    due: HashMap<String, Instant>,
    order: BTreeSet<(Instant, String)>,
}

/// Graphs by the time they are due (see the module documentation).
#[derive(Debug, Default)]
pub struct Scheduler {
    queue: Mutex<Queue>,
    changed: Notify,
}

impl Scheduler {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `key` due at `at`, unless it is already due earlier. Returns whether the schedule
    /// changed.
    pub fn schedule(&self, key: &str, at: Instant) -> bool {
        {
            let mut queue = self.lock();
            match queue.due.get(key) {
                Some(existing) if *existing <= at => return false,
                Some(existing) => {
                    let existing = *existing;
                    queue.order.remove(&(existing, key.to_owned()));
                }
                None => {}
            }
            queue.due.insert(key.to_owned(), at);
            queue.order.insert((at, key.to_owned()));
        }
        self.changed.notify_one();
        true
    }

    /// Makes `key` due now.
    pub fn schedule_now(&self, key: &str) -> bool {
        self.schedule(key, Instant::now())
    }

    /// Forgets `key`'s entry, if any.
    pub fn cancel(&self, key: &str) {
        let mut queue = self.lock();
        if let Some(at) = queue.due.remove(key) {
            queue.order.remove(&(at, key.to_owned()));
        }
    }

    /// Entries waiting.
    pub fn len(&self) -> usize {
        self.lock().due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When `key` is due, if it is scheduled.
    pub fn due(&self, key: &str) -> Option<Instant> {
        self.lock().due.get(key).copied()
    }

    /// Takes the earliest entry once it is due, waiting for it (or for one to be scheduled).
    pub async fn next(&self) -> String {
        loop {
            let earliest = {
                let mut queue = self.lock();
                match queue.order.first().cloned() {
                    Some((at, key)) if at <= Instant::now() => {
                        queue.order.remove(&(at, key.clone()));
                        queue.due.remove(&key);
                        return key;
                    }
                    other => other.map(|(at, _)| at),
                }
            };
            // A schedule() between the check and the wait leaves a permit in `changed`, so
            // this wait returns at once: no wake-up is lost.
            match earliest {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.changed.notified() => {}
                    }
                }
                None => self.changed.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn wake_ups_of_one_graph_are_merged_into_the_earliest() {
        let scheduler = Scheduler::default();
        let now = Instant::now();
        assert!(scheduler.schedule("a", now + Duration::from_secs(10)));
        assert!(scheduler.schedule("a", now + Duration::from_secs(5)));
        assert!(!scheduler.schedule("a", now + Duration::from_secs(7)));
        assert_eq!(scheduler.len(), 1);
        assert_eq!(scheduler.due("a"), Some(now + Duration::from_secs(5)));
        assert_eq!(scheduler.next().await, "a");
        assert_eq!(Instant::now(), now + Duration::from_secs(5));
        assert!(scheduler.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn entries_come_out_in_time_order_and_a_cancelled_one_never() {
        let scheduler = Scheduler::default();
        let now = Instant::now();
        scheduler.schedule("late", now + Duration::from_secs(3));
        scheduler.schedule("gone", now + Duration::from_secs(1));
        scheduler.schedule("early", now + Duration::from_secs(2));
        scheduler.cancel("gone");
        assert_eq!(scheduler.next().await, "early");
        assert_eq!(scheduler.next().await, "late");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_consumer_sees_an_earlier_entry_scheduled_while_it_waits() {
        let scheduler = std::sync::Arc::new(Scheduler::default());
        let start = Instant::now();
        scheduler.schedule("later", start + Duration::from_secs(60));
        let waiter = {
            let scheduler = std::sync::Arc::clone(&scheduler);
            tokio::spawn(async move { scheduler.next().await })
        };
        tokio::task::yield_now().await;
        scheduler.schedule_now("now");
        assert_eq!(waiter.await.expect("joins"), "now");
        assert!(Instant::now() < start + Duration::from_secs(60));
    }
}
