//! A share link read as markdown (`Accept: text/markdown` or `/s/{token}.md`): the
//! JSON view's content and rules, as one document.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, TestApp};

backend_tests!(links_read_as_one_markdown_document, markdown_follows_the_rules_of_the_json_view);

const TOKEN: &str = "ghp_R2d2C3poL8kE9wQ1zX7vB4nM6tY0uI5oPaSd";

/// Status, content type and body of a GET of `url` with `accept` (and a password).
async fn read(
    app: &TestApp,
    url: &str,
    accept: Option<&str>,
    password: Option<&str>,
) -> (StatusCode, String, String) {
    let mut request = app.client.get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    if let Some(password) = password {
        request = request.header("x-share-password", password);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (status, content_type.unwrap_or_default(), response.text().await.unwrap())
}

fn md(url: &str) -> String {
    format!("{url}.md")
}

async fn links_read_as_one_markdown_document(app: TestApp) {
    let task = app.create_task("t").await;
    for event in [
        json!({"type": "output", "name": "First", "content": format!("Pushed with `{TOKEN}`.\n\n```sh\nmake\n```")}),
        json!({"type": "output", "name": "Hidden", "content": "PRIVATE-OUTPUT", "private": true}),
        json!({"type": "output", "name": "Second", "content": "All *done*."}),
    ] {
        let (status, body) = app.post(&format!("/v1/tasks/{task}/events"), event).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts?name=report.txt")))
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .body("the report")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    let link = app.share(&task, json!({"title": "Agent notes", "description": "What it did"})).await;
    let url = link["url"].as_str().unwrap();

    let (status, content_type, doc) = read(&app, url, Some("text/markdown"), None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    assert_eq!(content_type, "text/markdown; charset=utf-8");
    assert!(doc.starts_with("# Agent notes\n\nWhat it did\n"), "{doc}");
    assert!(doc.contains("- Status: completed\n"), "{doc}");
    assert!(doc.contains("- Views: 1\n"), "{doc}");
    let first = doc.find("## First\n").expect("first output");
    let second = doc.find("## Second\n").expect("second output");
    let files = doc.find("## Files\n").expect("files");
    assert!(first < second && second < files, "in order: {doc}");
    assert!(doc.contains("Pushed with `ghp_••••••••`.\n\n```sh\nmake\n```"), "as written, masked: {doc}");
    assert!(doc.contains("All *done*."));
    assert!(!doc.contains(TOKEN) && !doc.contains("PRIVATE-OUTPUT") && !doc.contains("Hidden"), "{doc}");
    let line = doc.lines().find(|l| l.starts_with("- [report.txt](")).expect("the file is listed");
    assert!(line.ends_with(" (10 bytes, text/plain)"), "{line}");
    let download = line.trim_start_matches("- [report.txt](").split(')').next().unwrap();
    let file = app.client.get(download).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK, "the viewer can use the URL");
    assert_eq!(file.text().await.unwrap(), "the report");

    // The .md URL answers the same, whatever Accept says.
    let (status, content_type, again) = read(&app, &md(url), Some("application/json"), None).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/markdown; charset=utf-8"));
    assert!(again.starts_with("# Agent notes") && again.contains("- Views: 2\n"), "{again}");
    let (_, content_type, _) = read(&app, url, Some("text/markdown, application/json"), None).await;
    assert!(content_type.starts_with("text/markdown"), "markdown asked first");
    let (_, content_type, _) = read(&app, url, Some("application/json, text/markdown"), None).await;
    assert!(content_type.starts_with("application/json"), "JSON asked first");

    // Only what the link allows.
    let narrow = app
        .share(
            &task,
            json!({"title": "Narrow", "permissions": {"show_metadata": false, "allow_download": false}}),
        )
        .await;
    let (status, _, doc) = read(&app, &md(narrow["url"].as_str().unwrap()), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc.starts_with("# Narrow\n"), "{doc}");
    assert!(!doc.contains("- Status:") && !doc.contains("## Files") && !doc.contains("report.txt"), "{doc}");
    let unmasked = app.share(&task, json!({"mask_secrets": false})).await;
    let (_, _, doc) = read(&app, &md(unmasked["url"].as_str().unwrap()), None, None).await;
    assert!(doc.contains(TOKEN), "as the JSON view shows it: {doc}");

    // A short code leads to the markdown of its link.
    let short = link["short_url"].as_str().unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client.get(md(short)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"].to_str().unwrap(), md(url));
}

async fn markdown_follows_the_rules_of_the_json_view(app: TestApp) {
    let task = app.finished_task("t").await;
    let protected = app.share(&task, json!({"title": "Locked", "password": "securepass123"})).await;
    let purl = protected["url"].as_str().unwrap();
    for (password, code) in [(None, "PASSWORD_REQUIRED"), (Some("nottheone"), "INVALID_PASSWORD")] {
        let (status, content_type, body) = read(&app, &md(purl), None, password).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(content_type.starts_with("application/json"), "one error shape: {content_type}");
        assert_error(&serde_json::from_str::<Value>(&body).unwrap(), code);
        assert!(!body.contains("Locked"));
    }
    let (status, _, doc) = read(&app, purl, Some("text/markdown"), Some("securepass123")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc.starts_with("# Locked\n") && doc.contains("## Summary\n"), "{doc}");
    let id = protected["share_link_id"].as_str().unwrap();
    let (_, got) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(got["data"]["view_count"], 1, "wrong passwords spent nothing");

    let once = app.share(&task, json!({"title": "Once", "max_views": 1})).await;
    let url = once["url"].as_str().unwrap();
    let (status, _, doc) = read(&app, &md(url), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc.contains("- Views: 1 of 1\n"), "{doc}");
    let (status, body) = app.view(url, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "spent: gone for JSON too");
    assert_error(&body, "SHARE_LINK_NOT_FOUND");
    let (status, content_type, body) = read(&app, url, Some("text/markdown"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("application/json"));
    assert_error(&serde_json::from_str::<Value>(&body).unwrap(), "SHARE_LINK_NOT_FOUND");

    let revoked = app.share(&task, json!({})).await;
    let rid = revoked["share_link_id"].as_str().unwrap();
    app.request(Method::DELETE, &format!("/v1/share-links/{rid}"), None).await;
    let (status, _, _) = read(&app, &md(revoked["url"].as_str().unwrap()), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, got) = app.get(&format!("/v1/share-links/{}", once["share_link_id"].as_str().unwrap())).await;
    assert_eq!(got["data"]["view_count"], 1, "one view, counted once");
}
