use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::backend_tests;
use crate::common::{assert_error, assert_invalid, Backend, TestApp};

backend_tests!(
    artifacts_round_trip_byte_for_byte,
    artifact_names_are_unique_per_task,
    artifacts_can_be_deleted,
);

async fn upload(
    app: &TestApp,
    task: &str,
    name: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts")))
        .query(&[("name", name)])
        .bearer_auth(&app.key)
        .body(bytes);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn artifacts_round_trip_byte_for_byte(app: TestApp) {
    let task = app.create_task("t").await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let (status, body) =
        upload(&app, &task, "résumé v2.bin", Some("application/x-custom"), bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let artifact = &body["data"];
    assert_eq!(artifact["name"], "résumé v2.bin");
    assert_eq!(artifact["size_bytes"], 300_000);
    assert_eq!(artifact["content_type"], "application/x-custom");
    assert_eq!(artifact["sha256"], hex::encode(sha2::Sha256::digest(&bytes)));
    let url = artifact["download_url"].as_str().unwrap();
    assert!(url.starts_with(&app.base));

    let response = app.client.get(url).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-custom");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("UTF-8''r%C3%A9sum%C3%A9%20v2.bin"),
        "{disposition}"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(response.bytes().await.unwrap().to_vec(), bytes, "same bytes back");

    let (_, default_type) = upload(&app, &task, "blob", None, vec![1, 2, 3]).await;
    assert_eq!(default_type["data"]["content_type"], "application/octet-stream");
    let (_, empty) = upload(&app, &task, "empty.txt", Some("text/plain"), vec![]).await;
    assert_eq!(empty["data"]["size_bytes"], 0);

    let (status, list) = app.get(&format!("/v1/tasks/{task}/artifacts")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> =
        list["data"]["artifacts"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3);
    assert!(names.contains(&"blob") && names.contains(&"empty.txt"));

    let bob = app.new_owner("bob").await;
    let response = app.client.get(url).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "another owner can't download");
}

async fn artifact_names_are_unique_per_task(app: TestApp) {
    let task = app.create_task("t").await;
    assert_eq!(
        upload(&app, &task, "a.txt", Some("text/plain"), b"one".to_vec()).await.0,
        StatusCode::CREATED
    );
    let (status, body) = upload(&app, &task, "a.txt", Some("text/plain"), b"two".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "ARTIFACT_EXISTS");
    let other = app.create_task("u").await;
    assert_eq!(upload(&app, &other, "a.txt", None, b"three".to_vec()).await.0, StatusCode::CREATED);
}

async fn artifacts_can_be_deleted(app: TestApp) {
    let task = app.create_task("t").await;
    let (_, body) = upload(&app, &task, "a.txt", None, b"x".to_vec()).await;
    let id = body["data"]["artifact_id"].as_str().unwrap();
    let path = format!("/v1/tasks/{task}/artifacts/{id}");
    assert_eq!(app.request(reqwest::Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "ARTIFACT_NOT_FOUND");
    assert_eq!(app.request(reqwest::Method::DELETE, &path, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn artifact_uploads_are_validated_against_limits() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn_with(backend, |s| s.max_artifact_bytes = 1000).await else {
            continue;
        };
        let task = app.create_task("t").await;
        let (status, body) = upload(&app, &task, "big.bin", None, vec![0; 1001]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_error(&body, "PAYLOAD_TOO_LARGE");
        assert_eq!(upload(&app, &task, "fits.bin", None, vec![0; 1000]).await.0, StatusCode::CREATED);
        for name in
            ["", "../x", "a/b", "..", "invoice\u{202e}fdp.exe", "a\u{200b}b", "\u{feff}x", "x\u{2066}y"]
        {
            let (status, body) = upload(&app, &task, name, None, vec![1]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}");
            assert_invalid(&body, "name");
        }
        let (status, body) = upload(&app, &task, "x", Some("not a type"), vec![1]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_invalid(&body, "Content-Type");
        let (_, list) = app.get(&format!("/v1/tasks/{task}/artifacts")).await;
        assert_eq!(
            list["data"]["artifacts"].as_array().unwrap().len(),
            1,
            "only the valid upload was stored: {}",
            json!(list)
        );
    }
}
