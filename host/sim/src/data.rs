//! Loaders for the data scenarios read: hourly CSV tables keyed by a UTC timestamp (carbon
//! intensity, generation shapes), the Azure 2017 VM trace, and plain VM request CSVs.
//!
//! Also the small UTC calendar arithmetic the simulator needs (no time-zone database).

use std::fs;
use std::path::Path;

/// Seconds since the Unix epoch for `YYYY-MM-DD[T| ]HH:MM[:SS][Z]` (UTC), or `None`.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm) = (t.next()??, t.next()??);
    let ss = t.next().unwrap_or(Some(0))?;
    if t.next().is_some() || !(0..24).contains(&hh) || !(0..60).contains(&mm) {
        return None;
    }
    if !(0..60).contains(&ss) {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch.
pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// A CSV whose first column is a UTC timestamp and whose other columns are numbers.
/// Empty cells repeat the value of the row above (0 on the first row).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTable {
    pub columns: Vec<String>,
    /// Row times, seconds since the epoch, strictly increasing.
    pub times: Vec<i64>,
    /// `values[c][r]`: column `c` (not counting the time column), row `r`.
    pub values: Vec<Vec<f64>>,
}

impl TimeTable {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<TimeTable, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        Self::parse(&text)
    }

    /// Parses CSV text (comma-separated, no quoting).
    pub fn parse(text: &str) -> Result<TimeTable, String> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or("empty file")?;
        let columns: Vec<String> = header
            .split(',')
            .skip(1)
            .map(|c| c.trim().to_string())
            .collect();
        let mut times = Vec::new();
        let mut values = vec![Vec::new(); columns.len()];
        for (i, line) in lines.enumerate() {
            let row = i + 2;
            let mut cells = line.split(',');
            let t = cells
                .next()
                .and_then(parse_utc)
                .ok_or_else(|| format!("line {row}: first cell is not a UTC timestamp"))?;
            if times.last().is_some_and(|&last| t <= last) {
                return Err(format!("line {row}: timestamps must increase"));
            }
            times.push(t);
            for (c, col) in values.iter_mut().enumerate() {
                let cell = cells.next().unwrap_or("").trim();
                let v = if cell.is_empty() {
                    col.last().copied().unwrap_or(0.0)
                } else {
                    cell.parse::<f64>().map_err(|_| {
                        format!(
                            "line {row}, column `{}`: `{cell}` is not a number",
                            columns[c]
                        )
                    })?
                };
                col.push(v);
            }
        }
        Ok(TimeTable {
            columns,
            times,
            values,
        })
    }

    /// `hours` hourly values of `column` starting at the row timed `start` (epoch seconds).
    pub fn hourly(&self, column: &str, start: i64, hours: usize) -> Result<Vec<f64>, String> {
        let c = self
            .columns
            .iter()
            .position(|n| n == column)
            .ok_or_else(|| format!("no column `{column}` (has: {})", self.columns.join(", ")))?;
        let r = self.times.binary_search(&start).map_err(|_| {
            format!(
                "no row at the scenario start {} (rows {} .. {})",
                format_utc(start),
                self.times.first().map_or(String::new(), |&t| format_utc(t)),
                self.times.last().map_or(String::new(), |&t| format_utc(t)),
            )
        })?;
        if r + hours > self.times.len() {
            return Err(format!(
                "needs {hours} hourly rows from {}, has {}",
                format_utc(start),
                self.times.len() - r
            ));
        }
        for w in self.times[r..r + hours].windows(2) {
            if w[1] - w[0] != 3600 {
                return Err(format!("rows are not hourly at {}", format_utc(w[0])));
            }
        }
        Ok(self.values[c][r..r + hours].to_vec())
    }
}

/// One VM of the Azure trace: indices into the flavour and duration-bin tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceVm {
    pub flavour: u8,
    pub duration_bin: u8,
    /// `C` in the trace: the VM was still running when the trace ended (duration is a lower bound).
    pub censored: bool,
}

/// The Azure Public Dataset V1 VM trace in the 5-minute-bin encoding of
/// huaweicloud/trace_generation_rnn: arrivals per bin, flavours, binned durations.
#[derive(Debug, Clone, PartialEq)]
pub struct AzureTrace {
    /// Bin length in seconds (300).
    pub bin_s: u32,
    /// VMs arriving in each bin, in trace order.
    pub bins: Vec<Vec<TraceVm>>,
    /// `(cores, memory GB)` per flavour index.
    pub flavours: Vec<(f64, f64)>,
    /// `[lo, hi)` seconds per duration bin index.
    pub duration_bins: Vec<(u32, u32)>,
}

impl AzureTrace {
    /// Parses the four files' contents ([`crate::trace_cache::load`] reads them, through its
    /// cache).
    pub fn parse(
        arrivals: &str,
        durations: &str,
        flavour_map: &str,
        interval_map: &str,
    ) -> Result<AzureTrace, String> {
        // flav_map.txt: "cores,GB letter"; letters are assigned in file order.
        let mut letters = Vec::new();
        let mut flavours = Vec::new();
        for (i, line) in flavour_map
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            let bad = || format!("flavour map line {}: expected `cores,GB letter`", i + 1);
            let (sizes, letter) = line.trim().split_once(' ').ok_or_else(bad)?;
            let (c, m) = sizes.split_once(',').ok_or_else(bad)?;
            let cores: f64 = c.parse().map_err(|_| bad())?;
            let gb: f64 = m.parse().map_err(|_| bad())?;
            letters.push(letter.trim().to_string());
            flavours.push((cores, gb));
        }
        // v1.interval_map.txt: "seconds bin" per 300 s; a bin covers [min, max + 300).
        let mut duration_bins: Vec<(u32, u32)> = Vec::new();
        for (i, line) in interval_map
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            let bad = || format!("interval map line {}: expected `seconds bin`", i + 1);
            let (s, b) = line.trim().split_once(' ').ok_or_else(bad)?;
            let secs: u32 = s.parse().map_err(|_| bad())?;
            let bin: usize = b.trim().parse().map_err(|_| bad())?;
            if bin >= 256 {
                return Err(bad());
            }
            if duration_bins.len() <= bin {
                duration_bins.resize(bin + 1, (u32::MAX, 0));
            }
            let e = &mut duration_bins[bin];
            e.0 = e.0.min(secs);
            e.1 = e.1.max(secs + 300);
        }
        if duration_bins.iter().any(|b| b.0 == u32::MAX) {
            return Err("interval map skips a bin index".into());
        }
        let mut bins = Vec::new();
        let mut dur_lines = durations.lines().filter(|l| !l.trim().is_empty());
        let mut bin_s = 300;
        let mut prev_t: Option<u64> = None;
        for (i, line) in arrivals
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
        {
            let row = i + 1;
            let dline = dur_lines
                .next()
                .ok_or_else(|| format!("durations file has fewer lines than arrivals ({row})"))?;
            let (t, flav) = line.split_once(' ').unwrap_or((line, ""));
            let (dt, durs) = dline.split_once(' ').unwrap_or((dline, ""));
            if t != dt {
                return Err(format!(
                    "line {row}: arrival time {t} but duration time {dt}"
                ));
            }
            let t: u64 = t
                .parse()
                .map_err(|_| format!("arrivals line {row}: bad time"))?;
            if let Some(p) = prev_t {
                if row == 2 {
                    bin_s = u32::try_from(t.saturating_sub(p)).unwrap_or(300).max(1);
                }
            }
            prev_t = Some(t);
            let fl = flav.split(',').filter(|x| !x.is_empty() && *x != "|");
            let du = durs.split(',').filter(|x| !x.is_empty() && *x != "|");
            let mut vms = Vec::new();
            for (f, d) in fl.zip(du) {
                let flavour = letters
                    .iter()
                    .position(|l| l == f)
                    .ok_or_else(|| format!("arrivals line {row}: unknown flavour `{f}`"))?;
                let censored = d.starts_with('C');
                let db: usize = d
                    .get(1..)
                    .and_then(|x| x.parse().ok())
                    .filter(|&b: &usize| b < duration_bins.len())
                    .ok_or_else(|| format!("durations line {row}: bad bin `{d}`"))?;
                vms.push(TraceVm {
                    flavour: flavour as u8,
                    duration_bin: db as u8,
                    censored,
                });
            }
            bins.push(vms);
        }
        if bins.is_empty() {
            return Err("the arrivals file is empty".into());
        }
        Ok(AzureTrace {
            bin_s,
            bins,
            flavours,
            duration_bins,
        })
    }

    /// Total number of VMs in the trace.
    pub fn len(&self) -> usize {
        self.bins.iter().map(Vec::len).sum()
    }

    /// `true` when the trace holds no VM.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One VM request as listed in a scenario or a CSV (`arrival_s,cpu,memory_mib,gpu,duration_s[,user]`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmRow {
    /// Seconds after the scenario start.
    pub arrival_s: u32,
    pub cpu: f64,
    #[serde(default)]
    pub memory_mib: f64,
    #[serde(default)]
    pub gpu: u32,
    pub duration_s: u32,
    #[serde(default)]
    pub user: Option<String>,
}

/// Parses a VM request CSV with a header line naming at least the five required columns.
pub fn parse_vm_csv(text: &str) -> Result<Vec<VmRow>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| format!("no column `{name}`"))
    };
    let (a, c, m, g, d) = (
        col("arrival_s")?,
        col("cpu")?,
        col("memory_mib")?,
        col("gpu")?,
        col("duration_s")?,
    );
    let u = col("user").ok();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |j: usize, name: &str| -> Result<f64, String> {
            cells
                .get(j)
                .and_then(|x| x.parse::<f64>().ok())
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("line {}: `{name}` is not a number >= 0", i + 2))
        };
        rows.push(VmRow {
            arrival_s: get(a, "arrival_s")? as u32,
            cpu: get(c, "cpu")?,
            memory_mib: get(m, "memory_mib")?,
            gpu: get(g, "gpu")? as u32,
            duration_s: get(d, "duration_s")? as u32,
            user: u.and_then(|j| cells.get(j)).map(|s| s.to_string()),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_round_trips() {
        let t = parse_utc("2024-10-14T00:00:00Z").unwrap();
        assert_eq!(t, 1_728_864_000);
        assert_eq!(format_utc(t), "2024-10-14T00:00:00Z");
        assert_eq!(parse_utc("2024-10-14 01:30:00"), Some(t + 5400));
        assert_eq!(parse_utc("2024-02-29T23:59"), Some(1_709_251_140));
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_utc("2024-13-01"), None);
        assert_eq!(parse_utc("yesterday"), None);
    }

    #[test]
    fn time_table_slices_hours_and_reports_gaps() {
        let csv = "datetime_utc,a,b\n2024-01-01 00:00:00,1,10\n2024-01-01 01:00:00,2,\n\
                   2024-01-01 02:00:00,3,30\n";
        let t = TimeTable::parse(csv).unwrap();
        let start = parse_utc("2024-01-01T01:00:00Z").unwrap();
        assert_eq!(t.hourly("a", start, 2).unwrap(), vec![2.0, 3.0]);
        assert_eq!(
            t.hourly("b", start - 3600, 3).unwrap(),
            vec![10.0, 10.0, 30.0]
        );
        assert!(t
            .hourly("c", start, 1)
            .unwrap_err()
            .contains("no column `c`"));
        assert!(t.hourly("a", start, 3).unwrap_err().contains("needs 3"));
        assert!(t.hourly("a", start + 60, 1).unwrap_err().contains("no row"));
        assert!(TimeTable::parse("t,a\nnope,1\n").is_err());
    }

    #[test]
    fn azure_trace_parses_bins_flavours_and_durations() {
        let arrivals = "2100000 b,b,|,k,|\n2100300 m,|\n";
        let durations = "2100000 U0,U2,|,C1,|\n2100300 U1,|\n";
        let flavours = "1,1.75 b\n4,7 k\n8,14 m\n";
        let intervals = "0 0\n300 1\n600 2\n900 2\n";
        let t = AzureTrace::parse(arrivals, durations, flavours, intervals).unwrap();
        assert_eq!(t.bin_s, 300);
        assert_eq!(t.len(), 4);
        assert_eq!(t.bins[0].len(), 3);
        assert_eq!(t.flavours[1], (4.0, 7.0));
        assert_eq!(t.duration_bins, vec![(0, 300), (300, 600), (600, 1200)]);
        assert_eq!(
            t.bins[0][2],
            TraceVm {
                flavour: 1,
                duration_bin: 1,
                censored: true
            }
        );
        assert!(AzureTrace::parse("1 z,\n", "1 U0,\n", flavours, intervals).is_err());
    }

    #[test]
    fn vm_csv_needs_its_columns() {
        let rows =
            parse_vm_csv("arrival_s,cpu,memory_mib,gpu,duration_s\n0,2,4096,0,600\n").unwrap();
        assert_eq!(rows[0].cpu, 2.0);
        assert_eq!(rows[0].duration_s, 600);
        assert!(parse_vm_csv("arrival_s,cpu\n0,1\n")
            .unwrap_err()
            .contains("memory_mib"));
        assert!(parse_vm_csv("arrival_s,cpu,memory_mib,gpu,duration_s\n0,-2,1,0,1\n").is_err());
    }
}
