//! The scenario file: a serde model of the YAML, the data files it names (loaded once), and a
//! validation pass that reports every error at once, each with the path of its field.
//!
//! Paths look like `datacenters[2].pue: must be >= 1.0`. Type errors found by serde are
//! collected per list element too, so two bad datacenters give two errors, not one.

mod check;
mod ecosystem_check;
mod ecosystem_spec;
mod parse;
mod spec;

pub use ecosystem_spec::*;
pub use spec::*;

use super::data::{self, parse_utc, AzureTrace, TimeTable, VmRow};
use super::trace_cache;
use parse::parse_spec;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every problem found in a scenario, each as `path: message`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    pub file: Option<PathBuf>,
    pub errors: Vec<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        match &self.file {
            Some(p) => write!(f, "{}: ", p.display())?,
            None => write!(f, "scenario: ")?,
        }
        write!(f, "{n} error{}", if n == 1 { "" } else { "s" })?;
        for e in &self.errors {
            write!(f, "\n  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// A loaded, validated scenario: the spec plus every data file it names, parsed once.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub spec: ScenarioSpec,
    /// Directory relative paths in the file are resolved against.
    pub base_dir: PathBuf,
    pub(crate) tables: BTreeMap<PathBuf, Arc<TimeTable>>,
    pub(crate) trace: Option<Arc<AzureTrace>>,
    pub(crate) vm_rows: Option<Arc<Vec<VmRow>>>,
    /// The horizon the file's VM counts are for: its own `hours`, kept when `--hours`
    /// replaces the horizon (`None`: `spec.hours`). A shorter run is the file's first hours;
    /// a longer one keeps the file's arrival density.
    pub(crate) workload_hours: Option<u32>,
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Self::load_cached(path, None)
    }

    /// [`Scenario::load`], reading the Azure trace through the cache in `cache_dir` when given
    /// (see [`crate::trace_cache`]).
    pub fn load_cached(path: &Path, cache_dir: Option<&Path>) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: Some(path.to_path_buf()),
            errors: vec![format!("cannot read: {e}")],
        })?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Self::from_yaml_cached(&text, &dir, cache_dir).map_err(|mut e| {
            e.file = Some(path.to_path_buf());
            e
        })
    }

    /// Parses and validates YAML text; relative data paths are resolved against `base_dir`.
    pub fn from_yaml(text: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        Self::from_yaml_cached(text, base_dir, None)
    }

    /// [`Scenario::from_yaml`] with the trace cache of [`Scenario::load_cached`].
    pub fn from_yaml_cached(
        text: &str,
        base_dir: &Path,
        cache_dir: Option<&Path>,
    ) -> Result<Scenario, ScenarioError> {
        let fail = |errors| ScenarioError { file: None, errors };
        let spec = parse_spec(text).map_err(fail)?;
        let mut scenario = Scenario {
            spec,
            base_dir: base_dir.to_path_buf(),
            tables: BTreeMap::new(),
            trace: None,
            vm_rows: None,
            workload_hours: None,
        };
        let mut errors = scenario.load_data(cache_dir);
        errors.extend(scenario.check());
        if errors.is_empty() {
            Ok(scenario)
        } else {
            Err(fail(errors))
        }
    }

    /// Replaces the seed (the workload is drawn again from it).
    pub fn set_seed(&mut self, seed: u64) {
        self.spec.seed = seed;
    }

    /// Replaces the horizon and checks that every series still covers it.
    /// Replaces the horizon. The VM workload stays the file's: a shorter run gets the arrivals
    /// of its first `hours`, a longer one as many VMs per hour as the file has.
    pub fn set_hours(&mut self, hours: u32) -> Result<(), ScenarioError> {
        self.workload_hours.get_or_insert(self.spec.hours);
        self.spec.hours = hours;
        self.validate()
    }

    /// Runs every semantic check again.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let errors = self.check();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError { file: None, errors })
        }
    }

    /// Scenario start, seconds since the epoch (0 if unparsable; validation reports it).
    pub fn start_unix(&self) -> i64 {
        parse_utc(&self.spec.start).unwrap_or(0)
    }

    /// Seconds in one step.
    pub fn step_s(&self) -> u32 {
        self.spec.step_minutes.max(1) * 60
    }

    /// Number of steps in the horizon.
    pub fn steps(&self) -> usize {
        (self.spec.hours as usize * 60) / self.spec.step_minutes.max(1) as usize
    }

    /// `hours` hourly values of `series` from the scenario start.
    pub fn series(&self, series: &SeriesSpec, hours: usize) -> Result<Vec<f64>, String> {
        match series {
            SeriesSpec::Constant(v) => Ok(vec![*v; hours]),
            SeriesSpec::Hourly(values) if values.is_empty() => Err("empty list".into()),
            SeriesSpec::Hourly(values) => {
                Ok((0..hours).map(|h| values[h % values.len()]).collect())
            }
            SeriesSpec::Csv(c) => {
                let path = self.base_dir.join(&c.csv);
                let table = self
                    .tables
                    .get(&path)
                    .ok_or_else(|| format!("{} was not loaded", path.display()))?;
                let v = table.hourly(&c.column, self.start_unix(), hours)?;
                Ok(v.into_iter().map(|x| x * c.scale).collect())
            }
        }
    }

    /// Every series of the scenario with its path, for loading and checking.
    fn all_series(&self) -> Vec<(String, &SeriesSpec)> {
        let mut out = Vec::new();
        for (i, dc) in self.spec.datacenters.iter().enumerate() {
            let p = format!("datacenters[{i}]");
            out.push((format!("{p}.carbon_intensity"), &dc.carbon_intensity));
            if let Some(s) = &dc.grid_renewable_share {
                out.push((format!("{p}.grid_renewable_share"), s));
            }
            if let Some(s) = &dc.prices.energy_kwh {
                out.push((format!("{p}.prices.energy_kwh"), s));
            }
            for (j, r) in dc.renewables.iter().enumerate() {
                out.push((format!("{p}.renewables[{j}].shape"), &r.shape));
            }
        }
        for (i, s) in self.spec.workload.services.iter().enumerate() {
            out.push((format!("workload.services[{i}].rate_rps"), &s.rate_rps));
        }
        out
    }

    /// Loads every data file once (the Azure trace through `cache_dir` when given); returns the
    /// errors with their paths.
    fn load_data(&mut self, cache_dir: Option<&Path>) -> Vec<String> {
        let mut errors = Vec::new();
        let mut tables = BTreeMap::new();
        for (path, s) in self.all_series() {
            if let SeriesSpec::Csv(c) = s {
                let file = self.base_dir.join(&c.csv);
                if tables.contains_key(&file) {
                    continue;
                }
                match TimeTable::load(&file) {
                    Ok(t) => {
                        tables.insert(file, Arc::new(t));
                    }
                    Err(e) => errors.push(format!("{path}.csv: {}: {e}", c.csv.display())),
                }
            }
        }
        self.tables = tables;
        match &self.spec.workload.vms {
            Some(VmSource::AzureTrace {
                dir,
                arrivals,
                durations,
                flavour_map,
                interval_map,
                ..
            }) => {
                let dir = self.base_dir.join(dir);
                let files = trace_cache::TraceFiles {
                    dir: &dir,
                    arrivals,
                    durations,
                    flavour_map,
                    interval_map,
                };
                match trace_cache::load(files, cache_dir) {
                    Ok((t, _)) => self.trace = Some(Arc::new(t)),
                    Err(e) => errors.push(format!("workload.vms.dir: {e}")),
                }
            }
            Some(VmSource::Csv { path }) => {
                let file = self.base_dir.join(path);
                match std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read: {e}"))
                    .and_then(|t| data::parse_vm_csv(&t))
                {
                    Ok(rows) => self.vm_rows = Some(Arc::new(rows)),
                    Err(e) => errors.push(format!("workload.vms.path: {}: {e}", path.display())),
                }
            }
            _ => {}
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{minimal_yaml, scenarios_dir};

    #[test]
    fn a_minimal_scenario_loads() {
        let s = Scenario::from_yaml(&minimal_yaml(), Path::new(".")).unwrap();
        assert_eq!(s.steps(), 2);
        assert_eq!(s.step_s(), 1800);
        assert_eq!(s.spec.datacenters[0].name, "dc");
    }

    #[test]
    fn a_bad_field_is_reported_with_its_path() {
        let yaml = minimal_yaml().replace("pue: 1.5", "pue: 0.5");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert_eq!(
            e.errors,
            vec!["datacenters[0].pue: must be >= 1.0".to_string()]
        );
    }

    #[test]
    fn every_semantic_error_is_reported_at_once() {
        let yaml = minimal_yaml()
            .replace("pue: 1.5", "pue: 0.9")
            .replace("count: 1", "count: 0")
            .replace("slo_ms: 100", "slo_ms: -1")
            .replace("peak_w: 200", "peak_w: 50");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        let text = e.to_string();
        for want in [
            "slo_ms: must be > 0",
            "datacenters[0].pue: must be >= 1.0",
            "datacenters[0].servers[0].count: must be >= 1",
            "datacenters[0].servers[0].peak_w: must be >= idle_w",
        ] {
            assert!(
                e.errors.iter().any(|x| x == want),
                "missing `{want}` in\n{text}"
            );
        }
        assert_eq!(e.errors.len(), 4, "{text}");
        assert!(text.starts_with("scenario: 4 errors"));
    }

    #[test]
    fn type_errors_in_two_elements_are_both_reported() {
        let yaml = minimal_yaml()
            .replace("pue: 1.5", "pue: high")
            .replace("- name: paris", "- name: paris\n    weight: lots");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert!(
            e.errors[0].starts_with("users[0].weight: invalid type"),
            "{:?}",
            e.errors
        );
        assert!(
            e.errors[0].contains("line "),
            "the first error keeps its line"
        );
        assert!(
            e.errors
                .iter()
                .any(|x| x.starts_with("datacenters[0].pue: invalid type")),
            "{:?}",
            e.errors
        );
        assert_eq!(e.errors.len(), 2, "{:?}", e.errors);
    }

    #[test]
    fn unknown_fields_and_missing_data_files_name_their_path() {
        let yaml = minimal_yaml().replace("pue: 1.5", "pue: 1.5\n    colour: blue");
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert!(
            e.errors[0].starts_with("datacenters[0]: unknown field `colour`"),
            "{e}"
        );
        let yaml = minimal_yaml().replace(
            "carbon_intensity: 300",
            "carbon_intensity: {csv: nowhere.csv, column: x}",
        );
        let e = Scenario::from_yaml(&yaml, Path::new(".")).unwrap_err();
        assert!(
            e.errors[0]
                .starts_with("datacenters[0].carbon_intensity.csv: nowhere.csv: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn every_shipped_scenario_loads_and_validates() {
        let dir = scenarios_dir();
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    !s.spec.data_source.is_empty(),
                    "{}: no data_source",
                    path.display()
                );
                n += 1;
            }
        }
        assert!(
            n >= 4,
            "expected the reference scenarios in {}",
            dir.display()
        );
    }

    #[test]
    fn set_hours_revalidates_series_coverage() {
        let path = scenarios_dir().join("eu-5dc-24h.yaml");
        let mut s = Scenario::load(&path).unwrap();
        assert!(s.set_hours(48).is_ok());
        let e = s.set_hours(24 * 40).unwrap_err();
        assert!(
            e.errors
                .iter()
                .any(|x| x.contains("carbon_intensity: needs 960 hourly rows")),
            "{e}"
        );
    }
}
