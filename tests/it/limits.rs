//! Resource limits a single client can't get past: open event streams and slow
//! requests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{assert_error, Backend, TestApp};

/// Reads a stream until `done` holds for what was read (a generous deadline turns a
/// broken stream into a failure instead of a hang).
async fn read_until(response: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&seen) {
        let chunk =
            tokio::time::timeout_at(deadline, response.chunk()).await.expect("stream answered in time");
        match chunk.expect("stream readable") {
            Some(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            None => break,
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_a_bounded_number_of_event_streams() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.max_streams_per_client = 3).await.unwrap();
    let task = app.create_task("running").await;
    let path = format!("/v1/tasks/{task}/events/stream");
    let open = || app.client.get(app.url(&path)).bearer_auth(&app.key).send();

    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = refused.json().await.unwrap();
    assert_error(&body, "TOO_MANY_STREAMS");
    assert_eq!(body["error"]["details"]["limit"], 3);

    // Other routes are unaffected while the streams are open.
    let (status, _) = app.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(status, StatusCode::OK);

    // When the task finishes, the streams end, and their places are free again.
    let (status, body) = app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for stream in &mut streams {
        let seen = read_until(stream, |s| s.contains("event: end")).await;
        assert!(seen.contains("event: end"), "{seen}");
    }
    for _ in 0..3 {
        let mut again = open().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK, "a finished stream gives its place back");
        read_until(&mut again, |s| s.contains("event: end")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_arrives_times_out_and_changes_nothing() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.request_timeout = Duration::from_millis(300))
        .await
        .unwrap();
    // Headers promise a body of 100 bytes; only part of it is ever sent.
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let partial = r#"{"title": "never fin"#;
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{partial}",
        app.addr, app.key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_string(&mut answer))
        .await
        .expect("the server answers instead of waiting forever")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_error(&body, "REQUEST_TIMEOUT");

    let (status, tasks) = app.get("/v1/tasks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks["data"]["tasks"].as_array().map(Vec::len), Some(0), "nothing was created: {tasks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.request_timeout = Duration::from_millis(300))
        .await
        .unwrap();
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // The blank line that ends the headers never comes.
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: agentshare\r\nX-Slow: 1\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection instead of waiting forever")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "no request was served: {answer}");

    // The service goes on serving everyone else.
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_live_streams_instead_of_waiting_on_them() {
    let mut app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.create_task("running").await;
    let mut stream = app
        .client
        .get(app.url(&format!("/v1/tasks/{task}/events/stream")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < agentshare::startup::SHUTDOWN_GRACE,
        "the stream ended by itself rather than being cut at the end of the grace period"
    );
    let rest = read_until(&mut stream, |_| false).await;
    assert!(!rest.contains("event: end"), "the task did not end, so neither does it say so: {rest}");
}
