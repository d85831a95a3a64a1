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

/// A database written before artifacts were kept in chunks: its files are split on
/// upgrade and download byte for byte.
async fn artifacts_stored_whole_are_split_on_upgrade(backend: Backend) {
    use sqlx::Connection as _;
    let Some(db) = crate::common::TestDb::new(backend).await else { return };
    let sizes = [0usize, 10, 256 * 1024, 256 * 1024 + 1, 600_000];
    let file = |size: usize| (0..size).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>();
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(folder);
    let mut before = sqlx::migrate::Migrator::new(path).await.unwrap();
    before.migrations =
        before.migrations.iter().filter(|m| m.version <= 13).cloned().collect::<Vec<_>>().into();
    macro_rules! seed {
        ($conn:expr) => {{
            let mut conn = $conn;
            before.run(&mut conn).await.unwrap();
            sqlx::query("INSERT INTO owners (owner_id, name, created_at) VALUES ('user_1', 'alice', 1)")
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO tasks (task_id, owner_id, title, status, created_at, updated_at) \
                 VALUES ('task_0000000000000001', 'user_1', 't', 'completed', 1, 1)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
            for (i, size) in sizes.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO artifacts (artifact_id, task_id, name, content_type, size_bytes, sha256, content, created_at) \
                     VALUES ($1, 'task_0000000000000001', $2, 'application/octet-stream', $3, 'x', $4, 1)",
                )
                .bind(format!("art_{i:016}"))
                .bind(format!("f{i}"))
                .bind(*size as i64)
                .bind(file(*size))
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }};
    }
    match backend {
        Backend::Sqlite => {
            seed!(sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", db.url)).await.unwrap())
        }
        Backend::Postgres => seed!(sqlx::PgConnection::connect(&db.url).await.unwrap()),
    }
    let app = TestApp::start_on(db, |_| {}).await;
    let alice = app.new_owner("alice").await;
    for (i, size) in sizes.iter().enumerate() {
        let response = app
            .client
            .get(app.url(&format!("/v1/tasks/task_0000000000000001/artifacts/art_{i:016}")))
            .bearer_auth(&alice)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "f{i}");
        assert_eq!(response.bytes().await.unwrap().to_vec(), file(*size), "f{i}, {size} bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_stored_whole_are_split_on_upgrade_on_sqlite() {
    artifacts_stored_whole_are_split_on_upgrade(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_stored_whole_are_split_on_upgrade_on_postgres() {
    artifacts_stored_whole_are_split_on_upgrade(Backend::Postgres).await;
}
