//! The daemon's side of a plugin in its own process: starts `smo plugin host FILE`, sends each
//! call with an id and hands the answer to the thread waiting for it. A process that ends fails
//! the calls in flight and is started again at the next call, after a backoff that doubles with
//! each crash in a row; a call past its deadline kills it ([`IsolatedPlugin::kill`]).

use super::protocol::{read_frame, write_frame, Answer, Call, Hello};
use super::Limits;
use crate::loader::json_strategy::JsonCalls;
use crate::loader::PluginInfo;
use smo_plugin_api::{ErrorKind, PluginError};
use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a new process may take to load the plugin and say hello.
const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// The wait before the first restart after a crash, doubled with each crash in a row.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

type Waiters = Mutex<HashMap<u64, mpsc::Sender<Answer>>>;

/// One running process of the plugin.
struct Running {
    child: Mutex<Child>,
    stdin: Mutex<BufWriter<ChildStdin>>,
    waiters: Waiters,
    /// How the process ended, once it has.
    ended: Mutex<Option<String>>,
    /// Killed by the daemon (a call past its deadline), not crashed: no backoff.
    killed: std::sync::atomic::AtomicBool,
}

/// When the process may be started again.
#[derive(Default)]
struct Restarts {
    crashes_in_a_row: u32,
    not_before: Option<Instant>,
}

/// A plugin served by its own process (see the module documentation).
pub struct IsolatedPlugin {
    exe: PathBuf,
    file: PathBuf,
    limits: Limits,
    info: PluginInfo,
    /// How the first process was confined (each is confined alike).
    sandbox: String,
    running: Mutex<Option<Arc<Running>>>,
    restarts: Mutex<Restarts>,
    next_id: AtomicU64,
    /// Processes started so far (the first included).
    starts: AtomicU64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl IsolatedPlugin {
    /// Starts the plugin `file` in a process of its own (`exe plugin host FILE`) and waits for
    /// it to load; the error is the child's, or why it could not start.
    pub fn start(exe: PathBuf, file: PathBuf, limits: Limits) -> Result<Arc<Self>, String> {
        let (running, info, sandbox) = spawn(&exe, &file, &limits)?;
        tracing::info!(plugin = %info.name, version = %info.version, pid = running.pid(), %sandbox, "plugin process started");
        Ok(Arc::new(Self {
            exe,
            file,
            limits,
            info,
            sandbox,
            running: Mutex::new(Some(running)),
            restarts: Mutex::new(Restarts::default()),
            next_id: AtomicU64::new(1),
            starts: AtomicU64::new(1),
        }))
    }

    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// How its process is confined ("memory 2048 MiB, 256 open files, landlock: ...").
    pub fn sandbox(&self) -> &str {
        &self.sandbox
    }

    /// The process serving now, if one runs.
    pub fn pid(&self) -> Option<u32> {
        lock(&self.running)
            .as_ref()
            .filter(|r| lock(&r.ended).is_none())
            .map(|r| r.pid())
    }

    /// Processes started so far.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::Relaxed)
    }

    /// Kills the process (a call passed its deadline): the calls in flight fail, the next call
    /// starts a new one.
    pub fn kill(&self, why: &str) {
        if let Some(running) = lock(&self.running).take() {
            tracing::warn!(plugin = %self.info.name, pid = running.pid(), why, "killing the plugin's process");
            running.killed.store(true, Ordering::Relaxed);
            running.end(why);
        }
    }

    /// The running process, started (again) when there is none and the backoff allows.
    fn connection(&self) -> Result<Arc<Running>, PluginError> {
        let mut running = lock(&self.running);
        if let Some(current) = running.as_ref() {
            if lock(&current.ended).is_none() {
                return Ok(Arc::clone(current));
            }
        }
        *running = None;
        if let Some(at) = lock(&self.restarts).not_before {
            let now = Instant::now();
            if at > now {
                return Err(PluginError::internal(format!(
                    "its process ended; restarting in {} ms",
                    (at - now).as_millis()
                )));
            }
        }
        let (started, _, _) =
            spawn(&self.exe, &self.file, &self.limits).map_err(PluginError::internal)?;
        self.starts.fetch_add(1, Ordering::Relaxed);
        tracing::info!(plugin = %self.info.name, pid = started.pid(), "plugin process restarted");
        *running = Some(Arc::clone(&started));
        Ok(started)
    }

    /// The process ended under a call: the next start waits.
    fn crashed(&self) {
        let mut restarts = lock(&self.restarts);
        restarts.crashes_in_a_row = restarts.crashes_in_a_row.saturating_add(1);
        let doubling =
            BACKOFF_BASE.saturating_mul(1 << restarts.crashes_in_a_row.min(16).saturating_sub(1));
        restarts.not_before = Some(Instant::now() + doubling.min(BACKOFF_MAX));
    }
}

impl JsonCalls for IsolatedPlugin {
    fn name(&self) -> &str {
        &self.info.name
    }

    fn offers(&self, kind: &str, name: &str) -> bool {
        self.info
            .strategies
            .iter()
            .any(|s| s.kind == kind && s.name == name)
    }

    fn call(
        &self,
        kind: &str,
        strategy: &str,
        params: &str,
        request: &str,
    ) -> Result<String, PluginError> {
        let running = self.connection()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = mpsc::channel();
        lock(&running.waiters).insert(id, answer);
        let call = Call {
            id,
            kind: kind.to_owned(),
            strategy: strategy.to_owned(),
            params: params.to_owned(),
            request: request.to_owned(),
        };
        let sent = write_frame(&mut *lock(&running.stdin), &call);
        if sent.is_err() {
            lock(&running.waiters).remove(&id);
        }
        match answered.recv() {
            Ok(Answer { result, .. }) => {
                lock(&self.restarts).crashes_in_a_row = 0;
                result.map_err(|(kind, message)| PluginError::new(ErrorKind(kind), message))
            }
            Err(_) => {
                let how = lock(&running.ended)
                    .clone()
                    .unwrap_or_else(|| "its process stopped answering".to_owned());
                if !running.killed.load(Ordering::Relaxed) {
                    self.crashed();
                }
                Err(PluginError::internal(format!(
                    "the plugin's process ended during the call ({how})"
                )))
            }
        }
    }
}

impl Drop for IsolatedPlugin {
    fn drop(&mut self) {
        // No call is in flight: each holds the registry entry that holds this.
        if let Some(running) = lock(&self.running).take() {
            running.end("the plugin version was replaced or the daemon stops");
        }
    }
}

impl Running {
    fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// Kills the process, waits for it, and fails every call still waiting.
    fn end(&self, why: &str) {
        let mut child = lock(&self.child);
        // Already gone is fine.
        let _ = child.kill();
        let status = child.wait();
        drop(child);
        let mut ended = lock(&self.ended);
        if ended.is_none() {
            *ended = Some(match status {
                Ok(status) => format!("{why}; {}", describe(status)),
                Err(_) => why.to_owned(),
            });
        }
        drop(ended);
        lock(&self.waiters).clear();
    }
}

/// "exited with 1", "killed by signal 11 (SIGSEGV)".
fn describe(status: std::process::ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with {code}"),
        (None, Some(signal)) => format!(
            "killed by signal {signal}{}",
            match signal {
                6 => " (SIGABRT)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                7 => " (SIGBUS)",
                24 => " (SIGXCPU: CPU time limit)",
                _ => "",
            }
        ),
        _ => status.to_string(),
    }
}

/// Starts one process, reads its hello, and starts the thread that hands answers out.
fn spawn(
    exe: &PathBuf,
    file: &PathBuf,
    limits: &Limits,
) -> Result<(Arc<Running>, PluginInfo, String), String> {
    let mut child = Command::new(exe)
        .args(["plugin", "host"])
        .arg(file)
        .args(limits.to_args())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {} plugin host: {e}", exe.display()))?;
    let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
        (Some(stdin), Some(stdout)) => (stdin, stdout),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the plugin host's pipes could not be opened".into());
        }
    };
    let running = Arc::new(Running {
        child: Mutex::new(child),
        stdin: Mutex::new(BufWriter::new(stdin)),
        waiters: Mutex::new(HashMap::new()),
        ended: Mutex::new(None),
        killed: std::sync::atomic::AtomicBool::new(false),
    });
    let (hello_sent, hello) = mpsc::channel();
    let reader = Arc::clone(&running);
    std::thread::Builder::new()
        .name("smo-plugin-host-reader".into())
        .spawn(move || read_answers(&reader, stdout, hello_sent))
        .map_err(|e| format!("cannot start the reader thread: {e}"))?;
    match hello.recv_timeout(HELLO_DEADLINE) {
        Ok(Hello::Ready { info, sandbox }) => Ok((running, info, sandbox)),
        Ok(Hello::Failed { error }) => {
            running.end("it could not load the plugin");
            Err(error)
        }
        Err(_) => {
            running.end("it did not load the plugin in time");
            let how = lock(&running.ended).clone().unwrap_or_default();
            Err(format!("the plugin host did not say it was ready ({how})"))
        }
    }
}

/// The reader thread: the hello, then every answer to its waiter; at the end of the stream the
/// process is reaped and the waiters fail.
fn read_answers(running: &Running, stdout: std::process::ChildStdout, hello: mpsc::Sender<Hello>) {
    let mut input = BufReader::new(stdout);
    if let Ok(Some(first)) = read_frame::<Hello>(&mut input) {
        // Nobody waiting any more is fine.
        let _ = hello.send(first);
        while let Ok(Some(answer)) = read_frame::<Answer>(&mut input) {
            let waiter = lock(&running.waiters).remove(&answer.id);
            if let Some(waiter) = waiter {
                let _ = waiter.send(answer);
            }
        }
    }
    drop(hello);
    running.end("its output ended");
}
