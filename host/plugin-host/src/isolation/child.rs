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
    let instances: Arc<Instances> = Arc::default();
    let mut input = BufReader::new(std::io::stdin());
    while let Some(call) =
        read_frame::<Call>(&mut input).map_err(|e| format!("unreadable call: {e}"))?
    {
        let (image, instances, stdout) =
            (image.clone(), Arc::clone(&instances), Arc::clone(&stdout));
        std::thread::spawn(move || {
            let result =
                answer(&image, &instances, &call).map_err(|e| (e.kind.0, e.message.to_string()));
            let mut out = stdout.lock().unwrap_or_else(PoisonError::into_inner);
            // The daemon gone: nothing to tell.
            let _ = write_frame(
                &mut *out,
                &Answer {
                    id: call.id,
                    result,
                },
            );
            let _ = out.flush();
        });
    }
    Ok(())
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
