//! The ecosystem end to end: the seed's declaration read as it is, every error of a bad one at
//! once, the map's edges through deploys, moves and removals, and the score's worked example.

use super::declaration::{parse, FieldError};
use super::*;

const SEED_EXAMPLE: &str = r#"{
  "vm_name": "WebTier1",
  "dependencies": {
    "required": [
      {"type": "database", "version": "PostgreSQL 14", "network_latency_requirement": " < 1ms"}
    ],
    "preferred": [
      {"type": "caching", "version": "Redis 6", "resource_profile": "high-memory"},
      {"type": "analytics", "fuzzy_match": "similar ML model signature"}
    ]
  }
}"#;

fn provider(name: &str, yaml_provides: &str) -> Declaration {
    parse(&format!("vm_name: {name}\nprovides: {yaml_provides}\n")).expect("declaration")
}

/// A PostgreSQL 14.2 database and a high-memory Redis 6.2 cache on `cluster`.
fn deploy_db_and_cache(map: &mut EcosystemMap, cluster: &str) {
    map.upsert(
        provider("db", "{type: database, version: PostgreSQL 14.2}"),
        None,
        cluster,
    );
    map.upsert(
        provider(
            "cache",
            "{type: caching, version: Redis 6.2, resource_profile: [high-memory]}",
        ),
        None,
        cluster,
    );
}

fn web() -> Declaration {
    let mut web = parse(SEED_EXAMPLE).expect("the seed's example");
    web.provides.signature = Some(declaration::Signature::Tags(vec![
        "resnet".into(),
        "vision".into(),
    ]));
    web
}

fn topology() -> Topology {
    let mut t = Topology::default();
    t.locate("paris", 48.86, 2.35);
    t.locate("frankfurt", 50.11, 8.68);
    t
}

#[test]
fn the_seeds_example_is_read_as_it_is() {
    let web = parse(SEED_EXAMPLE).expect("valid");
    assert_eq!(web.vm_name, "WebTier1");
    assert_eq!(web.dependencies.required.len(), 1);
    assert_eq!(web.dependencies.preferred.len(), 2);
    assert_eq!(
        web.dependencies.required[0]
            .network_latency_requirement
            .as_deref(),
        Some(" < 1ms")
    );
}

#[test]
fn a_bad_declaration_gets_every_error_with_its_path() {
    let errors = parse(
        r#"{"dependencies": {"required": [{"type": 3, "version": ">=x",
              "network_latency_requirement": "> 1ms"}, {}],
            "preferred": [{"type": "cache", "fuzzy_match": {"min_similarity": 2}, "colour": "red"}]},
            "provides": {"ram_gib": -1, "signature": ["a", 1]}}"#,
    )
    .expect_err("invalid")
    .0;
    let paths: Vec<&str> = errors
        .iter()
        .map(|e: &FieldError| e.path.as_str())
        .collect();
    for path in [
        "vm_name",
        "provides.ram_gib",
        "provides.signature",
        "dependencies.required[0].type",
        "dependencies.required[0].version",
        "dependencies.required[0].network_latency_requirement",
        "dependencies.required[1]",
        "dependencies.preferred[0].colour",
        "dependencies.preferred[0].fuzzy_match.min_similarity",
    ] {
        assert!(paths.contains(&path), "{path} missing from {errors:?}");
    }
}

#[test]
fn edges_follow_deploys_moves_and_removals_and_the_score_follows_placement() {
    let mut map = EcosystemMap::new(topology());
    let weights = Weights::default();
    let web_id = map.upsert(web(), Some("shop".into()), "paris");
    let alone = map.score(web_id, &weights).expect("scored");
    assert!(
        alone.violated && alone.score < weights.threshold,
        "{alone:?}"
    );
    assert_eq!(map.edges(), 0);

    deploy_db_and_cache(&mut map, "paris");
    map.upsert(
        provider("old-db", "{type: database, version: PostgreSQL 12}"),
        None,
        "paris",
    );
    map.upsert(
        provider("ml", "{type: analytics, signature: [resnet, vision, gpu]}"),
        None,
        "frankfurt",
    );
    // db, cache and ml match (ml's tags: 2 of 3 shared = 0.67 < 0.8, so it does not).
    assert_eq!(map.edges(), 2);
    // The worked example: database and cache met, analytics not.
    let score = map.score(web_id, &weights).expect("scored");
    assert_eq!((score.required_met, score.preferred_met), (1, 1));
    assert!((score.score - 0.85).abs() < 1e-12, "{score:?}");
    assert!(map
        .below_threshold(&weights)
        .iter()
        .all(|s| s.workload != web_id));

    // Moving the database away breaks the required dependency (< 1 ms is not Frankfurt).
    let db = map.id("db").expect("db");
    let breaks = map.breaks_if_moved(db, "frankfurt");
    assert_eq!(breaks.len(), 1, "{breaks:?}");
    assert_eq!(
        (breaks[0].workload, breaks[0].side),
        (web_id, Side::Required)
    );
    assert!(map.move_to("db", "frankfurt"));
    let score = map.score(web_id, &weights).expect("scored");
    assert!(score.violated);
    assert!(
        (score.score - (0.7 * 0.0 + 0.3 * 0.5) * 0.8).abs() < 1e-12,
        "{score:?}"
    );
    assert_eq!(map.below_threshold(&weights)[0].workload, web_id);
    let unmet = map.unmet();
    let why = unmet
        .iter()
        .find(|u| u.workload == web_id && u.side == Side::Required)
        .expect("reported");
    assert!(why.reason.contains("`db` on `frankfurt`"), "{}", why.reason);

    // Removing a workload removes its edges both ways.
    assert!(map.remove("db"));
    assert_eq!(map.edges(), 1);
    assert!(map.remove("WebTier1"));
    assert_eq!(map.edges(), 0);
    assert_eq!(map.len(), 3);
}

#[test]
fn a_fuzzy_rule_compares_with_the_declarers_own_signature() {
    let mut map = EcosystemMap::new(topology());
    let web_id = map.upsert(web(), None, "paris");
    map.upsert(
        provider("twin", "{type: analytics, signature: [ResNet, vision]}"),
        None,
        "paris",
    );
    assert_eq!(map.edges(), 1);
    let score = map.score(web_id, &Weights::default()).expect("scored");
    assert_eq!(score.preferred_met, 1);
}

#[test]
fn type_weights_change_what_a_preferred_dependency_is_worth() {
    let mut map = EcosystemMap::new(topology());
    let web_id = map.upsert(web(), None, "paris");
    deploy_db_and_cache(&mut map, "paris");
    let mut weights = Weights::default();
    // Caching met, analytics not: with caching worth nothing, P = 0 (of a total of 1).
    weights.per_type.insert("caching".into(), 0.0);
    let score = map.score(web_id, &weights).expect("scored");
    assert!((score.score - 0.7).abs() < 1e-12, "{score:?}");
    assert!(Weights {
        required: 0.0,
        ..Weights::default()
    }
    .check()
    .is_err());
}

#[test]
fn a_neighbour_joining_is_offered_and_scored_by_what_it_gives() {
    let mut map = EcosystemMap::new(topology());
    // The web tier in Frankfurt, its database and cache in Paris: every requirement unmet.
    deploy_db_and_cache(&mut map, "paris");
    let web_id = map.upsert(web(), None, "frankfurt");
    let db = map.id("db").expect("db");
    let cache = map.id("cache").expect("cache");
    let mut neighbours = options::unmet_neighbours(&map, web_id);
    neighbours.sort_unstable();
    let mut expected = vec![db, cache];
    expected.sort_unstable();
    assert_eq!(neighbours, expected);

    // The database joining the web tier: its own score stays, the web tier's rises.
    let weights = Weights::default();
    let found = options::move_options(
        &mut map,
        options::Moving {
            id: db,
            name: "db",
            service: "db",
            home: "paris",
            replicas: 1,
        },
        &["frankfurt"],
        &weights,
        &learning::CostModel::default(),
        10.0,
    );
    assert_eq!(found.options.len(), 1);
    let option = &found.options[0];
    assert_eq!(
        (option.from.as_str(), option.to.as_str()),
        ("paris", "frankfurt")
    );
    assert_eq!(option.score_after, option.score_before);
    assert!(option.dependents_delta > 0.5, "{option:?}");
    // Tried and undone: the map is as it was.
    assert_eq!(map.cluster_of(db), Some("paris"));

    // Once the database is met, it is no longer a neighbour to bring.
    map.move_to("db", "frankfurt");
    assert_eq!(options::unmet_neighbours(&map, web_id), vec![cache]);
}

#[test]
fn the_loop_takes_critical_workloads_first_then_the_least_satisfied() {
    let mut map = EcosystemMap::new(topology());
    deploy_db_and_cache(&mut map, "paris");
    let mut critical = web();
    critical.vm_name = "critical-web".into();
    critical.provides.critical = true;
    // Without preferred dependencies it scores higher than the other web tier (0.24 to 0).
    critical.dependencies.preferred.clear();
    let mut plain = web();
    plain.vm_name = "plain-web".into();
    map.upsert(plain, None, "frankfurt");
    map.upsert(critical, None, "frankfurt");
    let order: Vec<(String, bool)> = options::candidates(&map, &Weights::default())
        .into_iter()
        .map(|c| (c.name, c.critical))
        .collect();
    let by_score: Vec<String> = map
        .below_threshold(&Weights::default())
        .iter()
        .filter_map(|s| map.describe(s.workload).map(|d| d.0.to_owned()))
        .collect();
    assert_eq!(by_score, ["plain-web", "critical-web"]);
    assert_eq!(
        order,
        [
            ("critical-web".to_owned(), true),
            ("plain-web".to_owned(), false)
        ]
    );
}
