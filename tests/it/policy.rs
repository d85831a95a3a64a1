//! The owner's sharing policy (`/v1/settings/sharing`): what it refuses and what it
//! leaves alone; and revoking every share at once (`/v1/share-links/revoke-all`).

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, assert_invalid, TestApp};
use crate::webhooks::Receiver;

backend_tests!(
    the_default_policy_requires_nothing,
    a_policy_is_validated_whole_and_bad_input_stores_nothing,
    a_maximum_lifetime_refuses_longer_links_and_caps_the_default,
    a_required_password_refuses_links_without_one,
    a_required_audience_refuses_links_open_to_anyone,
    codes_with_write_permissions_are_refused_when_not_allowed,
    one_owners_policy_never_applies_to_another,
    revoke_all_with_codes_ends_viewer_sessions,
    revoke_all_revokes_thousands_of_links_in_batches,
);

/// A service that delivers webhooks to this machine.
fn local_webhooks(s: &mut agentshare::config::Settings) {
    s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
}

mod revoke_all_takes_back_every_link_of_the_owner_or_task {
    use crate::common::{Backend, TestApp};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = TestApp::spawn_with(Backend::Sqlite, super::local_webhooks).await.unwrap();
        super::revoke_all_takes_back_every_link_of_the_owner_or_task(app).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, super::local_webhooks).await {
            super::revoke_all_takes_back_every_link_of_the_owner_or_task(app).await
        }
    }
}

const SETTINGS: &str = "/v1/settings/sharing";

/// The policy of an owner who never set one.
fn default_policy() -> Value {
    json!({"max_link_lifetime_days": null, "require_password": false, "require_audience": false,
           "allow_share_code_write": true})
}

async fn put_policy(app: &TestApp, key: &str, policy: Value) -> Value {
    let (status, body) = app.request_as(Some(key), Method::PUT, SETTINGS, Some(policy)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true, "{body}");
    body["data"].clone()
}

async fn policy_of(app: &TestApp, key: &str) -> Value {
    let (status, body) = app.request_as(Some(key), Method::GET, SETTINGS, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn links_of(app: &TestApp, task: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/share-links?task_id={task}&limit=100")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["share_links"].as_array().unwrap().clone()
}

async fn link(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

/// An ISO 8601 time `days` days from now.
fn in_days(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Days from now until `at` (ISO 8601), with a fraction.
fn days_until(at: &Value) -> f64 {
    let at = chrono::DateTime::parse_from_rfc3339(at.as_str().unwrap()).unwrap();
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds() as f64 / 86_400.0
}

async fn the_default_policy_requires_nothing(app: TestApp) {
    assert_eq!(policy_of(&app, &app.key).await, default_policy());
    let (status, body) = app.request_as(None, Method::GET, SETTINGS, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "UNAUTHORIZED");
    let (status, body) = app.request_as(None, Method::PUT, SETTINGS, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "UNAUTHORIZED");

    // Under the default policy links last 30 days unless told otherwise, need no
    // password, and codes may grant anything.
    let task = app.finished_task("t").await;
    let made = app.share(&task, json!({})).await;
    assert!((days_until(&made["expires_at"]) - 30.0).abs() < 0.01, "{made}");
    let (status, body) = app
        .post(&format!("/v1/agentrix/tasks/{task}/share"), json!({"permissions": {"canMergePr": true}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn a_policy_is_validated_whole_and_bad_input_stores_nothing(app: TestApp) {
    for (body, field) in [
        (json!({"max_link_lifetime_days": 0}), "max_link_lifetime_days"),
        (json!({"max_link_lifetime_days": -3}), "max_link_lifetime_days"),
        (json!({"max_link_lifetime_days": 3651}), "max_link_lifetime_days"),
        (json!({"max_link_lifetime_days": 1.5}), "max_link_lifetime_days"),
        (json!({"max_link_lifetime_days": "7"}), "max_link_lifetime_days"),
        (json!({"require_password": "yes"}), "require_password"),
        (json!({"require_audience": 1}), "require_audience"),
        (json!({"allow_share_code_write": null, "require_password": true, "surprise": true}), "surprise"),
        (json!({"require_password": true, "max_link_lifetime_days": 0}), "max_link_lifetime_days"),
    ] {
        let (status, answer) = app.request(Method::PUT, SETTINGS, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_invalid(&answer, field);
        assert_eq!(policy_of(&app, &app.key).await, default_policy(), "{body} stored nothing");
    }
    let (status, answer) = app.request(Method::PUT, SETTINGS, None).await;
    assert_eq!(status, StatusCode::OK, "an empty body is the default policy: {answer}");

    let strict = json!({"max_link_lifetime_days": 3650, "require_password": true, "require_audience": true,
                        "allow_share_code_write": false});
    assert_eq!(put_policy(&app, &app.key, strict.clone()).await, strict);
    assert_eq!(policy_of(&app, &app.key).await, strict);
    let one = json!({"max_link_lifetime_days": 1.0, "require_password": false, "require_audience": false,
                     "allow_share_code_write": true});
    assert_eq!(put_policy(&app, &app.key, one).await["max_link_lifetime_days"], 1);
    // A bad policy leaves the stored one as it was.
    let (status, _) = app.request(Method::PUT, SETTINGS, Some(json!({"max_link_lifetime_days": 4000}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(policy_of(&app, &app.key).await["max_link_lifetime_days"], 1);
    // The whole policy is replaced: what is left out takes its default.
    assert_eq!(
        put_policy(&app, &app.key, json!({"require_password": true})).await["max_link_lifetime_days"],
        Value::Null
    );
    assert_eq!(put_policy(&app, &app.key, json!({})).await, default_policy());
}

async fn a_maximum_lifetime_refuses_longer_links_and_caps_the_default(app: TestApp) {
    let task = app.finished_task("t").await;
    let before = app.share(&task, json!({"expires_at": in_days(60)})).await;
    let before_id = before["share_link_id"].as_str().unwrap();
    put_policy(&app, &app.key, json!({"max_link_lifetime_days": 7})).await;

    let (status, body) =
        app.post("/v1/share-links", json!({"task_id": task, "expires_at": in_days(8)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "expires_at");
    assert_eq!(links_of(&app, &task).await.len(), 1, "no link was made");

    // Without an expiry, a link lasts the policy's maximum when it is under 30 days.
    let capped = app.share(&task, json!({})).await;
    assert!((days_until(&capped["expires_at"]) - 7.0).abs() < 0.01, "{capped}");
    let within = app.share(&task, json!({"expires_at": in_days(6)})).await;
    let within_id = within["share_link_id"].as_str().unwrap();

    // A change may not carry a link past the maximum either; the link stays as it was.
    let path = format!("/v1/share-links/{within_id}");
    let (status, body) = app.patch(&path, json!({"expires_at": in_days(9), "title": "longer"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "expires_at");
    assert_eq!(link(&app, within_id).await, within, "nothing changed");

    // The link made before the policy goes on working as it was made…
    assert_eq!(link(&app, before_id).await["expires_at"], before["expires_at"]);
    let (status, _) = app.view(before["url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    // …but changing it must bring it within the policy.
    let old_path = format!("/v1/share-links/{before_id}");
    let (status, body) = app.patch(&old_path, json!({"title": "renamed"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "expires_at");
    assert_eq!(link(&app, before_id).await["title"], before["title"]);
    let (status, body) = app.patch(&old_path, json!({"title": "renamed", "expires_at": in_days(7)})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A maximum over 30 days leaves the default at 30.
    put_policy(&app, &app.key, json!({"max_link_lifetime_days": 90})).await;
    let default = app.share(&task, json!({})).await;
    assert!((days_until(&default["expires_at"]) - 30.0).abs() < 0.01, "{default}");
}

async fn a_required_password_refuses_links_without_one(app: TestApp) {
    let task = app.finished_task("t").await;
    let open = app.share(&task, json!({})).await;
    let open_id = open["share_link_id"].as_str().unwrap();
    put_policy(&app, &app.key, json!({"require_password": true})).await;

    let (status, body) = app.post("/v1/share-links", json!({"task_id": task, "title": "no password"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "password");
    assert_eq!(links_of(&app, &task).await.len(), 1, "no link was made");

    let locked = app.share(&task, json!({"password": "correct horse"})).await;
    let locked_id = locked["share_link_id"].as_str().unwrap();
    assert_eq!(locked["password_protected"], true);
    // Removing the password is refused, and the link keeps it.
    let (status, body) = app.patch(&format!("/v1/share-links/{locked_id}"), json!({"password": null})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "password");
    assert_eq!(link(&app, locked_id).await, locked);
    let (status, _) = app.view(locked["url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "still asks for the password");
    // Other changes to a protected link go through.
    let (status, body) = app.patch(&format!("/v1/share-links/{locked_id}"), json!({"title": "new"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A link made before the policy, without a password, can only be changed by
    // giving it one.
    let (status, body) = app.patch(&format!("/v1/share-links/{open_id}"), json!({"max_views": 3})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "password");
    assert_eq!(link(&app, open_id).await, open, "nothing changed");
    let (status, body) = app
        .patch(&format!("/v1/share-links/{open_id}"), json!({"max_views": 3, "password": "now locked"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["password_protected"], true);
    // Revoking is never refused, and a revoked link answers as revoked.
    let (status, _) = app.request(Method::DELETE, &format!("/v1/share-links/{open_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.patch(&format!("/v1/share-links/{open_id}"), json!({"password": null})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "SHARE_LINK_REVOKED");
}

async fn a_required_audience_refuses_links_open_to_anyone(app: TestApp) {
    let task = app.finished_task("t").await;
    let open = app.share(&task, json!({"password": "long enough"})).await;
    let open_id = open["share_link_id"].as_str().unwrap();
    put_policy(&app, &app.key, json!({"require_audience": true})).await;

    // Links open to anyone can be neither made nor changed.
    let (status, body) = app
        .post(
            "/v1/share-links",
            json!({"task_id": task, "password": "long enough", "expires_at": in_days(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "audience");
    assert_eq!(links_of(&app, &task).await.len(), 1, "no link was made");
    let (status, body) = app.patch(&format!("/v1/share-links/{open_id}"), json!({"title": "t2"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "audience");
    assert_eq!(link(&app, open_id).await, open);

    // An audience meets it, on a new link and on a change that gives the old one an
    // audience; opening a restricted link to anyone again is refused.
    let team = json!({"type": "domains", "domains": ["example.com"]});
    let restricted = app.share(&task, json!({"audience": team, "expires_at": in_days(1)})).await;
    assert_eq!(restricted["audience"], team);
    let (status, body) = app
        .patch(&format!("/v1/share-links/{open_id}"), json!({"audience": team, "expires_at": in_days(1)}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        app.patch(&format!("/v1/share-links/{open_id}"), json!({"audience": {"type": "anyone"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "audience");

    put_policy(&app, &app.key, json!({"require_audience": false})).await;
    app.share(&task, json!({})).await;
}

async fn codes_with_write_permissions_are_refused_when_not_allowed(app: TestApp) {
    let task = app.create_task("cloud").await;
    let path = format!("/v1/agentrix/tasks/{task}/share");
    let (status, first) = app.post(&path, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    put_policy(&app, &app.key, json!({"allow_share_code_write": false})).await;

    for permission in ["canSendMessage", "canCreatePr", "canApprovePr", "canMergePr"] {
        let (status, body) = app.post(&path, json!({"permissions": {permission: true}})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{permission}: {body}");
        assert_eq!(body["code"], "INVALID_REQUEST", "{body}");
        assert_eq!(body["error"], "validation_error", "{body}");
        assert_eq!(body.as_object().unwrap().len(), 3, "the 003 shape: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("permissions.{permission}")), "{message}");
    }
    // The code from before was not rotated out.
    let (status, info) = app.get(&format!("/v1/tasks/{task}/share")).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["shareCode"], first["shareCode"]);
    // View-only codes are still fine (seeing pull requests is viewing).
    let (status, body) = app.post(&path, json!({"permissions": {"canViewPr": true}})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn one_owners_policy_never_applies_to_another(app: TestApp) {
    let strict = json!({"max_link_lifetime_days": 1, "require_password": true, "require_audience": true,
                        "allow_share_code_write": false});
    put_policy(&app, &app.key, strict.clone()).await;
    let bob = app.new_owner("bob").await;
    assert_eq!(policy_of(&app, &bob).await, default_policy());

    // Bob's task, shared by bob freely.
    let (_, task) = app.request_as(Some(&bob), Method::POST, "/v1/tasks", Some(json!({"title": "b"}))).await;
    let task = task["data"]["task_id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .request_as(
            Some(&bob),
            Method::PATCH,
            &format!("/v1/tasks/{task}"),
            Some(json!({"status": "completed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, made) = app
        .request_as(
            Some(&bob),
            Method::POST,
            "/v1/share-links",
            Some(json!({"task_id": task, "expires_at": in_days(60)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, body) = app
        .request_as(
            Some(&bob),
            Method::POST,
            &format!("/v1/agentrix/tasks/{task}/share"),
            Some(json!({"permissions": {"canSendMessage": true}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Bob's own policy is his alone.
    put_policy(&app, &bob, json!({"require_password": true})).await;
    assert_eq!(policy_of(&app, &app.key).await, strict);
}

async fn revoke_all_takes_back_every_link_of_the_owner_or_task(app: TestApp) {
    let mut receiver = Receiver::start().await;
    let (status, body) =
        app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["share_link.revoked"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let first = app.finished_task("first").await;
    let second = app.finished_task("second").await;
    let mut on_first = Vec::new();
    for _ in 0..3 {
        on_first.push(app.share(&first, json!({})).await);
    }
    let gone = app.share(&first, json!({})).await;
    app.request(
        Method::DELETE,
        &format!("/v1/share-links/{}", gone["share_link_id"].as_str().unwrap()),
        None,
    )
    .await;
    let on_second = [app.share(&second, json!({})).await, app.share(&second, json!({})).await];

    let bob = app.new_owner("bob").await;
    let (_, bobs) = app.request_as(Some(&bob), Method::POST, "/v1/tasks", Some(json!({"title": "b"}))).await;
    let bobs = bobs["data"]["task_id"].as_str().unwrap().to_owned();
    app.request_as(
        Some(&bob),
        Method::PATCH,
        &format!("/v1/tasks/{bobs}"),
        Some(json!({"status": "completed"})),
    )
    .await;
    let (_, bobs_link) =
        app.request_as(Some(&bob), Method::POST, "/v1/share-links", Some(json!({"task_id": bobs}))).await;
    let bobs_url = bobs_link["data"]["url"].as_str().unwrap().to_owned();

    // Nothing is revoked for a task that is not the owner's, or a bad body.
    for task in ["task_nope", bobs.as_str()] {
        let (status, body) = app.post("/v1/share-links/revoke-all", json!({"task_id": task})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_error(&body, "TASK_NOT_FOUND");
    }
    let (status, body) = app.post("/v1/share-links/revoke-all", json!({"everything": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "everything");
    let (status, body) = app.post("/v1/share-links/revoke-all", json!({"include_codes": "yes"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "include_codes");
    let (status, body) =
        app.request_as(None, Method::POST, "/v1/share-links/revoke-all", Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for l in on_first.iter().chain(&on_second) {
        assert_eq!(app.view(l["url"].as_str().unwrap(), None).await.0, StatusCode::OK);
    }

    // One task's links only.
    let (status, body) = app.post("/v1/share-links/revoke-all", json!({"task_id": second})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"success": true, "data": {"revoked_links": 2, "revoked_codes": 0}}));
    for l in &on_second {
        let (status, _) = app.view(l["url"].as_str().unwrap(), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "revoked at once");
        assert_eq!(link(&app, l["share_link_id"].as_str().unwrap()).await["status"], "revoked");
    }
    assert_eq!(app.view(on_first[0]["url"].as_str().unwrap(), None).await.0, StatusCode::OK);

    // Then everything the owner has left: a bare POST.
    let response =
        app.client.post(app.url("/v1/share-links/revoke-all")).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&crate::common::read_body(response).await).unwrap();
    assert_eq!(body["data"], json!({"revoked_links": 3, "revoked_codes": 0}));
    for l in &on_first {
        assert_eq!(app.view(l["url"].as_str().unwrap(), None).await.0, StatusCode::NOT_FOUND);
    }
    let (_, again) = app.post("/v1/share-links/revoke-all", json!({})).await;
    assert_eq!(again["data"]["revoked_links"], 0, "nothing left to revoke");
    // Bob's link was never touched.
    assert_eq!(app.view(&bobs_url, None).await.0, StatusCode::OK);
    // Revoked all at once or one by one, a link ends the same way: its version
    // moves once (so every instance's cached copy is refused) and it was revoked
    // when it was last changed.
    let unlike_single = app
        .sql_i64(
            "SELECT COUNT(*) FROM share_links WHERE revoked_at IS NOT NULL \
             AND (version <> 1 OR updated_at <> revoked_at)",
        )
        .await;
    assert_eq!(unlike_single, 0);

    // One share_link.revoked per link, as single revocation sends.
    let mut revoked = BTreeSet::new();
    for _ in 0..6 {
        let event: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
        assert_eq!(event["event"], "share_link.revoked", "{event}");
        revoked.insert(event["share_link_id"].as_str().unwrap().to_owned());
    }
    let expected: BTreeSet<String> = on_first
        .iter()
        .chain(&on_second)
        .chain([&gone])
        .map(|l| l["share_link_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(revoked, expected);
    let events =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.revoked'").await;
    assert_eq!(events, 6, "one each, none twice");
}

async fn revoke_all_with_codes_ends_viewer_sessions(app: TestApp) {
    let kept = app.create_task("kept").await;
    let cut = app.create_task("cut").await;
    let mut tokens = Vec::new();
    for task in [&kept, &cut] {
        let (_, code) = app.post(&format!("/v1/agentrix/tasks/{task}/share"), json!({})).await;
        let code = code["shareCode"].as_str().unwrap().to_owned();
        let (status, session) =
            app.request_as(None, Method::GET, &format!("/v1/auth/share?code={code}"), None).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        tokens.push((task.clone(), session["token"].as_str().unwrap().to_owned()));
    }
    let bob = app.new_owner("bob").await;
    let (_, bobs) = app.request_as(Some(&bob), Method::POST, "/v1/tasks", Some(json!({"title": "b"}))).await;
    let bobs = bobs["data"]["task_id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .request_as(Some(&bob), Method::POST, &format!("/v1/agentrix/tasks/{bobs}/share"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let sees = |task: String, token: String| {
        let app = &app;
        async move { app.request_as(Some(&token), Method::GET, &format!("/v1/tasks/{task}"), None).await.0 }
    };

    // Without include_codes, codes stay.
    let (_, body) = app.post("/v1/share-links/revoke-all", json!({"include_codes": false})).await;
    assert_eq!(body["data"], json!({"revoked_links": 0, "revoked_codes": 0}));
    for (task, token) in &tokens {
        assert_eq!(sees(task.clone(), token.clone()).await, StatusCode::OK);
    }
    // One task's code.
    let (_, body) =
        app.post("/v1/share-links/revoke-all", json!({"task_id": cut, "include_codes": true})).await;
    assert_eq!(body["data"], json!({"revoked_links": 0, "revoked_codes": 1}), "{body}");
    assert_eq!(sees(tokens[1].0.clone(), tokens[1].1.clone()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sees(tokens[0].0.clone(), tokens[0].1.clone()).await, StatusCode::OK);
    // Every code.
    let (_, body) = app.post("/v1/share-links/revoke-all", json!({"include_codes": true})).await;
    assert_eq!(body["data"], json!({"revoked_links": 0, "revoked_codes": 1}), "{body}");
    assert_eq!(sees(tokens[0].0.clone(), tokens[0].1.clone()).await, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get(&format!("/v1/tasks/{kept}/share")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the code is gone");
    let open_sessions = app
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM viewer_sessions WHERE revoked_at IS NULL AND task_id IN ('{kept}', '{cut}')"
        ))
        .await;
    assert_eq!(open_sessions, 0, "the sessions ended with their codes");
    // Bob's code lives on.
    let (status, _) = app.request_as(Some(&bob), Method::GET, &format!("/v1/tasks/{bobs}/share"), None).await;
    assert_eq!(status, StatusCode::OK);
}

async fn revoke_all_revokes_thousands_of_links_in_batches(app: TestApp) {
    let task = app.finished_task("popular").await;
    let one = app.share(&task, json!({})).await;
    let id = one["share_link_id"].as_str().unwrap();
    // 1,200 more links of the same task, written directly.
    app.sql(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) \
         INSERT INTO share_links (share_link_id, task_id, owner_id, token_hash, short_code_hash, title, \
           expires_at, allow_download, allow_comments, show_metadata, notify_on_view, created_at, updated_at) \
         SELECT 'share_bulk_' || i, s.task_id, s.owner_id, 'bulk_token_' || i, 'bulk_code_' || i, s.title, \
           s.expires_at, s.allow_download, s.allow_comments, s.show_metadata, s.notify_on_view, s.created_at, \
           s.updated_at FROM n, share_links s WHERE s.share_link_id = '{id}'"
    ))
    .await;
    let (status, body) = app.post("/v1/share-links/revoke-all", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["revoked_links"], 1201, "{body}");
    let left = app.sql_i64("SELECT COUNT(*) FROM share_links WHERE revoked_at IS NULL").await;
    assert_eq!(left, 0);
    assert_eq!(app.view(one["url"].as_str().unwrap(), None).await.0, StatusCode::NOT_FOUND);
}
