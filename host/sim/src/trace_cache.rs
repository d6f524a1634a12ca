//! A binary cache of the parsed Azure trace, keyed by the SHA-256 of its four files: parsing
//! the text was most of `smo simulate`'s start-up. A stale or corrupt cache is never trusted.
//!
//! The cache file, `azure-trace-<key>.bin` in the cache directory, holds a header (magic,
//! format version, the full key, the payload's length and SHA-256) and the payload (bin length,
//! flavours, duration bins, then each bin's VMs). It is read only when every part of the header
//! matches and every index in the payload is in range; otherwise the text is parsed and the
//! cache written again (under a temporary name, then renamed, so a reader never sees half).

use super::data::{AzureTrace, TraceVm};
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"SMO-AZURE-TRACE\n";
/// Bumped when the payload's layout or the parser's output changes.
const FORMAT: u32 = 1;
/// Magic, format, key, payload length, payload SHA-256.
const HEADER: usize = 16 + 4 + 32 + 8 + 32;

/// Where a trace came from, for the logs and the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Parsed from the text (no cache directory, no usable cache, or it was stale or corrupt).
    Parsed,
    /// Read from the cache.
    Cached,
}

/// The four files of the trace encoding, by name, in `dir`.
#[derive(Debug, Clone, Copy)]
pub struct TraceFiles<'a> {
    pub dir: &'a Path,
    pub arrivals: &'a str,
    pub durations: &'a str,
    pub flavour_map: &'a str,
    pub interval_map: &'a str,
}

/// Reads the trace from its files, through the cache in `cache_dir` when given: a cache
/// matching the files' content is read instead of parsing; otherwise the text is parsed and
/// the cache (re)written. A cache that cannot be written only costs the next run a parse.
pub fn load(
    files: TraceFiles<'_>,
    cache_dir: Option<&Path>,
) -> Result<(AzureTrace, Source), String> {
    let read = |name: &str| {
        let path = files.dir.join(name);
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let texts = [
        read(files.arrivals)?,
        read(files.durations)?,
        read(files.flavour_map)?,
        read(files.interval_map)?,
    ];
    let parse = || AzureTrace::parse(&texts[0], &texts[1], &texts[2], &texts[3]);
    let Some(cache_dir) = cache_dir else {
        return Ok((parse()?, Source::Parsed));
    };
    let key = key(&texts);
    let path = cache_path(cache_dir, &key);
    if let Ok(bytes) = fs::read(&path) {
        match decode(&bytes, &key) {
            Some(trace) => {
                tracing::debug!(cache = %path.display(), "Azure trace read from the cache");
                return Ok((trace, Source::Cached));
            }
            None => {
                tracing::debug!(cache = %path.display(), "Azure trace cache stale or corrupt: parsing again")
            }
        }
    }
    let trace = parse()?;
    if let Err(e) = write(&path, &encode(&trace, &key)) {
        tracing::warn!(cache = %path.display(), error = %e, "cannot write the Azure trace cache");
    }
    Ok((trace, Source::Parsed))
}

/// SHA-256 over the format version and each file's length and content.
fn key(texts: &[String; 4]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(FORMAT.to_le_bytes());
    for t in texts {
        h.update((t.len() as u64).to_le_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().into()
}

/// The cache file of `key` in `dir`.
pub fn cache_path(dir: &Path, key: &[u8; 32]) -> PathBuf {
    let hex: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("azure-trace-{hex}.bin"))
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// The cache file's bytes for `trace`.
fn encode(trace: &AzureTrace, key: &[u8; 32]) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + trace.len() * 3 + trace.bins.len() * 4);
    let len32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    p.extend(trace.bin_s.to_le_bytes());
    p.extend(len32(trace.flavours.len()));
    for (cores, gb) in &trace.flavours {
        p.extend(cores.to_le_bytes());
        p.extend(gb.to_le_bytes());
    }
    p.extend(len32(trace.duration_bins.len()));
    for (lo, hi) in &trace.duration_bins {
        p.extend(lo.to_le_bytes());
        p.extend(hi.to_le_bytes());
    }
    p.extend(len32(trace.bins.len()));
    for bin in &trace.bins {
        p.extend(len32(bin.len()));
        for vm in bin {
            p.extend([vm.flavour, vm.duration_bin, u8::from(vm.censored)]);
        }
    }
    let mut out = Vec::with_capacity(HEADER + p.len());
    out.extend(MAGIC);
    out.extend(FORMAT.to_le_bytes());
    out.extend(key);
    out.extend((p.len() as u64).to_le_bytes());
    out.extend(Sha256::digest(&p));
    out.extend(p);
    out
}

/// The trace in `bytes`, or `None` when anything does not match `key` or does not check out.
fn decode(bytes: &[u8], key: &[u8; 32]) -> Option<AzureTrace> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(16)? != MAGIC || r.u32()? != FORMAT || r.take(32)? != key {
        return None;
    }
    let len = usize::try_from(r.u64()?).ok()?;
    let sum = r.take(32)?;
    let payload = r.take(len)?;
    if r.at != bytes.len() || Sha256::digest(payload).as_slice() != sum {
        return None;
    }
    let mut r = Reader {
        bytes: payload,
        at: 0,
    };
    let bin_s = r.u32()?;
    let flavours = (0..r.count(16)?)
        .map(|_| Some((r.f64()?, r.f64()?)))
        .collect::<Option<Vec<_>>>()?;
    let duration_bins = (0..r.count(8)?)
        .map(|_| Some((r.u32()?, r.u32()?)))
        .collect::<Option<Vec<_>>>()?;
    let n_bins = r.count(4)?;
    let mut bins = Vec::with_capacity(n_bins);
    for _ in 0..n_bins {
        let n = r.count(3)?;
        let raw = r.take(n * 3)?;
        let bin = raw
            .chunks_exact(3)
            .map(|v| {
                let vm = TraceVm {
                    flavour: v[0],
                    duration_bin: v[1],
                    censored: v[2] == 1,
                };
                let ok = usize::from(vm.flavour) < flavours.len()
                    && usize::from(vm.duration_bin) < duration_bins.len()
                    && v[2] <= 1;
                ok.then_some(vm)
            })
            .collect::<Option<Vec<_>>>()?;
        bins.push(bin);
    }
    (r.at == payload.len() && !bins.is_empty()).then_some(AzureTrace {
        bin_s,
        bins,
        flavours,
        duration_bins,
    })
}

/// Little-endian reads that answer `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A count of items of `size` bytes each, refused when the rest could not hold them.
    fn count(&mut self, size: usize) -> Option<usize> {
        let n = usize::try_from(self.u32()?).ok()?;
        (n.checked_mul(size)? <= self.bytes.len() - self.at).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAVOURS: &str = "1,1.75 A\n2,3.5 B\n";
    const INTERVALS: &str = "0 0\n300 1\n600 1\n";
    const ARRIVALS: &str = "0 A,B,|\n300 B\n600 \n";
    const DURATIONS: &str = "0 S0,C1,|\n300 S1\n600 \n";

    /// A trace directory with the four files; returns it and where the cache goes.
    fn trace_dir() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in [
            ("arrivals.txt", ARRIVALS),
            ("durations.txt", DURATIONS),
            ("flav_map.txt", FLAVOURS),
            ("interval_map.txt", INTERVALS),
        ] {
            fs::write(dir.path().join(name), text).expect("write");
        }
        let cache = dir.path().join("cache");
        (dir, cache)
    }

    fn files(dir: &Path) -> TraceFiles<'_> {
        TraceFiles {
            dir,
            arrivals: "arrivals.txt",
            durations: "durations.txt",
            flavour_map: "flav_map.txt",
            interval_map: "interval_map.txt",
        }
    }

    fn the_one_cache_file(cache: &Path) -> PathBuf {
        let files: Vec<PathBuf> = fs::read_dir(cache)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    }

    #[test]
    fn the_cache_gives_back_what_the_parser_gave() {
        let (dir, cache) = trace_dir();
        let parsed = AzureTrace::parse(ARRIVALS, DURATIONS, FLAVOURS, INTERVALS).expect("parse");
        let (first, source) = load(files(dir.path()), Some(&cache)).expect("load");
        assert_eq!((&first, source), (&parsed, Source::Parsed));
        let (second, source) = load(files(dir.path()), Some(&cache)).expect("load");
        assert_eq!((&second, source), (&parsed, Source::Cached));
        // Without a cache directory nothing is written or read.
        let (plain, source) = load(files(dir.path()), None).expect("load");
        assert_eq!((&plain, source), (&parsed, Source::Parsed));
        assert_eq!(parsed.len(), 3);
        assert!(parsed.bins[0][1].censored);
    }

    #[test]
    fn a_corrupt_cache_is_ignored_and_rewritten() {
        let (dir, cache) = trace_dir();
        let (parsed, _) = load(files(dir.path()), Some(&cache)).expect("load");
        let file = the_one_cache_file(&cache);
        let good = fs::read(&file).expect("read");
        let mut corruptions: Vec<Vec<u8>> = vec![
            Vec::new(),
            good[..good.len() - 1].to_vec(),
            [good.as_slice(), b"x"].concat(),
        ];
        // Every single flipped byte: header or payload.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            corruptions.push(bad);
        }
        for bad in corruptions {
            fs::write(&file, &bad).expect("corrupt");
            let (trace, source) = load(files(dir.path()), Some(&cache)).expect("load");
            assert_eq!((&trace, source), (&parsed, Source::Parsed));
            assert_eq!(fs::read(&file).expect("read"), good, "rewritten");
        }
    }

    #[test]
    fn a_payload_with_a_valid_checksum_but_indices_out_of_range_is_refused() {
        let parsed = AzureTrace::parse(ARRIVALS, DURATIONS, FLAVOURS, INTERVALS).expect("parse");
        let key = [7u8; 32];
        let mut bad = parsed.clone();
        bad.bins[1][0].flavour = 9;
        assert!(decode(&encode(&bad, &key), &key).is_none());
        assert_eq!(decode(&encode(&parsed, &key), &key), Some(parsed.clone()));
        // Another key (another trace, or another format) is not this trace's cache.
        assert!(decode(&encode(&parsed, &key), &[8u8; 32]).is_none());
    }

    #[test]
    fn a_changed_trace_file_is_parsed_again_not_read_from_the_old_cache() {
        let (dir, cache) = trace_dir();
        load(files(dir.path()), Some(&cache)).expect("load");
        let old = the_one_cache_file(&cache);
        fs::write(dir.path().join("arrivals.txt"), "0 B\n300 A\n600 \n").expect("write");
        let (trace, source) = load(files(dir.path()), Some(&cache)).expect("load");
        assert_eq!(source, Source::Parsed);
        assert_eq!(trace.bins[1][0].flavour, 0);
        // The stale file is not the one read for the new content, even if renamed to its name.
        let new: Vec<PathBuf> = fs::read_dir(&cache)
            .expect("cache dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p != &old)
            .collect();
        assert_eq!(new.len(), 1);
        fs::copy(&old, &new[0]).expect("copy");
        let (again, source) = load(files(dir.path()), Some(&cache)).expect("load");
        assert_eq!((again, source), (trace, Source::Parsed));
    }

    #[test]
    fn a_parse_error_is_reported_and_nothing_cached() {
        let (dir, cache) = trace_dir();
        fs::write(dir.path().join("arrivals.txt"), "0 Z\n").expect("write");
        fs::write(dir.path().join("durations.txt"), "0 S0\n").expect("write");
        let e = load(files(dir.path()), Some(&cache)).expect_err("unknown flavour");
        assert!(e.contains("unknown flavour `Z`"), "{e}");
        assert!(!cache.exists());
    }
}
