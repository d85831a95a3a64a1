//! Task share codes (seed 003): the owner's side, the exchange, and what a viewer
//! session may reach.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, read_stream, TestApp};

backend_tests!(
    a_code_with_default_permissions_is_view_only,
    permissions_are_validated_in_the_003_shape,
    only_the_owner_of_a_cloud_task_can_share_it,
    a_code_opens_a_session_scoped_to_its_task,
    messages_need_can_send_message,
    a_second_code_rotates_the_first,
    revoking_cuts_off_codes_and_sessions,
    codes_can_expire,
    exchanges_are_rate_limited,
    live_streams_follow_the_task_and_stop_at_revocation,
    viewers_get_secrets_masked_on_every_route,
    either_prefix_takes_every_verb_and_errors_keep_the_003_shape,
);

/// Asserts the 003 error shape: exactly `code`, `error` and `message`.
#[track_caller]
fn assert_code_error(body: &Value, code: &str, error: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body.as_object().unwrap().len(), 3, "only code, error and message: {body}");
}

pub(crate) async fn create_code(app: &TestApp, task: &str, body: Value) -> String {
    let (status, answer) = app.post(&format!("/v1/agentrix/tasks/{task}/share"), body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer.as_object().unwrap().len(), 1, "only shareCode: {answer}");
    answer["shareCode"].as_str().unwrap().to_owned()
}

async fn exchange(app: &TestApp, code: &str) -> (StatusCode, Value) {
    app.request_as(None, Method::GET, &format!("/v1/auth/share?code={code}"), None).await
}

pub(crate) async fn session(app: &TestApp, code: &str) -> String {
    let (status, body) = exchange(app, code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

async fn a_code_with_default_permissions_is_view_only(app: TestApp) {
    let task = app.create_task("shared").await;
    let code = create_code(&app, &task, json!({})).await;
    assert!(code.len() >= 22 && code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code}");
    let (status, info) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["shareCode"], code.as_str());
    assert_eq!(
        info["permissions"],
        json!({"canSendMessage": false, "canCreatePr": false, "canApprovePr": false, "canViewPr": true, "canMergePr": false})
    );
    assert_eq!(info["sessionsIssued"], 0);
    assert_eq!(info["lastUsedAt"], Value::Null);
    assert_eq!(info["expiresAt"], Value::Null);

    // A bare POST (no body at all) takes the defaults too.
    let response = app
        .client
        .post(app.url(&format!("/v1/agentrix/tasks/{task}/share")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let other = app.create_task("partial").await;
    create_code(&app, &other, json!({"permissions": {"canSendMessage": true}})).await;
    let (_, info) = app.get(&format!("/v1/tasks/{other}/share")).await;
    assert_eq!(
        info["permissions"],
        json!({"canSendMessage": true, "canCreatePr": false, "canApprovePr": false, "canViewPr": true, "canMergePr": false}),
        "omitted fields take their defaults"
    );
}

async fn permissions_are_validated_in_the_003_shape(app: TestApp) {
    let task = app.create_task("t").await;
    let path = format!("/v1/agentrix/tasks/{task}/share");
    for body in [
        json!({"permissions": {"canSendMessage": "yes"}}),
        json!({"permissions": {"canMergePr": 1}}),
        json!({"permissions": {"canDeleteTask": true}}),
        json!({"permissions": []}),
        json!({"perms": {}}),
        json!({"expiresAt": "soon"}),
        json!({"expiresAt": "2020-01-01T00:00:00Z"}),
        json!({"expiresAt": "9999-12-31T23:59:59-01:00"}),
    ] {
        let (status, answer) = app.post(&path, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_code_error(&answer, "INVALID_REQUEST", "validation_error");
        assert!(answer["message"].as_str().unwrap().starts_with("Invalid request parameters"));
    }
    let response = app
        .client
        .post(app.url(&path))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_code_error(&response.json().await.unwrap(), "INVALID_REQUEST", "validation_error");
    let (status, _) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no code was created");
}

async fn only_the_owner_of_a_cloud_task_can_share_it(app: TestApp) {
    let task = app.create_task("alice's").await;
    let path = format!("/v1/agentrix/tasks/{task}/share");
    let (status, body) = app.request_as(None, Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_code_error(&body, "UNAUTHORIZED", "unauthorized");
    assert_eq!(body["message"], "Invalid or missing API key");
    let (status, body) = app.request_as(Some("ask_wrong"), Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_code_error(&body, "UNAUTHORIZED", "unauthorized");

    let bob = app.new_owner("bob").await;
    let (status, body) = app.request_as(Some(&bob), Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_code_error(&body, "FORBIDDEN", "forbidden");
    assert_eq!(body["message"], "Only task owner can create share links");
    for method in [Method::GET, Method::DELETE] {
        let (status, body) =
            app.request_as(Some(&bob), method, &format!("/v1/tasks/{task}/share"), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_code_error(&body, "FORBIDDEN", "forbidden");
    }

    let (status, body) = app.post("/v1/agentrix/tasks/task_0000000000000000/share", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_code_error(&body, "TASK_NOT_FOUND", "not_found");
    assert_eq!(body["message"], "Task not found");

    let (_, local) = app.post("/v1/tasks", json!({"title": "on a laptop", "machine_id": "laptop-1"})).await;
    let local = local["data"]["task_id"].as_str().unwrap();
    let (status, body) = app.post(&format!("/v1/agentrix/tasks/{local}/share"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_code_error(&body, "TASK_NOT_IN_CLOUD_MODE", "conflict");
}

async fn a_code_opens_a_session_scoped_to_its_task(app: TestApp) {
    let task = app.create_task("shared").await;
    app.post(&format!("/v1/tasks/{task}/events"), json!({"type": "log", "content": "public log"})).await;
    app.post(
        &format!("/v1/tasks/{task}/events"),
        json!({"type": "log", "content": "private log", "private": true}),
    )
    .await;
    let other = app.create_task("not shared").await;
    let code = create_code(&app, &task, json!({})).await;

    let (status, body) = exchange(&app, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("vst_"));
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["taskId"], task.as_str());
    assert_eq!(body["permissions"]["canViewPr"], true);
    let expires = chrono::DateTime::parse_from_rfc3339(body["expiresAt"].as_str().unwrap()).unwrap();
    let hours = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((23 * 60..=24 * 60).contains(&hours), "a day: {hours} min");

    let viewer = Some(token);
    let (status, body) = app.request_as(viewer, Method::GET, &format!("/v1/tasks/{task}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["title"], "shared");
    assert!(body["data"].get("owner_id").is_none(), "no owner data for viewers");
    let (_, events) = app.request_as(viewer, Method::GET, &format!("/v1/tasks/{task}/events"), None).await;
    let contents: Vec<&str> =
        events["data"]["events"].as_array().unwrap().iter().map(|e| e["content"].as_str().unwrap()).collect();
    assert_eq!(contents, vec!["public log"], "everything but private events");

    // Nothing else: another task, the owner's lists and writes, share links, share admin.
    for (method, path, body) in [
        (Method::GET, format!("/v1/tasks/{other}"), None),
        (Method::GET, format!("/v1/tasks/{other}/events"), None),
    ] {
        let (status, answer) = app.request_as(viewer, method, &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_error(&answer, "TASK_NOT_FOUND");
    }
    for (method, path, body) in [
        (Method::GET, "/v1/tasks".to_owned(), None),
        (Method::POST, "/v1/tasks".to_owned(), Some(json!({"title": "x"}))),
        (Method::PATCH, format!("/v1/tasks/{task}"), Some(json!({"status": "cancelled"}))),
        (Method::POST, format!("/v1/tasks/{task}/events"), Some(json!({"type": "log", "content": "x"}))),
        (Method::GET, "/v1/share-links".to_owned(), None),
        (Method::POST, "/v1/share-links".to_owned(), Some(json!({"task_id": task}))),
        (Method::GET, format!("/v1/tasks/{task}/share"), None),
        (Method::DELETE, format!("/v1/tasks/{task}/share"), None),
        (Method::POST, format!("/v1/agentrix/tasks/{task}/share"), Some(json!({}))),
    ] {
        let (status, _) = app.request_as(viewer, method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    let (_, task_now) = app.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(task_now["data"]["status"], "pending", "the viewer changed nothing");

    let (_, info) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(info["sessionsIssued"], 1);
    assert!(info["lastUsedAt"].is_string());

    for bad in ["nope", "", &code[..code.len() - 1]] {
        let (status, body) = exchange(&app, bad).await;
        assert!(status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST, "{bad:?}: {status}");
        assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    }
    let (status, body) = app.request_as(None, Method::GET, "/v1/auth/share", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_code_error(&body, "INVALID_REQUEST", "validation_error");
    let (status, body) = exchange(&app, "abcdefghijklmnopqrstuvwx").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_code_error(&body, "INVALID_SHARE_CODE", "unauthorized");
}

async fn messages_need_can_send_message(app: TestApp) {
    let task = app.create_task("t").await;
    let quiet = session(&app, &create_code(&app, &task, json!({})).await).await;
    let (status, body) = app
        .request_as(
            Some(&quiet),
            Method::POST,
            &format!("/v1/tasks/{task}/messages"),
            Some(json!({"content": "hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "FORBIDDEN");

    let chatty =
        session(&app, &create_code(&app, &task, json!({"permissions": {"canSendMessage": true}})).await)
            .await;
    let (status, body) = app
        .request_as(
            Some(&chatty),
            Method::POST,
            &format!("/v1/tasks/{task}/messages"),
            Some(json!({"content": "Please also fix logout"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["type"], "message");
    assert_eq!(body["data"]["author"], "viewer");
    let (status, body) = app
        .request_as(
            Some(&chatty),
            Method::POST,
            &format!("/v1/tasks/{task}/messages"),
            Some(json!({"content": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The agent reads it through the ordinary events API.
    let (_, events) = app.get(&format!("/v1/tasks/{task}/events?type=message")).await;
    let messages = events["data"]["events"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["content"], "Please also fix logout");
    assert_eq!(messages[0]["author"], "viewer");
    let (status, body) =
        app.post(&format!("/v1/tasks/{task}/messages"), json!({"content": "from the owner"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["author"], "owner");
}

async fn a_second_code_rotates_the_first(app: TestApp) {
    let task = app.create_task("t").await;
    let first = create_code(&app, &task, json!({"permissions": {"canSendMessage": true}})).await;
    let old_session = session(&app, &first).await;
    let second = create_code(&app, &task, json!({})).await;
    assert_ne!(first, second);
    assert_eq!(exchange(&app, &first).await.0, StatusCode::UNAUTHORIZED, "the old code stops at once");
    let (status, _) =
        app.request_as(Some(&old_session), Method::GET, &format!("/v1/tasks/{task}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and so do its sessions");
    let new_session = session(&app, &second).await;
    let (status, _) = app
        .request_as(
            Some(&new_session),
            Method::POST,
            &format!("/v1/tasks/{task}/messages"),
            Some(json!({"content": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the new permissions apply");
    let (_, info) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(info["shareCode"], second.as_str());
    assert_eq!(info["sessionsIssued"], 1);
}

async fn revoking_cuts_off_codes_and_sessions(app: TestApp) {
    let task = app.create_task("t").await;
    let code = create_code(&app, &task, json!({})).await;
    let token = session(&app, &code).await;
    let (status, _) = app.request(Method::DELETE, &format!("/v1/tasks/{task}/share"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.request_as(Some(&token), Method::GET, &format!("/v1/tasks/{task}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "UNAUTHORIZED");
    let said = body["error"]["message"].as_str().unwrap();
    assert!(said.contains("share code") && !said.contains("API key"), "a viewer had no key: {said}");
    assert_eq!(exchange(&app, &code).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_code_error(&body, "SHARE_NOT_FOUND", "not_found");
    let (status, _) = app.request(Method::DELETE, &format!("/v1/tasks/{task}/share"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn codes_can_expire(app: TestApp) {
    let task = app.create_task("t").await;
    let at = (chrono::Utc::now() + chrono::Duration::hours(2)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let code = create_code(&app, &task, json!({"expiresAt": at})).await;
    let (_, info) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(info["expiresAt"], at.as_str());
    let (_, body) = exchange(&app, &code).await;
    assert_eq!(body["expiresAt"], at.as_str(), "a session never outlives its code");
    let token = body["token"].as_str().unwrap().to_owned();
    app.sql(&format!("UPDATE task_shares SET expires_at = 1000 WHERE task_id = '{task}'")).await;
    assert_eq!(exchange(&app, &code).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app.request_as(Some(&token), Method::GET, &format!("/v1/tasks/{task}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn exchanges_are_rate_limited(app: TestApp) {
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(exchange(&app, "abcdefghijklmnopqrstuvwx").await);
    }
    let limited: Vec<_> = statuses.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).collect();
    assert_eq!(limited.len(), 5, "20 a minute, then 429");
    assert_code_error(&limited[0].1, "RATE_LIMITED", "rate_limited");
    let response = app.client.get(app.url("/v1/auth/share?code=x")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
}

async fn live_streams_follow_the_task_and_stop_at_revocation(app: TestApp) {
    let task = app.create_task("live").await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    app.post(&format!("/v1/tasks/{task}/events"), json!({"type": "progress", "content": "step one"})).await;
    let token = session(&app, &create_code(&app, &task, json!({})).await).await;
    let mut stream = app
        .client
        .get(app.url(&format!("/v1/tasks/{task}/events/stream")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut seen = String::new();
    read_stream(&mut stream, &mut seen, |s| s.contains("step one")).await;
    assert!(seen.contains("id: 1") && seen.contains("event: progress"), "{seen}");

    app.post(
        &format!("/v1/tasks/{task}/events"),
        json!({"type": "output", "name": "Result", "content": "step two"}),
    )
    .await;
    app.post(
        &format!("/v1/tasks/{task}/events"),
        json!({"type": "log", "content": "hidden", "private": true}),
    )
    .await;
    read_stream(&mut stream, &mut seen, |s| s.contains("step two")).await;
    assert!(seen.contains("event: output"), "{seen}");

    app.request(Method::DELETE, &format!("/v1/tasks/{task}/share"), None).await;
    read_stream(&mut stream, &mut seen, |s| s.contains("event: revoked")).await;
    assert!(seen.contains("event: revoked"), "revocation reaches the open stream: {seen}");
    let rest = tokio::time::timeout(Duration::from_secs(20), stream.chunk()).await.expect("closes in time");
    assert!(rest.unwrap().is_none(), "and closes it");
    assert!(!seen.contains("hidden"), "no private events");

    // The owner's stream ends by itself once the task is done and everything was sent.
    let mut owner = app
        .client
        .get(app.url(&format!("/v1/tasks/{task}/events/stream?after=1")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    read_stream(&mut owner, &mut seen, |s| s.contains("hidden")).await;
    assert!(!seen.contains("step one"), "starts after `after`");
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    read_stream(&mut owner, &mut seen, |s| s.contains("event: end")).await;
    assert!(seen.contains("event: end"), "{seen}");
}

/// What the viewer's page masks, the viewer's API masks too: the prompt, the
/// events, the live stream and the answer to their own message. The owner sees
/// everything as written.
async fn viewers_get_secrets_masked_on_every_route(app: TestApp) {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let aws = "AKIAIOSFODNN7EXAMPLE";
    let (_, task) = app
        .post("/v1/tasks", json!({"title": "leaky", "prompt": format!("Use GITHUB_TOKEN={token} to push")}))
        .await;
    let task = task["data"]["task_id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    let events = format!("/v1/tasks/{task}/events");
    app.post(&events, json!({"type": "progress", "content": format!("export AWS_ACCESS_KEY_ID={aws}")}))
        .await;
    let code = create_code(&app, &task, json!({"permissions": {"canSendMessage": true}})).await;
    let viewer = session(&app, &code).await;
    let leaks = |text: &str| text.contains(token) || text.contains(aws);

    let (_, shown) = app.request_as(Some(&viewer), Method::GET, &format!("/v1/tasks/{task}"), None).await;
    let (_, listed) = app.request_as(Some(&viewer), Method::GET, &events, None).await;
    let (status, sent) = app
        .request_as(
            Some(&viewer),
            Method::POST,
            &format!("/v1/tasks/{task}/messages"),
            Some(json!({"content": format!("I pasted {token} by mistake")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    for (route, answer) in [("task", &shown), ("events", &listed), ("message", &sent)] {
        assert!(!leaks(&answer.to_string()), "{route} shows a secret in clear: {answer}");
    }
    assert!(shown.to_string().contains("GITHUB_TOKEN=•"), "the rest of the prompt still shows: {shown}");
    let mut stream =
        app.client.get(app.url(&format!("{events}/stream"))).bearer_auth(&viewer).send().await.unwrap();
    let mut seen = String::new();
    read_stream(&mut stream, &mut seen, |s| s.contains("by mistake")).await;
    assert!(seen.contains("AWS_ACCESS_KEY_ID") && !leaks(&seen), "the stream masks: {seen}");

    let (_, owner) = app.get(&events).await;
    assert!(
        owner.to_string().contains(aws) && owner.to_string().contains(token),
        "the owner sees all: {owner}"
    );
}

/// Seed 003 splits the share-code verbs between `/v1/agentrix/tasks/{id}/share`
/// and `/v1/tasks/{id}/share`; each takes all three, and what no route takes there
/// answers in the 003 shape.
async fn either_prefix_takes_every_verb_and_errors_keep_the_003_shape(app: TestApp) {
    let task = app.create_task("t").await;
    let (status, created) = app.post(&format!("/v1/tasks/{task}/share"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, info) = app.get(&format!("/v1/agentrix/tasks/{task}/share")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["shareCode"], created["shareCode"]);
    let (status, _) = app.request(Method::DELETE, &format!("/v1/agentrix/tasks/{task}/share"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_code_error(&body, "SHARE_NOT_FOUND", "not_found");

    let (status, body) = app.request(Method::PUT, &format!("/v1/agentrix/tasks/{task}/share"), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_code_error(&body, "METHOD_NOT_ALLOWED", "method_not_allowed");
    let (status, body) = app.request(Method::POST, "/v1/auth/share", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_code_error(&body, "METHOD_NOT_ALLOWED", "method_not_allowed");
    let (status, body) = app.get("/v1/agentrix/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_code_error(&body, "NOT_FOUND", "not_found");
    let (status, body) = app.get("/v1/nothing-here").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["success"], false, "the owner API keeps its own shape: {body}");
}
