//! The JSON Schemas of `plugin-api/schemas/`: the serde form of the three requests and three
//! decisions, for plugins written against the C ABI (`include/smo_plugin.h`) in any language.
//!
//! * `committed_schemas_are_those_of_the_types` generates them from the Rust types (the
//!   `schema` feature's `schemars` derives) and fails when a committed file differs;
//!   `SMO_BLESS=1` rewrites the files instead:
//!   `SMO_BLESS=1 cargo test -p smo-plugin-api --features schema,testing --test schemas`.
//! * The other tests validate serialized values against the generated schemas with a JSON
//!   Schema validator and check that serde agrees with every verdict, wrong values included.
//!
//! In the workspace's test run (`cargo test --workspace`) the features are on because `smo-tests`
//! enables them on its smo-plugin-api dependency (tests/Cargo.toml).

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use smo_plugin_api::extra;
use smo_plugin_api::testing::*;
use smo_plugin_api::*;

/// Where the schemas are committed.
const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");
/// The `$id` of `<file>` is this followed by the file name (the workspace's `repository`).
const ID_BASE: &str = "https://example.invalid/smo/plugin-api/schemas/";

/// Every schema file: its name and its text (2-space indented, keys in a fixed order, ending
/// with a newline).
fn generate() -> Vec<(&'static str, String)> {
    vec![
        finish::<PlacementRequest>("placement_request", request::<PlacementRequest>()),
        finish::<PlacementDecision>(
            "placement_decision",
            decision::<PlacementDecision>(&["placement"]),
        ),
        finish::<ScalingRequest>("scaling_request", request::<ScalingRequest>()),
        finish::<ScalingDecision>(
            "scaling_decision",
            decision::<ScalingDecision>(&["replicas"]),
        ),
        finish::<MigrationRequest>("migration_request", request::<MigrationRequest>()),
        finish::<MigrationDecision>(
            "migration_decision",
            decision::<MigrationDecision>(&["moves"]),
        ),
    ]
}

/// A request as the host serializes it: every member is always there (the serialize contract
/// makes `current`, an `Option`, required too; it is `null` for an initial placement).
fn request<T: JsonSchema>() -> Value {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// A decision as the host reads it (`smo_plugin.h`): the host starts from
/// `Decision::default()` and puts the members the plugin returned over it, so every top-level
/// member but the `essential` ones may be left out. The types say nothing of that (their serde
/// derives require every member), so it is added here: `required` becomes `essential`, and
/// every other top-level member gets its value in `Decision::default()` as its `default`.
/// Nested objects stay as serde reads them: all their members required.
fn decision<T: JsonSchema + Default + Serialize>(essential: &[&str]) -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    let defaults = serde_json::to_value(T::default()).expect("the default decision as JSON");
    let properties = schema["properties"]
        .as_object_mut()
        .expect("a decision schema has properties");
    for name in essential {
        assert!(properties.contains_key(*name), "no member `{name}`");
    }
    for (name, property) in properties.iter_mut() {
        if !essential.contains(&name.as_str()) {
            property["default"] = defaults[name].clone();
        }
    }
    let description = schema["description"].as_str().unwrap_or_default();
    let names: Vec<String> = essential.iter().map(|n| format!("`{n}`")).collect();
    schema["description"] = json!(format!(
        "{description} Every member but {} may be left out: it takes its `default`.",
        names.join(", ")
    ));
    schema["required"] = json!(essential);
    schema
}

/// The file's text: `$id` and `$comment` added, the bounds serde enforces on integers, keys
/// in a fixed order whatever serde_json's `preserve_order` feature.
fn finish<T: JsonSchema>(name: &'static str, mut schema: Value) -> (&'static str, String) {
    let file = format!("{name}.schema.json");
    schema["$id"] = json!(format!("{ID_BASE}{file}"));
    schema["$comment"] = json!(format!(
        "Generated from smo_plugin_api::{} (smo-plugin-api {}.x) by plugin-api/tests/schemas.rs; \
         do not edit.",
        T::schema_name(),
        env!("CARGO_PKG_VERSION_MAJOR")
    ));
    integer_bounds(&mut schema);
    plain_descriptions(&mut schema);
    let mut text =
        serde_json::to_string_pretty(&Ordered(&schema, Kind::Schema)).expect("schema as JSON text");
    text.push('\n');
    (name, text)
}

/// schemars gives `u32` a minimum of 0 but no maximum, and `i64` neither: serde refuses a
/// value out of their range, so the schema does too.
fn integer_bounds(value: &mut Value) {
    match value {
        Value::Object(map) => {
            match map.get("format").and_then(Value::as_str) {
                Some("uint32") => {
                    map.insert("maximum".into(), json!(u32::MAX));
                }
                Some("int64") => {
                    map.insert("minimum".into(), json!(i64::MIN));
                    map.insert("maximum".into(), json!(i64::MAX));
                }
                _ => {}
            }
            map.values_mut().for_each(integer_bounds);
        }
        Value::Array(items) => items.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// Descriptions are the doc comments: their lines are joined (paragraphs stay apart) and
/// rustdoc links (`` [`crate::sdk::Placement`] ``) become code (`` `sdk::Placement` ``).
fn plain_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get_mut("description") {
                let joined: Vec<String> =
                    text.split("\n\n").map(|p| p.replace('\n', " ")).collect();
                *text = unlink(&joined.join("\n\n"));
            }
            map.values_mut().for_each(plain_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(plain_descriptions),
        _ => {}
    }
}

/// `` [`path`] `` (not followed by `(`, a Markdown link) as `` `path` ``, without `crate::`.
fn unlink(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        let Some(len) = rest[start + 2..].find("`]") else {
            break;
        };
        let end = start + 2 + len + 2;
        out.push_str(&rest[..start]);
        if rest[end..].starts_with('(') {
            out.push_str(&rest[start..end]);
        } else {
            let path = &rest[start + 2..end - 2];
            out.push('`');
            out.push_str(path.strip_prefix("crate::").unwrap_or(path));
            out.push('`');
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// What an object of a schema file holds, for the order of its keys.
#[derive(Clone, Copy)]
enum Kind {
    /// A schema: its keywords in the order of [`KEYWORDS`], unknown ones after, by name.
    Schema,
    /// `properties` and `$defs`: names to schemas, by name.
    Names,
    /// A JSON value (`default`, `const`, `enum`, `required`): by name.
    Data,
}

const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "$ref",
    "type",
    "format",
    "contentMediaType",
    "minimum",
    "maximum",
    "const",
    "enum",
    "oneOf",
    "anyOf",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "default",
    "$defs",
];

/// Serializes a JSON value with its keys in a fixed order.
struct Ordered<'a>(&'a Value, Kind);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                match self.1 {
                    Kind::Schema => keys.sort_by_key(|k| {
                        let rank = KEYWORDS.iter().position(|w| w == k);
                        (rank.unwrap_or(KEYWORDS.len()), k.as_str())
                    }),
                    Kind::Names | Kind::Data => keys.sort(),
                }
                let mut out = serializer.serialize_map(Some(keys.len()))?;
                for key in keys {
                    let kind = match (self.1, key.as_str()) {
                        (Kind::Schema, "properties" | "$defs") => Kind::Names,
                        (Kind::Schema, "default" | "const" | "enum" | "required") => Kind::Data,
                        (Kind::Names, _) => Kind::Schema,
                        (kind, _) => kind,
                    };
                    out.serialize_entry(key, &Ordered(&map[key], kind))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Ordered(item, self.1))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

#[test]
fn committed_schemas_are_those_of_the_types() {
    let bless = std::env::var_os("SMO_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, text) in generate() {
        let path = format!("{DIR}/{name}.schema.json");
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk == text {
            continue;
        }
        if bless {
            std::fs::create_dir_all(DIR).expect("create plugin-api/schemas");
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("write {path}: {e}"));
            eprintln!("wrote {path}");
            continue;
        }
        let first = on_disk
            .lines()
            .chain(std::iter::repeat(""))
            .zip(text.lines())
            .position(|(old, new)| old != new)
            .unwrap_or(text.lines().count());
        stale.push(format!(
            "  plugin-api/schemas/{name}.schema.json (first difference at line {}: committed {:?}, generated {:?})",
            first + 1,
            on_disk.lines().nth(first).unwrap_or("<end of file>"),
            text.lines().nth(first).unwrap_or("<end of file>"),
        ));
    }
    assert!(
        stale.is_empty(),
        "the committed JSON Schemas are not those of the plugin API's types:\n{}\nIf the types \
         changed on purpose, regenerate them with \
         `SMO_BLESS=1 cargo test -p smo-plugin-api --features schema,testing --test schemas` \
         and commit plugin-api/schemas/",
        stale.join("\n")
    );
}

/// Every object schema in `schema` whose `required` is not all of its `properties`, by path.
fn partly_required(schema: &Value, path: &str, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                let mut all: Vec<&str> = properties.keys().map(String::as_str).collect();
                let mut required: Vec<&str> = map
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                all.sort_unstable();
                required.sort_unstable();
                if all != required {
                    out.push(path.to_owned());
                }
            }
            for (key, value) in map {
                partly_required(value, &format!("{path}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                partly_required(item, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn schema_of(name: &str) -> Value {
    let (_, text) = generate()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("a schema of that name");
    serde_json::from_str(&text).expect("the schema is JSON")
}

#[test]
fn requests_require_every_member_and_decisions_only_the_essential_ones() {
    for name in ["placement_request", "scaling_request", "migration_request"] {
        let mut partial = Vec::new();
        partly_required(&schema_of(name), "", &mut partial);
        assert!(
            partial.is_empty(),
            "{name}: not all required at {partial:?}"
        );
    }
    for (name, essential) in [
        ("placement_decision", "placement"),
        ("scaling_decision", "replicas"),
        ("migration_decision", "moves"),
    ] {
        let schema = schema_of(name);
        assert_eq!(schema["required"], json!([essential]), "{name}");
        let mut partial = Vec::new();
        partly_required(&schema, "", &mut partial);
        assert_eq!(partial, [""], "{name}: only the top level is lenient");
    }
    // What serde emits for the enums, as the schemas say it.
    let request = schema_of("placement_request");
    assert_eq!(
        request["$defs"]["ClusterRole"]["enum"],
        json!(["cloud", "edge", "iot"])
    );
    let kinds: Vec<&Value> = request["$defs"]["DependencyKind"]["oneOf"]
        .as_array()
        .expect("DependencyKind: one of its documented variants")
        .iter()
        .map(|v| &v["const"])
        .collect();
    assert_eq!(kinds, [&json!("required"), &json!("preferred")]);
}

/// How the host reads a value of a schema: `Strict` (serde, as a plugin reads a request) or
/// `Lenient` (a decision: its members put over `Default`, as the host's C ABI loader does).
type Reader = fn(&Value) -> Result<(), String>;

fn strict<T: DeserializeOwned>(value: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(value.clone())
        .map(drop)
        .map_err(|e| e.to_string())
}

fn lenient<T: DeserializeOwned + Serialize + Default>(value: &Value) -> Result<(), String> {
    let mut whole = serde_json::to_value(T::default()).map_err(|e| e.to_string())?;
    match (&mut whole, value) {
        (Value::Object(defaults), Value::Object(given)) => defaults.extend(given.clone()),
        _ => return Err("not an object".into()),
    }
    strict::<T>(&whole)
}

/// Validates `value` against the schema `name` and checks that serde (through `read`) agrees.
fn check(validator: &jsonschema::Validator, name: &str, value: &Value, valid: bool, read: Reader) {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    let read = read(value);
    if valid {
        assert!(
            errors.is_empty(),
            "{name}: the schema refuses a value serde accepts: {errors:?}\n{value:#}"
        );
        assert!(
            read.is_ok(),
            "{name}: serde refuses a value the test thought valid: {:?}\n{value:#}",
            read.err()
        );
    } else {
        assert!(
            !errors.is_empty(),
            "{name}: the schema accepts a wrong value\n{value:#}"
        );
        assert!(
            read.is_err(),
            "{name}: serde accepts a value the schema refuses ({errors:?})\n{value:#}"
        );
    }
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&schema_of(name))
        .unwrap_or_else(|e| panic!("{name} is not a valid JSON Schema: {e}"))
}

/// Each value serialized, checked valid, and read back equal.
fn serialized_values_are_valid<T>(name: &str, values: &[T], read: Reader)
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let validator = validator(name);
    for value in values {
        let json = serde_json::to_value(value).expect("serialize");
        check(&validator, name, &json, true, read);
        let back: T = serde_json::from_value(json).expect("read back");
        assert_eq!(&back, value, "{name}: round trip");
    }
}

/// `value` with the member at `pointer` (`/a/0/b`) replaced by `with`, or removed (`None`).
fn altered(value: &Value, pointer: &str, with: Option<Value>) -> Value {
    let mut value = value.clone();
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    let target = value.pointer_mut(parent).expect("the parent exists");
    match (target, with) {
        (Value::Object(map), Some(new)) => {
            map.insert(last.to_owned(), new);
        }
        (Value::Object(map), None) => {
            map.remove(last).expect("the member exists");
        }
        (Value::Array(items), Some(new)) => items[last.parse::<usize>().expect("index")] = new,
        (other, _) => panic!("cannot alter {pointer} in {other}"),
    }
    value
}

/// Wrong values of schema `name`: each alteration of `base` must be refused by both.
fn wrong_values_are_refused(
    name: &str,
    base: &Value,
    read: Reader,
    cases: &[(&str, Option<Value>)],
) {
    let validator = validator(name);
    for (pointer, with) in cases {
        let value = altered(base, pointer, with.clone());
        let what = format!("{name} {pointer} = {with:?}");
        check(&validator, &what, &value, false, read);
    }
}

fn label(key: &str, value: &str) -> Label {
    Label {
        key: key.into(),
        value: value.into(),
    }
}

/// A graph with both kinds of dependencies, labels, allowed clusters and scaling profiles.
fn shop() -> Graph {
    let mut frontend = service("frontend", 0.5, 256.0, 0)
        .requires("cart")
        .prefers("catalog")
        .scaling(25.0, 5.0, 2, 20);
    frontend.labels = vec![label("tier", "web"), label("team", "shop")].into();
    frontend.replicas = 3;
    let cart = service("cart", 1.0, 1024.0, 0).allowed(&["edge-athens", "cloud-frankfurt"]);
    let mut recommender = service("recommender", 4.0, 16_384.0, 1).prefers("catalog");
    recommender.extra = extra::write(&extra::VmExtra {
        duration_s: Some(3600.0),
        remaining_s: Some(1200.5),
        server: Some(2),
    });
    let mut catalog = service("catalog", 0.25, 128.0, 0);
    catalog.extra = "".into();
    let mut graph = graph_of(vec![frontend, cart, recommender, catalog]);
    graph.name = "shop".into();
    graph
}

/// Clusters of every role, with labels, energy, prices, locations and extras.
fn clusters() -> Vec<Cluster> {
    let mut all = three_clusters();
    let mut sensor = cluster("iot-gateway", 2.0, 2048.0, 0)
        .role(ClusterRole::Iot)
        .at(-33.87, 151.21)
        .available(0.5, 512.0, 0)
        .grid(42.0, 1.1)
        .power(15.0, 40.0)
        .extra(r#"{"slo_ms": 20, "processing_ms": 3.5}"#);
    sensor.labels = vec![label("zone", "south"), label("arch", "arm64")].into();
    sensor.location.region = "au-east".into();
    sensor.energy.source = "solar".into();
    sensor.energy.renewable_supply_kw = 1.5;
    sensor.energy.renewable_share = 0.8;
    sensor.energy.preferred_for_saving = true;
    sensor.prices = Prices {
        cpu_core_hour: 0.04,
        memory_gib_hour: 0.005,
        gpu_hour: 0.0,
        egress_gb: 0.09,
        energy_kwh: 0.21,
    };
    all.push(sensor);
    all.push(cluster("empty", 0.0, 0.0, 0).extra(""));
    assert!([ClusterRole::Cloud, ClusterRole::Edge, ClusterRole::Iot]
        .iter()
        .all(|role| all.iter().any(|c| c.role == *role)));
    all
}

/// Telemetry with loads, links and calls.
fn telemetry() -> Telemetry {
    let mut telemetry = loads(&[("frontend", 120.0, 150.0), ("cart", 40.5, 38.0)]);
    telemetry.time_unix_s = 1_767_225_600;
    telemetry.loads[0].cpu_utilisation = 0.72;
    telemetry.loads[0].memory_utilisation = 0.4;
    telemetry.loads[0].response_time_ms = 18.25;
    telemetry.links = vec![
        Link {
            from: "users".into(),
            to: "edge-athens".into(),
            latency_ms: 4.0,
            bandwidth_mbps: 1000.0,
        },
        Link {
            from: "edge-athens".into(),
            to: "cloud-frankfurt".into(),
            latency_ms: 38.5,
            bandwidth_mbps: 10_000.0,
        },
    ]
    .into();
    telemetry.calls = vec![CallRate {
        from: "frontend".into(),
        to: "cart".into(),
        rps: 80.0,
        mean_response_bytes: 2048.0,
    }]
    .into();
    telemetry
}

fn placement_requests() -> Vec<PlacementRequest> {
    let initial = placement_request(shop(), clusters(), None);
    let mut replacement = placement_request(
        shop(),
        clusters(),
        Some(vec![
            ("frontend", "edge-athens", 3),
            ("cart", "cloud-frankfurt", 1),
            ("recommender", "cloud-gpu-stockholm", 1),
        ]),
    );
    replacement.telemetry = telemetry();
    replacement.extra = extra::write(&extra::PlacementRequestExtra {
        graphs: vec!["shop".into(), "other".into()],
    });
    let single = placement_request(
        graph_of(vec![service("only", 1.0, 512.0, 0)]),
        vec![cluster("c", 4.0, 4096.0, 0)],
        Some(vec![]),
    );
    vec![initial, replacement, single]
}

fn placement_decisions() -> Vec<PlacementDecision> {
    let placed = PlacementDecision {
        placement: placement_of(&[
            ("frontend", "edge-athens", 3),
            ("cart", "edge-athens", 1),
            ("catalog", "cloud-frankfurt", 2),
        ]),
        reasons: vec![RString::from(
            "frontend on edge-athens: lowest latency to users",
        )]
        .into(),
        rejections: vec![Rejection {
            service: "recommender".into(),
            cluster: "edge-athens".into(),
            reason: "no GPU".into(),
        }]
        .into(),
        objective: ROption::RSome(12.75),
        extra: extra::write(&extra::PlacementDecisionExtra {
            server_selection: Some("least_power_shared_idle".into()),
        }),
    };
    let mut no_objective = placed.clone();
    no_objective.objective = ROption::RNone;
    no_objective.extra = "{}".into();
    vec![PlacementDecision::default(), placed, no_objective]
}

fn scaling_requests() -> Vec<ScalingRequest> {
    let mut edge = scaling_request(
        shop(),
        clusters().remove(0),
        &[("frontend", 3), ("cart", 1)],
        telemetry(),
    );
    edge.extra = "".into();
    let iot = scaling_request(shop(), clusters().remove(3), &[], Telemetry::default());
    vec![edge, iot]
}

fn scaling_decisions() -> Vec<ScalingDecision> {
    let chosen = ScalingDecision {
        replicas: vec![
            ReplicaChoice {
                service: "frontend".into(),
                replicas: 5,
                reason: "150 rps predicted, 25 rps per replica".into(),
            },
            ReplicaChoice {
                service: "cart".into(),
                replicas: 0,
                reason: String::new().into(),
            },
        ]
        .into(),
        infeasible_replace: false,
        reasons: vec![RString::from("predictive")].into(),
        extra: r#"{"forecasts": [{"service": "frontend", "forecast_rps": null}]}"#.into(),
    };
    let infeasible = ScalingDecision {
        infeasible_replace: true,
        reasons: vec![RString::from("edge-athens is full")].into(),
        ..ScalingDecision::default()
    };
    vec![ScalingDecision::default(), chosen, infeasible]
}

fn migration_requests() -> Vec<MigrationRequest> {
    let offload = MigrationRequest {
        graph: shop(),
        clusters: clusters().into(),
        current: placement_of(&[("frontend", "edge-athens", 3), ("cart", "edge-athens", 1)]),
        telemetry: telemetry(),
        extra: r#"{"requiredDecreaseMs": 12.5}"#.into(),
    };
    let vms = MigrationRequest {
        current: placement_of(&[]),
        telemetry: Telemetry::default(),
        extra: extra::write(&extra::VmMigrationRequestExtra {
            vms: true,
            copy_wh_per_gib: Some(0.4),
        }),
        ..offload.clone()
    };
    vec![offload, vms]
}

fn migration_decisions() -> Vec<MigrationDecision> {
    let moves = MigrationDecision {
        moves: vec![
            Move {
                service: "cart".into(),
                from: "edge-athens".into(),
                to: "cloud-frankfurt".into(),
                replicas: 1,
                reason: "frees the edge".into(),
                expected_gain: 4.5,
                expected_cost: -0.25,
            },
            // an offload (started in addition) and an unoffload (stopped)
            Move {
                service: "frontend".into(),
                from: "".into(),
                to: "cloud-frankfurt".into(),
                replicas: 2,
                reason: "offload".into(),
                expected_gain: 12.0,
                expected_cost: 1.0,
            },
            Move {
                service: "catalog".into(),
                from: "cloud-frankfurt".into(),
                to: "".into(),
                replicas: 1,
                reason: "unoffload".into(),
                expected_gain: 0.0,
                expected_cost: 0.0,
            },
        ]
        .into(),
        reasons: vec![RString::from("three moves within the budget")].into(),
        extra: r#"{"servers": {"vm-12": 3}}"#.into(),
    };
    vec![MigrationDecision::default(), moves]
}

#[test]
fn serialized_requests_and_decisions_are_valid() {
    serialized_values_are_valid(
        "placement_request",
        &placement_requests(),
        strict::<PlacementRequest>,
    );
    serialized_values_are_valid(
        "placement_decision",
        &placement_decisions(),
        lenient::<PlacementDecision>,
    );
    serialized_values_are_valid(
        "scaling_request",
        &scaling_requests(),
        strict::<ScalingRequest>,
    );
    serialized_values_are_valid(
        "scaling_decision",
        &scaling_decisions(),
        lenient::<ScalingDecision>,
    );
    serialized_values_are_valid(
        "migration_request",
        &migration_requests(),
        strict::<MigrationRequest>,
    );
    serialized_values_are_valid(
        "migration_decision",
        &migration_decisions(),
        lenient::<MigrationDecision>,
    );
}

#[test]
fn decisions_may_leave_out_all_but_their_essential_member() {
    let cases: [(&str, Value); 3] = [
        (
            "placement_decision",
            json!({"placement": {"assignments": [{"service": "a", "cluster": "c", "replicas": 1}]}}),
        ),
        (
            "scaling_decision",
            json!({"replicas": [{"service": "a", "replicas": 2, "reason": ""}], "reasons": ["x"]}),
        ),
        ("migration_decision", json!({"moves": [], "extra": "{}"})),
    ];
    for (name, value) in &cases {
        let validator = validator(name);
        let read: Reader = match *name {
            "placement_decision" => lenient::<PlacementDecision>,
            "scaling_decision" => lenient::<ScalingDecision>,
            _ => lenient::<MigrationDecision>,
        };
        check(&validator, name, value, true, read);
        // members the host does not know are ignored
        let mut more = value.clone();
        more["from_the_future"] = json!({"anything": [1, 2]});
        assert!(
            validator.is_valid(&more),
            "{name}: unknown members are allowed"
        );
        // the essential member is not optional in the schema (the host would read it as empty)
        assert!(!validator.is_valid(&json!({})), "{name}: `{{}}` is refused");
    }
    // `objective`: a number, `null` or left out
    let validator = validator("placement_decision");
    let base = json!({"placement": {"assignments": []}});
    for objective in [json!(3), json!(-0.5), Value::Null] {
        let value = altered(&base, "/objective", Some(objective));
        check(
            &validator,
            "objective",
            &value,
            true,
            lenient::<PlacementDecision>,
        );
    }
}

#[test]
fn wrong_values_are_refused_by_the_schemas_and_by_serde() {
    let scaling = serde_json::to_value(&scaling_decisions()[1]).expect("JSON");
    wrong_values_are_refused(
        "scaling_decision",
        &scaling,
        lenient::<ScalingDecision>,
        &[
            ("/replicas/0/replicas", Some(json!("two"))),
            ("/replicas/0/replicas", Some(json!(-1))),
            ("/replicas/0/replicas", Some(json!(1.5))),
            ("/replicas/0/replicas", Some(json!(u64::from(u32::MAX) + 1))),
            ("/replicas/0/replicas", None),
            ("/replicas/0/service", Some(Value::Null)),
            ("/replicas", Some(json!({"frontend": 2}))),
            ("/replicas", Some(Value::Null)),
            ("/infeasible_replace", Some(json!("yes"))),
            ("/reasons", Some(json!("one reason"))),
            ("/extra", Some(json!({"forecasts": []}))),
        ],
    );
    let placement = serde_json::to_value(&placement_decisions()[1]).expect("JSON");
    wrong_values_are_refused(
        "placement_decision",
        &placement,
        lenient::<PlacementDecision>,
        &[
            ("/objective", Some(json!("low"))),
            ("/placement", Some(json!([]))),
            ("/placement/assignments/0/cluster", Some(json!(7))),
            ("/rejections/0/reason", None),
            ("/reasons/0", Some(json!(1))),
        ],
    );
    let migration = serde_json::to_value(&migration_decisions()[1]).expect("JSON");
    wrong_values_are_refused(
        "migration_decision",
        &migration,
        lenient::<MigrationDecision>,
        &[
            ("/moves/0/expected_gain", Some(json!("4.5"))),
            ("/moves/1/from", Some(Value::Null)),
            ("/moves/2/replicas", Some(json!(true))),
        ],
    );
    let request = serde_json::to_value(&placement_requests()[1]).expect("JSON");
    wrong_values_are_refused(
        "placement_request",
        &request,
        strict::<PlacementRequest>,
        &[
            ("/clusters/0/role", Some(json!("Edge"))),
            ("/clusters/0/role", Some(json!(1))),
            ("/clusters/0/role", Some(json!("fog"))),
            (
                "/graph/services/0/dependencies/0/kind",
                Some(json!("Required")),
            ),
            ("/graph/services/0/dependencies/0/kind", Some(json!(0))),
            ("/graph/services/0/labels/0", Some(json!({"tier": "web"}))),
            (
                "/graph/services/0/allowed_clusters",
                Some(json!("edge-athens")),
            ),
            ("/current", Some(json!([]))),
            ("/telemetry/time_unix_s", Some(json!(1.5))),
            ("/telemetry", None),
            ("/extra", Some(json!({}))),
            ("/clusters/0/energy/preferred_for_saving", None),
        ],
    );
    let scaling_request = serde_json::to_value(&scaling_requests()[0]).expect("JSON");
    wrong_values_are_refused(
        "scaling_request",
        &scaling_request,
        strict::<ScalingRequest>,
        &[
            ("/cluster", Some(json!([]))),
            ("/placement/assignments/0/replicas", Some(json!("3"))),
        ],
    );
    let migration_request = serde_json::to_value(&migration_requests()[0]).expect("JSON");
    wrong_values_are_refused(
        "migration_request",
        &migration_request,
        strict::<MigrationRequest>,
        &[
            ("/current", Some(Value::Null)),
            ("/graph/services/1/demand/gpu", Some(json!(-2))),
        ],
    );
}
