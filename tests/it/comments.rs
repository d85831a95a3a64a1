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
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "a comment needs a view of the link");
    assert_error(&response.json().await.unwrap(), "SHARE_LINK_NOT_FOUND");

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
    // Following the mailed link again (a second click, a mail scanner) says the same.
    let again = app.client.get(&verify).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.text().await.unwrap().contains("Your comment is published"));

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
    let gone = app.client.get(&verify).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND, "a deleted comment's link publishes nothing");
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

/// Posting comments to tokens that open nothing counts as guessing links, like any
/// other miss under `/s/`, and a real token without a view's grant answers exactly
/// what a made-up one does.
#[tokio::test]
async fn comment_posts_without_a_view_are_misses_and_tell_nothing() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"permissions": {"allow_comments": true}})).await;
    let url = link["url"].as_str().unwrap();
    let comment = json!({"name": "C", "email": "c@example.org", "content": "x", "grant": "view_x.1.forged"});
    let post = |url: String| app.client.post(format!("{url}/comments")).json(&comment).send();
    let real = post(url.to_owned()).await.unwrap();
    let (real_status, real_body) = (real.status(), real.text().await.unwrap());
    let made_up = url.replace(&url[url.len() - 43..], &"A".repeat(43));
    let guessed = post(made_up.clone()).await.unwrap();
    assert_eq!(
        (guessed.status(), guessed.text().await.unwrap()),
        (real_status, real_body),
        "the same answer"
    );
    let mut refused = None;
    for n in 0..40 {
        let response = post(made_up.clone()).await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(n);
            break;
        }
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    assert!(refused.is_some(), "guessing through the comment route is refused like any other");
}

/// A client posting comments to a link it opened, each with another address.
fn from(ip: &str) -> reqwest::Client {
    crate::common::http().local_address(ip.parse::<std::net::IpAddr>().unwrap()).no_proxy().build().unwrap()
}

async fn comment(
    client: &reqwest::Client,
    url: &str,
    grant: &str,
    email: &str,
    name: &str,
) -> reqwest::Response {
    let body = json!({"name": name, "email": email, "content": "Free money at https://evil.example", "grant": grant});
    client.post(format!("{url}/comments")).json(&body).send().await.unwrap()
}

/// One view's grant used to mail strangers: every address gets at most one mail per
/// period and the mail carries none of the commenter's words; a client, and a
/// link, take a bounded number of comments.
async fn comments_cannot_mail_strangers_in_bulk(backend: Backend) {
    let (smtp, mut inbox) = smtp_sink().await;
    let Some(app) = TestApp::spawn_with(backend, move |s| s.smtp_url = Some(smtp)).await else {
        return;
    };
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"title": "Review", "permissions": {"allow_comments": true}})).await;
    let url = link["url"].as_str().unwrap();
    let (_, view) = app.view(url, None).await;
    let grant = view["data"]["grant"].as_str().unwrap().to_owned();
    let attacker = from("127.0.0.31");

    let first =
        comment(&attacker, url, &grant, "victim@example.org", "Call +1 555 0100 at evil.example").await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let mail = next_mail(&mut inbox).await;
    assert_eq!(mail.to, "victim@example.org");
    let text = mail.text();
    assert!(text.contains("/comments/verify?code="), "{text}");
    assert!(!text.contains("evil.example") && !text.contains("555"), "no text of the commenter's: {text}");

    let again = comment(&attacker, url, &grant, "Victim@Example.org", "Again").await;
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS, "one mail per address per period");
    let wait: u64 = again.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((540..=600).contains(&wait), "Retry-After {wait}");
    assert_error(&again.json().await.unwrap(), "CONFIRMATION_MAIL_SENT");
    let next = comment(&attacker, url, &grant, "second@example.org", "Second").await;
    assert_eq!(next.status(), StatusCode::ACCEPTED);
    assert_eq!(next_mail(&mut inbox).await.to, "second@example.org", "the refused comment mailed nobody");

    // Once the period is over the address may be mailed again.
    app.sql("UPDATE comment_mail SET sent_at = sent_at - 600000").await;
    let later = comment(&attacker, url, &grant, "victim@example.org", "Later").await;
    assert_eq!(later.status(), StatusCode::ACCEPTED);
    assert_eq!(next_mail(&mut inbox).await.to, "victim@example.org");

    // Per client: ten comments an hour, counting the refused one.
    let mut accepted = 3;
    let mut n = 0;
    let refused = loop {
        n += 1;
        let response = comment(&attacker, url, &grant, &format!("stranger{n}@example.org"), "Spam").await;
        if response.status() != StatusCode::ACCEPTED {
            break response;
        }
        accepted += 1;
        assert!(accepted <= 10, "the client is bounded");
    };
    assert_eq!(accepted, 9, "ten comments per client and hour, the refused one included");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_error(&refused.json().await.unwrap(), "TOO_MANY_COMMENTS");

    // Per link: at most twenty await verification, whoever posts them.
    for helper in 32..40 {
        let client = from(&format!("127.0.0.{helper}"));
        for n in 0..10 {
            let response = comment(&client, url, &grant, &format!("h{helper}n{n}@example.org"), "Spam").await;
            match response.status() {
                StatusCode::ACCEPTED => accepted += 1,
                status => {
                    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
                    assert_error(&response.json().await.unwrap(), "TOO_MANY_COMMENTS");
                }
            }
        }
    }
    // The verified-in-time rule: the victim's first comment is still pending, so
    // twenty are pending in all.
    assert_eq!(accepted, 20, "a link holds twenty comments awaiting verification");
    let path = format!("/v1/share-links/{}/comments", link["share_link_id"].as_str().unwrap());
    let (_, owner) = app.get(&path).await;
    assert_eq!(owner["data"]["comments"].as_array().unwrap().len(), 20, "refused comments were not stored");
    for _ in 0..accepted - 3 {
        next_mail(&mut inbox).await;
    }

    // A verification link older than a day no longer works and no longer counts.
    app.sql(&format!("UPDATE share_link_comments SET created_at = created_at - {}", 24 * 3600 * 1000 + 1))
        .await;
    let verify = text.split_whitespace().find(|w| w.contains("/comments/verify?code=")).unwrap().to_owned();
    let response = app.client.get(&verify).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "too late to verify");
    let fresh = comment(&from("127.0.0.40"), url, &grant, "late@example.org", "Late").await;
    assert_eq!(fresh.status(), StatusCode::ACCEPTED, "expired comments no longer hold the link's places");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_cannot_mail_strangers_in_bulk_on_sqlite() {
    comments_cannot_mail_strangers_in_bulk(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_cannot_mail_strangers_in_bulk_on_postgres() {
    comments_cannot_mail_strangers_in_bulk(Backend::Postgres).await;
}

/// A verification link opened after its share link expired publishes nothing.
#[tokio::test]
async fn comments_cannot_be_verified_once_the_link_expired() {
    let (smtp, mut inbox) = smtp_sink().await;
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| s.smtp_url = Some(smtp)).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"permissions": {"allow_comments": true}})).await;
    let url = link["url"].as_str().unwrap();
    let (_, view) = app.view(url, None).await;
    let grant = view["data"]["grant"].as_str().unwrap();
    assert_eq!(
        comment(&app.client, url, grant, "late@example.org", "Late").await.status(),
        StatusCode::ACCEPTED
    );
    let text = next_mail(&mut inbox).await.text();
    let verify = text.split_whitespace().find(|w| w.contains("/comments/verify?code=")).unwrap().to_owned();
    let id = link["share_link_id"].as_str().unwrap();
    app.sql(&format!("UPDATE share_links SET expires_at = 1000 WHERE share_link_id = '{id}'")).await;
    let response = app.client.get(&verify).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, owner) = app.get(&format!("/v1/share-links/{id}/comments")).await;
    assert_eq!(owner["data"]["comments"][0]["status"], "pending_verification", "nothing was published");
}
