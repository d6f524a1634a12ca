//! The connection to the Karmada API server: a kube client from a kubeconfig file (and context),
//! or inferred (in-cluster when smo runs as a pod, else `$KUBECONFIG` / `~/.kube/config`).

use std::hash::{Hash, Hasher};
use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// A client for the API server `kubeconfig` (or the inferred one) names, in `context`.
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client, String> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("backend.karmada.kubeconfig {}: {e}", path.display()))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| format!("backend.karmada.kubeconfig {}: {e}", path.display()))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("backend.karmada.context: {e}"))?,
        None => Config::infer().await.map_err(|e| {
            format!("backend.karmada: no kubeconfig given and none could be inferred: {e}")
        })?,
    };
    // The applier's backoff is the one retry policy: every attempt is seen and recorded.
    let mut config = config;
    config.default_retry = false;
    Client::try_from(config).map_err(|e| format!("backend.karmada: cannot build the client: {e}"))
}

/// A fingerprint of the kubeconfig a connection reads (the file `kubeconfig`, else
/// `$KUBECONFIG` or `~/.kube/config`), so that a reload can tell a rotated credential from an
/// unchanged file; `None` when there is none to read (in-cluster: its token file is re-read by
/// the client itself).
pub fn kubeconfig_fingerprint(kubeconfig: Option<&Path>) -> Option<u64> {
    let file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok()?,
        None => Kubeconfig::read().ok()?,
    };
    let text = serde_json::to_string(&file).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    Some(hasher.finish())
}
