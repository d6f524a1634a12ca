//! Issue 7 end to end: `smo simulate scenarios/offload-demo.yaml` with the real `sbmp-gma` and
//! `default-lp` plugins, the migration driven by the offload state machine. The users' delay
//! rises above the offload threshold, services move to the edge, the delay returns within the
//! band; the load falls, services move back and the hourly cost falls.

use serde_json::Value;
use smo_tests::*;

/// The scenario's `strategies.offload_policy` band (ms).
const OFFLOAD_DELAY_MS: f64 = 50.0;
const UNOFFLOAD_DELAY_MS: f64 = 25.0;

#[test]
fn offload_demo_moves_services_to_the_edge_and_back() {
    let sandbox = Sandbox::new();
    sandbox.install("smo_sbmp_gma", "sbmp-gma.so");
    sandbox.install("smo_default_lp", "default-lp.so");
    let out = sandbox
        .simulate("offload-demo.yaml")
        .output()
        .expect("smo runs");
    let doc: Value = simulate_report(&out);
    let run = &doc["strategies"][0];
    let totals = &run["totals"];
    assert_eq!(totals["strategy_errors"], 0, "{totals}");
    assert_eq!(totals["invalid_decisions"], 0, "{totals}");
    let hourly = run["hourly"].as_array().expect("hourly");
    let delay = |h: usize| number(&hourly[h], "mean_response_ms");
    let cost = |h: usize| number(&hourly[h], "cost");
    let events = totals["offload_actions"]
        .as_array()
        .expect("offload_actions");
    let hour = |e: &Value| e["hour"].as_u64().unwrap() as usize;
    let is = |e: &Value, a: &str| e["action"] == a;
    let count = |e: &Value, k: &str| e[k].as_u64().unwrap();
    assert!(
        totals["offload_transitions"].as_u64().unwrap() >= 2 * events.len() as u64,
        "{totals}"
    );

    // The delay climbs above the offload threshold before the first offload.
    let first_off = events
        .iter()
        .position(|e| is(e, "offload"))
        .expect("an offload");
    let fo = &events[first_off];
    assert!(number(fo, "measured_delay_ms") > OFFLOAD_DELAY_MS, "{fo}");
    assert!(number(fo, "required_decrease_ms") > 0.0, "{fo}");
    assert!(
        (0..=hour(fo)).any(|h| delay(h) > OFFLOAD_DELAY_MS),
        "no hour above {OFFLOAD_DELAY_MS} ms before the offload"
    );
    assert!(
        delay(hour(fo)) > delay(hour(fo).saturating_sub(3)),
        "rising delay"
    );

    // Services move to the edge (the offload hours count migrations).
    let offloads: Vec<&Value> = events[first_off..]
        .iter()
        .take_while(|e| is(e, "offload"))
        .collect();
    assert!(
        offloads
            .iter()
            .map(|e| count(e, "moves_to_edge"))
            .sum::<u64>()
            > 0
    );
    assert!(offloads
        .iter()
        .all(|e| hourly[hour(e)]["migrations"].as_u64().unwrap() > 0));
    let last_off = offloads.last().unwrap();

    // Then an unoffload moves services back once the load has fallen.
    let back: Vec<&Value> = events[first_off + offloads.len()..]
        .iter()
        .filter(|e| is(e, "unoffload"))
        .collect();
    let first_back = back.first().expect("an unoffload after the offload");
    assert!(
        back.iter()
            .map(|e| count(e, "moves_from_edge"))
            .sum::<u64>()
            > 0
    );
    assert!(number(first_back, "measured_delay_ms") < UNOFFLOAD_DELAY_MS);
    assert!(number(first_back, "required_decrease_ms") < 0.0);
    let requests = |h: usize| hourly[h]["requests"].as_u64().unwrap();
    let peak = (hour(fo)..hour(first_back)).map(requests).max().unwrap();
    assert!(requests(hour(first_back)) < peak, "the load fell");

    // Between the offload and the unoffload the delay is back within the band.
    let settled: Vec<usize> = (hour(last_off) + 1..hour(first_back)).collect();
    assert!(!settled.is_empty());
    for &h in &settled {
        assert!(
            (UNOFFLOAD_DELAY_MS..=OFFLOAD_DELAY_MS).contains(&delay(h)),
            "hour {h}: {} ms outside the band",
            delay(h)
        );
    }

    // After the last unoffload the hourly cost is below the offloaded hours'.
    let last_back = hour(back.last().unwrap());
    let offloaded_cost = settled.iter().map(|&h| cost(h)).fold(f64::MAX, f64::min);
    let after: Vec<usize> = (last_back + 1..hourly.len()).collect();
    assert!(!after.is_empty());
    for &h in &after {
        assert!(
            cost(h) < offloaded_cost,
            "hour {h}: {} not below {offloaded_cost}",
            cost(h)
        );
    }
}
