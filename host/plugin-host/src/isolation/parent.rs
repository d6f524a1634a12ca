//! The daemon's side of a plugin in its own process: starts `smo plugin host FILE` and sends
//! each call with an id; the callers read the answers themselves, one at a time, each handing on
//! the answers that are not its own (so a lone call is answered without a thread in between). A
//! process that ends fails the calls in flight and is started again at the next call, after a
//! backoff that doubles with each crash in a row; a call past its deadline kills it
//! ([`IsolatedPlugin::kill`]).

use super::protocol::{read_frame, write_frame, Answer, Call, Hello};
use super::Limits;
use crate::loader::json_strategy::JsonCalls;
use crate::loader::PluginInfo;
use smo_plugin_api::{ErrorKind, PluginError};
use std::collections::HashMap;
use std::io::{BufReader, BufWriter};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a new process may take to load the plugin and say hello.
const HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// The wait before the first restart after a crash, doubled with each crash in a row.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The answers read but not yet taken, and whether a caller is reading.
#[derive(Default)]
struct Mailbox {
    answers: HashMap<u64, Answer>,
    reading: bool,
    /// The process's output ended: no answer will come.
    closed: bool,
}

/// One running process of the plugin.
struct Running {
    child: Mutex<Child>,
    stdin: Mutex<BufWriter<ChildStdin>>,
    stdout: Mutex<BufReader<ChildStdout>>,
    mailbox: Mutex<Mailbox>,
    /// Signalled when an answer is put in the mailbox, reading stops, or the output ends.
    posted: Condvar,
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
        let call = Call {
            id,
            kind: kind.to_owned(),
            strategy: strategy.to_owned(),
            params: params.to_owned(),
            request: request.to_owned(),
        };
        let sent = write_frame(&mut *lock(&running.stdin), &call).is_ok();
        match sent.then(|| running.answer(id)).flatten() {
            Some(Answer { result, .. }) => {
                lock(&self.restarts).crashes_in_a_row = 0;
                result.map_err(|(kind, message)| PluginError::new(ErrorKind(kind), message))
            }
            None => {
                if !sent {
                    running.end("its input is closed");
                }
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
        lock(&self.mailbox).closed = true;
        self.posted.notify_all();
    }

    /// The answer to call `id`: read by this caller when no other reads, else waited for;
    /// `None` when the process's output ends first.
    fn answer(&self, id: u64) -> Option<Answer> {
        let mut mailbox = lock(&self.mailbox);
        loop {
            if let Some(answer) = mailbox.answers.remove(&id) {
                return Some(answer);
            }
            if mailbox.closed {
                return None;
            }
            if mailbox.reading {
                mailbox = self
                    .posted
                    .wait(mailbox)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            mailbox.reading = true;
            drop(mailbox);
            let read = read_frame::<Answer>(&mut *lock(&self.stdout));
            mailbox = lock(&self.mailbox);
            mailbox.reading = false;
            match read {
                Ok(Some(answer)) if answer.id == id => {
                    drop(mailbox);
                    // Another caller may read now.
                    self.posted.notify_all();
                    return Some(answer);
                }
                Ok(Some(answer)) => {
                    mailbox.answers.insert(answer.id, answer);
                }
                Ok(None) | Err(_) => {
                    drop(mailbox);
                    self.end("its output ended");
                    mailbox = lock(&self.mailbox);
                }
            }
            self.posted.notify_all();
        }
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
    // The hello is read on a thread of its own, so that a process that never says it is ready
    // is waited for only so long.
    let (hello_sent, hello) = mpsc::channel();
    std::thread::Builder::new()
        .name("smo-plugin-host-hello".into())
        .spawn(move || {
            let mut output = BufReader::new(stdout);
            let first = read_frame::<Hello>(&mut output);
            // Nobody waiting any more is fine.
            let _ = hello_sent.send((first, output));
        })
        .map_err(|e| format!("cannot start the hello thread: {e}"))?;
    let received = hello.recv_timeout(HELLO_DEADLINE);
    let child = Mutex::new(child);
    let refuse = |child: &Mutex<Child>, what: &str| {
        let mut child = lock(child);
        let _ = child.kill();
        match child.wait() {
            Ok(status) => format!("{what} ({})", describe(status)),
            Err(_) => what.to_owned(),
        }
    };
    match received {
        Ok((Ok(Some(Hello::Ready { info, sandbox })), output)) => {
            let running = Arc::new(Running {
                child,
                stdin: Mutex::new(BufWriter::new(stdin)),
                stdout: Mutex::new(output),
                mailbox: Mutex::new(Mailbox::default()),
                posted: Condvar::new(),
                ended: Mutex::new(None),
                killed: std::sync::atomic::AtomicBool::new(false),
            });
            Ok((running, info, sandbox))
        }
        Ok((Ok(Some(Hello::Failed { error })), _)) => {
            refuse(&child, "it could not load the plugin");
            Err(error)
        }
        Ok((Ok(None) | Err(_), _)) => Err(refuse(
            &child,
            "the plugin host ended before it said it was ready",
        )),
        Err(_) => Err(refuse(
            &child,
            "the plugin host did not say it was ready in time",
        )),
    }
}
