//! The threads that run one plugin version's calls: started on demand up to its permit count,
//! kept while calls keep coming, ended when idle a while or when the version is retired.

use std::collections::VecDeque;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One call's work, run on a worker thread.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle worker waits for a call before its thread ends.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// How long a worker that just finished a call looks for the next one before it sleeps: a
/// caller that makes calls back to back then hands them over without waking a thread.
const SPIN: Duration = Duration::from_micros(50);

/// The worker threads of one plugin version. A call holds one of the version's permits while
/// it runs, so at most `limit` threads exist, and a hung call keeps only its own thread.
pub struct Workers {
    shared: Arc<Shared>,
}

struct Shared {
    /// Names the threads (`smo-plugin <name>`).
    name: String,
    limit: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Workers waiting for a call, each with the channel that hands it one (last idle first).
    idle: Vec<(u64, SyncSender<Job>)>,
    /// Calls that found no idle worker and no room for another thread: the next worker to
    /// finish takes them.
    queued: VecDeque<Job>,
    threads: usize,
    next_id: u64,
    closed: bool,
}

/// A call that cannot be run: the version was retired, or no thread could be started.
#[derive(Debug)]
pub struct Unavailable(pub String);

impl Workers {
    pub fn new(name: &str, limit: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                name: name.to_string(),
                limit: limit.max(1),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Hands `job` to an idle worker, or to a new one while fewer than the limit run, or queues
    /// it for the next worker that finishes.
    pub fn submit(&self, job: Job) -> Result<(), Unavailable> {
        let mut state = self.shared.lock();
        if state.closed {
            return Err(Unavailable("plugin version retired".into()));
        }
        let mut job = job;
        while let Some((_, idle)) = state.idle.pop() {
            match idle.try_send(job) {
                Ok(()) => return Ok(()),
                // That worker's thread is gone (it cannot be full: it gets one job at a time).
                Err(TrySendError::Disconnected(back)) | Err(TrySendError::Full(back)) => job = back,
            }
        }
        // No idle worker: the job waits in the queue, taken by a new thread while fewer than
        // the limit run, else by the next worker that finishes.
        state.queued.push_back(job);
        if state.threads < self.shared.limit {
            let id = state.next_id;
            state.next_id += 1;
            let shared = Arc::clone(&self.shared);
            let spawned = std::thread::Builder::new()
                .name(format!("smo-plugin {}", self.shared.name))
                .spawn(move || shared.work(id));
            match spawned {
                Ok(_) => state.threads += 1,
                Err(error) if state.threads == 0 => {
                    state.queued.clear();
                    return Err(Unavailable(error.to_string()));
                }
                Err(error) => {
                    tracing::warn!(plugin = %self.shared.name, %error, "cannot start another worker thread; the call waits for a running one")
                }
            }
        }
        Ok(())
    }

    /// Threads running now (busy or idle), for tests and diagnostics.
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        // Dropping the senders wakes the idle workers, which end.
        state.idle.clear();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A worker thread: runs the queued calls, then whatever it is handed, until idle for
    /// [`KEEP_ALIVE`] or the version is retired.
    fn work(&self, id: u64) {
        let mut handed: Option<Job> = None;
        loop {
            if let Some(job) = handed.take() {
                // The guard's jobs catch their own panics; one that does not must not take the
                // thread (and the count of threads) with it.
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                    tracing::error!(plugin = %self.name, "a call panicked on its worker thread");
                }
            }
            let receiver = {
                let mut state = self.lock();
                if let Some(next) = state.queued.pop_front() {
                    handed = Some(next);
                    continue;
                }
                if state.closed {
                    state.threads -= 1;
                    return;
                }
                let (sender, receiver) = mpsc::sync_channel(1);
                state.idle.push((id, sender));
                receiver
            };
            match self.wait(&receiver) {
                Some(next) => handed = Some(next),
                None => {
                    let mut state = self.lock();
                    // A call handed over between the timeout and the lock is still ours.
                    if let Ok(next) = receiver.try_recv() {
                        drop(state);
                        handed = Some(next);
                        continue;
                    }
                    state.idle.retain(|(worker, _)| *worker != id);
                    state.threads -= 1;
                    return;
                }
            }
        }
    }

    /// The next call handed to this idle worker: looked for briefly without sleeping, then
    /// waited for up to [`KEEP_ALIVE`]; `None` when none came or the version was retired.
    fn wait(&self, receiver: &mpsc::Receiver<Job>) -> Option<Job> {
        let spin_until = Instant::now() + SPIN;
        loop {
            match receiver.try_recv() {
                Ok(job) => return Some(job),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) if Instant::now() < spin_until => std::thread::yield_now(),
                Err(TryRecvError::Empty) => break,
            }
        }
        match receiver.recv_timeout(KEEP_ALIVE) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn calls_beyond_the_limit_wait_for_a_worker_and_all_run() {
        let workers = Workers::new("test", 2);
        let (started, starts) = channel();
        let (done, dones) = channel();
        let mut releases = Vec::new();
        for call in 0..8 {
            let (release, released) = channel::<()>();
            releases.push(release);
            let (started, done) = (started.clone(), done.clone());
            workers
                .submit(Box::new(move || {
                    started.send(call).expect("test alive");
                    let _ = released.recv();
                    done.send(call).expect("test alive");
                }))
                .expect("submitted");
        }
        // Two calls run, each on a thread of its own; the other six wait in the queue.
        let first = starts.recv_timeout(WAIT).expect("a call starts");
        let second = starts.recv_timeout(WAIT).expect("a second call starts");
        assert_eq!(workers.threads(), 2);
        assert_eq!(workers.shared.lock().queued.len(), 6);
        assert_eq!((first.min(second), first.max(second)), (0, 1));
        drop(releases);
        let mut finished: Vec<i32> = (0..8)
            .map(|_| dones.recv_timeout(WAIT).expect("every call ends"))
            .collect();
        finished.sort_unstable();
        assert_eq!(finished, (0..8).collect::<Vec<_>>());
        assert_eq!(workers.threads(), 2);
    }

    #[test]
    fn a_hung_call_keeps_only_its_own_thread() {
        let workers = Workers::new("test", 2);
        let (hang_forever, hung) = channel::<()>();
        workers
            .submit(Box::new(move || {
                let _ = hung.recv();
            }))
            .expect("submitted");
        for _ in 0..20 {
            let (answer, answered) = channel();
            workers
                .submit(Box::new(move || answer.send(()).expect("test alive")))
                .expect("submitted");
            answered
                .recv_timeout(WAIT)
                .expect("the other worker answers");
        }
        assert_eq!(workers.threads(), 2);
        drop(hang_forever);
    }

    thread_local! {
        static ON_EXIT: std::cell::RefCell<Option<ExitSignal>> = const { std::cell::RefCell::new(None) };
    }

    /// Sends when the thread that holds it ends.
    struct ExitSignal(mpsc::Sender<()>);

    impl Drop for ExitSignal {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    #[test]
    fn retiring_the_version_ends_its_idle_workers() {
        let workers = Workers::new("test", 2);
        let (exit, exited) = channel();
        let (answer, answered) = channel();
        workers
            .submit(Box::new(move || {
                ON_EXIT.with(|slot| *slot.borrow_mut() = Some(ExitSignal(exit)));
                answer.send(()).expect("test alive");
            }))
            .expect("submitted");
        answered.recv_timeout(WAIT).expect("the call runs");
        drop(workers);
        exited
            .recv_timeout(WAIT)
            .expect("the worker thread ends once the version is retired");
    }

    #[test]
    fn a_retired_version_takes_no_calls() {
        let workers = Workers::new("test", 1);
        workers.shared.lock().closed = true;
        assert!(workers.submit(Box::new(|| {})).is_err());
    }
}
