//! The committed JSON Schema (`schemas/pamform.schema.json`) must equal what `manifest_schema()`
//! generates, so editors validate against the language the loader accepts.
//! `PAMFORM_BLESS=1 cargo test --test manifest_schema` rewrites the file.

use std::fs;
use std::path::Path;

use pamform::manifest::manifest_schema;

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&manifest_schema()).expect("schema serializes");
    text.push('\n');
    text
}

#[test]
fn committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/pamform.schema.json");
    let expected = generated();
    if std::env::var_os("PAMFORM_BLESS").is_some() {
        fs::write(&path, &expected).expect("write the schema");
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{} is missing or out of date; run: pamform schema > schemas/pamform.schema.json",
        path.display()
    );
}

#[test]
fn schema_is_draft_07_with_descriptions() {
    let schema = manifest_schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["title"], "pamform manifest file");
    let team = &schema["definitions"]["TeamBlock"];
    assert_eq!(team["additionalProperties"], false);
    assert_eq!(team["required"], serde_json::json!(["id", "requested_by"]));
    assert!(
        team["properties"]["id"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("team ID")),
        "{team}"
    );
}
