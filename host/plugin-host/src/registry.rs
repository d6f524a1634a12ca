//! The set of plugins the daemon serves from, swapped atomically on reload.
//! Startup keeps every good file and lists the bad ones; a reload is all-or-nothing.

use super::catalog::{self, Origin};
use super::error::PluginHostError;
use super::isolation::{self, Isolation, IsolationPolicy};
use super::loader::{self, LoadedImage, PluginInfo};
use super::metrics::{CallMetrics, ReloadCounts};
use super::permissions;
use super::probe::{self, ProbeConfig};
use super::staging::{self, StagedFile};
use super::stats::{PluginStats, StatsSnapshot};
use arc_swap::ArcSwap;
use serde::Serialize;
use smo_plugin_api::{MigrationStrategyBox, PlacementStrategyBox, PluginError, ScalingStrategyBox};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tracing::Instrument;

/// Where plugins come from and the limits the registry enforces.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The operators' plugin directory (`/var/lib/smo/plugins`): watched, and a plugin here
    /// overrides a shipped one of the same name.
    pub plugin_dir: PathBuf,
    /// The package's plugins (`/usr/lib/smo/plugins`), scanned with `plugin_dir` at start and at
    /// every reload; `None`, or a directory that does not exist, ships nothing.
    pub system_plugin_dir: Option<PathBuf>,
    /// Private copies are loaded from here (must not be a `noexec` mount).
    pub staging_dir: PathBuf,
    pub probe: ProbeConfig,
    /// Most plugin images this process may map before reloads are refused.
    pub max_images: usize,
    /// Concurrent calls allowed into one plugin version.
    pub max_concurrent_calls: usize,
    /// Load plugin files that other users may write (or that sit in a directory they may
    /// write), with a warning, instead of refusing them.
    pub allow_insecure_permissions: bool,
    /// Which plugins run in a process of their own, and its limits.
    pub isolation: IsolationPolicy,
}

impl RegistryConfig {
    /// Defaults for a plugin directory and a state directory.
    pub fn new(plugin_dir: &Path, state_dir: &Path, probe_exe: PathBuf) -> Self {
        Self {
            plugin_dir: plugin_dir.to_path_buf(),
            system_plugin_dir: None,
            staging_dir: state_dir.join("plugins-loaded"),
            probe: ProbeConfig {
                exe: probe_exe,
                timeout: Duration::from_secs(10),
            },
            max_images: 64,
            max_concurrent_calls: 4,
            allow_insecure_permissions: false,
            isolation: IsolationPolicy::default(),
        }
    }
}

type InstanceKey = (u8, String, String);

/// A built strategy object, shared by the calls that use it.
#[derive(Clone)]
pub enum Instance {
    Placement(Arc<PlacementStrategyBox>),
    Scaling(Arc<ScalingStrategyBox>),
    Migration(Arc<MigrationStrategyBox>),
}

/// One plugin version: its probed metadata, its staged file, and (once used) its loaded image.
pub struct PluginEntry {
    pub info: PluginInfo,
    pub file: StagedFile,
    /// Registry generation in which this version became active.
    pub since_generation: u64,
    pub stats: Arc<PluginStats>,
    /// Calls per strategy, by outcome, with their latency (for `/metrics`).
    pub calls: CallMetrics,
    pub permits: Arc<Semaphore>,
    /// The threads that run this version's calls (as many as its permits at most).
    pub workers: crate::guard::Workers,
    max_images: usize,
    /// Where it runs, and the `smo` binary that serves it when in a process of its own.
    isolation: IsolationPolicy,
    exe: PathBuf,
    image: OnceLock<Result<LoadedImage, String>>,
    instances: Mutex<HashMap<InstanceKey, Instance>>,
}

impl PluginEntry {
    fn new(info: PluginInfo, file: StagedFile, generation: u64, config: &RegistryConfig) -> Self {
        Self {
            calls: CallMetrics::new(info.strategies.iter().map(|s| s.name.as_str())),
            workers: crate::guard::Workers::new(&info.name, config.max_concurrent_calls),
            info,
            file,
            since_generation: generation,
            stats: Arc::new(PluginStats::default()),
            permits: Arc::new(Semaphore::new(config.max_concurrent_calls.max(1))),
            max_images: config.max_images,
            isolation: config.isolation.clone(),
            exe: config.probe.exe.clone(),
            image: OnceLock::new(),
            instances: Mutex::new(HashMap::new()),
        }
    }

    /// An entry whose image is never loaded, for tests of the guard (calls that do not touch
    /// the plugin).
    #[cfg(test)]
    pub(crate) fn unloaded(name: &str, max_concurrent_calls: usize) -> Arc<Self> {
        let mut config = RegistryConfig::new(
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            PathBuf::new(),
        );
        config.max_concurrent_calls = max_concurrent_calls;
        let info = PluginInfo {
            name: name.to_string(),
            version: "1.0.0".to_string(),
            api_version: "1.0.0".to_string(),
            strategies: Vec::new(),
            panic_unwind: true,
            abi: Default::default(),
        };
        let file = StagedFile {
            source: PathBuf::from("/nonexistent.so"),
            staged: PathBuf::from("/nonexistent.so"),
            sha256: String::new(),
            size: 0,
        };
        Arc::new(Self::new(info, file, 1, &config))
    }

    /// A call passed its deadline: a plugin in its own process is killed (which frees the
    /// call's thread; the next call starts a new process). In-process, nothing can be done.
    pub fn abandon(&self, why: &str) {
        if let Some(Ok(LoadedImage::Isolated(plugin))) = self.image.get() {
            plugin.kill(why);
        }
    }

    /// The plugin's own process, when it runs in one.
    pub fn isolated(&self) -> Option<&Arc<crate::isolation::IsolatedPlugin>> {
        match self.image.get() {
            Some(Ok(LoadedImage::Isolated(plugin))) => Some(plugin),
            _ => None,
        }
    }

    /// `true` once the image is loaded (mapped here, or by its own process).
    pub fn is_loaded(&self) -> bool {
        matches!(self.image.get(), Some(Ok(_)))
    }

    /// The loaded image, loading it on first use. Blocking: call off the async threads.
    pub fn module(&self) -> Result<LoadedImage, String> {
        self.image
            .get_or_init(|| {
                let in_process = self.isolation.of(&self.info.name) == Isolation::InProcess;
                if in_process
                    && !loader::is_mapped(&self.file.staged)
                    && loader::images_mapped() >= self.max_images
                {
                    return Err(PluginHostError::TooManyImages {
                        images: loader::images_mapped(),
                        limit: self.max_images,
                    }
                    .to_string());
                }
                let (module, info) = isolation::load(
                    &self.file.staged,
                    &self.info.name,
                    &self.isolation,
                    &self.exe,
                )
                .map_err(|e| e.to_string())?;
                if info.name != self.info.name || info.version != self.info.version {
                    return Err(format!(
                        "{}: loaded {} {} but the probe saw {} {}",
                        self.file.staged.display(),
                        info.name,
                        info.version,
                        self.info.name,
                        self.info.version
                    ));
                }
                tracing::info!(plugin = %info.name, version = %info.version, file = %self.file.source.display(), "plugin image loaded");
                Ok(module)
            })
            .clone()
    }

    /// The strategy `strategy` of `kind` built with `params`, built once and then shared.
    /// Blocking (runs plugin code): call it inside the guard.
    pub fn instance(
        &self,
        kind: u8,
        strategy: &str,
        params: &str,
    ) -> Result<Instance, PluginError> {
        let key = (kind, strategy.to_string(), params.to_string());
        {
            let cache = self.instances.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(found) = cache.get(&key) {
                return Ok(found.clone());
            }
        }
        let built = self
            .module()
            .map_err(PluginError::internal)?
            .instance(kind, strategy, params)?;
        let mut cache = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        Ok(cache.entry(key).or_insert(built).clone())
    }

    /// `true` when the plugin declares a strategy `name` of kind `kind` ("placement", ...).
    pub fn offers(&self, kind: &str, name: &str) -> bool {
        self.info
            .strategies
            .iter()
            .any(|s| s.kind == kind && s.name == name)
    }
}

/// A file the registry refused, and why.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RejectedFile {
    pub file: PathBuf,
    pub sha256: Option<String>,
    pub error: String,
}

/// The plugins active at one generation.
pub struct ActiveSet {
    pub generation: u64,
    pub plugins: BTreeMap<String, Arc<PluginEntry>>,
    pub rejected: Vec<RejectedFile>,
    /// Shipped plugins not serving because the operators' directory has one of the same name.
    pub overridden: Vec<Arc<PluginEntry>>,
}

/// What a reload changed.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReloadReport {
    pub generation: u64,
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    pub rejected: Vec<RejectedFile>,
    /// What failed in this reload (new or changed files refused, new versions that would not
    /// load), one line each; files refused before and unchanged are only in `rejected`.
    pub failed: Vec<String>,
    /// Plugins whose file was replaced by one that was refused: the version already active keeps
    /// serving (`name version`).
    pub kept: Vec<String>,
    /// Shipped plugins that a plugin of the same name in the operators' directory overrides
    /// (`name: operators' file overrides the shipped file`).
    pub overridden: Vec<String>,
    pub images_mapped: usize,
    pub duration_ms: f64,
}

/// One row of `smo plugin list` / `GET /v1/plugins`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PluginListing {
    pub name: String,
    pub version: String,
    pub api_version: String,
    /// The ABI it speaks: "rust" (abi_stable) or "c" (smo_plugin.h).
    pub abi: super::loader::PluginAbi,
    /// Where it runs: "in_process", or "process" (its own, confined).
    pub isolation: Isolation,
    /// In its own process: the process serving now (none until the first call after a crash
    /// or a kill) and how many were started.
    pub process: Option<ProcessListing>,
    pub file: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
    /// "active" (mapped), "ready" (probed, loads on first use), or "failed".
    pub state: String,
    pub since_generation: u64,
    pub strategies: Vec<super::loader::StrategyDescription>,
    pub stats: StatsSnapshot,
    pub error: Option<String>,
}

/// A plugin's own process, as listed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProcessListing {
    pub pid: Option<u32>,
    pub starts: u64,
    /// Its limits and confinement.
    pub sandbox: String,
}

/// Registry-wide figures.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RegistryStatus {
    pub generation: u64,
    pub plugin_dir: PathBuf,
    /// The package's plugin directory, scanned too (absent: none).
    pub system_plugin_dir: Option<PathBuf>,
    pub images_mapped: usize,
    pub max_images: usize,
    pub resident_memory_bytes: Option<u64>,
    pub reloads: u64,
    pub plugins: Vec<PluginListing>,
    pub rejected: Vec<RejectedFile>,
    /// Shipped plugins hidden by one of the same name in the operators' directory (state
    /// "overridden").
    pub overridden: Vec<PluginListing>,
}

/// The plugin registry.
pub struct Registry {
    config: RegistryConfig,
    active: ArcSwap<ActiveSet>,
    reload_lock: tokio::sync::Mutex<()>,
    reloads: AtomicU64,
    reload_counts: ReloadCounts,
    /// Files [`Registry::find_missing`] probed and did not add (another plugin's, or refused),
    /// by content hash, with what the probe said: not probed again until a reload, which takes
    /// them all in (or lists them refused) and empties this.
    passed_over: Mutex<HashMap<String, Result<PluginInfo, String>>>,
}

impl Registry {
    /// A registry that has looked at no file yet: [`Registry::find_missing`] adds each plugin
    /// when it is first named. `smo simulate` starts so, and probes only the plugins its run
    /// calls.
    pub fn empty(config: RegistryConfig) -> Self {
        let empty = ActiveSet {
            generation: 0,
            plugins: BTreeMap::new(),
            rejected: Vec::new(),
            overridden: Vec::new(),
        };
        Self {
            config,
            active: ArcSwap::from_pointee(empty),
            reload_lock: tokio::sync::Mutex::new(()),
            reloads: AtomicU64::new(0),
            reload_counts: ReloadCounts::default(),
            passed_over: Mutex::new(HashMap::new()),
        }
    }

    /// Scans the plugin directory and keeps every file that passes the probe.
    pub async fn open(config: RegistryConfig) -> Result<Self, PluginHostError> {
        let registry = Self::empty(config);
        let (set, report) = registry.build(&registry.active.load()).await?;
        for r in &report.rejected {
            tracing::warn!(file = %r.file.display(), error = %r.error, "plugin rejected");
        }
        tracing::info!(
            plugins = set.plugins.len(),
            rejected = set.rejected.len(),
            overridden = set.overridden.len(),
            dir = %registry.config.plugin_dir.display(),
            shipped_dir = ?registry.config.system_plugin_dir,
            "plugin directories scanned"
        );
        registry.active.store(Arc::new(set));
        Ok(registry)
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// Reloads so far, by outcome (see [`ReloadCounts`]).
    pub fn reload_counts(&self) -> &ReloadCounts {
        &self.reload_counts
    }

    /// The active set (calls keep the `Arc` they got, so they finish on the version they began).
    pub fn active(&self) -> Arc<ActiveSet> {
        self.active.load_full()
    }

    /// The active entry of plugin `name`.
    pub fn entry(&self, name: &str) -> Result<Arc<PluginEntry>, PluginHostError> {
        let set = self.active.load();
        set.plugins
            .get(name)
            .cloned()
            .ok_or_else(|| PluginHostError::UnknownPlugin {
                name: name.to_string(),
                available: join_or_none(set.plugins.keys().cloned()),
                searched: self.searched(),
            })
    }

    /// The directories scanned, each with what it holds when that explains a missing plugin.
    fn searched(&self) -> String {
        let describe = |dir: &std::path::Path| {
            let state = match super::catalog::scan(dir) {
                Err(_) if !dir.exists() => " (missing)",
                Err(_) => " (unreadable)",
                Ok(files) if files.is_empty() => " (no plugin files)",
                Ok(_) => "",
            };
            format!("{}{state}", dir.display())
        };
        std::iter::once(self.config.plugin_dir.as_path())
            .chain(self.config.system_plugin_dir.as_deref())
            .map(describe)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Re-scans the directory and swaps in the new set, or changes nothing and says why.
    pub async fn reload(&self) -> Result<ReloadReport, PluginHostError> {
        let _serial = self.reload_lock.lock().await;
        let current = self.active.load_full();
        let built = self
            .build(&current)
            .instrument(tracing::info_span!(
                "plugin_reload",
                generation = current.generation + 1
            ))
            .await;
        let (set, report) = match built {
            Ok(built) => built,
            Err(error) => {
                self.reload_counts.failed();
                tracing::error!(%error, "plugin reload failed; previous set stays active");
                return Err(error);
            }
        };
        for failure in &report.failed {
            tracing::warn!(%failure, "plugin refused at reload");
        }
        self.active.store(Arc::new(set));
        self.passed_over
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.reload_counts.swapped(report.failed.len());
        tracing::info!(
            generation = report.generation,
            added = ?report.added,
            updated = ?report.updated,
            removed = ?report.removed,
            "plugin set reloaded"
        );
        Ok(report)
    }

    /// Looks in the plugin directories for plugin `plugin`, which the active set lacks (a
    /// descriptor names it): a file dropped since the last reload is staged, probed and swapped
    /// in as a reload would take it, but alone. The new active set is the old one plus that
    /// plugin, at the next generation (its `since_generation`); no other plugin changes, even if
    /// its file changed on disk (that waits for a reload). This is not counted as a reload
    /// (`reloads` and the reload outcomes of `/metrics` count full reloads only).
    ///
    /// The rules of a reload hold: it takes the reload lock (so it never interleaves with one),
    /// refuses files others may write (unless allowed), looks at the operators' directory before
    /// the shipped one (the first good file providing `plugin` wins, as at reload), and skips
    /// files already active or already refused (by content hash). Within a directory, the files
    /// named after the plugin (`default-lp.so` or `default_lp.so` for `default-lp`) are looked
    /// at first, so a search usually hashes and probes one file; were two files of a directory
    /// to provide `plugin` (which a reload refuses), the one named after it would win. The
    /// image loads on first use like any new plugin, within `max_images`. Files probed here
    /// that are another plugin or are refused are not added (they wait for a reload) and are
    /// remembered by hash so the next search does not probe them again; a reload forgets them.
    ///
    /// `Ok(None)`: no file provides `plugin` (nothing changed). An error only when a plugin
    /// directory cannot be listed (nothing changed either). A search hashes each candidate file
    /// it looks at (reading it), as a reload does, until one provides `plugin`; only new files
    /// are copied and probed.
    pub async fn find_missing(
        &self,
        plugin: &str,
    ) -> Result<Option<Arc<PluginEntry>>, PluginHostError> {
        let _serial = self.reload_lock.lock().await;
        let current = self.active.load_full();
        if let Some(found) = current.plugins.get(plugin) {
            // Loaded while this search waited for the lock.
            return Ok(Some(Arc::clone(found)));
        }
        let known: HashSet<&str> = current
            .plugins
            .values()
            .chain(&current.overridden)
            .map(|e| e.file.sha256.as_str())
            .chain(current.rejected.iter().filter_map(|r| r.sha256.as_deref()))
            .collect();
        let generation = current.generation + 1;
        let mut candidates = catalog::scan_all(
            self.config.system_plugin_dir.as_deref(),
            &self.config.plugin_dir,
        )?;
        // Stable: the directories' order, and the files' order within each, are kept.
        candidates.sort_by_key(|c| {
            (
                c.origin == Origin::Shipped,
                !catalog::named_after(&c.file, plugin),
            )
        });
        let mut found = None;
        for catalog::Candidate { file, dir, .. } in candidates {
            if let Some(why) = permissions::refusal(&dir, &file) {
                if self.config.allow_insecure_permissions {
                    tracing::warn!(file = %file.display(), "{why}");
                } else {
                    tracing::debug!(file = %file.display(), %why, "plugin file skipped in the search");
                    continue;
                }
            }
            let Ok((sha256, size)) = staging::sha256_of(&file) else {
                continue;
            };
            if known.contains(sha256.as_str()) {
                continue;
            }
            let seen = self.passed_over(&sha256);
            if matches!(&seen, Some(Err(_)))
                || matches!(&seen, Some(Ok(info)) if info.name != plugin)
            {
                continue;
            }
            let staged = match staging::stage_hashed(&file, &self.config.staging_dir, sha256, size)
            {
                Ok(staged) => staged,
                Err(error) => {
                    tracing::warn!(file = %file.display(), %error, "plugin file not staged in the search");
                    continue;
                }
            };
            let probed = match seen {
                Some(Ok(info)) => Ok(info),
                _ => probe::probe(&self.config.probe, &staged.staged).await,
            };
            match probed {
                Ok(info) if info.name == plugin => {
                    found = Some(Arc::new(PluginEntry::new(
                        info,
                        staged,
                        generation,
                        &self.config,
                    )));
                    break;
                }
                Ok(info) => self.pass_over(staged.sha256, Ok(info)),
                Err(error) => {
                    let error = format!("{}: {}", file.display(), strip_file(&error));
                    tracing::warn!(%error, "plugin file refused in the search (a reload lists it)");
                    self.pass_over(staged.sha256, Err(error));
                }
            }
        }
        let Some(entry) = found else {
            return Ok(None);
        };
        let mut plugins = current.plugins.clone();
        plugins.insert(plugin.to_owned(), Arc::clone(&entry));
        self.active.store(Arc::new(ActiveSet {
            generation,
            plugins,
            rejected: current.rejected.clone(),
            overridden: current.overridden.clone(),
        }));
        tracing::info!(
            plugin,
            version = %entry.info.version,
            file = %entry.file.source.display(),
            generation,
            "plugin named by a descriptor found and added to the active set"
        );
        Ok(Some(entry))
    }

    /// What a search found in the file of this content hash before, if it looked at it.
    fn passed_over(&self, sha256: &str) -> Option<Result<PluginInfo, String>> {
        self.passed_over
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sha256)
            .cloned()
    }

    fn pass_over(&self, sha256: String, what: Result<PluginInfo, String>) {
        self.passed_over
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha256, what);
    }

    /// The set the plugin directories hold now, at start and at every reload alike: good files
    /// load, refused ones are listed with their reason, a plugin whose file was replaced by a
    /// refused one keeps its active version, and a plugin of the operators' directory overrides
    /// a shipped one of the same name.
    async fn build(
        &self,
        current: &ActiveSet,
    ) -> Result<(ActiveSet, ReloadReport), PluginHostError> {
        let started = Instant::now();
        let generation = current.generation + 1;
        let mut report = ReloadReport {
            generation,
            ..ReloadReport::default()
        };
        let mut failures = Vec::new();
        let mut plugins: BTreeMap<String, Arc<PluginEntry>> = BTreeMap::new();
        let mut rejected = Vec::new();
        let mut to_load: Vec<Arc<PluginEntry>> = Vec::new();
        let by_sha: HashMap<&str, &Arc<PluginEntry>> = current
            .plugins
            .values()
            .chain(&current.overridden)
            .map(|e| (e.file.sha256.as_str(), e))
            .collect();
        let known_bad: HashMap<&str, &RejectedFile> = current
            .rejected
            .iter()
            .filter_map(|r| r.sha256.as_deref().map(|s| (s, r)))
            .collect();

        // The file and directory that provide each name so far (the operators' files come first).
        let mut taken: HashMap<String, (PathBuf, Origin)> = HashMap::new();
        let mut overridden = Vec::new();
        let candidates = catalog::scan_all(
            self.config.system_plugin_dir.as_deref(),
            &self.config.plugin_dir,
        )?;
        for catalog::Candidate { file, dir, origin } in candidates {
            if let Some(why) = permissions::refusal(&dir, &file) {
                if self.config.allow_insecure_permissions {
                    tracing::warn!(file = %file.display(), "{why}");
                } else {
                    failures.push(why.clone());
                    rejected.push(RejectedFile {
                        file,
                        sha256: None,
                        error: why,
                    });
                    continue;
                }
            }
            let staged = match staging::stage(&file, &self.config.staging_dir) {
                Ok(staged) => staged,
                Err(error) => {
                    failures.push(error.to_string());
                    rejected.push(RejectedFile {
                        file,
                        sha256: None,
                        error: error.to_string(),
                    });
                    continue;
                }
            };
            let entry = if let Some(existing) = by_sha.get(staged.sha256.as_str()) {
                Arc::clone(existing)
            } else if let Some(bad) = known_bad.get(staged.sha256.as_str()) {
                // Unchanged bad file: still listed, not a new failure.
                rejected.push((*bad).clone());
                continue;
            } else {
                match probe::probe(&self.config.probe, &staged.staged).await {
                    Ok(info) => Arc::new(PluginEntry::new(info, staged, generation, &self.config)),
                    Err(error) => {
                        let error = format!("{}: {}", file.display(), strip_file(&error));
                        failures.push(error.clone());
                        rejected.push(RejectedFile {
                            file,
                            sha256: Some(staged.sha256),
                            error,
                        });
                        continue;
                    }
                }
            };
            let name = entry.info.name.clone();
            if let Some((first, first_origin)) = taken.get(&name) {
                if *first_origin == Origin::Operators && origin == Origin::Shipped {
                    tracing::info!(plugin = %name, operators = %first.display(), shipped = %file.display(),
                        "the operators' plugin overrides the shipped one of the same name");
                    report.overridden.push(format!(
                        "{name}: {} overrides the shipped {}",
                        first.display(),
                        file.display()
                    ));
                    overridden.push(entry);
                    continue;
                }
                let error = PluginHostError::DuplicateName {
                    name,
                    first: first.clone(),
                    second: file.clone(),
                }
                .to_string();
                failures.push(error.clone());
                rejected.push(RejectedFile {
                    file: entry.file.source.clone(),
                    sha256: Some(entry.file.sha256.clone()),
                    error,
                });
                continue;
            }
            taken.insert(name.clone(), (file.clone(), origin));
            match current.plugins.get(&name) {
                None => report.added.push(name.clone()),
                Some(old) if Arc::ptr_eq(old, &entry) => report.unchanged.push(name.clone()),
                Some(old) => {
                    report.updated.push(format!(
                        "{name} {} -> {}",
                        old.info.version, entry.info.version
                    ));
                    // It was serving in-process: load the new image now, so the swap is atomic.
                    if old.is_loaded() {
                        to_load.push(Arc::clone(&entry));
                    }
                }
            }
            plugins.insert(name, entry);
        }
        let shipped: HashSet<String> = taken
            .into_iter()
            .filter(|(_, (_, origin))| *origin == Origin::Shipped)
            .map(|(name, _)| name)
            .collect();
        keep_replaced_by_refused(
            current,
            &rejected,
            &Serving {
                shipped: &shipped,
                operators_dir: &self.config.plugin_dir,
            },
            &mut plugins,
            &mut overridden,
            &mut to_load,
            &mut report,
        );
        report.removed = current
            .plugins
            .keys()
            .filter(|k| !plugins.contains_key(*k))
            .cloned()
            .collect();
        let new_images = to_load
            .iter()
            .filter(|e| {
                self.config.isolation.of(&e.info.name) == Isolation::InProcess
                    && !loader::is_mapped(&e.file.staged)
            })
            .count();
        if loader::images_mapped() + new_images > self.config.max_images {
            return Err(PluginHostError::TooManyImages {
                images: loader::images_mapped(),
                limit: self.config.max_images,
            });
        }
        for entry in to_load {
            let loading = Arc::clone(&entry);
            let loaded = tokio::task::spawn_blocking(move || loading.module().map(|_| ()))
                .await
                .unwrap_or_else(|e| Err(format!("loader task failed: {e}")));
            if let Err(error) = loaded {
                // The new version would not load: the active one keeps serving.
                let name = entry.info.name.clone();
                let error = format!("{}: {error}", entry.file.source.display());
                if let Some(old) = current.plugins.get(&name) {
                    report.kept.push(format!("{name} {}", old.info.version));
                    report
                        .updated
                        .retain(|u| !u.starts_with(&format!("{name} ")));
                    plugins.insert(name, Arc::clone(old));
                }
                failures.push(error.clone());
                rejected.push(RejectedFile {
                    file: entry.file.source.clone(),
                    sha256: Some(entry.file.sha256.clone()),
                    error,
                });
            }
        }
        report.failed = failures;
        report.rejected = rejected.clone();
        report.images_mapped = loader::images_mapped();
        report.duration_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok((
            ActiveSet {
                generation,
                plugins,
                rejected,
                overridden,
            },
            report,
        ))
    }

    /// Everything `smo plugin list` shows.
    pub fn status(&self) -> RegistryStatus {
        let set = self.active.load();
        RegistryStatus {
            generation: set.generation,
            plugin_dir: self.config.plugin_dir.clone(),
            system_plugin_dir: self.config.system_plugin_dir.clone(),
            images_mapped: loader::images_mapped(),
            max_images: self.config.max_images,
            resident_memory_bytes: resident_memory_bytes(),
            reloads: self.reloads.load(Ordering::Relaxed),
            plugins: set.plugins.values().map(|e| listing(e)).collect(),
            rejected: set.rejected.clone(),
            overridden: set
                .overridden
                .iter()
                .map(|e| PluginListing {
                    state: "overridden".into(),
                    ..listing(e)
                })
                .collect(),
        }
    }
}

fn listing(e: &PluginEntry) -> PluginListing {
    let (state, error) = match e.image.get() {
        Some(Ok(_)) => ("active", None),
        Some(Err(error)) => ("failed", Some(error.clone())),
        None => ("ready", None),
    };
    PluginListing {
        name: e.info.name.clone(),
        version: e.info.version.clone(),
        api_version: e.info.api_version.clone(),
        abi: e.info.abi,
        isolation: e.isolation.of(&e.info.name),
        process: e.isolated().map(|p| ProcessListing {
            pid: p.pid(),
            starts: p.starts(),
            sandbox: p.sandbox().to_owned(),
        }),
        file: e.file.source.clone(),
        sha256: e.file.sha256.clone(),
        size_bytes: e.file.size,
        state: state.to_string(),
        since_generation: e.since_generation,
        strategies: e.info.strategies.clone(),
        stats: e.stats.snapshot(),
        error,
    }
}

/// The probe's message without the staged path it starts with (the source path is shown instead).
fn strip_file(error: &PluginHostError) -> String {
    match error {
        PluginHostError::Probe { message, .. } => {
            let m = message.trim_start_matches("error: ");
            match m.split_once(".so: ") {
                Some((_, rest)) => rest.to_string(),
                None => m.to_string(),
            }
        }
        other => other.to_string(),
    }
}

fn join_or_none(names: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = names.collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Resident set size of this process, from /proc.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Which names a shipped file serves in the set being built, and the operators' directory.
struct Serving<'a> {
    shipped: &'a HashSet<String>,
    operators_dir: &'a Path,
}

/// For each refused file that held an active plugin, that plugin stays, at its active version:
/// also when the file was the operators' override of a shipped plugin (the shipped one stays
/// overridden rather than coming back because the override's new file is broken).
#[allow(clippy::too_many_arguments)]
fn keep_replaced_by_refused(
    current: &ActiveSet,
    rejected: &[RejectedFile],
    serving: &Serving<'_>,
    plugins: &mut BTreeMap<String, Arc<PluginEntry>>,
    overridden: &mut Vec<Arc<PluginEntry>>,
    to_load: &mut Vec<Arc<PluginEntry>>,
    report: &mut ReloadReport,
) {
    for refused in rejected {
        let held = current
            .plugins
            .values()
            .find(|entry| entry.file.source == refused.file);
        let Some(entry) = held else { continue };
        let name = &entry.info.name;
        let over_shipped =
            serving.shipped.contains(name) && refused.file.parent() == Some(serving.operators_dir);
        if plugins.contains_key(name) && !over_shipped {
            continue;
        }
        report.kept.push(format!("{name} {}", entry.info.version));
        report
            .updated
            .retain(|u| !u.starts_with(&format!("{name} ")));
        if let Some(shipped) = plugins.insert(name.clone(), Arc::clone(entry)) {
            to_load.retain(|e| !Arc::ptr_eq(e, &shipped));
            report.overridden.push(format!(
                "{name}: {} (kept at its active version) overrides the shipped {}",
                refused.file.display(),
                shipped.file.source.display()
            ));
            overridden.push(shipped);
        }
    }
}
