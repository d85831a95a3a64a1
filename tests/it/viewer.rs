//! What someone holding a share link sees and can do.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, Backend, TestApp};

backend_tests!(
    the_shared_view_shows_outputs_and_nothing_else,
    metadata_and_artifacts_follow_the_permissions,
    downloads_need_a_view_and_permission,
    every_view_is_counted_until_the_limit,
    gone_links_are_indistinguishable,
    passwords_protect_without_spending_views,
    password_guessing_is_locked_out,
    short_urls_lead_to_the_link,
    browsers_get_a_safe_page,
    limited_links_are_revealed_by_a_deliberate_action,
    secrets_in_outputs_are_masked_unless_the_owner_says_otherwise,
);

async fn the_shared_view_shows_outputs_and_nothing_else(app: TestApp) {
    let task = app.finished_task("t").await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"title": "t"})).await;
    let link = app.share(&task, json!({"title": "Results", "description": "For the client"})).await;
    let (status, body) = app.view(link["url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view = &body["data"];
    assert_eq!(view["title"], "Results");
    assert_eq!(view["description"], "For the client");
    let outputs = view["outputs"].as_array().unwrap();
    let names: Vec<&str> = outputs.iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Summary", "Patch"], "public outputs only, in order");
    assert_eq!(outputs[0]["content"], "# Fixed\n\nThe bug is gone.");
    let text = body.to_string();
    for secret in ["SECRET-PROMPT", "SECRET-LOG", "SECRET-PRIVATE", "alice", "owner_id", "prompt"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(view["view_count"], 1);
    assert_eq!(view["views_remaining"], Value::Null);
}

async fn metadata_and_artifacts_follow_the_permissions(app: TestApp) {
    let task = app.finished_task("t").await;
    let open = app.share(&task, json!({})).await;
    let (_, body) = app.view(open["url"].as_str().unwrap(), None).await;
    let metadata = &body["data"]["metadata"];
    assert_eq!(metadata["status"], "completed");
    assert!(metadata["finished_at"].is_string());
    assert!(metadata["duration_seconds"].is_number());
    let artifacts = body["data"]["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0]["name"], "report.txt");
    assert_eq!(artifacts[0]["size_bytes"], 10);

    let closed =
        app.share(&task, json!({"permissions": {"allow_download": false, "show_metadata": false}})).await;
    let (_, body) = app.view(closed["url"].as_str().unwrap(), None).await;
    assert_eq!(body["data"]["metadata"], Value::Null);
    assert_eq!(body["data"]["artifacts"], Value::Null);
    assert!(!body.to_string().contains("report.txt"));
}

async fn downloads_need_a_view_and_permission(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"max_views": 1})).await;
    let url = link["url"].as_str().unwrap();
    let (_, body) = app.view(url, None).await;
    let download = body["data"]["artifacts"][0]["download_url"].as_str().unwrap().to_owned();
    let response = app.client.get(&download).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the one view still downloads, though the link is used up");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"report.txt\"; filename*=UTF-8''report.txt"
    );
    assert_eq!(response.text().await.unwrap(), "the report");

    let without_grant = download.split('?').next().unwrap();
    let response = app.client.get(without_grant).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_error(&response.json().await.unwrap(), "VIEW_REQUIRED");
    let forged = download.replace("grant=view_", "grant=view_0");
    assert_eq!(app.client.get(&forged).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    app.patch(&path, json!({"permissions": {"allow_download": false}})).await;
    let response = app.client.get(&download).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_error(&response.json().await.unwrap(), "DOWNLOAD_NOT_ALLOWED");

    app.patch(&path, json!({"permissions": {"allow_download": true}})).await;
    app.request(reqwest::Method::DELETE, &path, None).await;
    let response = app.client.get(&download).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "revocation stops downloads at once");
}

async fn every_view_is_counted_until_the_limit(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"max_views": 3})).await;
    let url = link["url"].as_str().unwrap();
    for expected in 1..=3 {
        let (status, body) = app.view(url, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["data"]["view_count"], expected);
        assert_eq!(body["data"]["views_remaining"], 3 - expected);
    }
    let (status, body) = app.view(url, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "SHARE_LINK_NOT_FOUND");
    let (_, owner_view) =
        app.get(&format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(owner_view["data"]["view_count"], 3, "refused views are not counted");
    assert_eq!(owner_view["data"]["status"], "expired");
}

async fn gone_links_are_indistinguishable(app: TestApp) {
    let task = app.finished_task("t").await;
    let revoked = app.share(&task, json!({})).await;
    app.request(
        reqwest::Method::DELETE,
        &format!("/v1/share-links/{}", revoked["share_link_id"].as_str().unwrap()),
        None,
    )
    .await;
    let used = app.share(&task, json!({"max_views": 1})).await;
    app.view(used["url"].as_str().unwrap(), None).await;
    let timed_out = app.share(&task, json!({})).await;
    let id = timed_out["share_link_id"].as_str().unwrap();
    app.sql(&format!("UPDATE share_links SET expires_at = 1000 WHERE share_link_id = '{id}'")).await;
    let unknown = format!("{}/s/{}", app.base, "A".repeat(43));
    let garbage = format!("{}/s/%3Cscript%3E", app.base);

    let mut json_bodies = Vec::new();
    let mut html_bodies = Vec::new();
    for url in [
        revoked["url"].as_str().unwrap(),
        used["url"].as_str().unwrap(),
        timed_out["url"].as_str().unwrap(),
        &unknown,
        &garbage,
    ] {
        let (status, body) = app.view(url, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{url}");
        json_bodies.push(body);
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let html = response.text().await.unwrap();
        assert!(html.contains("This link is no longer available"), "{html}");
        html_bodies.push(html);
    }
    // Short codes of gone links don't redirect: they answer like unknown ones.
    let no_redirects = crate::common::http().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let live = app.share(&task, json!({})).await;
    let short_of = |link: &Value| link["short_url"].as_str().unwrap().to_owned();
    let live_answer = no_redirects.get(short_of(&live)).send().await.unwrap();
    assert_eq!(live_answer.status(), StatusCode::SEE_OTHER, "a live short code redirects");
    let unknown_short = format!("{}/s/{}", app.base, "Zz9Zz9Zz");
    for url in [short_of(&revoked), short_of(&used), short_of(&timed_out), unknown_short] {
        let response = no_redirects.get(&url).header("accept", "application/json").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url}");
        json_bodies.push(response.json().await.unwrap());
    }
    assert!(json_bodies.windows(2).all(|w| w[0] == w[1]), "{json_bodies:?}");
    assert!(html_bodies.windows(2).all(|w| w[0] == w[1]));
    let (_, link) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(link["data"]["status"], "expired");
}

async fn passwords_protect_without_spending_views(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"password": "securepass123", "max_views": 2})).await;
    let url = link["url"].as_str().unwrap();
    let (status, body) = app.view(url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "PASSWORD_REQUIRED");
    for wrong in ["securepass124", "x", ""] {
        let (status, body) = app.view(url, Some(wrong)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(
            body["error"]["code"] == "INVALID_PASSWORD" || body["error"]["code"] == "PASSWORD_REQUIRED",
            "{body}"
        );
    }
    let (status, body) = app.view(url, Some("securepass123")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["view_count"], 1, "wrong passwords spent no view");
    let stored = app.sql_i64(&format!("SELECT COUNT(*) FROM share_links WHERE password_hash LIKE '$argon2id$%' AND share_link_id = '{}'", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(stored, 1, "stored as an Argon2id hash");
}

async fn password_guessing_is_locked_out(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"password": "securepass123"})).await;
    let url = link["url"].as_str().unwrap();
    for _ in 0..5 {
        assert_eq!(app.view(url, Some("wrongpass!")).await.0, StatusCode::UNAUTHORIZED);
    }
    let response = app
        .client
        .get(url)
        .header("accept", "application/json")
        .header("x-share-password", "securepass123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert_error(&response.json().await.unwrap(), "TOO_MANY_ATTEMPTS");
    // A spoofed X-Forwarded-For does not make a new client (no trusted proxy here).
    let response = app
        .client
        .get(url)
        .header("accept", "application/json")
        .header("x-share-password", "securepass123")
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Past the window, the client may try again.
    app.sql(&format!("UPDATE share_link_password_attempts SET attempted_at = attempted_at - 600001 WHERE share_link_id = '{}'", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(app.view(url, Some("securepass123")).await.0, StatusCode::OK);
}

/// Behind a trusted proxy, each forwarded client has its own 5 tries, and the link
/// as a whole 20.
#[tokio::test]
async fn lockouts_count_per_client_behind_a_trusted_proxy_and_per_link() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) =
            TestApp::spawn_with(backend, |s| s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await
        else {
            continue;
        };
        let task = app.finished_task("t").await;
        let link = app.share(&task, json!({"password": "securepass123"})).await;
        let url = link["url"].as_str().unwrap();
        let guess = |client: String, password: &'static str| {
            let app = &app;
            async move {
                app.client
                    .get(url)
                    .header("accept", "application/json")
                    .header("x-share-password", password)
                    .header("x-forwarded-for", client)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        for client in 1..=3 {
            for _ in 0..5 {
                assert_eq!(
                    guess(format!("198.51.100.{client}"), "wrongpass!").await,
                    StatusCode::UNAUTHORIZED
                );
            }
            assert_eq!(
                guess(format!("198.51.100.{client}"), "securepass123").await,
                StatusCode::TOO_MANY_REQUESTS
            );
        }
        assert_eq!(
            guess("198.51.100.9".into(), "securepass123").await,
            StatusCode::OK,
            "other clients are not locked out"
        );
        for _ in 0..5 {
            guess("198.51.100.4".into(), "wrongpass!").await;
        }
        assert_eq!(
            guess("198.51.100.10".into(), "securepass123").await,
            StatusCode::TOO_MANY_REQUESTS,
            "20 failures lock the link for everyone"
        );
    }
}

#[tokio::test]
async fn concurrent_guesses_never_exceed_the_limit() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::spawn(backend).await else {
            continue;
        };
        let task = app.finished_task("t").await;
        let link = app.share(&task, json!({"password": "securepass123"})).await;
        let url = link["url"].as_str().unwrap();
        let answers =
            futures_util::future::join_all((0..30).map(|_| app.view(url, Some("wrongpass!")))).await;
        let checked = answers.iter().filter(|(s, _)| *s == StatusCode::UNAUTHORIZED).count();
        let locked = answers.iter().filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS).count();
        assert_eq!((checked, locked), (5, 25), "exactly 5 guesses were checked ({backend:?})");
    }
}

async fn short_urls_lead_to_the_link(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let client = crate::common::http().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client.get(link["short_url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], link["url"].as_str().unwrap());
    let (status, _) = app.view(link["short_url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK, "following the redirect opens the link");
    let response = client.get(format!("{}/s/ZZZZZZZZ", app.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_short_url_base_is_configurable() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.short_url_base = Some("https://agx.example/s".into()))
            .await
            .unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let short = link["short_url"].as_str().unwrap();
    let code = short.strip_prefix("https://agx.example/s/").expect(short);
    let response = crate::common::http()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/s/{code}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], link["url"].as_str().unwrap());
}

async fn browsers_get_a_safe_page(app: TestApp) {
    let task = app.create_task("t").await;
    app.post(&format!("/v1/tasks/{task}/events"), json!({"type": "output", "name": "<b>Name</b>", "content": "# Report\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n```sh\nrm -rf /\n```"})).await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    let link = app.share(&task, json!({"title": "<i>Title</i>", "description": "Line & more"})).await;
    let response =
        app.client.get(link["url"].as_str().unwrap()).header("accept", "text/html").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-robots-tag"], "noindex, nofollow");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["cache-control"].to_str().unwrap().contains("no-store"));
    let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'nonce-"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("http"),
        "only nonce'd scripts, nothing remote: {csp}"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<meta name=\"robots\" content=\"noindex, nofollow\">"));
    let escaped = |text: &str| {
        html.contains(&text.replace('<', "&lt;").replace('>', "&gt;"))
            || html.contains(&text.replace('<', "&#60;").replace('>', "&#62;"))
    };
    assert!(escaped("<i>Title</i>") && !html.contains("<i>Title"), "titles are escaped");
    assert!(escaped("<b>Name</b>") && !html.contains("<b>Name"), "output names are escaped");
    assert!(html.contains("Line &amp; more") || html.contains("Line &#38; more"));
    assert!(html.contains("<h3>Report</h3>"), "markdown is rendered, below the page's headings");
    assert!(html.contains("rm -rf /"));
    assert!(!html.contains("onerror") && !html.contains("alert("), "{html}");
    assert_eq!(html.matches("<script").count(), 1, "only the page's own script: {html}");
    assert!(html.contains("<script nonce=\"") && html.contains("src=\"/assets/agentshare.js?v="), "{html}");
    assert_eq!(html.matches("<img").count(), 1, "only the QR code: {html}");
    assert!(html.contains("<img class=\"qr\" src=\"data:image/svg+xml;base64,"), "{html}");
    assert!(html.contains("Shared by its owner"));
    let (_, link_now) =
        app.get(&format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(link_now["data"]["view_count"], 1, "an unlimited link is counted when the page is shown");
}

async fn limited_links_are_revealed_by_a_deliberate_action(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"max_views": 1})).await;
    let url = link["url"].as_str().unwrap();
    let id = link["share_link_id"].as_str().unwrap();
    for _ in 0..3 {
        // What a link-preview bot or a mail scanner does.
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        assert!(html.contains("can be opened 1 more time") && html.contains("Reveal"), "{html}");
        assert!(!html.contains("The bug is gone"));
    }
    let (_, before) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(before["data"]["view_count"], 0, "fetching the page spent nothing");
    let response = app.client.post(url).form(&[("reveal", "1")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("The bug is gone"));
    let response = app.client.post(url).form(&[("reveal", "1")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "one view, once");

    let protected = app.share(&task, json!({"password": "securepass123"})).await;
    let purl = protected["url"].as_str().unwrap();
    let html = app.client.get(purl).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("type=\"password\""));
    let response = app.client.post(purl).form(&[("password", "nottheone")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("not correct"));
    let response = app.client.post(purl).form(&[("password", "securepass123")]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("The bug is gone"));
}

/// The link key survives restarts (kept in the database, or configured), so URLs
/// handed out keep working; a configured key gives different URLs.
#[tokio::test]
async fn links_keep_working_across_restarts() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(mut first) = TestApp::spawn(backend).await else { continue };
        let task = first.finished_task("t").await;
        let link = first.share(&task, json!({})).await;
        let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
        first.stop().await;

        let mut second = TestApp::start_on(crate::common::TestDb::existing(&first.db), |_| {}).await;
        second.key = first.key.clone();
        let (_, again) = second.get(&path).await;
        let url = again["data"]["url"].as_str().unwrap().to_owned();
        let token = |u: &str| u.rsplit('/').next().unwrap().to_owned();
        assert_eq!(token(&url), token(link["url"].as_str().unwrap()), "same token after a restart");
        assert_eq!(second.view(&url, None).await.0, StatusCode::OK);
        second.stop().await;

        // Switching to another key retires every link made under the old one.
        let key = "ab".repeat(32);
        let third =
            TestApp::start_on(crate::common::TestDb::existing(&first.db), |s| s.link_key = Some(key.clone()))
                .await;
        assert_eq!(
            third.view(&format!("{}/s/{}", third.base, token(&url)), None).await.0,
            StatusCode::NOT_FOUND
        );
        let task = third.finished_task("under the configured key").await;
        let keyed = third.share(&task, json!({})).await;
        assert_eq!(third.view(keyed["url"].as_str().unwrap(), None).await.0, StatusCode::OK);
    }
}

/// Guessing tokens or short codes gets a client refused for a while, for every
/// link, without affecting other clients.
#[tokio::test]
async fn guessing_links_is_rate_limited() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()])
            .await
            .unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let url = link["url"].as_str().unwrap();
    let get = |path: String, client: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(path)
                .header("accept", "application/json")
                .header("x-forwarded-for", client)
                .send()
                .await
                .unwrap()
        }
    };
    for i in 0..30 {
        let guess = if i % 2 == 0 {
            format!("{}/s/{:0>8}", app.base, i)
        } else {
            format!("{}/s/{}", app.base, "x".repeat(43))
        };
        assert_eq!(get(guess, "198.51.100.1").await.status(), StatusCode::NOT_FOUND);
    }
    let refused = get(url.to_owned(), "198.51.100.1").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "refused even for a real link");
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry));
    assert_error(&refused.json().await.unwrap(), "RATE_LIMITED");
    assert_eq!(
        get(url.to_owned(), "198.51.100.2").await.status(),
        StatusCode::OK,
        "other clients are unaffected"
    );
    let (_, owner_view) =
        app.get(&format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(owner_view["data"]["view_count"], 1, "the refused request spent no view");
}

async fn secrets_in_outputs_are_masked_unless_the_owner_says_otherwise(app: TestApp) {
    let task = app.create_task("leaky").await;
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let aws = "AKIAIOSFODNN7EXAMPLE";
    let content = format!(
        "Pushed with `{token}`.\n\nexport AWS_ACCESS_KEY_ID={aws}\n\n\
         Database: postgres://app:hunter2-s3cret@db.internal:5432/app\n\nThe fix is in `login.rs`."
    );
    let (status, body) = app
        .post(
            &format!("/v1/tasks/{task}/events"),
            json!({"type": "output", "name": "Log", "content": content}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let (status, _) = app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK);
    let link = app.share(&task, json!({})).await;
    assert_eq!(link["mask_secrets"], true, "masking is on by default");
    let url = link["url"].as_str().unwrap();

    let (status, view) = app.view(url, None).await;
    assert_eq!(status, StatusCode::OK);
    let shown = view["data"]["outputs"][0]["content"].as_str().unwrap();
    let page = app.client.get(url).send().await.unwrap().text().await.unwrap();
    for public in [shown, page.as_str()] {
        for secret in [token, aws, "hunter2-s3cret"] {
            assert!(!public.contains(secret), "{secret} is masked in: {public}");
        }
        assert!(public.contains("login.rs"), "the rest of the output is untouched: {public}");
        assert!(public.contains("ghp_"), "what kind of secret it was still shows: {public}");
    }

    // The owner still sees the output as written.
    let (_, events) = app.get(&format!("/v1/tasks/{task}/events")).await;
    assert!(events.to_string().contains(token));

    // And may choose to show it as written.
    let id = link["share_link_id"].as_str().unwrap();
    let (status, changed) = app.patch(&format!("/v1/share-links/{id}"), json!({"mask_secrets": false})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["data"]["mask_secrets"], false);
    let (_, view) = app.view(url, None).await;
    assert!(view["data"]["outputs"][0]["content"].as_str().unwrap().contains(token));
}
