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
    let doc: Value = serde_json::from_str(&agentshare::api::openapi_json()).unwrap();
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
