//! `smo plugin host FILE`: the plugin's own process. It confines itself, loads the plugin (either
//! kind), says hello, then answers each call on a thread of its own until its stdin closes.

use super::protocol::{read_frame, write_frame, Answer, Call, Hello};
use super::Limits;
use crate::loader::{self, LoadedImage};
use crate::registry::Instance;
use smo_plugin_api::{MigrationRequest, PlacementRequest, PluginError, ScalingRequest};
use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The strategy objects built so far, by kind, strategy and parameters.
type Instances = Mutex<HashMap<(String, String, String), Instance>>;

/// Serves the plugin `file` over stdin and stdout; returns when the daemon closes stdin.
pub fn serve(file: &Path, limits: &Limits) -> Result<(), String> {
    let stdout = Arc::new(Mutex::new(BufWriter::new(std::io::stdout())));
    let send = |message: &Hello| {
        let mut out = stdout.lock().unwrap_or_else(PoisonError::into_inner);
        write_frame(&mut *out, message).map_err(|e| format!("cannot answer the daemon: {e}"))
    };
    let loaded = confine_and_load(file, limits);
    let (image, sandbox) = match loaded {
        Ok((image, info, sandbox)) => {
            send(&Hello::Ready {
                info,
                sandbox: sandbox.clone(),
            })?;
            (image, sandbox)
        }
        Err(error) => {
            send(&Hello::Failed {
                error: error.clone(),
            })?;
            return Err(error);
        }
    };
    tracing::debug!(%sandbox, file = %file.display(), "plugin host ready");
    let workers = Arc::new(Workers {
        image,
        instances: Arc::default(),
        stdout,
        input: Mutex::new(BufReader::new(std::io::stdin())),
        ready: AtomicUsize::new(0),
    });
    // Leaders and followers: the thread that reads a call runs it, and the next one waiting
    // reads the call after, so no call is handed from thread to thread; a thread is started
    // only when every one is busy. The process ends when the daemon closes stdin.
    workers.start_one();
    loop {
        std::thread::park();
    }
}

/// The threads that read and run calls.
struct Workers {
    image: LoadedImage,
    instances: Arc<Instances>,
    stdout: Arc<Mutex<BufWriter<std::io::Stdout>>>,
    input: Mutex<BufReader<std::io::Stdin>>,
    /// Threads waiting to read the next call (not running one).
    ready: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Workers {
    fn start_one(self: &Arc<Self>) {
        self.ready.fetch_add(1, Ordering::AcqRel);
        let workers = Arc::clone(self);
        std::thread::spawn(move || workers.work());
    }

    fn work(self: &Arc<Self>) {
        loop {
            let call = match read_frame::<Call>(&mut *lock(&self.input)) {
                Ok(Some(call)) => call,
                Ok(None) => std::process::exit(0),
                Err(error) => {
                    tracing::error!(%error, "unreadable call: the plugin host ends");
                    std::process::exit(1)
                }
            };
            if self.ready.fetch_sub(1, Ordering::AcqRel) == 1 {
                // The last reader took this call: one more for the next.
                self.start_one();
            }
            let result = answer(&self.image, &self.instances, &call)
                .map_err(|e| (e.kind.0, e.message.to_string()));
            {
                let mut out = lock(&self.stdout);
                // The daemon gone: nothing to tell.
                let _ = write_frame(
                    &mut *out,
                    &Answer {
                        id: call.id,
                        result,
                    },
                );
                let _ = out.flush();
            }
            self.ready.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn confine_and_load(
    file: &Path,
    limits: &Limits,
) -> Result<(LoadedImage, loader::PluginInfo, String), String> {
    let sandbox = super::sandbox::confine(limits)?;
    let (image, info) = loader::load(file).map_err(|e| e.to_string())?;
    Ok((image, info, sandbox))
}

/// Runs one call: the strategy object (built once per strategy and parameters), the request
/// read from JSON, the decision written as JSON.
fn answer(image: &LoadedImage, instances: &Instances, call: &Call) -> Result<String, PluginError> {
    let kind = match call.kind.as_str() {
        "placement" => 1,
        "scaling" => 2,
        "migration" => 3,
        other => return Err(PluginError::internal(format!("unknown kind `{other}`"))),
    };
    let key = (
        call.kind.clone(),
        call.strategy.clone(),
        call.params.clone(),
    );
    let found = instances
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .cloned();
    let instance = match found {
        Some(instance) => instance,
        None => {
            let built = image.instance(kind, &call.strategy, &call.params)?;
            instances
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key, built.clone());
            built
        }
    };
    let request_error = |e: serde_json::Error| {
        PluginError::internal(format!("the daemon's request could not be read: {e}"))
    };
    let json = |value: Result<String, serde_json::Error>| {
        value.map_err(|e| PluginError::internal(format!("the decision could not be written: {e}")))
    };
    match instance {
        Instance::Placement(strategy) => {
            let request: PlacementRequest =
                serde_json::from_str(&call.request).map_err(request_error)?;
            let decided = if request.current.is_some() {
                strategy.replace(&request)
            } else {
                strategy.place(&request)
            };
            json(serde_json::to_string(&decided.into_result()?))
        }
        Instance::Scaling(strategy) => {
            let request: ScalingRequest =
                serde_json::from_str(&call.request).map_err(request_error)?;
            json(serde_json::to_string(
                &strategy.scale(&request).into_result()?,
            ))
        }
        Instance::Migration(strategy) => {
            let request: MigrationRequest =
                serde_json::from_str(&call.request).map_err(request_error)?;
            json(serde_json::to_string(
                &strategy.plan(&request).into_result()?,
            ))
        }
    }
}
