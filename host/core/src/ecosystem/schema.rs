//! The JSON Schema of a dependency declaration, `schemas/dependencies.schema.json`, generated
//! from [`super::Declaration`] (feature `schema`); a test keeps the file equal to the types.

/// The schema, as JSON text (2-space indented, ending with a newline).
#[cfg(feature = "schema")]
pub fn generate() -> String {
    let schema = schemars::schema_for!(super::Declaration);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(all(test, feature = "schema"))]
mod tests {
    const PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/dependencies.schema.json"
    );

    #[test]
    fn the_checked_in_schema_is_the_one_of_the_types() {
        let generated = super::generate();
        if std::env::var_os("SMO_UPDATE_SCHEMAS").is_some_and(|v| v == "1") {
            std::fs::write(PATH, &generated).expect("write the schema");
            return;
        }
        let on_disk = std::fs::read_to_string(PATH).unwrap_or_default();
        assert!(
            generated == on_disk,
            "schemas/dependencies.schema.json is not the schema of the types: run \
             `SMO_UPDATE_SCHEMAS=1 cargo test -p smo-core --features schema schema` and commit it"
        );
        let schema: serde_json::Value = serde_json::from_str(&generated).expect("JSON");
        assert_eq!(schema["required"], serde_json::json!(["vm_name"]));
    }
}
