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

/// Polls `query` (one integer) until it answers `want`, for at most ten seconds.
async fn until_count(app: &TestApp, query: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let found = app.sql_i64(query).await;
        if found == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{query}: {found}, never {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With `--view-retention-days 3`, the raw rows of views fill three days and stay
/// there under a steady load (each round, a day passes for what was stored: the
/// simulated clock), while analytics keep every view.
async fn views_past_the_window_go_and_analytics_keep_their_totals(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.view_retention_days = Some(3);
        s.retention_interval = Duration::from_millis(50);
    })
    .await
    else {
        return;
    };
    let task = app.finished_task("Kept for three days").await;
    let link = app.share(&task, json!({})).await;
    let (url, id) = (link["url"].as_str().unwrap(), link["share_link_id"].as_str().unwrap());
    let rows = format!("SELECT COUNT(*) FROM share_link_views WHERE share_link_id = '{id}'");
    let mut kept = Vec::new();
    let mut before_pruning = Value::Null;
    for day in 0..6 {
        for _ in 0..5 {
            assert_eq!(app.view(url, None).await.0, StatusCode::OK);
        }
        before_pruning = app.get(&format!("/v1/share-links/{id}/analytics")).await.1;
        app.sql("UPDATE share_link_views SET viewed_at = viewed_at - 86400000").await;
        let cutoff = chrono::Utc::now().timestamp_millis() - 3 * 86_400_000;
        until_count(&app, &format!("SELECT COUNT(*) FROM share_link_views WHERE viewed_at < {cutoff}"), 0)
            .await;
        kept.push(app.sql_i64(&rows).await);
        assert_eq!(app.get(&format!("/v1/share-links/{id}")).await.1["data"]["view_count"], 5 * (day + 1));
    }
    // Two days of views younger than three days, then no more growth.
    assert_eq!(kept, [5, 10, 10, 10, 10, 10]);
    let after_pruning = app.get(&format!("/v1/share-links/{id}/analytics")).await.1;
    assert_eq!(after_pruning, before_pruning, "analytics keep their totals");
    assert_eq!(after_pruning["data"]["total_views"], 30, "{after_pruning}");
    let daily: i64 = after_pruning["data"]["views_by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["views"].as_i64().unwrap())
        .sum();
    assert_eq!(daily, 30, "{after_pruning}");

    // Wrong passwords a day past their window go; so do webhook events settled a
    // month ago, but not one still waiting to be delivered.
    let locked = app.share(&task, json!({"password": "the right one"})).await;
    assert_eq!(
        app.view(locked["url"].as_str().unwrap(), Some("a wrong one")).await.0,
        StatusCode::UNAUTHORIZED
    );
    app.sql("UPDATE share_link_password_attempts SET attempted_at = attempted_at - 2 * 86400000").await;
    until_count(&app, "SELECT COUNT(*) FROM share_link_password_attempts", 0).await;
    let (_, hook) = app
        .post("/v1/webhooks", json!({"url": "https://hooks.example.com/x", "events": ["share_link.viewed"]}))
        .await;
    let hook = hook["data"]["webhook_id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    for (event, status) in [("evt_settled", "delivered"), ("evt_waiting", "pending")] {
        // Made now, then moved a month back once whole: the worker never sees half.
        app.sql(&format!(
            "INSERT INTO webhook_events (event_id, owner_id, event_type, payload, created_at) \
             VALUES ('{event}', 'nobody', 'share_link.viewed', '{{}}', {now})"
        ))
        .await;
        app.sql(&format!(
            "INSERT INTO webhook_deliveries (delivery_id, event_id, webhook_id, status, next_attempt_at, created_at) \
             VALUES ('dlv_{event}', '{event}', '{hook}', '{status}', {now}, {now})"
        ))
        .await;
    }
    app.sql(&format!(
        "UPDATE webhook_events SET created_at = {} WHERE owner_id = 'nobody'",
        now - 31 * 86_400_000
    ))
    .await;
    until_count(&app, "SELECT COUNT(*) FROM webhook_events WHERE event_id = 'evt_settled'", 0).await;
    assert_eq!(
        app.sql_i64("SELECT COUNT(*) FROM webhook_deliveries WHERE delivery_id = 'dlv_evt_settled'").await,
        0
    );
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_id = 'evt_waiting'").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_past_the_window_go_and_analytics_keep_their_totals_on_sqlite() {
    views_past_the_window_go_and_analytics_keep_their_totals(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_past_the_window_go_and_analytics_keep_their_totals_on_postgres() {
    views_past_the_window_go_and_analytics_keep_their_totals(Backend::Postgres).await;
}
