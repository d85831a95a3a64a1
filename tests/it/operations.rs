//! What an operator relies on: an instance says it is ready only when it can serve
//! with the schema this build expects, and a backup taken while it serves restores
//! into a working service with everything it had acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{Backend, TestApp, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_agentshare");

backend_tests!(an_instance_is_ready_only_with_the_schema_it_expects);

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    app.request_as(None, Method::GET, "/readyz", None).await
}

async fn an_instance_is_ready_only_with_the_schema_it_expects(app: TestApp) {
    let database = match app.db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({
            "status": "ready", "database": database, "reasons": [],
            "checks": {"database": true, "migrations": true, "view_writer": true, "workers": true},
        })
    );

    // A newer build migrated the database further than this one knows.
    let checksum = match app.db.backend {
        Backend::Sqlite => "X'00'",
        Backend::Postgres => "'\\x00'::bytea",
    };
    app.sql(&format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from a newer build', TRUE, {checksum}, 0)"
    ))
    .await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["checks"]["migrations"], false);
    assert_eq!(body["checks"]["database"], true);
    assert!(body["reasons"][0].as_str().unwrap().contains("99990101000000"), "{body}");
    // Liveness is another question: the process and its database are fine.
    assert_eq!(app.request_as(None, Method::GET, "/healthz", None).await.0, StatusCode::OK);
    app.sql("DELETE FROM _sqlx_migrations WHERE version = 99990101000000").await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);

    // The last migration of this build failed half-way.
    app.sql("UPDATE _sqlx_migrations SET success = FALSE WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["reasons"][0].as_str().unwrap().ends_with("failed"), "{body}");
    app.sql("UPDATE _sqlx_migrations SET success = TRUE").await;

    // And one this build has is missing.
    app.sql("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)").await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["reasons"][0].as_str().unwrap().ends_with("is not applied"), "{body}");
}

/// Runs the agentshare binary with `args`: its exit status and what it printed. The
/// process is killed if it runs past a minute.
async fn agentshare(args: &[&str]) -> (bool, String) {
    let run = tokio::process::Command::new(BIN).args(args).kill_on_drop(true).output();
    let output =
        tokio::time::timeout(Duration::from_secs(60), run).await.expect("done within a minute").unwrap();
    let printed =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

/// What the owner was told was stored: tasks, and links with their view counts.
async fn acknowledged(app: &TestApp, tasks: usize) -> Vec<(String, String, i64)> {
    let mut made = Vec::new();
    for i in 0..tasks {
        let task = app.finished_task(&format!("Before the backup {i}")).await;
        let link = app.share(&task, json!({})).await;
        let views = i64::try_from(i % 3).unwrap();
        for _ in 0..views {
            assert_eq!(app.view(link["url"].as_str().unwrap(), None).await.0, StatusCode::OK);
        }
        made.push((task, link["share_link_id"].as_str().unwrap().to_owned(), views));
    }
    made
}

/// Keeps creating tasks, links and views until `stop` is set: the load a backup is
/// taken under.
fn write_load(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let (base, key, client) = (app.base.clone(), app.key.clone(), app.client.clone());
    tokio::spawn(async move {
        let mut written = 0;
        while !stop.load(Ordering::Relaxed) {
            let task: Value = client
                .post(format!("{base}/v1/tasks"))
                .bearer_auth(&key)
                .json(&json!({"title": "During the backup"}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let id = task["data"]["task_id"].as_str().unwrap().to_owned();
            for event in [
                json!({"type": "progress", "content": "working"}),
                json!({"type": "output", "name": "R", "content": "x"}),
            ] {
                let sent =
                    client.post(format!("{base}/v1/tasks/{id}/events")).bearer_auth(&key).json(&event).send();
                assert!(sent.await.unwrap().status().is_success());
            }
            written += 1;
        }
        written
    })
}

async fn check_restored(app: &TestApp, made: &[(String, String, i64)]) {
    for (task, link, views) in made {
        let (status, body) = app.get(&format!("/v1/tasks/{task}")).await;
        assert_eq!(status, StatusCode::OK, "{task}: {body}");
        let (status, body) = app.get(&format!("/v1/share-links/{link}")).await;
        assert_eq!(status, StatusCode::OK, "{link}: {body}");
        assert_eq!(body["data"]["view_count"], *views, "{body}");
    }
    // It serves: a restored link opens and counts.
    let (_, body) = app.get(&format!("/v1/share-links/{}", made[0].1)).await;
    assert_eq!(app.view(body["data"]["url"].as_str().unwrap(), None).await.0, StatusCode::OK);
    assert_eq!(readyz(app).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_backup_taken_under_load_restores_everything_acknowledged() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let made = acknowledged(&app, 12).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = write_load(&app, stop.clone());
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("backup.db");
    let copy = copy.to_str().unwrap();
    // Under way before the copy starts.
    let busy = app.sql_i64("SELECT COUNT(*) FROM tasks").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.sql_i64("SELECT COUNT(*) FROM tasks").await < busy + 3 {
        assert!(tokio::time::Instant::now() < deadline, "the load never got going");
        tokio::task::yield_now().await;
    }
    // The last thing acknowledged before the copy is still in the write-ahead log,
    // not yet in the database file: a copy of the file alone would miss it.
    let mut made = made;
    made.extend(acknowledged(&app, 2).await);
    let (ok, printed) = agentshare(&["backup", "--to", copy, "--database-url", &app.db.url]).await;
    stop.store(true, Ordering::Relaxed);
    let during = load.await.unwrap();
    assert!(ok, "{printed}");
    assert!(printed.starts_with("backed up "), "{printed}");
    assert!(during > 0);
    let (ok, printed) = agentshare(&["backup", "--to", copy, "--database-url", &app.db.url]).await;
    assert!(!ok && printed.contains("already exists"), "an existing file is never overwritten: {printed}");

    let url = format!("sqlite://{copy}");
    let copied = TestDb::at(url, Backend::Sqlite);
    let verdict: String = copied.sql_scalar("PRAGMA integrity_check").await;
    assert_eq!(verdict, "ok");

    let restored = dir.path().join("fresh").join("agentshare.db");
    let target = format!("sqlite://{}", restored.display());
    let (ok, printed) = agentshare(&["restore", "--from", copy, "--database-url", &target]).await;
    assert!(ok, "{printed}");
    // Restoring over a database takes --force.
    let (ok, printed) = agentshare(&["restore", "--from", copy, "--database-url", &target]).await;
    assert!(!ok && printed.contains("--force"), "{printed}");
    let (ok, printed) = agentshare(&["restore", "--from", copy, "--database-url", &target, "--force"]).await;
    assert!(ok, "{printed}");
    // What is not a backup is refused.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let (ok, printed) =
        agentshare(&["restore", "--from", junk.to_str().unwrap(), "--database-url", &target, "--force"])
            .await;
    assert!(!ok, "{printed}");

    let mut served = TestApp::start_on(TestDb::at(target, Backend::Sqlite), |_| {}).await;
    served.key = app.key.clone();
    check_restored(&served, &made).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_dump_restores_into_a_working_service() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let made = acknowledged(&app, 6).await;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("agentshare.dump");
    let run = |program: &'static str, args: Vec<String>| async move {
        let run = tokio::process::Command::new(program).args(&args).kill_on_drop(true).output();
        let output =
            tokio::time::timeout(Duration::from_secs(60), run).await.expect("in time").expect(program);
        assert!(output.status.success(), "{program}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run("pg_dump", vec!["--format=custom".into(), format!("--file={}", dump.display()), app.db.url.clone()])
        .await;

    // Into a new, empty database, as the README says.
    let fresh = TestDb::new(Backend::Postgres).await.unwrap();
    run(
        "pg_restore",
        vec!["--no-owner".into(), format!("--dbname={}", fresh.url), dump.display().to_string()],
    )
    .await;
    let mut served = TestApp::start_on(fresh, |_| {}).await;
    served.key = app.key.clone();
    check_restored(&served, &made).await;
}
