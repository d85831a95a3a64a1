//! `/openapi.json` is generated from the handlers; this pins it so that every change
//! to the API surface is deliberate. After an intended change, refresh it with
//! `UPDATE_SNAPSHOTS=1 cargo test openapi`.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use crate::common::{Backend, TestApp};

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
}

#[tokio::test]
async fn the_served_document_matches_the_committed_snapshot() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (status, served) = app.request_as(None, Method::GET, "/openapi.json", None).await;
    assert!(status.is_success());
    let rendered = serde_json::to_string_pretty(&served).unwrap() + "\n";
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(snapshot_path(), &rendered).unwrap();
    }
    let committed = std::fs::read_to_string(snapshot_path()).unwrap_or_default();
    assert!(
        committed == rendered,
        "/openapi.json differs from docs/openapi.json; if the change is intended, run UPDATE_SNAPSHOTS=1 cargo test openapi"
    );
}

#[test]
fn every_route_is_documented_with_its_errors() {
    let doc: Value = serde_json::from_str(&agentshare::routes::openapi_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/healthz", &["get"][..]),
        ("/v1/tasks", &["get", "post"]),
        ("/v1/tasks/{task_id}", &["get", "patch"]),
        ("/v1/tasks/{task_id}/events", &["get", "post"]),
        ("/v1/tasks/{task_id}/artifacts", &["get", "post"]),
        ("/v1/tasks/{task_id}/artifacts/{artifact_id}", &["get", "delete"]),
    ] {
        for method in methods {
            let op = &paths[path][method];
            assert!(op.is_object(), "{method} {path} is documented");
            assert!(op["summary"].is_string(), "{method} {path} has a summary");
            if path.starts_with("/v1/") {
                assert!(op["responses"]["401"].is_object(), "{method} {path} documents 401");
                assert_eq!(op["security"][0]["api_key"], serde_json::json!([]));
            }
        }
    }
}

/// Every `(pointer, value)` of `key` anywhere in `value`.
fn find_all<'a>(value: &'a Value, key: &str, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == key {
                    out.push((at.clone(), v));
                }
                find_all(v, key, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                find_all(v, key, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_security_requirement_names_a_defined_scheme() {
    let doc: Value = serde_json::from_str(&agentshare::routes::openapi_json()).unwrap();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    let mut requirements = Vec::new();
    find_all(&doc["paths"], "security", String::new(), &mut requirements);
    assert!(!requirements.is_empty());
    for (at, alternatives) in requirements {
        for alternative in alternatives.as_array().unwrap() {
            for name in alternative.as_object().unwrap().keys() {
                assert!(schemes.contains_key(name), "{at} names the undefined scheme {name}");
            }
        }
    }
}

#[test]
fn text_patterns_are_the_ones_the_handlers_check() {
    use agentshare::api::schemas;

    let known = [
        schemas::LINE_PATTERN,
        schemas::LINE_OR_BLANK_PATTERN,
        schemas::TEXT_PATTERN,
        schemas::FILE_NAME_PATTERN,
        schemas::ENDPOINT_URL_PATTERN,
        r"\S",
        "^[0-9]+$",
    ];
    let doc: Value = serde_json::from_str(&agentshare::routes::openapi_json()).unwrap();
    let mut patterns = Vec::new();
    find_all(&doc, "pattern", String::new(), &mut patterns);
    assert!(patterns.len() > 20, "{}", patterns.len());
    for (at, pattern) in patterns {
        // A property called `pattern` (a finding's) is a schema, not a pattern.
        let Some(pattern) = pattern.as_str() else {
            assert!(at.ends_with("/properties"), "{at}: {pattern}");
            continue;
        };
        assert!(known.contains(&pattern), "{at}: {pattern} is not one of the patterns in api::schemas");
    }
}
