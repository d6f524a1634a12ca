//! Hand-checked cases of Algorithm 1, MESF, the dispatcher's releases and queue, the seed mode
//! and the MILP, each small enough to verify on paper.

use smo_ecmr::dispatcher::Dispatcher;
use smo_ecmr::heuristic::{dispatch, Outcome};
use smo_ecmr::milp;
use smo_ecmr::objective::evaluate;
use smo_ecmr::params::{self, Choice, HeuristicParams, MilpParams, SeedParams};
use smo_ecmr::site::{Server, ServerType};
use smo_plugin_api::Resources;

mod common;
use common::{batch, site, vm};

#[test]
fn green_datacenter_without_enough_margin_is_rejected() {
    // A is green (100 W supply, 0 W drawn) but a 4-core VM switches a server on: 50 + 40 = 90 W
    // at PUE 1.0 fits; an 8-core VM needs 50 + 80 = 130 W > 100 W margin: rejected, goes to B
    // (the paper's choice: the first fallback datacenter, here the lowest-carbon one).
    let p = HeuristicParams {
        choice: Choice::First,
        improve_passes: 0,
        ..HeuristicParams::default()
    };
    let mut b = batch(
        vec![vm("big", 8.0, 60.0)],
        vec![site("a", 2, 100.0, 300.0), site("b", 2, 0.0, 100.0)],
        &[2.0, 5.0],
    );
    let (out, c) = dispatch(&mut b, &p);
    assert_eq!(c.res_rejections, 1);
    assert!(matches!(
        out[0],
        Outcome::Placed {
            site: 1,
            green: false,
            ..
        }
    ));
    let mut b = batch(
        vec![vm("small", 4.0, 60.0)],
        vec![site("a", 2, 100.0, 300.0), site("b", 2, 0.0, 100.0)],
        &[2.0, 5.0],
    );
    let (out, c) = dispatch(&mut b, &p);
    assert_eq!(c.res_rejections, 0);
    assert!(matches!(
        out[0],
        Outcome::Placed {
            site: 0,
            green: true,
            ..
        }
    ));
    // The margin shrinks as VMs land: a second 4-core VM would need 40 W with 10 W left.
    let mut b = batch(
        vec![vm("s1", 4.0, 60.0), vm("s2", 4.0, 60.0)],
        vec![site("a", 2, 100.0, 300.0), site("b", 2, 0.0, 100.0)],
        &[2.0, 5.0],
    );
    let (out, c) = dispatch(&mut b, &p);
    assert_eq!(c.res_rejections, 1);
    assert!(matches!(out[1], Outcome::Placed { site: 1, .. }));
}

#[test]
fn datacenter_beyond_the_latency_threshold_is_never_chosen() {
    let p = HeuristicParams {
        latency_threshold_ms: 30.0,
        ..HeuristicParams::default()
    };
    // A: green, huge margin, clean, but 40 ms away. B: brown and full (1 server, 16 cores used).
    let mut full = site("b", 1, 0.0, 500.0);
    full.servers[0].used_cpu = 16.0;
    full.free.cpu = 0.0;
    let mut b = batch(
        vec![vm("v", 1.0, 60.0)],
        vec![site("a", 4, 1e6, 1.0), full],
        &[40.0, 10.0],
    );
    let (out, c) = dispatch(&mut b, &p);
    assert_eq!(out[0], Outcome::Unplaced);
    assert_eq!(c.latency_rejections, 1);
    // Exactly at the threshold is also refused (the paper's `L < T_thre`).
    let mut b = batch(
        vec![vm("v", 1.0, 60.0)],
        vec![site("a", 4, 1e6, 1.0)],
        &[30.0],
    );
    assert_eq!(dispatch(&mut b, &p).0[0], Outcome::Unplaced);
}

#[test]
fn mesf_picks_the_server_with_the_smallest_power_increase() {
    let mut s = site("a", 3, 0.0, 100.0);
    // Server 0: off (switching on costs 50 W + 10 W/core). Server 1: on, steep curve type.
    // Server 2: on, flat curve type (2 W/core). A 2-core VM: 70 W, 2 x 30 = 60 W... and 4 W.
    s.types.push(ServerType {
        cores: 16.0,
        memory_mib: 65536.0,
        gpus: 0,
        curve_w: vec![50.0, 530.0],
    });
    s.types.push(ServerType {
        cores: 16.0,
        memory_mib: 65536.0,
        gpus: 0,
        curve_w: vec![100.0, 132.0],
    });
    s.servers[1] = Server {
        kind: 1,
        used_cpu: 1.0,
        used_memory_mib: 1024.0,
        used_gpu: 0,
        busy_cores: 1.0,
        watts: 80.0,
    };
    s.servers[2] = Server {
        kind: 2,
        used_cpu: 1.0,
        used_memory_mib: 1024.0,
        used_gpu: 0,
        busy_cores: 1.0,
        watts: 102.0,
    };
    let d = Resources::new(2.0, 1024.0, 0);
    assert!((s.delta_w(0, &d) - 70.0).abs() < 1e-9);
    assert!((s.delta_w(1, &d) - 60.0).abs() < 1e-9);
    assert!((s.delta_w(2, &d) - 4.0).abs() < 1e-9);
    let (i, dw) = s.mesf(&d).expect("a server fits");
    assert_eq!(i, 2);
    assert!((dw - 4.0).abs() < 1e-9);
    // A server without room is skipped even when it would be cheapest.
    s.servers[2].used_cpu = 15.0;
    assert_eq!(s.mesf(&d).map(|x| x.0), Some(1));
}

#[test]
fn released_vms_free_capacity_and_power() {
    let mut disp = Dispatcher::new(
        vec![site("a", 1, 0.0, 100.0)],
        vec![5.0],
        HeuristicParams::default(),
    );
    disp.step(0.0, vec![vm("v", 4.0, 600.0)]);
    assert_eq!(disp.running(), 1);
    assert!((disp.sites[0].it_w() - 90.0).abs() < 1e-9);
    assert!((disp.sites[0].free.cpu - 12.0).abs() < 1e-9);
    disp.step(300.0, vec![]);
    assert_eq!(disp.running(), 1, "not yet over");
    disp.step(600.0, vec![]);
    assert_eq!(disp.running(), 0);
    assert_eq!(disp.sites[0].it_w(), 0.0, "an empty server is switched off");
    assert!((disp.sites[0].free.cpu - 16.0).abs() < 1e-9);
}

#[test]
fn queued_vm_is_placed_when_capacity_frees() {
    let mut disp = Dispatcher::new(
        vec![site("a", 1, 0.0, 100.0)],
        vec![5.0],
        HeuristicParams::default(),
    );
    let out = disp.step(0.0, vec![vm("first", 16.0, 600.0), vm("second", 8.0, 60.0)]);
    assert!(matches!(out[0], Outcome::Placed { .. }));
    assert_eq!(out[1], Outcome::Unplaced);
    assert_eq!(disp.queued(), 1);
    assert_eq!(disp.stats.failed, 0);
    disp.step(300.0, vec![]);
    assert_eq!(disp.queued(), 1, "still no room");
    disp.step(600.0, vec![]);
    assert_eq!(disp.queued(), 0);
    assert_eq!(disp.stats.placed, 2);
    assert_eq!(disp.stats.delayed, 1);
    assert!((disp.stats.queue_wait_s - 600.0).abs() < 1e-9);
}

#[test]
fn queue_is_bounded_and_waits_expire() {
    let p = HeuristicParams {
        queue_capacity: 1,
        max_queue_wait_s: 300.0,
        ..HeuristicParams::default()
    };
    let mut disp = Dispatcher::new(vec![site("a", 1, 0.0, 100.0)], vec![5.0], p);
    disp.step(
        0.0,
        vec![
            vm("a", 16.0, 3600.0),
            vm("b", 8.0, 60.0),
            vm("c", 8.0, 60.0),
        ],
    );
    assert_eq!(disp.queued(), 1);
    assert_eq!(disp.stats.failed, 1, "queue full");
    disp.step(300.0, vec![]);
    assert_eq!(disp.queued(), 0);
    assert_eq!(disp.stats.failed, 2, "waited too long");
}

#[test]
fn seed_mode_reproduces_the_seeds_choice() {
    // The seed's 23:00 on 2024-01-01: green = SE, ES, DE (grid RE% > 50); SE (154 ms) and ES
    // (105 ms) are beyond 100 ms from Paris, so every VM goes to Frankfurt at 47.79 ms.
    let dcs = [
        ("milan", 45.4642, 9.19, 0.4023, 1.2),
        ("stockholm", 59.3293, 18.0686, 0.6544, 1.1),
        ("madrid", 40.4168, -3.7038, 0.5142, 1.2),
        ("paris", 48.8566, 2.3522, 0.3551, 1.15),
        ("frankfurt", 50.1109, 8.6821, 0.726, 1.1),
    ];
    let sites = dcs
        .iter()
        .map(|&(n, lat, lon, share, pue)| {
            let mut s = site(n, 1, 0.0, 100.0);
            s.lat = lat;
            s.lon = lon;
            s.grid_renewable_share = share;
            s.pue = pue;
            s.free = Resources::new(3200.0, 1e9, 0);
            s.capacity = s.free;
            s
        })
        .collect();
    let vms = (0..100)
        .map(|i| vm(&format!("vm-{i}"), 4.0, 600.0))
        .collect();
    let mut b = batch(vms, sites, &[0.0; 5]);
    let (out, rejections) = smo_ecmr::seed::dispatch(&mut b, &SeedParams::default());
    assert_eq!(rejections, 200);
    assert!(out.iter().all(|c| c.site == Some(4)));
    assert!((out[0].latency_ms - 47.79).abs() < 0.01);
}

#[test]
fn milp_is_optimal_and_never_worse_than_the_heuristic() {
    // A: green with 100 W, B: brown 400 g/kWh, C: brown 50 g/kWh. Five VMs.
    let mk = || {
        batch(
            (0..5)
                .map(|i| vm(&format!("v{i}"), 1.0 + i as f64, 60.0))
                .collect(),
            vec![
                site("a", 2, 100.0, 300.0),
                site("b", 2, 0.0, 400.0),
                site("c", 2, 0.0, 50.0),
            ],
            &[2.0, 5.0, 20.0],
        )
    };
    let b = mk();
    let p = MilpParams::default();
    let sol = milp::solve(&b, &p).expect("solved");
    assert_eq!(sol.status, "optimal");
    assert!(sol.assign.iter().all(Option::is_some));
    let m = evaluate(&b, &sol.assign, &p.weights);
    let mut hb = mk();
    let (out, _) = dispatch(&mut hb, &HeuristicParams::default());
    let ha: Vec<_> = out
        .iter()
        .map(|o| match o {
            Outcome::Placed { site, server, .. } => Some((*site, *server)),
            Outcome::Unplaced => None,
        })
        .collect();
    let h = evaluate(&b, &ha, &p.weights);
    assert!(m <= h + 1e-9, "milp {m} heuristic {h}");
    // Capacity holds per server.
    for (j, s) in b.sites.iter().enumerate() {
        for i in 0..s.servers.len() {
            let cpu: f64 = sol
                .assign
                .iter()
                .zip(&b.vms)
                .filter(|(a, _)| **a == Some((j, i)))
                .map(|(_, v)| v.demand.cpu)
                .sum();
            assert!(cpu <= 16.0 + 1e-9);
        }
    }
}

#[test]
fn unknown_parameters_are_refused() {
    let err =
        params::parse::<HeuristicParams>(r#"{"latency_threshold": 10}"#).expect_err("typo refused");
    assert!(err.message.contains("latency_threshold"));
    let p: HeuristicParams =
        params::parse(r#"{"fallback": "most_free"}"#).expect("valid parameters");
    assert_eq!(p.fallback, params::Fallback::MostFree);
    assert_eq!(
        params::parse::<MilpParams>("").expect("empty"),
        MilpParams::default()
    );
}
