//! The handlers answer what the OpenAPI document says, also for requests at its
//! edges: each test pins a disagreement that testing the live server against the
//! document (scripts/schemathesis) once found.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, assert_invalid, Backend, TestApp};

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, crate::common::read_text(response).await)
}

fn json_body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn malformed_path_parameters_answer_in_the_error_envelope() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.create_task("t").await;
    for action in ["", "/approve", "/merge"] {
        let method = if action.is_empty() { Method::GET } else { Method::POST };
        let path = format!("/v1/tasks/{task}/pull-requests/9223372036854775808{action}");
        let (status, body) = app.request(method, &path, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert_invalid(&body, "number");
    }
    let (status, body) = app.get("/v1/tasks/%FF").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "task_id");

    // The share-code routes answer in their own (seed 003) shape.
    let (status, body) = app.get("/v1/tasks/%FF/share").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "INVALID_REQUEST");
    assert_eq!(body["error"], "validation_error");
}

#[tokio::test]
async fn bodies_are_json_objects_not_arrays_of_field_values() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.create_task("t").await;
    let request = |path: &str, body: &'static str| {
        app.client
            .post(app.url(path))
            .bearer_auth(&app.key)
            .header("content-type", "application/json")
            .body(body)
    };
    let (status, _, text) = send(request(&format!("/v1/agentrix/tasks/{task}/share"), "[null, null]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let body = json_body(&text);
    assert_eq!(body["error"], "validation_error");
    assert!(body["message"].as_str().unwrap().contains("must be a JSON object"), "{body}");
    let (_, share) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(share["code"], "SHARE_NOT_FOUND", "no code was created");

    let (status, _, text) = send(request("/v1/tasks", r#"["a title"]"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&json_body(&text), "INVALID_REQUEST");
}

#[tokio::test]
async fn whole_numbers_written_with_a_zero_fraction_are_integers() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"max_views": 5.0})).await;
    assert_eq!(link["max_views"], 5);
    let (status, body) = app.post("/v1/share-links", json!({"task_id": task, "max_views": 5.5})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "max_views");
    let id = link["share_link_id"].as_str().unwrap();
    let (status, body) = app.patch(&format!("/v1/share-links/{id}"), json!({"max_views": 7.0})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["max_views"], 7);
}

#[tokio::test]
async fn single_line_limits_apply_to_the_text_as_sent() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    for title in [format!(" {}", "x".repeat(200)), "\tTabbed".to_owned(), "   ".to_owned()] {
        let (status, body) = app.post("/v1/tasks", json!({ "title": title })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{title:?}");
        assert_invalid(&body, "title");
    }
    let (status, body) = app.post("/v1/tasks", json!({"title": "  Fix login  "})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["title"], "Fix login");
}

#[tokio::test]
async fn stream_resume_points_are_checked() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let stream = |last_event_id: &str, query: &str| {
        app.client
            .get(app.url(&format!("/v1/tasks/{task}/events/stream{query}")))
            .bearer_auth(&app.key)
            .header("last-event-id", last_event_id)
    };
    let (status, _, text) = send(stream("abc", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&json_body(&text), "Last-Event-ID");
    let (status, _, text) = send(stream("-1", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&json_body(&text), "Last-Event-ID");
    let (status, _, text) = send(stream("0", "?after=-1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "after is checked even when Last-Event-ID wins");
    assert_invalid(&json_body(&text), "after");

    // A valid Last-Event-ID resumes after it; the finished task's stream ends.
    let (status, headers, text) = send(stream("4", "?after=1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert!(text.starts_with("id: 5\n"), "{text}");
    assert!(text.contains("event: end"), "{text}");
}

#[tokio::test]
async fn share_code_and_comment_bodies_honour_the_body_limit() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.max_body_bytes = 1024).await.unwrap();
    let task = app.finished_task("t").await;
    let big = json!({"expiresAt": "2030-01-01T00:00:00Z", "padding": "x".repeat(2000)}).to_string();
    let request = app
        .client
        .post(app.url(&format!("/v1/agentrix/tasks/{task}/share")))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(big.clone());
    let (status, _, text) = send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let body = json_body(&text);
    assert_eq!(
        (body["code"].as_str(), body["error"].as_str()),
        (Some("PAYLOAD_TOO_LARGE"), Some("payload_too_large"))
    );

    let link = app.share(&task, json!({"permissions": {"allow_comments": true}})).await;
    let url = link["url"].as_str().unwrap();
    let request =
        app.client.post(format!("{url}/comments")).header("content-type", "application/json").body(big);
    let (status, _, text) = send(request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&json_body(&text), "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn rate_limited_pages_say_when_to_come_back() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    // 30 lookups of links that don't exist, then the client is refused for a while.
    for n in 0..30 {
        let (status, _, _) = send(app.client.get(app.url(&format!("/s/missing{n:02}")))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let (status, headers, text) = send(app.client.get(app.url("/s/missing/comments/verify?code=x"))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{text}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");

    let (status, headers, text) = send(app.client.get(app.url("/s/missing/artifacts/a?grant=g"))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_error(&json_body(&text), "RATE_LIMITED");
    assert!(headers.contains_key("retry-after"));
}

/// What the API answers is one owner's (or one viewer's): no cache keeps it, and no
/// browser takes it for anything but what it says it is.
#[tokio::test]
async fn api_answers_are_kept_from_caches_and_sniffing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.create_task("t").await;
    for path in [format!("/v1/tasks/{task}"), "/v1/tasks".to_owned(), "/v1/tasks/task_unknown".to_owned()] {
        let (_, headers, _) = send(app.client.get(app.url(&path)).bearer_auth(&app.key)).await;
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
}
