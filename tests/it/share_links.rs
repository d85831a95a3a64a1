//! The owner's share-link API, field by field against seed 001.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, assert_invalid, TestApp};

backend_tests!(
    a_link_with_no_options_takes_every_documented_default,
    every_documented_field_is_stored_and_returned,
    each_bad_field_is_named,
    the_first_bad_field_is_the_one_reported,
    only_finished_tasks_can_be_shared,
    tasks_of_other_owners_cannot_be_shared,
    links_are_read_and_listed_by_their_owner_only,
    links_filter_by_task_and_status_and_page,
    updates_change_only_what_they_name,
    revocation_is_final_and_idempotent,
    analytics_count_views_by_day_and_dimension,
    a_taken_short_code_is_refused_as_a_value_and_stores_nothing,
    links_asked_for_at_once_are_each_stored_once_and_announced,
    a_new_link_reads_back_exactly_as_it_was_answered,
    a_time_without_a_zone_is_utc,
);

/// Seed 001's Python example writes its expiry with `datetime.isoformat()`: no zone,
/// microseconds. That is UTC, on creation and on update; a date alone is still refused.
async fn a_time_without_a_zone_is_utc(app: TestApp) {
    let task = app.finished_task("Naive").await;
    let in_30_days = chrono::Utc::now().naive_utc() + chrono::Duration::days(30);
    let python = in_30_days.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let link = app.share(&task, json!({"expires_at": python})).await;
    assert_eq!(link["expires_at"], format!("{}Z", &python[..23]), "read as UTC, kept to the millisecond");

    let later = (in_30_days + chrono::Duration::days(1)).format("%Y-%m-%d %H:%M:%S").to_string();
    let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    let (status, body) = app.patch(&path, json!({"expires_at": later})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["expires_at"], format!("{}T{}.000Z", &later[..10], &later[11..]));

    let (status, body) =
        app.post("/v1/share-links", json!({"task_id": task, "expires_at": &python[..10]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_invalid(&body, "expires_at");
    let past =
        (chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%S%.6f");
    let (status, body) =
        app.post("/v1/share-links", json!({"task_id": task, "expires_at": past.to_string()})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["details"]["issue"], "expires_at must be in the future", "{body}");
}

/// What creating a link answers is made from what was stored without reading it
/// back (on SQLite, by the writer thread; on PostgreSQL, one at a time): a read of
/// the link must find exactly that.
async fn a_new_link_reads_back_exactly_as_it_was_answered(app: TestApp) {
    let task = app.finished_task("Read back").await;
    for body in [
        json!({"task_id": task}),
        json!({
            "task_id": task, "title": "Everything set", "description": "All of it",
            "expires_at": "2031-01-02T03:04:05.678Z", "password": "correct horse",
            "permissions": {"allow_download": false, "allow_comments": true, "show_metadata": false},
            "max_views": 7, "notify_on_view": true, "mask_secrets": false,
        }),
    ] {
        let (status, created) = app.post("/v1/share-links", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["data"]["share_link_id"].as_str().unwrap();
        let (status, read) = app.get(&format!("/v1/share-links/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{read}");
        assert_eq!(read["data"], created["data"]);
    }
}

/// Links asked for at once are committed together (on SQLite, in one transaction
/// of the writer thread): each request gets its own link, stored and announced once.
async fn links_asked_for_at_once_are_each_stored_once_and_announced(app: TestApp) {
    let webhook = json!({"url": "http://127.0.0.1:9/hooks", "events": ["share_link.created"]});
    let (status, body) = app.post("/v1/webhooks", webhook).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let task = app.finished_task("Many links").await;
    let asked =
        (0..120).map(|n| app.post("/v1/share-links", json!({"task_id": task, "title": format!("link {n}")})));
    let answers = futures_util::future::join_all(asked).await;
    let mut ids = std::collections::HashSet::new();
    let mut urls = std::collections::HashSet::new();
    for (n, (status, body)) in answers.iter().enumerate() {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        assert_eq!(body["data"]["title"], format!("link {n}"), "each request is answered its own link");
        ids.insert(body["data"]["share_link_id"].as_str().unwrap().to_owned());
        urls.insert(body["data"]["url"].as_str().unwrap().to_owned());
    }
    assert_eq!((ids.len(), urls.len()), (120, 120));
    let stored = app.sql_i64(&format!("SELECT COUNT(*) FROM share_links WHERE task_id = '{task}'")).await;
    assert_eq!(stored, 120);
    let announced =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.created'").await;
    assert_eq!(announced, 120, "one share_link.created event per link");
    for id in ids.iter().take(5) {
        let (status, body) = app.get(&format!("/v1/share-links/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

fn iso(days_from_now: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days_from_now)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

async fn a_link_with_no_options_takes_every_documented_default(app: TestApp) {
    let task = app.finished_task("Login Bug Fix").await;
    let before = chrono::Utc::now();
    let (status, body) = app.post("/v1/share-links", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["success"], true);
    let link = &body["data"];
    let id = link["share_link_id"].as_str().unwrap();
    assert!(id.starts_with("share_") && id.len() == 22, "{id}");
    assert_eq!(link["task_id"], task.as_str());
    assert_eq!(link["title"], "Login Bug Fix", "title defaults to the task's");
    assert_eq!(link["description"], Value::Null);
    assert_eq!(link["password_protected"], false);
    assert_eq!(link["max_views"], Value::Null);
    assert_eq!(link["view_count"], 0);
    assert_eq!(
        link["permissions"],
        json!({"allow_download": true, "allow_comments": false, "show_metadata": true})
    );
    assert_eq!(link["status"], "active");
    assert_eq!(link["notify_on_view"], false);
    let owner = app.store.upsert_owner("alice", None).await.unwrap();
    assert_eq!(link["created_by"], owner.owner_id.as_str());
    let expires = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    let thirty_days = (expires.with_timezone(&chrono::Utc) - before).num_seconds();
    assert!((30 * 86400 - 5..=30 * 86400 + 5).contains(&thirty_days), "expires in 30 days: {thirty_days}s");
    chrono::DateTime::parse_from_rfc3339(link["created_at"].as_str().unwrap()).unwrap();

    let url = link["url"].as_str().unwrap();
    let token = url.strip_prefix(&format!("{}/s/", app.base)).expect("url is {public}/s/{token}");
    assert_eq!(token.len(), 43, "256-bit token");
    assert!(!token.contains(id.trim_start_matches("share_")), "the token is not the id");
    let short = link["short_url"].as_str().unwrap();
    let code = short.strip_prefix(&format!("{}/s/", app.base)).unwrap();
    assert_eq!(code.len(), 8);

    let second = app.share(&task, json!({})).await;
    assert_ne!(second["url"], link["url"]);
    assert_ne!(second["short_url"], link["short_url"]);
}

async fn every_documented_field_is_stored_and_returned(app: TestApp) {
    let task = app.finished_task("t").await;
    let expires = iso(10);
    let link = app
        .share(
            &task,
            json!({
                "title": "Login Bug Fix Results",
                "description": "Shared results of the authentication bug fix",
                "expires_at": expires,
                "password": "securepass123",
                "permissions": {"allow_download": false, "allow_comments": true, "show_metadata": false},
                "max_views": 100,
                "notify_on_view": true
            }),
        )
        .await;
    assert_eq!(link["title"], "Login Bug Fix Results");
    assert_eq!(link["description"], "Shared results of the authentication bug fix");
    assert_eq!(link["expires_at"], expires.as_str());
    assert_eq!(link["password_protected"], true);
    assert_eq!(
        link["permissions"],
        json!({"allow_download": false, "allow_comments": true, "show_metadata": false})
    );
    assert_eq!(link["max_views"], 100);
    assert_eq!(link["notify_on_view"], true);
    assert!(
        link.get("password").is_none() && !link.to_string().contains("securepass123"),
        "the password is never returned"
    );

    let partial = app.share(&task, json!({"permissions": {"allow_comments": true}})).await;
    assert_eq!(
        partial["permissions"],
        json!({"allow_download": true, "allow_comments": true, "show_metadata": true}),
        "omitted permissions take their defaults"
    );
    let unlimited = app.share(&task, json!({"max_views": null, "password": null})).await;
    assert_eq!(unlimited["max_views"], Value::Null);
    assert_eq!(unlimited["password_protected"], false);
}

async fn each_bad_field_is_named(app: TestApp) {
    let task = app.finished_task("t").await;
    let cases = [
        (json!({}), "task_id"),
        (json!({"task_id": ""}), "task_id"),
        (json!({"task_id": 12}), "task_id"),
        (json!({"task_id": task, "title": ""}), "title"),
        (json!({"task_id": task, "title": "x".repeat(201)}), "title"),
        (json!({"task_id": task, "description": "x".repeat(2001)}), "description"),
        (json!({"task_id": task, "expires_at": "next week"}), "expires_at"),
        (json!({"task_id": task, "expires_at": "2024-01-01T00:00:00Z"}), "expires_at"),
        (json!({"task_id": task, "expires_at": 1700000000}), "expires_at"),
        // In year 10000 once in UTC: not an instant RFC 3339 can write back.
        (json!({"task_id": task, "expires_at": "9999-12-31T23:59:59-01:00"}), "expires_at"),
        (json!({"task_id": task, "password": "short"}), "password"),
        (json!({"task_id": task, "password": "x".repeat(33)}), "password"),
        (json!({"task_id": task, "password": 12345678}), "password"),
        (json!({"task_id": task, "permissions": {"allow_download": "yes"}}), "permissions.allow_download"),
        (json!({"task_id": task, "permissions": {"allow_edit": true}}), "permissions.allow_edit"),
        (json!({"task_id": task, "permissions": true}), "permissions"),
        (json!({"task_id": task, "max_views": 0}), "max_views"),
        (json!({"task_id": task, "max_views": -3}), "max_views"),
        (json!({"task_id": task, "max_views": 1.5}), "max_views"),
        (json!({"task_id": task, "max_views": "5"}), "max_views"),
        (json!({"task_id": task, "notify_on_view": "yes"}), "notify_on_view"),
        (json!({"task_id": task, "views": 3}), "views"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post("/v1/share-links", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_invalid(&answer, field);
        assert_eq!(answer["error"]["message"], "Invalid request parameters");
    }
    let (_, list) = app.get("/v1/share-links").await;
    assert_eq!(list["data"]["share_links"], json!([]), "nothing was created");
}

async fn the_first_bad_field_is_the_one_reported(app: TestApp) {
    let task = app.finished_task("t").await;
    let (_, body) = app
        .post("/v1/share-links", json!({"task_id": task, "title": "", "password": "x", "max_views": 0}))
        .await;
    assert_invalid(&body, "title");
    let (_, body) =
        app.post("/v1/share-links", json!({"task_id": task, "password": "x", "max_views": 0})).await;
    assert_invalid(&body, "password");
}

async fn only_finished_tasks_can_be_shared(app: TestApp) {
    let task = app.create_task("in progress").await;
    let (status, body) = app.post("/v1/share-links", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_error(&body, "TASK_NOT_COMPLETED");
    assert_eq!(body["error"]["message"], "Cannot create share link for incomplete tasks");
    assert_eq!(body["error"]["details"], json!({"task_id": task, "status": "pending"}));
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    let (status, body) = app.post("/v1/share-links", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["details"]["status"], "running");
    for done in ["failed", "cancelled"] {
        let other = app.create_task(done).await;
        app.patch(&format!("/v1/tasks/{other}"), json!({"status": done})).await;
        let (status, _) = app.post("/v1/share-links", json!({"task_id": other})).await;
        assert_eq!(status, StatusCode::CREATED, "a {done} task has finished and can be shared");
    }
}

async fn tasks_of_other_owners_cannot_be_shared(app: TestApp) {
    let task = app.finished_task("alice's").await;
    let bob = app.new_owner("bob").await;
    let (status, theirs) =
        app.request_as(Some(&bob), Method::POST, "/v1/share-links", Some(json!({"task_id": task}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&theirs, "TASK_NOT_FOUND");
    assert_eq!(theirs["error"]["message"], "Task not found or not accessible");
    assert_eq!(theirs["error"]["details"], json!({"task_id": task}));
    let (status, missing) = app.post("/v1/share-links", json!({"task_id": "task_1234567890abcdef"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing["error"]["message"], theirs["error"]["message"]);
    let (status, body) =
        app.request_as(None, Method::POST, "/v1/share-links", Some(json!({"task_id": task}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "UNAUTHORIZED");
}

async fn links_are_read_and_listed_by_their_owner_only(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"title": "mine"})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let (status, body) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"], link);

    let bob = app.new_owner("bob").await;
    for (method, path) in [
        (Method::GET, format!("/v1/share-links/{id}")),
        (Method::PATCH, format!("/v1/share-links/{id}")),
        (Method::DELETE, format!("/v1/share-links/{id}")),
        (Method::GET, format!("/v1/share-links/{id}/analytics")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"title": "stolen"}));
        let (status, answer) = app.request_as(Some(&bob), method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
        assert_error(&answer, "SHARE_LINK_NOT_FOUND");
    }
    let (_, list) = app.request_as(Some(&bob), Method::GET, "/v1/share-links", None).await;
    assert_eq!(list["data"]["share_links"], json!([]));
    let (_, body) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(body["data"]["title"], "mine");
    assert_eq!(body["data"]["status"], "active");
}

async fn links_filter_by_task_and_status_and_page(app: TestApp) {
    let first = app.finished_task("first").await;
    let second = app.finished_task("second").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(app.share(&first, json!({})).await["share_link_id"].as_str().unwrap().to_owned());
    }
    let other = app.share(&second, json!({}));
    let other = other.await;
    let revoked = ids[0].clone();
    app.request(Method::DELETE, &format!("/v1/share-links/{revoked}"), None).await;
    let limited = app.share(&second, json!({"max_views": 1})).await;
    let (status, _) = app.view(limited["url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);

    let list = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app.get(&format!("/v1/share-links?{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body["data"]["share_links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["share_link_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let of_first = list("").await;
    assert_eq!(of_first.len(), 5);
    let mut by_task = app.get(&format!("/v1/share-links?task_id={first}")).await.1["data"]["share_links"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(by_task, 3);
    by_task = app.get(&format!("/v1/share-links?task_id={second}&status=active")).await.1["data"]
        ["share_links"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(by_task, 1, "the used one-time link is no longer active");
    assert_eq!(list("status=revoked").await, vec![revoked]);
    assert_eq!(list("status=expired").await, vec![limited["share_link_id"].as_str().unwrap().to_owned()]);
    let active = list("status=active").await;
    assert_eq!(active.len(), 3);
    assert!(active.contains(&other["share_link_id"].as_str().unwrap().to_owned()));

    let (_, page) = app.get("/v1/share-links?limit=2").await;
    assert_eq!(page["data"]["share_links"].as_array().unwrap().len(), 2);
    assert_eq!(page["data"]["has_more"], true);
    let cursor = page["data"]["next_cursor"].as_str().unwrap();
    let (_, rest) = app.get(&format!("/v1/share-links?limit=10&cursor={cursor}")).await;
    assert_eq!(rest["data"]["share_links"].as_array().unwrap().len(), 3);
    assert_eq!(rest["data"]["has_more"], false);

    for (query, field) in
        [("status=gone", "status"), ("limit=0", "limit"), ("cursor=zzz", "cursor"), ("owner=x", "owner")]
    {
        let (status, body) = app.get(&format!("/v1/share-links?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_invalid(&body, field);
    }
}

async fn updates_change_only_what_they_name(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"description": "first", "max_views": 5})).await;
    let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    let url = link["url"].as_str().unwrap().to_owned();

    let (status, body) = app.patch(&path, json!({"title": "renamed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = &body["data"];
    assert_eq!(updated["title"], "renamed");
    assert_eq!(updated["description"], "first");
    assert_eq!(updated["max_views"], 5);
    assert_eq!(updated["url"], url.as_str(), "the URL never changes");

    let (_, body) = app.patch(&path, json!({"password": "newpassword1"})).await;
    assert_eq!(body["data"]["password_protected"], true);
    assert_eq!(app.view(&url, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.view(&url, Some("newpassword1")).await.0, StatusCode::OK);
    let (_, body) = app.patch(&path, json!({"password": null})).await;
    assert_eq!(body["data"]["password_protected"], false);
    assert_eq!(app.view(&url, None).await.0, StatusCode::OK);

    let (_, body) = app.patch(&path, json!({"permissions": {"allow_download": false}})).await;
    assert_eq!(
        body["data"]["permissions"],
        json!({"allow_download": false, "allow_comments": false, "show_metadata": true})
    );
    let (_, body) =
        app.patch(&path, json!({"description": null, "max_views": null, "notify_on_view": true})).await;
    assert_eq!(body["data"]["description"], Value::Null);
    assert_eq!(body["data"]["max_views"], Value::Null);
    assert_eq!(body["data"]["notify_on_view"], true);
    let expires = iso(3);
    let (_, body) = app.patch(&path, json!({"expires_at": expires})).await;
    assert_eq!(body["data"]["expires_at"], expires.as_str());

    for (patch, field) in [
        (json!({"expires_at": "2020-01-01T00:00:00Z"}), "expires_at"),
        (json!({"expires_at": "9999-12-31T23:30:00-00:45"}), "expires_at"),
        (json!({"password": "short"}), "password"),
        (json!({"max_views": 0}), "max_views"),
        (json!({"title": ""}), "title"),
        (json!({"task_id": "task_x"}), "task_id"),
        (json!({"permissions": {"show_metadata": 1}}), "permissions.show_metadata"),
    ] {
        let (status, answer) = app.patch(&path, patch.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{patch}");
        assert_invalid(&answer, field);
    }
    let (_, body) = app.get(&path).await;
    assert_eq!(body["data"]["expires_at"], expires.as_str(), "refused patches changed nothing");

    // A view limit below the views already spent expires the link.
    app.patch(&path, json!({"max_views": 2})).await;
    let (_, body) = app.get(&path).await;
    assert_eq!(body["data"]["view_count"], 2);
    assert_eq!(body["data"]["status"], "expired");
    assert_eq!(app.view(&url, None).await.0, StatusCode::NOT_FOUND);
    let (_, body) = app.patch(&path, json!({"max_views": 10})).await;
    assert_eq!(body["data"]["status"], "active", "raising the limit reopens it");
}

async fn revocation_is_final_and_idempotent(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    let url = link["url"].as_str().unwrap();
    assert_eq!(app.view(url, None).await.0, StatusCode::OK);
    let (status, body) = app.request(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "revoked");
    assert!(body["data"]["revoked_at"].is_string());
    assert_eq!(app.view(url, None).await.0, StatusCode::NOT_FOUND, "revoked at once");
    let (status, again) = app.request(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["data"], body["data"], "revoking again changes nothing, not even updated_at");
    let id = link["share_link_id"].as_str().unwrap();
    let version: i64 =
        app.sql_i64(&format!("SELECT version FROM share_links WHERE share_link_id = '{id}'")).await;
    app.request(Method::DELETE, &path, None).await;
    let after: i64 =
        app.sql_i64(&format!("SELECT version FROM share_links WHERE share_link_id = '{id}'")).await;
    assert_eq!(version, after, "the stored link is untouched");
    let (status, answer) = app.patch(&path, json!({"expires_at": iso(5)})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&answer, "SHARE_LINK_REVOKED");
    assert_eq!(app.view(url, None).await.0, StatusCode::NOT_FOUND);
    let short = link["short_url"].as_str().unwrap();
    let response = app.client.get(short).header("accept", "application/json").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "the short URL leads nowhere either");
}

async fn analytics_count_views_by_day_and_dimension(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let url = link["url"].as_str().unwrap();
    let (_, empty) = app.get(&format!("/v1/share-links/{id}/analytics")).await;
    assert_eq!(empty["data"]["total_views"], 0);
    assert_eq!(empty["data"]["first_viewed_at"], Value::Null);
    assert_eq!(empty["data"]["views_by_day"], json!([]));

    let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
    for (agent, referer) in [
        (chrome, Some("https://mail.example.com/inbox")),
        (chrome, Some("https://mail.example.com/x")),
        (chrome, None),
        (iphone, Some("https://chat.example.org/")),
    ] {
        let mut request =
            app.client.get(url).header("accept", "application/json").header("user-agent", agent);
        if let Some(r) = referer {
            request = request.header("referer", r);
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    }
    let (status, body) = app.get(&format!("/v1/share-links/{id}/analytics")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = &body["data"];
    assert_eq!(a["share_link_id"], id);
    assert_eq!(a["total_views"], 4);
    assert_eq!(a["unique_views"], 2, "two distinct browsers from one address");
    assert!(a["first_viewed_at"].is_string() && a["last_viewed_at"].is_string());
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let days = a["views_by_day"].as_array().unwrap();
    assert_eq!(days.iter().map(|d| d["views"].as_i64().unwrap()).sum::<i64>(), 4);
    assert!(days.iter().any(|d| d["date"] == today.as_str()));
    assert_eq!(a["referrers"][0], json!({"value": "mail.example.com", "views": 2}));
    assert!(a["referrers"].as_array().unwrap().contains(&json!({"value": "direct", "views": 1})));
    assert_eq!(a["browsers"][0], json!({"value": "Chrome", "views": 3}));
    assert!(a["devices"].as_array().unwrap().contains(&json!({"value": "mobile", "views": 1})));
    assert_eq!(a["countries"], json!([{"value": "unknown", "views": 4}]));
    assert!(a["operating_systems"].as_array().unwrap().len() >= 2);
    let (_, link_now) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(link_now["data"]["view_count"], 4);
    // Only a truncated address is stored.
    let full = app.sql_i64(&format!("SELECT COUNT(*) FROM share_link_views WHERE share_link_id = '{id}' AND client_prefix = '127.0.0.0/24'")).await;
    assert_eq!(full, 4);
}

/// Short codes are short enough to collide now and then; the store answers such an
/// insert with `None` (the API then derives another id) instead of an error.
async fn a_taken_short_code_is_refused_as_a_value_and_stores_nothing(app: TestApp) {
    let task = app.finished_task("Collision").await;
    let (status, body) = app.post("/v1/share-links", json!({"task_id": task})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let taken: String = app.db.sql_scalar("SELECT short_code_hash FROM share_links").await;
    let owner_id: String = app.db.sql_scalar("SELECT owner_id FROM share_links").await;
    let link = agentshare::storage::NewShareLink {
        share_link_id: "share_00000000000000aa".into(),
        task_id: task.as_str().into(),
        owner_id: owner_id.into(),
        token_hash: "a fresh token hash".into(),
        short_code_hash: taken,
        title: "second".into(),
        description: None,
        password_hash: None,
        expires_at: agentshare::domain::time::Timestamp(i64::MAX / 2),
        max_views: None,
        permissions: Default::default(),
        notify_on_view: false,
        mask_secrets: true,
        redaction: None,
        snapshot_seq: None,
        audience: None,
    };
    assert!(app.store.insert_share_link(&link).await.expect("a duplicate is not an error").is_none());
    assert_eq!(
        app.sql_i64("SELECT COUNT(*) FROM share_links").await,
        1,
        "nothing of the refused link is stored"
    );
}
