//! Tests of the descriptor pipeline end to end: the upstream fixtures as they are, the
//! extensions, and every-error-at-once validation.

use serde_json::json;
use smo_plugin_api::{DependencyKind, StrategyKind};

use super::*;

const HELLO_WORLD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/hdag/hello-world.yaml"
));
const BRUSSELS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/hdag/brussels-demo.yaml"
));

fn parse_ok(text: &str) -> GraphSpec {
    match parse_descriptor(text) {
        Ok(spec) => spec,
        Err(errors) => panic!("descriptor rejected:\n{errors}"),
    }
}

fn parse_err(text: &str) -> ValidationErrors {
    match parse_descriptor(text) {
        Ok(spec) => panic!("descriptor accepted: {}", spec.name),
        Err(errors) => errors,
    }
}

#[test]
fn hello_world_fixture_loads_as_is() {
    let spec = parse_ok(HELLO_WORLD);
    assert_eq!(spec.name, "hello-world-graph");
    assert_eq!(spec.services.len(), 1);
    let service = &spec.services[0];
    assert_eq!(service.name, "hello-world");
    assert_eq!(
        service.demand,
        Demand {
            cpu: 1.0,
            memory_mib: 1024.0,
            gpu: 0
        }
    );
    assert_eq!(service.storage_mib, Some(10240.0));
    assert!(!service.conditional);
    assert!(!spec.use_static_placement);
    assert_eq!(spec.descriptor.im_version.as_deref(), Some("0.4.0"));
    assert_eq!(spec.descriptor.version.as_deref(), Some("1.0.0"));
    assert_eq!(
        spec.descriptor.description.as_deref(),
        Some("A minimal \"Hello World\" application graph for SMO.")
    );
    let artifact = spec.descriptor.services[0]
        .artifact
        .as_ref()
        .expect("artifact");
    assert_eq!(
        artifact.oci_image.as_deref(),
        Some("oci://10.0.3.53:5000/test/hello-world")
    );
    assert_eq!(artifact.implementer.as_deref(), Some("HELM"));
    assert!(!artifact.is_wot());
    // No extensions: host defaults.
    assert_eq!(spec.strategies, Strategies::default());
    assert_eq!(spec.offload_policy, None);
    assert_eq!(service.scaling, Scaling::default());
    assert_eq!(spec.source, HELLO_WORLD);
    assert_eq!(spec.document["hdaGraph"]["designer"], "Abilian");
}

#[test]
fn brussels_fixture_loads_as_is() {
    let spec = parse_ok(BRUSSELS);
    assert_eq!(spec.name, "image-detection-graph");
    let names: Vec<&str> = spec.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["image-compression-vo", "noise-reduction", "image-detection"]
    );
    // YAML `True` is a boolean.
    assert!(spec.use_static_placement);
    // `>-` folded scalar.
    assert_eq!(
        spec.descriptor.description.as_deref(),
        Some("Brussels demo")
    );
    // light -> 0.5 cores / 500 MiB; small -> 1 core / 1 GiB.
    assert_eq!(spec.services[0].demand.cpu, 0.5);
    assert_eq!(spec.services[0].demand.memory_mib, 500.0);
    assert_eq!(spec.services[1].demand.cpu, 1.0);
    assert_eq!(spec.services[2].demand.memory_mib, 1024.0);
    assert!(spec.services.iter().all(|s| s.demand.gpu == 0));
    // The event trigger is kept, with its alert rule.
    let vo = spec
        .service_descriptor("image-compression-vo")
        .expect("vo service");
    let descriptor::Trigger::Event(event) = &vo.deployment.trigger else {
        panic!("expected an event trigger, got {:?}", vo.deployment.trigger)
    };
    assert_eq!(event.condition.as_deref(), Some("ANY"));
    assert_eq!(event.events.len(), 1);
    assert_eq!(event.events[0].id, "main-event");
    assert_eq!(event.events[0].source[0].service_id, "vo");
    assert_eq!(event.events[0].source[0].metric_id, "vo-metric");
    assert_eq!(
        event.events[0].condition.prom_query,
        "absent(up{prometheus=\"kc1/kube-prometheus-operator\"})"
    );
    assert_eq!(
        event.events[0].condition.grace_period.as_deref(),
        Some("2m")
    );
    assert!(spec.services[0].conditional);
    assert!(!spec.services[1].conditional);
    // The WoT artifact and its nested values.
    let artifact = vo.artifact.as_ref().expect("artifact");
    assert!(artifact.is_wot());
    assert_eq!(artifact.config_type.as_deref(), Some("VO"));
    assert_eq!(
        artifact.values_overwrite,
        json!({"voDescriptorOverwrite": {}, "voChartOverwrite": {}})
    );
    // Connection points.
    assert_eq!(spec.services[0].connection_points, ["noise-reduction"]);
    assert_eq!(spec.services[1].connection_points, ["image-detection"]);
    // Network intent kept as written.
    assert_eq!(
        vo.deployment.intent.network["latencies"][0]["qos"],
        "best-effort"
    );
}

#[test]
fn fixtures_validate_from_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/hdag");
    for file in ["hello-world.yaml", "brussels-demo.yaml"] {
        let path = format!("{dir}/{file}");
        if let Err(errors) = validate_file(&path) {
            panic!("{path}:\n{errors}");
        }
    }
    let errors = validate_file(format!("{dir}/missing.yaml")).expect_err("no such file");
    assert_eq!(errors.len(), 1);
    assert!(errors.to_string().starts_with("cannot read "), "{errors}");
}

#[test]
fn the_plugin_graph_carries_the_translated_demand() {
    let spec = parse_ok(BRUSSELS);
    let graph = spec.to_plugin_graph();
    assert_eq!(graph.name.as_str(), "image-detection-graph");
    assert_eq!(graph.services.len(), 3);
    let vo = &graph.services[0];
    assert_eq!(vo.name.as_str(), "image-compression-vo");
    assert_eq!(vo.demand.cpu, 0.5);
    assert_eq!(vo.demand.memory_mib, 500.0);
    assert_eq!(vo.replicas, 1);
    let extra: serde_json::Value = serde_json::from_str(vo.extra.as_str()).expect("extra JSON");
    assert_eq!(extra["trigger"], "event");
    assert_eq!(extra["connectionPoints"], json!(["noise-reduction"]));
}

/// The GPU flag: upstream compares with the string "True", so YAML `true` meant no GPU.
#[test]
fn a_yaml_true_gpu_flag_means_a_gpu() {
    let with_gpu = HELLO_WORLD.replace(
        "gpu:\n              enabled: False",
        "gpu:\n              enabled: True",
    );
    assert_ne!(with_gpu, HELLO_WORLD);
    assert_eq!(parse_ok(&with_gpu).services[0].demand.gpu, 1);
    let quoted = HELLO_WORLD.replace(
        "gpu:\n              enabled: False",
        "gpu:\n              enabled: \"True\"",
    );
    assert_eq!(parse_ok(&quoted).services[0].demand.gpu, 1);
    assert_eq!(parse_ok(HELLO_WORLD).services[0].demand.gpu, 0);
}

const EXTENDED: &str = r#"
hdaGraph:
  id: shop
  hdaGraphIntent:
    placementStrategy: ecmr/heuristic
    scalingStrategy: default-lp/alpha-beta
    migrationStrategy: sbmp-gma/sbmp
    strategyParameters:
      placement: {w_dep: 1, w_re: 2.5}
      scaling: {w_util: 0.4, w_trans: 0.4}
    offloadPolicy: {offloadDelayMs: 300, unoffloadDelayMs: 100, stabilityWindowS: 60}
  services:
    - id: api
      deployment:
        intent:
          compute: {cpu: 2, ram: 3Gi, gpu: {enabled: true, count: 2}}
          scaling: {alpha: 12.5, beta: 1, minReplicas: 2, maxReplicas: 8}
          dependencies: {required: [db], preferred: [cache]}
          connectionPoints: [db, cache]
    - id: db
      deployment:
        intent:
          compute: {cpu: "500m", ram: 512Mi, storage: 50Gi}
    - id: cache
      deployment:
        intent:
          compute: {cpu: 0.25, ram: 1.5Gi, gpu: 1}
"#;

#[test]
fn exact_quantities_and_extensions() {
    let spec = parse_ok(EXTENDED);
    let api = spec.service("api").expect("api");
    assert_eq!(
        api.demand,
        Demand {
            cpu: 2.0,
            memory_mib: 3072.0,
            gpu: 2
        }
    );
    assert_eq!(
        api.scaling,
        Scaling {
            alpha: 12.5,
            beta: 1.0,
            min_replicas: 2,
            max_replicas: 8
        }
    );
    assert_eq!(api.dependencies.required, ["db"]);
    assert_eq!(api.dependencies.preferred, ["cache"]);
    let db = spec.service("db").expect("db");
    assert_eq!(db.demand.cpu, 0.5);
    assert_eq!(db.demand.memory_mib, 512.0);
    assert_eq!(db.storage_mib, Some(51200.0));
    let cache = spec.service("cache").expect("cache");
    assert_eq!(cache.demand.cpu, 0.25);
    assert_eq!(cache.demand.memory_mib, 1536.0);
    assert_eq!(cache.demand.gpu, 1);

    assert_eq!(
        spec.strategy_name(StrategyKind::PLACEMENT).as_deref(),
        Some("ecmr/heuristic")
    );
    assert_eq!(
        spec.strategy_name(StrategyKind::SCALING).as_deref(),
        Some("default-lp/alpha-beta")
    );
    assert_eq!(
        spec.strategy_name(StrategyKind::MIGRATION).as_deref(),
        Some("sbmp-gma/sbmp")
    );
    let placement: serde_json::Value =
        serde_json::from_str(&spec.parameters_json(StrategyKind::PLACEMENT)).expect("json");
    assert_eq!(placement, json!({"w_dep": 1, "w_re": 2.5}));
    assert_eq!(spec.parameters_json(StrategyKind::MIGRATION), "{}");
    let policy = spec.offload_policy.expect("offload policy");
    assert_eq!(policy.offload_delay_ms, 300.0);
    assert_eq!(policy.unoffload_delay_ms, 100.0);
    assert_eq!(policy.stability_window_s, 60.0);
    assert_eq!(policy.query_period_s, 120.0);

    let graph = spec.to_plugin_graph();
    let api = &graph.services[0];
    assert_eq!(api.replicas, 2);
    assert_eq!(api.scaling.max_replicas, 8);
    assert_eq!(api.demand.gpu, 2);
    let deps: Vec<(&str, DependencyKind)> = api
        .dependencies
        .iter()
        .map(|d| (d.service.as_str(), d.kind))
        .collect();
    assert_eq!(
        deps,
        [
            ("db", DependencyKind::Required),
            ("cache", DependencyKind::Preferred)
        ]
    );
}

#[test]
fn json_descriptors_are_accepted() {
    let document: serde_json::Value = serde_norway::from_str(EXTENDED).expect("yaml");
    let text = serde_json::to_string_pretty(&document).expect("json");
    let from_json = parse_ok(&text);
    let from_yaml = parse_ok(EXTENDED);
    assert_eq!(from_json.services, from_yaml.services);
    assert_eq!(from_json.strategies, from_yaml.strategies);
    assert_eq!(from_json.document, from_yaml.document);
}

#[test]
fn every_error_at_once() {
    let text = r#"
hdaGraph:
  id: shop
  services:
    - id: api
      deployment:
        intent:
          compute: {cpu: small}
          dependencies: {required: [payments]}
    - id: db
      deployment:
        intent:
          scaling: {minReplicas: 4, maxReplicas: 2}
    - id: cache
      deployment:
        intent:
          compute: {cpu: huge}
"#;
    let errors = parse_err(text);
    assert_eq!(
        errors.paths(),
        [
            "hdaGraph.services[0].deployment.intent.dependencies.required[0]",
            "hdaGraph.services[1].deployment.intent.scaling.maxReplicas",
            "hdaGraph.services[2].deployment.intent.compute.cpu",
        ],
        "{errors}"
    );
    assert_eq!(
        errors.to_string(),
        "hdaGraph.services[0].deployment.intent.dependencies.required[0]: \"payments\" is not a service of this graph\n\
         hdaGraph.services[1].deployment.intent.scaling.maxReplicas: 2 is less than minReplicas (4)\n\
         hdaGraph.services[2].deployment.intent.compute.cpu: unknown intent \"huge\" (expected light, small, medium, large or a quantity such as 2 or 500m)"
    );
}

#[test]
fn structural_mistakes_are_reported_with_paths() {
    let text = r#"
hdaGraph:
  services:
    - id: api
      deployment:
        trigger: {auto: {}, event: {}}
        intent:
          compute: {ram: 4, gpu: {enabled: false, count: 2}}
          connectionPoints: [nowhere]
    - id: api
    - deployment: {}
    - id: Bad_Name
      deployment:
        trigger:
          event:
            events: [{id: e}]
      artifact: {valuesOverwrite: [1]}
    - 42
  hdaGraphIntent:
    placementStrategy: ecmr
    offloadPolicy: {offloadDelayMs: fast}
"#;
    let errors = parse_err(text);
    assert_eq!(
        errors.paths(),
        [
            "hdaGraph.id",
            "hdaGraph.hdaGraphIntent.placementStrategy",
            "hdaGraph.hdaGraphIntent.offloadPolicy.offloadDelayMs",
            "hdaGraph.services[0].deployment.trigger",
            "hdaGraph.services[0].deployment.intent.compute.gpu.count",
            "hdaGraph.services[0].deployment.intent.connectionPoints[0]",
            "hdaGraph.services[0].deployment.intent.compute.ram",
            "hdaGraph.services[1].id",
            "hdaGraph.services[2].id",
            "hdaGraph.services[3].deployment.trigger.event.events[0].condition",
            "hdaGraph.services[3].artifact.valuesOverwrite",
            "hdaGraph.services[3].id",
            "hdaGraph.services[4]",
        ],
        "{errors}"
    );
}

#[test]
fn a_missing_or_empty_graph_is_explained() {
    assert_eq!(parse_err("").paths(), [""]);
    assert_eq!(parse_err("other: 1\n").paths(), ["hdaGraph"]);
    assert_eq!(
        parse_err("hdaGraph: {id: g, services: []}").paths(),
        ["hdaGraph.services"]
    );
    let errors = parse_err("hdaGraph:\n  id: g\n  services: [\n");
    assert_eq!(errors.len(), 1);
    assert!(errors.errors()[0].line.is_some());
}

#[test]
fn a_spec_survives_json() {
    let spec = parse_ok(EXTENDED);
    let json = spec.to_json().expect("encode");
    let back = GraphSpec::from_json(&json, EXTENDED).expect("decode");
    assert_eq!(back, spec);
    assert!(matches!(
        GraphSpec::from_json("{}", ""),
        Err(GraphError::Decode { .. })
    ));
}

#[test]
fn the_summary_names_services_and_strategies() {
    let summary = parse_ok(BRUSSELS).summary();
    assert!(
        summary.starts_with("graph image-detection-graph: 3 services\n"),
        "{summary}"
    );
    assert!(
        summary.contains(
            "  image-compression-vo: 0.5 cpu, 500 MiB, 0 gpu, replicas 1..10, deployed on event"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("  placement strategy: (host default)"),
        "{summary}"
    );
    let summary = parse_ok(EXTENDED).summary();
    assert!(summary.contains("requires db, prefers cache"), "{summary}");
    assert!(
        summary.contains("  migration strategy: sbmp-gma/sbmp"),
        "{summary}"
    );
}

const ECOSYSTEM: &str = r#"
hdaGraph:
  id: shop
  services:
    - id: web
      deployment:
        intent:
          compute: {cpu: 1}
          ecosystem:
            provides: {type: web, software_stack: [shop]}
            dependencies:
              required: [{type: database, version: "PostgreSQL 14", network_latency_requirement: "< 5 ms"}]
              preferred: [{type: caching}]
    - id: db
      deployment:
        intent:
          ecosystem:
            vm_name: shop/db
            provides: {type: database, version: PostgreSQL 14.2, resource_profile: [ssd]}
"#;

#[test]
fn an_inline_ecosystem_declaration_is_the_service_workload() {
    let spec = parse_ok(ECOSYSTEM);
    let web = spec
        .service("web")
        .and_then(|s| s.ecosystem.as_ref())
        .expect("web declaration");
    assert_eq!(web.vm_name, "shop/web");
    assert_eq!(web.provides.kind.as_deref(), Some("web"));
    assert_eq!(web.dependencies.required.len(), 1);
    assert_eq!(
        web.dependencies.required[0].version.as_deref(),
        Some("PostgreSQL 14")
    );
    assert_eq!(
        web.dependencies.preferred[0].kind.as_deref(),
        Some("caching")
    );
    let db = spec
        .service("db")
        .and_then(|s| s.ecosystem.as_ref())
        .expect("db declaration");
    assert_eq!(db.vm_name, "shop/db");
    assert_eq!(db.provides.version.as_deref(), Some("PostgreSQL 14.2"));
    assert_eq!(db.provides.resource_profile, ["ssd"]);
    // The graph's own `dependencies` are unaffected.
    assert!(spec
        .services
        .iter()
        .all(|s| s.dependencies.required.is_empty()));
    assert!(
        spec.summary().contains(
            "  web: 1 cpu, 1024 MiB, 0 gpu, replicas 1..10, ecosystem web: 1 required, 1 preferred"
        ),
        "{}",
        spec.summary()
    );
    // It is kept when the spec is stored and read back.
    let json = spec.to_json().expect("encode");
    let back = GraphSpec::from_json(&json, ECOSYSTEM).expect("decode");
    assert_eq!(back, spec);
}

#[test]
fn ecosystem_errors_come_with_the_others_and_their_full_paths() {
    let text = r#"
hdaGraph:
  id: shop
  services:
    - id: web
      deployment:
        intent:
          compute: {cpu: huge}
          ecosystem:
            vm_name: web
            dependencies:
              required: [{type: database, version: "PostgreSQL >=x"}]
              preferred: [{fuzzy_match: {min_similarity: 2}}]
    - id: db
      deployment:
        intent:
          ecosystem: {provides: {type: database, signature: []}, needs: [cache]}
"#;
    let errors = parse_err(text);
    assert_eq!(
        errors.paths(),
        [
            "hdaGraph.services[0].deployment.intent.ecosystem.vm_name",
            "hdaGraph.services[0].deployment.intent.ecosystem.dependencies.required[0].version",
            "hdaGraph.services[0].deployment.intent.ecosystem.dependencies.preferred[0].fuzzy_match.min_similarity",
            "hdaGraph.services[0].deployment.intent.compute.cpu",
            "hdaGraph.services[1].deployment.intent.ecosystem.needs",
            "hdaGraph.services[1].deployment.intent.ecosystem.provides.signature",
        ],
        "{errors}"
    );
    assert!(
        errors.to_string().contains(
            "hdaGraph.services[0].deployment.intent.ecosystem.vm_name: \"web\" is not this service's workload name: leave it out, or write \"shop/web\""
        ),
        "{errors}"
    );
}

#[test]
fn specs_stored_without_an_ecosystem_still_load() {
    // Without a declaration the stored JSON has no `ecosystem` key, as before the extension.
    let spec = parse_ok(EXTENDED);
    assert!(spec.services.iter().all(|s| s.ecosystem.is_none()));
    let json = spec.to_json().expect("encode");
    assert!(!json.contains("\"ecosystem\""), "{json}");
    // A row written before it existed loads with none.
    let mut stored: serde_json::Value =
        serde_json::from_str(&parse_ok(ECOSYSTEM).to_json().expect("encode")).expect("json");
    for service in stored["services"].as_array_mut().expect("services") {
        service
            .as_object_mut()
            .expect("service")
            .remove("ecosystem");
    }
    let old = GraphSpec::from_json(&stored.to_string(), ECOSYSTEM).expect("decode");
    assert!(old.services.iter().all(|s| s.ecosystem.is_none()));
}
