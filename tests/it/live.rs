//! Live streams share one look at their task per change on an instance, and
//! hear of changes made on another instance at once (PostgreSQL).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{read_stream, Backend, TestApp, TestDb};
use crate::metrics::{scrape, scrape_until};
use crate::share_codes::{create_code, session};

/// Feeds that look only when told: a stream that gets news got it from a
/// change this instance made, or one another instance announced.
fn told_only(s: &mut agentshare::config::Settings) {
    s.live_poll = Duration::from_secs(3600);
    s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    s.max_streams_per_client = 64;
}

const STREAMS: usize = 24;
const LOOKS: &str = "agentshare_live_feed_looks_total";
const FEEDS: &str = "agentshare_live_feeds";

mod streams_of_a_task_share_one_look_per_change {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = crate::common::TestApp::spawn_with(crate::common::Backend::Sqlite, super::told_only)
            .await
            .unwrap();
        super::streams_of_a_task_share_one_look_per_change(app).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) =
            crate::common::TestApp::spawn_with(crate::common::Backend::Postgres, super::told_only).await
        {
            super::streams_of_a_task_share_one_look_per_change(app).await
        }
    }
}

async fn streams_of_a_task_share_one_look_per_change(app: TestApp) {
    let task = app.create_task("watched").await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    let code = create_code(&app, &task, json!({})).await;
    let token = session(&app, &code).await;
    let path = format!("/v1/tasks/{task}/events/stream");
    let mut streams = Vec::new();
    for n in 0..STREAMS {
        // Viewers and the owner alike.
        let key = if n % 2 == 0 { &token } else { &app.key };
        let stream = app.client.get(app.url(&path)).bearer_auth(key).send().await.unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        streams.push(stream);
    }
    scrape_until(&app, "one feed, having looked", |s| s.get(FEEDS) == 1.0 && s.get(LOOKS) >= 1.0).await;
    // A viewer who arrives after the feed looked joins it with a session the
    // feed has not seen yet: that is no revocation.
    let late = session(&app, &code).await;
    let mut late = app.client.get(app.url(&path)).bearer_auth(&late).send().await.unwrap();
    assert_eq!(late.status(), StatusCode::OK);
    let before = scrape(&app).await.get(LOOKS);

    for n in 1..=3 {
        let (status, body) = app
            .post(&format!("/v1/tasks/{task}/events"), json!({"type": "log", "content": format!("line {n}")}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app
        .post(
            &format!("/v1/tasks/{task}/events"),
            json!({"type": "log", "content": "owner only", "private": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (n, stream) in streams.iter_mut().enumerate() {
        let mut seen = String::new();
        let last = if n % 2 == 0 { "line 3" } else { "owner only" };
        read_stream(stream, &mut seen, |s| s.contains(last)).await;
        assert!(seen.contains("line 1") && seen.contains("line 2"), "{seen}");
        assert_eq!(seen.contains("owner only"), n % 2 == 1, "private events reach the owner alone: {seen}");
    }
    let mut seen = String::new();
    read_stream(&mut late, &mut seen, |s| s.contains("line 3")).await;
    assert!(!seen.contains("revoked"), "{seen}");
    // Four changes (and a look for the latecomer): at most one look each,
    // whatever the number of streams.
    let looks = scrape(&app).await.get(LOOKS) - before;
    assert!((1.0..=5.0).contains(&looks), "{looks} looks for 4 changes and {STREAMS} streams");

    // The viewer streams end at the revocation; the owner's go on.
    let (status, _) = app.request(Method::DELETE, &format!("/v1/tasks/{task}/share"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for stream in streams.iter_mut().step_by(2) {
        let mut seen = String::new();
        read_stream(stream, &mut seen, |s| s.contains("event: revoked")).await;
    }
    // A feed ends with its last stream.
    drop(streams);
    scrape_until(&app, "no feed", |s| s.get(FEEDS) == 0.0).await;
}

/// A stream on one instance hears of an event appended on another, and of a
/// revocation made there, at once (not at its next look: here an hour away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instances_changes_reach_open_streams_at_once_on_postgres() {
    let Some(first) = TestApp::spawn_with(Backend::Postgres, told_only).await else {
        return;
    };
    let mut second = TestApp::start_on(TestDb::existing(&first.db), told_only).await;
    second.key = first.key.clone();
    let task = first.create_task("elsewhere").await;
    first.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    let token = session(&first, &create_code(&first, &task, json!({})).await).await;
    let path = format!("/v1/tasks/{task}/events/stream");
    let mut viewer = second.client.get(second.url(&path)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(viewer.status(), StatusCode::OK);
    let mut owner = second.client.get(second.url(&path)).bearer_auth(&second.key).send().await.unwrap();
    assert_eq!(owner.status(), StatusCode::OK);
    scrape_until(&second, "the second instance's feed, having looked", |s| s.get(LOOKS) >= 1.0).await;

    let (status, body) = first
        .post(&format!("/v1/tasks/{task}/events"), json!({"type": "log", "content": "from the first"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut seen = String::new();
    read_stream(&mut viewer, &mut seen, |s| s.contains("from the first")).await;

    let (status, _) = first.request(Method::DELETE, &format!("/v1/tasks/{task}/share"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    read_stream(&mut viewer, &mut seen, |s| s.contains("event: revoked")).await;

    let (status, body) = first.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut seen = String::new();
    read_stream(&mut owner, &mut seen, |s| s.contains("event: end")).await;
    assert!(seen.contains("from the first"), "{seen}");
    second.stop().await;
}
