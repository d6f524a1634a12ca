//! Loads a staged plugin image into this process and reads its metadata: the only place that
//! opens shared libraries. Two kinds, told apart by what the file exports: an abi_stable root
//! module ([`rust_abi`]) or the plain C ABI of `smo_plugin.h` ([`c_abi`], with its strategy
//! objects in [`json_strategy`]); or either kind in a process of its own
//! ([`crate::isolation`]), called with JSON too. Every failure becomes one line (details at debug).

pub mod c_abi;
pub mod json_strategy;
pub mod rust_abi;

use crate::error::PluginHostError;
use crate::registry::Instance;
use serde::{Deserialize, Serialize};
use smo_plugin_api::{PluginError, PluginModule_Ref, RStr};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Paths of the images mapped into this process (they are never unmapped). dlopen of a path
/// that is already mapped returns the same image, so each path counts once.
static MAPPED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn mapped() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    MAPPED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Number of distinct plugin images this process has mapped.
pub fn images_mapped() -> usize {
    mapped().as_ref().map_or(0, HashSet::len)
}

/// `true` when the image at `path` is already mapped (loading it again maps nothing new).
pub fn is_mapped(path: &Path) -> bool {
    mapped().as_ref().is_some_and(|m| m.contains(path))
}

fn mark_mapped(path: &Path) {
    mapped()
        .get_or_insert_with(HashSet::new)
        .insert(path.to_path_buf());
}

/// Which ABI a plugin speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum PluginAbi {
    /// The abi_stable root module of `smo-plugin-api` (Rust).
    #[default]
    Rust,
    /// The plain C ABI of `plugin-api/include/smo_plugin.h` (JSON in and out).
    C,
}

/// One strategy a plugin offers, host-side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StrategyDescription {
    pub name: String,
    pub kind: String,
    pub description: String,
}

/// A plugin's metadata, host-side (what `smo plugin check` prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    /// The `smo-plugin-api` version of a Rust plugin; `c/<n>` for C ABI `n`.
    pub api_version: String,
    pub strategies: Vec<StrategyDescription>,
    pub panic_unwind: bool,
    /// Absent from what an older `smo plugin check` printed: Rust.
    #[serde(default)]
    pub abi: PluginAbi,
}

/// A loaded plugin image: what builds its strategy objects.
#[derive(Clone)]
pub enum LoadedImage {
    Rust(PluginModule_Ref),
    C(Arc<c_abi::CPlugin>),
    /// Loaded by a process of its own (`isolation = "process"`), not into this one.
    Isolated(Arc<crate::isolation::IsolatedPlugin>),
}

impl LoadedImage {
    /// The strategy `strategy` of `kind` (1 placement, 2 scaling, 3 migration) built with
    /// `params`. Runs plugin code for a Rust plugin: call it inside the guard.
    pub fn instance(
        &self,
        kind: u8,
        strategy: &str,
        params: &str,
    ) -> Result<Instance, PluginError> {
        match self {
            LoadedImage::Rust(module) => {
                let (name, params) = (RStr::from(strategy), RStr::from(params));
                match kind {
                    1 => (module.new_placement())(name, params)
                        .into_result()
                        .map(|s| Instance::Placement(Arc::new(s))),
                    2 => (module.new_scaling())(name, params)
                        .into_result()
                        .map(|s| Instance::Scaling(Arc::new(s))),
                    _ => (module.new_migration())(name, params)
                        .into_result()
                        .map(|s| Instance::Migration(Arc::new(s))),
                }
            }
            LoadedImage::C(plugin) => {
                let plugin: Arc<dyn json_strategy::JsonCalls> = plugin.clone();
                json_strategy::instance(&plugin, kind, strategy, params)
            }
            LoadedImage::Isolated(plugin) => {
                let plugin: Arc<dyn json_strategy::JsonCalls> = plugin.clone();
                json_strategy::instance(&plugin, kind, strategy, params)
            }
        }
    }
}

/// Loads the image at `path` (a staged copy) and returns it with its metadata.
///
/// Loading runs the library's initialisers: call it only on files the probe accepted.
pub fn load(path: &Path) -> Result<(LoadedImage, PluginInfo), PluginHostError> {
    let _span = tracing::debug_span!("load_plugin", file = %path.display()).entered();
    if let Some((module, info)) = rust_abi::load(path)? {
        return Ok((LoadedImage::Rust(module), info));
    }
    match c_abi::load(path)? {
        Some((plugin, info)) => Ok((LoadedImage::C(plugin), info)),
        None => Err(PluginHostError::Load {
            file: path.to_path_buf(),
            message: "not an smo plugin: it exports neither an smo root module (Rust: build it \
                      with smo_plugin_api::export_plugin!) nor smo_plugin_abi_version (C: \
                      implement plugin-api/include/smo_plugin.h)"
                .into(),
        }),
    }
}

fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(joined, 300)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
