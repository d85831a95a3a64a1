//! Comments on share links: left by a viewer, shown after email verification,
//! deleted by the owner.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{assert_error, assert_invalid, Backend, TestApp};
use crate::mail::{next_mail, smtp_sink};
use crate::webhooks::Receiver;

async fn comments_are_verified_before_they_appear(backend: Backend) {
    let (smtp, mut inbox) = smtp_sink().await;
    let Some(app) = TestApp::spawn_with(backend, move |s| {
        s.smtp_url = Some(smtp);
        s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
        s.webhook_retry_base = Duration::from_millis(50);
    })
    .await
    else {
        return;
    };
    let mut receiver = Receiver::start().await;
    app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["comment.created"]})).await;
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"title": "Review", "permissions": {"allow_comments": true}})).await;
    let url = link["url"].as_str().unwrap();
    let (_, view) = app.view(url, None).await;
    assert_eq!(view["data"]["comments"], json!([]));
    let grant = view["data"]["grant"].as_str().unwrap().to_owned();
    let comments = format!("{url}/comments");

    let post = |body: Value| app.client.post(&comments).json(&body).send();
    let response = post(json!({"name": "Carol", "email": "carol@example.org", "content": "<script>alert(1)</script> Looks good!", "grant": grant})).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let pending: Value = response.json().await.unwrap();
    assert_eq!(pending["data"]["status"], "pending_verification");

    for (body, field) in [
        (json!({"name": "", "email": "carol@example.org", "content": "x", "grant": grant}), "name"),
        (json!({"name": "C", "email": "not-an-address", "content": "x", "grant": grant}), "email"),
        (json!({"name": "C", "email": "carol@example.org", "content": "", "grant": grant}), "content"),
    ] {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_invalid(&response.json().await.unwrap(), field);
    }
    let response =
        post(json!({"name": "C", "email": "c@example.org", "content": "x", "grant": "view_x.1.forged"}))
            .await
            .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a comment needs a view of the link");

    let (_, view) = app.view(url, None).await;
    assert_eq!(view["data"]["comments"], json!([]), "not shown before verification");

    let mail = next_mail(&mut inbox).await;
    assert_eq!(mail.to, "carol@example.org");
    let verify = mail
        .text()
        .split_whitespace()
        .find(|w| w.contains("/comments/verify?code="))
        .expect("a verification link")
        .to_owned();
    let response = app.client.get(&verify).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("Your comment is published"));

    let (_, view) = app.view(url, None).await;
    let shown = &view["data"]["comments"];
    assert_eq!(shown.as_array().unwrap().len(), 1);
    assert_eq!(shown[0]["name"], "Carol");
    assert!(
        shown[0].get("email").is_none() && !view.to_string().contains("carol@example.org"),
        "emails are never shown"
    );

    let event: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    assert_eq!(event["event"], "comment.created");
    assert_eq!(event["share_link_id"], link["share_link_id"]);
    assert_eq!(event["comment"]["name"], "Carol");

    let html = app.client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Looks good!") && !html.contains("<script>alert"), "comments are escaped");
    assert!(html.contains("name=\"grant\""), "the page carries a comment form");

    let path = format!("/v1/share-links/{}/comments", link["share_link_id"].as_str().unwrap());
    let (_, owner) = app.get(&path).await;
    let all = owner["data"]["comments"].as_array().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["status"], "published");
    assert_eq!(all[0]["email"], "carol@example.org");
    let id = all[0]["comment_id"].as_str().unwrap();
    assert_eq!(app.request(Method::DELETE, &format!("{path}/{id}"), None).await.0, StatusCode::NO_CONTENT);
    let (_, view) = app.view(url, None).await;
    assert_eq!(view["data"]["comments"], json!([]), "deleted comments disappear");
    let (status, body) = app.request(Method::DELETE, &format!("{path}/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "COMMENT_NOT_FOUND");
    let bob = app.new_owner("bob").await;
    assert_eq!(app.request_as(Some(&bob), Method::GET, &path, None).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_verified_before_they_appear_on_sqlite() {
    comments_are_verified_before_they_appear(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_verified_before_they_appear_on_postgres() {
    comments_are_verified_before_they_appear(Backend::Postgres).await;
}

#[tokio::test]
async fn links_without_allow_comments_take_none() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let url = link["url"].as_str().unwrap();
    let (_, view) = app.view(url, None).await;
    assert_eq!(view["data"]["comments"], Value::Null);
    let response = app
        .client
        .post(format!("{url}/comments"))
        .json(&json!({"name": "C", "email": "c@example.org", "content": "x", "grant": view["data"]["grant"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_error(&response.json().await.unwrap(), "COMMENTS_NOT_ALLOWED");
    let html = app.client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("name=\"grant\""), "no comment form");
}
