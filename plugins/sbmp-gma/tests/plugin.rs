//! The strategy through its Rust API (`Migration::plan`): inputs from a `MigrationRequest`,
//! parameters, errors, moves, the unoffload cost check, pinning and determinism.

use smo_plugin_api::prelude::*;
use smo_sbmp_gma::synth::{self, Spec};
use smo_sbmp_gma::Offload;

const MIB: f64 = 1024.0 * 1024.0;

/// The research note's toy app (§7.3) as a request; memory 256e6 bytes, prices per GB.
fn toy_request(bandwidth_mbps: f64, l_scale: f64, edge: &[&str], extra: &str) -> MigrationRequest {
    let l = [20e3, 5e3, 10e3, 50e3, 2e3, 100e3];
    let u = [0.5, 0.3, 0.8, 0.2, 0.4, 0.6];
    let names = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let calls = [
        ("users", 0, 20.0),
        ("s0", 1, 20.0),
        ("s0", 2, 40.0),
        ("s1", 3, 20.0),
        ("s2", 4, 40.0),
        ("s2", 5, 40.0),
    ];
    let mut clusters = synth::clusters();
    // The note prices memory per GB (1e9 bytes): express that per GiB.
    let gib_per_gb = (1u64 << 30) as f64 / 1e9;
    clusters[0].prices.memory_gib_hour = 0.0104 * gib_per_gb;
    clusters[1].prices.memory_gib_hour = 0.014 * gib_per_gb;
    let services: Vec<Service> = names
        .iter()
        .map(|n| synth::service(n, 0.5, 256e6 / MIB))
        .collect();
    let mut assignments: Vec<Assignment> = names
        .iter()
        .map(|n| Assignment {
            service: (*n).into(),
            cluster: "cloud".into(),
            replicas: 1,
        })
        .collect();
    for e in edge {
        assignments.push(Assignment {
            service: (*e).into(),
            cluster: "edge".into(),
            replicas: 1,
        });
    }
    let usage: Vec<String> = names
        .iter()
        .zip(u)
        .map(|(n, u)| format!("\"{n}\": {{\"cloudCpu\": {u}}}"))
        .collect();
    let extra = if extra.is_empty() {
        format!("{{\"usage\": {{{}}}}}", usage.join(", "))
    } else {
        format!("{{\"usage\": {{{}}}, {extra}}}", usage.join(", "))
    };
    MigrationRequest {
        graph: Graph {
            name: "toy".into(),
            services: services.into(),
        },
        clusters,
        current: smo_plugin_api::types::Placement {
            assignments: assignments.into(),
        },
        telemetry: Telemetry {
            time_unix_s: 0,
            loads: RVec::new(),
            links: synth::links(40.0, bandwidth_mbps),
            calls: calls
                .iter()
                .map(|&(from, to, rps)| CallRate {
                    from: from.into(),
                    to: names[to].into(),
                    rps,
                    mean_response_bytes: l[to] * l_scale,
                })
                .collect(),
        },
        extra: extra.into(),
    }
}

fn extra_json(d: &MigrationDecision) -> serde_json::Value {
    serde_json::from_str(d.extra.as_str()).unwrap()
}

#[test]
fn toy_offload_through_the_adapter() {
    let s = Offload::new(r#"{"stopMultiplier": 1.0}"#).unwrap();
    let d = s
        .plan(&toy_request(
            1000.0,
            1.0,
            &[],
            r#""requiredDecreaseMs": 10"#,
        ))
        .unwrap();
    let x = extra_json(&d);
    // The user has no requests in real use: 11 cloud replicas, not the note's 12.
    let before = x["before"]["cost"]["total"].as_f64().unwrap();
    let expected = 0.185549 - (0.0208 * 0.5 + 0.0104 * 0.256);
    assert!((before - expected).abs() < 1e-6, "{before} vs {expected}");
    assert!((x["before"]["delayMs"].as_f64().unwrap() - 40.161).abs() < 1e-3);
    let started: Vec<&str> = d.moves.iter().map(|m| m.service.as_str()).collect();
    assert_eq!(started, vec!["s0", "s1", "s2", "s3", "s4", "s5"]);
    for m in d.moves.iter() {
        assert_eq!((m.from.as_str(), m.to.as_str()), ("", "edge"));
        assert!(m.replicas >= 1);
    }
    assert_eq!(x["after"]["delayMs"].as_f64().unwrap(), 0.0);
    assert_eq!(x["targetMet"], true);
    assert_eq!(x["replicas"]["s2"]["edge"], 3);
    // Gains and costs telescope to the totals.
    let gain: f64 = d.moves.iter().map(|m| m.expected_gain).sum();
    let cost: f64 = d.moves.iter().map(|m| m.expected_cost).sum();
    assert!((gain - x["delayDecreaseMs"].as_f64().unwrap()).abs() < 1e-9);
    assert!((cost - x["costIncreasePerHour"].as_f64().unwrap()).abs() < 1e-12);
}

#[test]
fn costly_unoffload_is_rejected_unless_configured() {
    let all = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let req = toy_request(100.0, 10.0, &all, r#""requiredDecreaseMs": -100"#);
    let d = Offload::new("{}").unwrap().plan(&req).unwrap();
    assert!(d.moves.is_empty(), "{:?}", d.moves);
    let x = extra_json(&d);
    assert_eq!(x["rejected"], true);
    assert!(d.reasons.iter().any(|r| r.contains("unoffload rejected")));
    assert_eq!(
        x["rejectedPlan"]["edgeServices"].as_array().unwrap().len(),
        0
    );

    let s = Offload::new(r#"{"unoffloadCostCheck": false}"#).unwrap();
    let d = s.plan(&req).unwrap();
    assert_eq!(d.moves.len(), 6);
    // Leaves first, each stopped at the edge (the cloud copies run).
    assert_eq!(d.moves[0].service.as_str(), "s5");
    assert_eq!(d.moves.last().unwrap().service.as_str(), "s0");
    for m in d.moves.iter() {
        assert_eq!(
            (m.from.as_str(), m.to.as_str(), m.replicas),
            ("edge", "", 0)
        );
    }
    let x = extra_json(&d);
    let rise = x["costIncreasePerHour"].as_f64().unwrap();
    assert!((rise - 0.159888).abs() < 1e-5, "{rise}");
}

#[test]
fn cheap_unoffload_is_accepted() {
    // Light traffic, everything at the edge, a generous allowance: cost falls.
    let all = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let req = toy_request(1000.0, 1.0, &all, r#""requiredDecreaseMs": -100"#);
    let d = Offload::new("{}").unwrap().plan(&req).unwrap();
    let x = extra_json(&d);
    assert_eq!(x["rejected"], false);
    assert_eq!(d.moves.len(), 6);
    assert!(x["costIncreasePerHour"].as_f64().unwrap() < 0.0);
    assert!(x["after"]["delayMs"].as_f64().unwrap() <= 100.0 + 1e-9);
}

#[test]
fn a_cycle_is_an_invalid_input_naming_it() {
    let mut req = toy_request(1000.0, 1.0, &[], r#""requiredDecreaseMs": 10"#);
    let mut calls: Vec<CallRate> = req.telemetry.calls.iter().cloned().collect();
    calls.push(CallRate {
        from: "s3".into(),
        to: "s0".into(),
        rps: 1.0,
        mean_response_bytes: 10.0,
    });
    req.telemetry.calls = calls.into();
    let e = Offload::new("{}").unwrap().plan(&req).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_INPUT);
    assert!(e.message.contains("s0 -> s1 -> s3 -> s0"), "{}", e.message);
}

#[test]
fn bad_inputs_and_parameters_are_named() {
    let e = Offload::new(r#"{"expandingDepth": 0}"#).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BAD_PARAMETERS);
    assert!(e.message.contains("expandingDepth"));
    let e = Offload::new(r#"{"lockd": ["a"]}"#).unwrap_err();
    assert!(e.message.contains("lockd"), "{}", e.message);

    let s = Offload::new(r#"{"pinned": ["nope"]}"#).unwrap();
    let e = s
        .plan(&toy_request(
            1000.0,
            1.0,
            &[],
            r#""requiredDecreaseMs": 10"#,
        ))
        .unwrap_err();
    assert!(e.message.contains("nope"), "{}", e.message);

    let mut req = toy_request(1000.0, 1.0, &[], r#""requiredDecreaseMs": 10"#);
    req.telemetry.links = RVec::new();
    let e = Offload::new("{}").unwrap().plan(&req).unwrap_err();
    assert!(e.message.contains("telemetry.links"), "{}", e.message);

    let mut req = toy_request(1000.0, 1.0, &[], "");
    req.extra = r#"{"requiredDecreaseMs": "ten"}"#.into();
    let e = Offload::new("{}").unwrap().plan(&req).unwrap_err();
    assert!(e.message.contains("requiredDecreaseMs") || e.message.contains("invalid type"));
}

#[test]
fn nothing_requested_moves_nothing() {
    let d = Offload::new("{}")
        .unwrap()
        .plan(&toy_request(1000.0, 1.0, &[], ""))
        .unwrap();
    assert!(d.moves.is_empty());
    assert_eq!(extra_json(&d)["action"], "none");
    // An empty `extra` is accepted too.
    let mut req = toy_request(1000.0, 1.0, &[], "");
    req.extra = "".into();
    assert!(Offload::new("")
        .unwrap()
        .plan(&req)
        .unwrap()
        .moves
        .is_empty());
}

#[test]
fn pinned_services_stay_where_they_are() {
    let s = Offload::new(r#"{"pinned": ["s3"], "stopMultiplier": 1.0}"#).unwrap();
    let d = s
        .plan(&toy_request(
            1000.0,
            1.0,
            &[],
            r#""requiredDecreaseMs": 30"#,
        ))
        .unwrap();
    assert!(d.moves.iter().all(|m| m.service.as_str() != "s3"));
    assert!(!d.moves.is_empty());

    let all = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let s = Offload::new(r#"{"pinned": ["s5"], "unoffloadCostCheck": false}"#).unwrap();
    let d = s
        .plan(&toy_request(
            1000.0,
            1.0,
            &all,
            r#""requiredDecreaseMs": -100"#,
        ))
        .unwrap();
    assert!(d.moves.iter().all(|m| m.service.as_str() != "s5"));
    assert!(!d.moves.is_empty());
}

#[test]
fn a_service_without_cloud_copy_moves_back_to_the_cloud() {
    let all = ["s0", "s1", "s2", "s3", "s4", "s5"];
    let mut req = toy_request(1000.0, 1.0, &all, r#""requiredDecreaseMs": -100"#);
    let kept: Vec<Assignment> = req
        .current
        .assignments
        .iter()
        .filter(|a| !(a.service.as_str() == "s4" && a.cluster.as_str() == "cloud"))
        .cloned()
        .collect();
    req.current.assignments = kept.into();
    let d = Offload::new("{}").unwrap().plan(&req).unwrap();
    let m = d.moves.iter().find(|m| m.service.as_str() == "s4").unwrap();
    assert_eq!((m.from.as_str(), m.to.as_str()), ("edge", "cloud"));
    assert!(m.replicas >= 1);
}

#[test]
fn deterministic_for_a_seed() {
    let req = synth::with_required_decrease(synth::app(&Spec::new(60, 11)), 60.0);
    let a = Offload::new(r#"{"seed": 5}"#).unwrap().plan(&req).unwrap();
    let b = Offload::new(r#"{"seed": 5}"#).unwrap().plan(&req).unwrap();
    assert_eq!(a, b);
    assert!(!a.moves.is_empty());
}

#[test]
fn derived_usage_matches_explicit_usage() {
    // Usage from telemetry.loads (utilisation × request × replicas) gives the same model.
    let req = synth::with_required_decrease(synth::app(&Spec::new(20, 3)), 40.0);
    let s = Offload::new("{}").unwrap();
    let (_, plan) = s.decide(&req).unwrap();
    let mut usage = Vec::new();
    for l in req.telemetry.loads.iter() {
        let a = req
            .current
            .assignments
            .iter()
            .find(|a| a.service == l.service)
            .unwrap();
        usage.push(format!(
            "\"{}\": {{\"cloudCpu\": {}}}",
            l.service,
            l.cpu_utilisation * f64::from(a.replicas)
        ));
    }
    let mut req2 = req.clone();
    req2.extra = format!(
        "{{\"requiredDecreaseMs\": 40, \"usage\": {{{}}}}}",
        usage.join(",")
    )
    .into();
    let (_, plan2) = s.decide(&req2).unwrap();
    assert_eq!(plan.edge, plan2.edge);
    assert!((plan.after.eval.cost.total() - plan2.after.eval.cost.total()).abs() < 1e-9);
}
