use reqwest::StatusCode;
use serde_json::json;

use crate::backend_tests;
use crate::common::{assert_invalid, TestApp};

backend_tests!(
    events_are_numbered_and_listed_in_order,
    events_follow_from_a_sequence_number,
    events_filter_by_type_and_page,
    event_bodies_are_validated,
    concurrent_appends_get_distinct_consecutive_numbers,
    an_event_key_appends_once,
);

async fn events_are_numbered_and_listed_in_order(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}/events");
    let sent = [
        json!({"type": "message", "content": "Please fix login"}),
        json!({"type": "progress", "content": "Reading code"}),
        json!({"type": "log", "content": "cargo test: 3 failed"}),
        json!({"type": "output", "name": "Summary", "content": "# Fixed\n\n```rust\nfn main() {}\n```\n"}),
        json!({"type": "log", "content": "token=abc", "private": true}),
    ];
    for (i, event) in sent.iter().enumerate() {
        let (status, body) = app.post(&path, event.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["data"]["seq"], i as i64 + 1);
        assert_eq!(body["data"]["type"], event["type"]);
    }
    let (status, body) = app.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["data"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 5, "the owner sees private events too");
    for (i, (got, want)) in events.iter().zip(&sent).enumerate() {
        assert_eq!(got["seq"], i as i64 + 1);
        assert_eq!(got["content"], want["content"], "content comes back verbatim");
    }
    assert_eq!(events[3]["name"], "Summary");
    assert_eq!(events[4]["private"], true);
    assert_eq!(body["data"]["next_after"], 5);
    assert_eq!(body["data"]["has_more"], false);

    let (_, task_body) = app.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(task_body["data"]["last_event_seq"], 5);
}

async fn events_follow_from_a_sequence_number(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}/events");
    for i in 1..=4 {
        app.post(&path, json!({"type": "progress", "content": format!("step {i}")})).await;
    }
    let (_, body) = app.get(&format!("{path}?after=2")).await;
    let seqs: Vec<i64> =
        body["data"]["events"].as_array().unwrap().iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![3, 4]);
    let (_, body) = app.get(&format!("{path}?after=4")).await;
    assert_eq!(body["data"]["events"], json!([]));
    assert_eq!(body["data"]["next_after"], 4, "polling again later starts at the same place");
}

async fn events_filter_by_type_and_page(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}/events");
    for i in 0..5 {
        app.post(&path, json!({"type": "log", "content": format!("log {i}")})).await;
        app.post(&path, json!({"type": "output", "name": format!("out {i}"), "content": "x"})).await;
    }
    let (_, body) = app.get(&format!("{path}?type=output&limit=3")).await;
    let page = body["data"]["events"].as_array().unwrap();
    assert_eq!(page.len(), 3);
    assert!(page.iter().all(|e| e["type"] == "output"));
    assert_eq!(body["data"]["has_more"], true);
    let next = body["data"]["next_after"].as_i64().unwrap();
    let (_, body) = app.get(&format!("{path}?type=output&limit=3&after={next}")).await;
    assert_eq!(body["data"]["events"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"]["has_more"], false);
}

async fn event_bodies_are_validated(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}/events");
    for (body, field) in [
        (json!({"content": "x"}), "type"),
        (json!({"type": "shout", "content": "x"}), "type"),
        (json!({"type": "log"}), "content"),
        (json!({"type": "log", "content": ""}), "content"),
        (json!({"type": "log", "content": 5}), "content"),
        (json!({"type": "output", "content": "x"}), "name"),
        (json!({"type": "output", "name": "", "content": "x"}), "name"),
        (json!({"type": "log", "content": "x", "private": "yes"}), "private"),
        (json!({"type": "log", "content": "x", "seq": 9}), "seq"),
    ] {
        let (status, answer) = app.post(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_invalid(&answer, field);
    }
    for (query, field) in [("after=-1", "after"), ("limit=1001", "limit"), ("type=x", "type")] {
        let (status, answer) = app.get(&format!("{path}?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_invalid(&answer, field);
    }
    let (_, body) = app.get(&path).await;
    assert_eq!(body["data"]["events"], json!([]), "refused events were not stored");
}

async fn concurrent_appends_get_distinct_consecutive_numbers(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}/events");
    let answers = futures_util::future::join_all(
        (0..40).map(|i| app.post(&path, json!({"type": "progress", "content": format!("p{i}")}))),
    )
    .await;
    let mut seqs: Vec<i64> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::CREATED, "{body}");
            body["data"]["seq"].as_i64().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=40).collect::<Vec<_>>());
    let (_, body) = app.get(&format!("{path}?limit=1000")).await;
    assert_eq!(body["data"]["events"].as_array().unwrap().len(), 40);
}

/// A key makes appending idempotent: the same key again, even at once from many
/// requests, appends nothing and answers the stored event; an event may carry the
/// time it happened.
async fn an_event_key_appends_once(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/tasks/{task}/events");
    let line = json!({"type": "log", "content": "line 1", "key": "run-1/1", "created_at": "2026-01-02T03:04:05.678Z"});
    let (status, first) = app.post(&path, line.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["data"]["created_at"], "2026-01-02T03:04:05.678Z");
    assert_eq!(first["data"]["key"], "run-1/1");
    let retries = futures_util::future::join_all((0..10).map(|_| app.post(&path, line.clone()))).await;
    for (status, body) in retries {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["data"]["seq"], first["data"]["seq"]);
    }
    let racing = futures_util::future::join_all(
        (0..10).map(|_| app.post(&path, json!({"type": "log", "content": "line 2", "key": "run-1/2"}))),
    )
    .await;
    let created = racing.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(created, 1, "one of many racing appends with one key appends");
    let (_, task_now) = app.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(task_now["data"]["last_event_seq"], 2, "no numbers were spent on repeats");
    let (_, listed) = app.get(&path).await;
    assert_eq!(listed["data"]["events"].as_array().unwrap().len(), 2);

    let (status, body) =
        app.post(&path, json!({"type": "log", "content": "x", "created_at": "2999-01-01T00:00:00Z"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "created_at");
    let (status, body) =
        app.post(&path, json!({"type": "log", "content": "x", "created_at": "yesterday"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "created_at");
}
