//! Writes the re-placement benchmark's generated instances as JSON and times default-lp on them:
//! the Rust half of `bench/cvxpy` (default-lp side by side with upstream SMO's CVXPY model).
//!
//! ```text
//! cargo run --release -p smo-plugin-default-lp --example replacement_instances -- OUT_DIR \
//!     [--sizes 50x20,500x100,2000x200] [--runs 5] [--seed 42]
//! ```
//!
//! For each size `SxC` it writes `OUT_DIR/SxC.request.json` (the `PlacementRequest`, as the
//! criterion bench `replacement` builds it) and `OUT_DIR/SxC.default-lp.json`: the median and
//! every run's wall time in ms of `replace` (after one warm-up call), the services moved, the
//! objective, the cluster of every service, and the whole decision.

#[path = "../benches/common/mod.rs"]
mod common;

use smo_default_lp::replacement::replace;
use smo_default_lp::Params;
use smo_plugin_api::prelude::*;
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

struct Args {
    out: PathBuf,
    sizes: Vec<(usize, usize)>,
    runs: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut out = None;
    let mut sizes = vec![(50, 20), (500, 100), (2000, 200)];
    let mut runs = 5;
    let mut seed = 42;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--sizes" => {
                sizes = value()?
                    .split(',')
                    .map(|size| {
                        let (s, c) = size
                            .split_once('x')
                            .ok_or_else(|| format!("size `{size}` is not SERVICESxCLUSTERS"))?;
                        Ok((s.trim().parse()?, c.trim().parse()?))
                    })
                    .collect::<Result<_, Box<dyn Error>>>()?
            }
            "--runs" => runs = value()?.parse()?,
            "--seed" => seed = value()?.parse()?,
            flag if flag.starts_with("--") => return Err(format!("unknown flag {flag}").into()),
            dir => out = Some(PathBuf::from(dir)),
        }
    }
    let out = out
        .ok_or("usage: replacement_instances OUT_DIR [--sizes 50x20,...] [--runs N] [--seed N]")?;
    if runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(Args {
        out,
        sizes,
        runs,
        seed,
    })
}

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// Services whose cluster differs from the request's current placement.
fn moves(request: &PlacementRequest, decision: &PlacementDecision) -> usize {
    let ROption::RSome(current) = &request.current else {
        return 0;
    };
    current
        .assignments
        .iter()
        .filter(|a| decision.placement.cluster_of(a.service.as_str()) != Some(a.cluster.as_str()))
        .count()
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    std::fs::create_dir_all(&args.out)?;
    let params = Params::default();
    for &(services, clusters) in &args.sizes {
        let name = format!("{services}x{clusters}");
        let request = common::replacement_request(services, clusters, args.seed);
        std::fs::write(
            args.out.join(format!("{name}.request.json")),
            serde_json::to_vec(&request)?,
        )?;
        let decision = replace(&request, &params)?;
        let mut times = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let started = Instant::now();
            let again = replace(std::hint::black_box(&request), &params)?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            if again.placement != decision.placement {
                return Err(format!("{name}: two runs placed differently").into());
            }
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let assignment: serde_json::Map<String, serde_json::Value> = decision
            .placement
            .assignments
            .iter()
            .map(|a| (a.service.to_string(), a.cluster.to_string().into()))
            .collect();
        let summary = serde_json::json!({
            "size": name,
            "median_ms": median(&sorted),
            "runs_ms": times,
            "moves": moves(&request, &decision),
            "objective": decision.objective.into_option(),
            "assignment": assignment,
            "decision": decision,
        });
        std::fs::write(
            args.out.join(format!("{name}.default-lp.json")),
            serde_json::to_vec_pretty(&summary)?,
        )?;
        println!(
            "{name}: default-lp median {:.2} ms over {} runs, {} moves",
            median(&sorted),
            args.runs,
            summary["moves"]
        );
    }
    Ok(())
}
