//! Several instances serving one PostgreSQL database.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Backend, TestApp, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_share_tasks_and_number_events_without_collisions() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let shared = TestDb::existing(&first.db);
    let mut second = TestApp::start_on(shared, |_| {}).await;
    second.key = first.key.clone();

    let task = first.create_task("shared").await;
    let (status, body) = second.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["title"], "shared");

    let path = format!("/v1/tasks/{task}/events");
    let sends = (0..60).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        let path = path.clone();
        async move { app.post(&path, json!({"type": "progress", "content": format!("{i}")})).await }
    });
    let answers = futures_util::future::join_all(sends).await;
    let mut seqs: Vec<i64> = answers
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, StatusCode::CREATED, "{b}");
            b["data"]["seq"].as_i64().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=60).collect::<Vec<_>>());
    second.stop().await;
}
