//! The web pages as a browser meets them, over HTTP: cookies, redirects, forms and
//! their anti-forgery tokens, and what each page lets a person do. (The pages'
//! behaviour in a real browser is tested in `tests/browser`.)

use std::collections::HashMap;

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{Backend, TestApp};

backend_tests!(
    a_revealed_link_reloads_without_spending_a_view,
    every_view_of_a_page_has_its_own_grant_and_nonce_and_sees_every_change,
    download_all_is_a_zip_of_every_artifact,
    the_console_signs_in_with_an_api_key_and_out_again,
    the_console_shares_a_task_with_every_option,
    console_forms_without_their_token_change_nothing,
    owners_see_only_their_own_tasks_and_links_in_the_console,
    the_console_lists_live_shares_and_revokes_them,
    the_console_moderates_comments_and_shows_analytics,
    the_console_shows_a_links_activity_a_page_at_a_time_and_as_csv,
    a_share_code_opens_the_task_page,
    a_code_viewers_page_and_its_live_stream_mask_secrets,
    viewer_pages_offer_and_allow_only_what_the_code_permits,
    viewers_cannot_flood_a_task_page,
    the_console_sets_the_sharing_policy_and_revokes_every_link,
);

/// A browser: keeps cookies (as the server scoped them), follows nothing by itself.
pub(crate) struct Browser {
    client: reqwest::Client,
    /// Cookie name → (value, path, attributes as sent).
    pub(crate) cookies: HashMap<String, (String, String, String)>,
}

/// A page as the browser got it.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The value of the hidden `csrf` field of the page's forms.
    pub(crate) fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field: {}", self.body))
    }
}

/// The value of the first hidden input called `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    Some(html[start..].split('"').next()?.to_owned())
}

impl Browser {
    pub(crate) fn new() -> Browser {
        let client = crate::common::http().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { client, cookies: HashMap::new() }
    }

    fn cookie_header(&self, path: &str) -> String {
        self.cookies
            .iter()
            .filter(|(_, (_, scope, _))| {
                path == scope
                    || path.starts_with(&format!("{}/", scope.trim_end_matches('/')))
                    || scope == "/"
            })
            .map(|(name, (value, _, _))| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().unwrap().to_owned();
            let parsed = cookie::Cookie::parse(text.clone()).unwrap();
            let path = parsed.path().unwrap_or("/").to_owned();
            let removal = parsed.max_age().is_some_and(|age| age.is_zero()) || parsed.value().is_empty();
            if removal {
                self.cookies.remove(parsed.name());
            } else {
                self.cookies.insert(parsed.name().to_owned(), (parsed.value().to_owned(), path, text));
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder, path: &str) -> Page {
        let cookies = self.cookie_header(path);
        let request = if cookies.is_empty() { request } else { request.header(COOKIE, cookies) };
        let response = request.send().await.expect("answered");
        let status = response.status();
        let headers = response.headers().clone();
        self.keep(&headers);
        Page { status, headers, body: crate::common::read_text(response).await }
    }

    pub(crate) async fn get(&mut self, app: &TestApp, path: &str) -> Page {
        let request = self.client.get(app.url(path));
        self.send(request, path.split('?').next().unwrap()).await
    }

    pub(crate) async fn post(&mut self, app: &TestApp, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.client.post(app.url(path)).form(form);
        self.send(request, path).await
    }

    /// Signs in to the console with `key`; answers the page it lands on.
    async fn sign_in(&mut self, app: &TestApp, key: &str) -> Page {
        let form = self.get(app, "/console/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        let signed_in =
            self.post(app, "/console/login", &[("api_key", key), ("csrf", &csrf), ("next", "")]).await;
        assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
        let target = signed_in.location().to_owned();
        self.get(app, &target).await
    }
}

fn path_of(url: &str, app: &TestApp) -> String {
    url.strip_prefix(&app.base).unwrap().to_owned()
}

async fn link_data(app: &TestApp, id: &str) -> Value {
    let (status, body) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn a_revealed_link_reloads_without_spending_a_view(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"max_views": 2})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let path = path_of(link["url"].as_str().unwrap(), &app);

    let mut viewer = Browser::new();
    let interstitial = viewer.get(&app, &path).await;
    assert_eq!(interstitial.status, StatusCode::OK);
    assert!(interstitial.body.contains("can be opened 2 more times"), "{}", interstitial.body);
    assert_eq!(link_data(&app, id).await["view_count"], 0, "showing the Reveal button spends nothing");

    let revealed = viewer.post(&app, &path, &[]).await;
    assert_eq!(revealed.status, StatusCode::SEE_OTHER, "a reveal answers a reloadable page");
    assert_eq!(revealed.location(), path);
    let (_, _, grant) = viewer.cookies.get("agentshare_grant").expect("the reveal's grant is kept").clone();
    assert!(grant.contains("HttpOnly") && grant.contains("SameSite=Lax"), "{grant}");
    assert!(grant.contains(&format!("Path={path}")), "only this link's pages get it: {grant}");
    for _ in 0..3 {
        let page = viewer.get(&app, &path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("The bug is gone."), "{}", page.body);
        assert!(page.body.contains("can be opened 1 more time."), "{}", page.body);
    }
    assert_eq!(link_data(&app, id).await["view_count"], 1, "reloads spent nothing");

    // A browser without cookies gets the page straight from its reveal.
    let mut other = Browser::new();
    let direct = other.post(&app, &path, &[]).await;
    assert_eq!(direct.status, StatusCode::OK);
    assert!(direct.body.contains("The bug is gone."));
    assert_eq!(link_data(&app, id).await["status"], "expired");

    let mut late = Browser::new();
    let gone = late.get(&app, &path).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert!(gone.body.contains("no longer available"));
    let again = viewer.get(&app, &path).await;
    assert_eq!(again.status, StatusCode::OK, "who revealed it may still reload for a while");

    app.request(reqwest::Method::DELETE, &format!("/v1/share-links/{id}"), None).await;
    let revoked = viewer.get(&app, &path).await;
    assert_eq!(revoked.status, StatusCode::NOT_FOUND, "revocation ends reloads at once");
}

/// The value after `marker` in `text`, up to the next `end`.
fn after<'a>(text: &'a str, marker: &str, end: char) -> &'a str {
    let start = text.find(marker).unwrap_or_else(|| panic!("no {marker} in {text}")) + marker.len();
    text[start..].split(end).next().unwrap()
}

/// The script nonce of a page, checked against its Content-Security-Policy.
fn page_nonce(page: &Page) -> String {
    let nonce = after(&page.body, "nonce=\"", '"').to_owned();
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains(&format!("'nonce-{nonce}'")), "{policy} allows the page's script");
    nonce
}

async fn upload(app: &TestApp, task: &str, name: &str, content: &'static str) {
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts?name={name}")))
        .bearer_auth(&app.key)
        .header(CONTENT_TYPE, "text/plain")
        .body(content)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// Pages of an unlimited link are the same for every view but for the view's
/// grant and the response's nonce, and show every change of the link and task.
async fn every_view_of_a_page_has_its_own_grant_and_nonce_and_sees_every_change(app: TestApp) {
    let task = app.create_task("Kept pages").await;
    let events = format!("/v1/tasks/{task}/events");
    let (status, body) =
        app.post(&events, json!({"type": "output", "name": "First", "content": "First result"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    upload(&app, &task, "first.txt", "first file").await;
    let (status, body) = app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let permissions = json!({"show_metadata": true, "allow_download": true});
    let link = app.share(&task, json!({"title": "Pages kept", "permissions": permissions})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let path = path_of(link["url"].as_str().unwrap(), &app);
    let open = || async {
        let mut browser = Browser::new();
        let page = browser.get(&app, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let grant = browser.cookies["agentshare_grant"].0.clone();
        (page, grant)
    };

    let (first, first_grant) = open().await;
    let (second, second_grant) = open().await;
    let (first_nonce, second_nonce) = (page_nonce(&first), page_nonce(&second));
    assert_ne!(first_nonce, second_nonce);
    assert_ne!(first_grant, second_grant);
    for (page, grant) in [(&first, &first_grant), (&second, &second_grant)] {
        assert_eq!(after(&page.body, "?grant=", '"'), grant, "the page's links carry its own view's grant");
        let download = format!("{path}/artifacts/{}", after(&page.body, &format!("{path}/artifacts/"), '"'));
        let response = app.client.get(app.url(&download)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{download}");
        assert_eq!(response.text().await.unwrap(), "first file");
    }
    let as_first = second.body.replace(&second_grant, &first_grant).replace(&second_nonce, &first_nonce);
    assert_eq!(as_first, first.body, "nothing else differs between two views");

    let (status, body) =
        app.post(&events, json!({"type": "output", "name": "Second", "content": "Second result"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (page, _) = open().await;
    assert!(page.body.contains("Second result"), "a new output shows: {}", page.body);
    assert!(page.body.contains(">completed<"), "{}", page.body);

    let (status, body) =
        app.patch(&format!("/v1/share-links/{id}"), json!({"permissions": {"show_metadata": false}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (page, _) = open().await;
    assert!(!page.body.contains(">completed<"), "the link's new setting shows: {}", page.body);

    let (status, body) = app.patch(&format!("/v1/share-links/{id}"), json!({"title": "Renamed pages"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (page, _) = open().await;
    assert!(page.body.contains("Renamed pages") && !page.body.contains("Pages kept"), "{}", page.body);

    upload(&app, &task, "second.txt", "second file").await;
    let (page, grant) = open().await;
    assert!(page.body.contains("second.txt"), "a new file shows: {}", page.body);
    assert_eq!(after(&page.body, "?grant=", '"'), grant);
    assert_eq!(link_data(&app, id).await["view_count"], 6, "every page was a counted view");
}

async fn download_all_is_a_zip_of_every_artifact(app: TestApp) {
    let task = app.finished_task("Zip me").await;
    let png: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts?name=chart.png")))
        .bearer_auth(&app.key)
        .header(CONTENT_TYPE, "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let link = app.share(&task, json!({"title": "Results / 2030"})).await;
    let mut viewer = Browser::new();
    let page = viewer.get(&app, &path_of(link["url"].as_str().unwrap(), &app)).await;
    let start = page.body.find("/artifacts.zip?grant=").expect("a Download all button");
    let href = &page.body[page.body[..start].rfind('"').unwrap() + 1..];
    let href = href[..href.find('"').unwrap()].replace("&#x3d;", "=");
    let response = app.client.get(app.url(&href)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/zip");
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"Results-2030.zip\""), "{disposition}");
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a valid zip");
    let mut files = HashMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut content).unwrap();
        files.insert(file.name().unwrap().into_owned(), content);
    }
    assert_eq!(files.len(), 2);
    assert_eq!(files["report.txt"], b"the report");
    assert_eq!(files["chart.png"], png);

    let without = href.split('?').next().unwrap();
    let response = app.client.get(app.url(without)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "a zip needs a view's grant too");
    let closed = app.share(&task, json!({"permissions": {"allow_download": false}})).await;
    let page = viewer.get(&app, &path_of(closed["url"].as_str().unwrap(), &app)).await;
    assert!(!page.body.contains("artifacts.zip"), "no Download all without allow_download");
}

async fn the_console_signs_in_with_an_api_key_and_out_again(app: TestApp) {
    let mut browser = Browser::new();
    let away = browser.get(&app, "/console/tasks").await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    assert!(away.location().starts_with("/console/login?next="), "{}", away.location());

    let form = browser.get(&app, "/console/login").await;
    let csrf = form.csrf();
    let wrong = browser.post(&app, "/console/login", &[("api_key", "ask_nope"), ("csrf", &csrf)]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not a valid API key"), "{}", wrong.body);
    assert!(!browser.cookies.contains_key("agentshare_console"));

    let tasks = browser.sign_in(&app, &app.key).await;
    assert_eq!(tasks.status, StatusCode::OK, "{}", tasks.body);
    assert!(tasks.body.contains("alice"), "the console says who is signed in");
    let (value, path, attributes) = browser.cookies["agentshare_console"].clone();
    assert_eq!(path, "/console");
    assert!(attributes.contains("HttpOnly") && attributes.contains("SameSite=Lax"), "{attributes}");
    assert!(!value.contains(&app.key) && !app.key.contains(&value), "the cookie is not the API key");
    let stored = app.sql_i64("SELECT COUNT(*) FROM console_sessions").await;
    assert_eq!(stored, 1);

    let csrf = tasks.csrf();
    let out = browser.post(&app, "/console/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("agentshare_console"), "the cookie is removed");
    // The old cookie no longer works either, even if a copy was kept.
    let mut copy = Browser::new();
    copy.cookies.insert("agentshare_console".into(), (value.clone(), "/console".into(), String::new()));
    assert_eq!(copy.get(&app, "/console/tasks").await.status, StatusCode::SEE_OTHER);

    // Revoking the key ends its console sessions.
    let mut second = Browser::new();
    second.sign_in(&app, &app.key).await;
    app.sql("UPDATE api_keys SET revoked_at = 1").await;
    assert_eq!(second.get(&app, "/console/tasks").await.status, StatusCode::SEE_OTHER);
}

async fn the_console_shares_a_task_with_every_option(app: TestApp) {
    let task = app.finished_task("Quarterly report").await;
    let mut browser = Browser::new();
    browser.sign_in(&app, &app.key).await;
    let page = browser.get(&app, &format!("/console/tasks/{task}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Share this task"), "the Share dialog is on the page");
    let csrf = page.csrf();
    let created = browser
        .post(
            &app,
            &format!("/console/tasks/{task}/links"),
            &[
                ("csrf", &csrf),
                ("title", "For the board"),
                ("description", "Q3 numbers"),
                ("expires_in", "7d"),
                ("password", "board-secret-1"),
                ("max_views", "5"),
                ("allow_comments", "on"),
                ("notify_on_view", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let (_, list) = app.get(&format!("/v1/share-links?task_id={task}")).await;
    let link = &list["data"]["share_links"][0];
    assert_eq!(link["title"], "For the board");
    assert_eq!(link["description"], "Q3 numbers");
    assert_eq!(link["password_protected"], true);
    assert_eq!(link["max_views"], 5);
    assert_eq!(link["notify_on_view"], true);
    assert_eq!(link["mask_secrets"], false, "an unchecked box is off");
    assert_eq!(
        link["permissions"],
        json!({"allow_download": false, "allow_comments": true, "show_metadata": false})
    );
    let expires = agentshare::domain::time::Timestamp::parse(link["expires_at"].as_str().unwrap()).unwrap();
    let days = (expires.millis() - agentshare::domain::time::Timestamp::now().millis()) as f64 / 86_400_000.0;
    assert!((6.9..7.01).contains(&days), "{days}");

    let shown = browser.get(&app, created.location()).await;
    assert!(shown.body.contains("Your link is ready"), "{}", shown.body);
    assert!(shown.body.contains(link["url"].as_str().unwrap()), "the link, to copy");
    assert!(shown.body.contains("data:image/svg+xml;base64,"), "and its QR code");

    let refused = browser
        .post(
            &app,
            &format!("/console/tasks/{task}/links"),
            &[("csrf", &csrf), ("password", "short"), ("expires_in", "30d")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("8 to 32 characters"), "{}", refused.body);
    let (_, list) = app.get(&format!("/v1/share-links?task_id={task}")).await;
    assert_eq!(list["data"]["share_links"].as_array().unwrap().len(), 1, "a refused form creates nothing");

    let running = app.create_task("still going").await;
    let page = browser.get(&app, &format!("/console/tasks/{running}")).await;
    assert!(page.body.contains("once the task has finished"), "no Share button for a running task");
}

async fn console_forms_without_their_token_change_nothing(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let mut browser = Browser::new();
    let page = browser.sign_in(&app, &app.key).await;
    let good = page.csrf();
    for csrf in ["", "forged", &good[1..]] {
        let created = browser.post(&app, &format!("/console/tasks/{task}/links"), &[("csrf", csrf)]).await;
        assert_eq!(created.status, StatusCode::FORBIDDEN);
        let revoked = browser.post(&app, &format!("/console/links/{id}/revoke"), &[("csrf", csrf)]).await;
        assert_eq!(revoked.status, StatusCode::FORBIDDEN);
    }
    // The right token from another site's page is refused as well.
    let cross = browser
        .send(
            browser
                .client
                .post(app.url(&format!("/console/links/{id}/revoke")))
                .header("sec-fetch-site", "cross-site")
                .form(&[("csrf", good.as_str())]),
            &format!("/console/links/{id}/revoke"),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(link_data(&app, id).await["status"], "active");
    let (_, list) = app.get(&format!("/v1/share-links?task_id={task}")).await;
    assert_eq!(list["data"]["share_links"].as_array().unwrap().len(), 1);

    // A sign-in form needs the token set with it, too.
    let mut fresh = Browser::new();
    let login = fresh.post(&app, "/console/login", &[("api_key", &app.key), ("csrf", "guess")]).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(!fresh.cookies.contains_key("agentshare_console"));

    let ok = browser.post(&app, &format!("/console/links/{id}/revoke"), &[("csrf", &good)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(link_data(&app, id).await["status"], "revoked");
}

async fn owners_see_only_their_own_tasks_and_links_in_the_console(app: TestApp) {
    let task = app.finished_task("Alice's secret project").await;
    let link = app.share(&task, json!({})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let bob = app.new_owner("bob").await;
    let mut browser = Browser::new();
    let tasks = browser.sign_in(&app, &bob).await;
    assert!(!tasks.body.contains("secret project"), "{}", tasks.body);
    assert_eq!(browser.get(&app, &format!("/console/tasks/{task}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(browser.get(&app, &format!("/console/links/{id}")).await.status, StatusCode::NOT_FOUND);
    let shares = browser.get(&app, "/console/shares").await;
    assert!(!shares.body.contains(id));
    let csrf = shares.csrf();
    let revoke = browser.post(&app, &format!("/console/links/{id}/revoke"), &[("csrf", &csrf)]).await;
    assert_eq!(revoke.status, StatusCode::NOT_FOUND);
    let share = browser.post(&app, &format!("/console/tasks/{task}/links"), &[("csrf", &csrf)]).await;
    assert_eq!(share.status, StatusCode::NOT_FOUND);
    let download = browser.get(&app, &format!("/console/tasks/{task}/artifacts/whatever")).await;
    assert_eq!(download.status, StatusCode::NOT_FOUND);
    assert_eq!(link_data(&app, id).await["status"], "active");
}

async fn the_console_lists_live_shares_and_revokes_them(app: TestApp) {
    let first = app.finished_task("First task").await;
    let second = app.finished_task("Second task").await;
    let a = app.share(&first, json!({"title": "Link A"})).await;
    let b = app.share(&second, json!({"title": "Link B"})).await;
    let revoked = app.share(&second, json!({"title": "Link C"})).await;
    app.request(
        reqwest::Method::DELETE,
        &format!("/v1/share-links/{}", revoked["share_link_id"].as_str().unwrap()),
        None,
    )
    .await;
    let (status, _) = app.post(&format!("/v1/agentrix/tasks/{first}/share"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED);

    let mut browser = Browser::new();
    browser.sign_in(&app, &app.key).await;
    let shares = browser.get(&app, "/console/shares").await;
    assert_eq!(shares.status, StatusCode::OK);
    for shown in ["Link A", "Link B", "First task", "Second task"] {
        assert!(shares.body.contains(shown), "{shown}: {}", shares.body);
    }
    assert!(!shares.body.contains("Link C"), "revoked links are not live");
    assert!(shares.body.contains(&format!("/console/tasks/{first}/code/revoke")), "the share code is listed");

    let csrf = shares.csrf();
    let b_id = b["share_link_id"].as_str().unwrap();
    let done = browser
        .post(&app, &format!("/console/links/{b_id}/revoke"), &[("csrf", &csrf), ("back", "shares")])
        .await;
    assert_eq!(done.location(), "/console/shares");
    assert_eq!(link_data(&app, b_id).await["status"], "revoked");
    let done = browser
        .post(&app, &format!("/console/tasks/{first}/code/revoke"), &[("csrf", &csrf), ("back", "shares")])
        .await;
    assert_eq!(done.location(), "/console/shares");
    let (status, _) = app.get(&format!("/v1/tasks/{first}/share")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the code is revoked");
    let shares = browser.get(&app, "/console/shares").await;
    assert!(shares.body.contains("Link A") && !shares.body.contains("Link B"));
    assert!(a["share_link_id"].is_string());
}

async fn the_console_moderates_comments_and_shows_analytics(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"permissions": {"allow_comments": true}})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let url = link["url"].as_str().unwrap();
    for agent in
        ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1", "curl/8.0"]
    {
        let response = app
            .client
            .get(url)
            .header("accept", "application/json")
            .header("user-agent", agent)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    app.sql(&format!(
        "INSERT INTO share_link_comments (comment_id, share_link_id, name, email, content, verify_hash, created_at, verified_at) \
         VALUES ('comment_0000000000000001', '{id}', 'Carol', 'carol@example.com', 'Nice <b>work</b>', 'x', 1, 2)"
    ))
    .await;
    let mut browser = Browser::new();
    browser.sign_in(&app, &app.key).await;
    let page = browser.get(&app, &format!("/console/links/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("data-stat=\"total\">2<"), "{}", page.body);
    assert!(page.body.contains("class=\"bar\""), "a views chart");
    assert!(page.body.contains("data-views=\"2\""), "today's bar holds both views");
    assert!(page.body.contains("mobile") && page.body.contains("Countries"), "breakdowns");
    assert!(page.body.contains("Nice &#60;b&#62;work&#60;/b&#62;"), "comments are escaped: {}", page.body);
    assert!(page.body.contains("carol@example.com"), "the owner sees the author's address");
    let csrf = page.csrf();
    let deleted = browser
        .post(
            &app,
            &format!("/console/links/{id}/comments/comment_0000000000000001/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let (_, view) = app.view(url, None).await;
    assert_eq!(view["data"]["comments"], json!([]), "a deleted comment is shown to no one");
}

/// Exchanges `code` through the code page; answers the task page it lands on.
async fn open_code(browser: &mut Browser, app: &TestApp, code: &str) -> Page {
    let form = browser.get(app, &format!("/code/{code}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(&format!("value=\"{code}\"")), "the link fills the form in");
    let csrf = form.csrf();
    let opened = browser.post(app, "/code", &[("code", code), ("csrf", &csrf)]).await;
    assert_eq!(opened.status, StatusCode::SEE_OTHER, "{}", opened.body);
    let target = opened.location().to_owned();
    browser.get(app, &target).await
}

async fn create_code(app: &TestApp, task: &str, permissions: Value) -> String {
    let (status, body) =
        app.post(&format!("/v1/agentrix/tasks/{task}/share"), json!({"permissions": permissions})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["shareCode"].as_str().unwrap().to_owned()
}

async fn a_share_code_opens_the_task_page(app: TestApp) {
    let task = app.create_task("Live work").await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    app.post(
        &format!("/v1/tasks/{task}/events"),
        json!({"type": "progress", "content": "Step **one** done"}),
    )
    .await;
    app.post(
        &format!("/v1/tasks/{task}/events"),
        json!({"type": "log", "content": "PRIVATE-NOTE", "private": true}),
    )
    .await;
    let code = create_code(&app, &task, json!({})).await;

    let mut browser = Browser::new();
    let wrong = {
        let form = browser.get(&app, "/code").await;
        let csrf = form.csrf();
        browser.post(&app, "/code", &[("code", "NotARealCode1234567890ab"), ("csrf", &csrf)]).await
    };
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("That code doesn"), "{}", wrong.body);

    let page = open_code(&mut browser, &app, &code).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Step <strong>one</strong> done"), "{}", page.body);
    assert!(!page.body.contains("PRIVATE-NOTE"), "private events are the owner's");
    assert!(page.body.contains(&format!("data-stream=\"/t/{task}/stream\"")), "a running task updates live");
    let (_, path, attributes) = browser.cookies["agentshare_viewer"].clone();
    assert_eq!(path, format!("/t/{task}"));
    assert!(attributes.contains("HttpOnly"), "{attributes}");

    // Another task's pages don't take this session.
    let other = app.create_task("Other").await;
    assert_eq!(browser.get(&app, &format!("/t/{other}")).await.status, StatusCode::UNAUTHORIZED);

    app.request(reqwest::Method::DELETE, &format!("/v1/tasks/{task}/share"), None).await;
    let ended = browser.get(&app, &format!("/t/{task}")).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    assert!(ended.body.contains("no longer have access"));
}

/// The share-code viewer's page and its live stream mask secrets, as the viewer's
/// JSON routes do (`share_codes::viewers_get_secrets_masked_on_every_route`): a
/// token an agent printed is never shown to a viewer in clear.
async fn a_code_viewers_page_and_its_live_stream_mask_secrets(app: TestApp) {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let task = app.create_task("Pushed the fix").await;
    let events = format!("/v1/tasks/{task}/events");
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    app.post(
        &events,
        json!({"type": "output", "name": "Result", "content": format!("Pushed with GITHUB_TOKEN={token}")}),
    )
    .await;
    let code = create_code(&app, &task, json!({})).await;
    let mut browser = Browser::new();
    let page = open_code(&mut browser, &app, &code).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Pushed with GITHUB_TOKEN=•"), "the output shows, masked: {}", page.body);
    assert!(!page.body.contains(token), "the page shows the token in clear");

    let stream_path = format!("/t/{task}/stream");
    let mut stream = browser
        .client
        .get(app.url(&format!("{stream_path}?after=1")))
        .header(COOKIE, browser.cookie_header(&stream_path))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    app.post(&events, json!({"type": "progress", "content": format!("Retried with {token} at last")})).await;
    let mut seen = String::new();
    crate::common::read_stream(&mut stream, &mut seen, |s| s.contains("at last")).await;
    assert!(seen.contains("Retried with ghp_•"), "the live event shows, masked: {seen}");
    assert!(!seen.contains(token), "the live stream shows the token in clear: {seen}");
}

async fn viewer_pages_offer_and_allow_only_what_the_code_permits(app: TestApp) {
    let task = app.create_task("Chatty").await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    let code = create_code(&app, &task, json!({"canViewPr": false})).await;
    let mut browser = Browser::new();
    let page = open_code(&mut browser, &app, &code).await;
    assert!(!page.body.contains("Send a message"), "no message box without canSendMessage");
    assert!(!page.body.contains("Pull requests"));
    let csrf = page.csrf();
    let refused =
        browser.post(&app, &format!("/t/{task}/messages"), &[("content", "hello"), ("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "the server refuses what the page doesn't offer");
    let (_, events) = app.get(&format!("/v1/tasks/{task}/events")).await;
    assert_eq!(events["data"]["events"], json!([]));

    let code = create_code(&app, &task, json!({"canSendMessage": true})).await;
    let mut browser = Browser::new();
    let page = open_code(&mut browser, &app, &code).await;
    assert!(page.body.contains("Send a message"));
    let csrf = page.csrf();
    let forged =
        browser.post(&app, &format!("/t/{task}/messages"), &[("content", "forged"), ("csrf", "x")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let sent = browser
        .post(&app, &format!("/t/{task}/messages"), &[("content", "Please add tests"), ("csrf", &csrf)])
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER);
    let (_, events) = app.get(&format!("/v1/tasks/{task}/events")).await;
    let events = events["data"]["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "message");
    assert_eq!(events[0]["author"], "viewer");
    assert_eq!(events[0]["content"], "Please add tests");
    let page = browser.get(&app, &format!("/t/{task}?done=sent")).await;
    assert!(page.body.contains("Message sent.") && page.body.contains("Please add tests"));
}

/// The events of a task page, by sequence number.
fn shown_events(page: &Page) -> Vec<i64> {
    page.body
        .split("id=\"event-")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// A viewer allowed to send messages tries to make the task page heavy: messages
/// are bounded in size and number, and the page shows a bounded page of events,
/// earlier ones a click away.
async fn viewers_cannot_flood_a_task_page(app: TestApp) {
    use reqwest::Method;
    let task = app.create_task("Busy").await;
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "running"})).await;
    let code = create_code(&app, &task, json!({"canSendMessage": true})).await;
    let (_, session) = app.request_as(None, Method::GET, &format!("/v1/auth/share?code={code}"), None).await;
    let viewer = session["token"].as_str().unwrap().to_owned();
    let messages = format!("/v1/tasks/{task}/messages");
    let send = |content: String| {
        app.request_as(Some(&viewer), Method::POST, &messages, Some(json!({ "content": content })))
    };
    let (status, body) = send("x".repeat(4001)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["details"]["field"], "content");
    for n in 0..20 {
        let (status, body) = send(format!("{n} {}", "m".repeat(3990))).await;
        assert_eq!(status, StatusCode::CREATED, "message {n}: {body}");
    }
    let (status, body) = send("one more".into()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "TOO_MANY_MESSAGES");
    let (status, _) = app.post(&messages, json!({"content": "the owner is not limited"})).await;
    assert_eq!(status, StatusCode::CREATED);
    for n in 0..230 {
        app.post(
            &format!("/v1/tasks/{task}/events"),
            json!({"type": "progress", "content": format!("step {n}")}),
        )
        .await;
    }

    let mut browser = Browser::new();
    let latest = open_code(&mut browser, &app, &code).await;
    assert_eq!(latest.status, StatusCode::OK);
    assert_eq!(shown_events(&latest), (152..=251).collect::<Vec<_>>(), "the latest hundred events");
    assert!(
        latest.body.contains(&format!("href=\"/t/{task}?before=152\"")),
        "earlier events are a click away"
    );
    assert!(latest.body.contains("data-stream="), "the latest page updates live");
    let earlier = browser.get(&app, &format!("/t/{task}?before=152")).await;
    assert_eq!(shown_events(&earlier), (52..=151).collect::<Vec<_>>());
    assert!(!earlier.body.contains("data-stream="), "a page of earlier events stays still");
    assert!(earlier.body.contains(&format!("href=\"/t/{task}\">Latest events")));
    let first = browser.get(&app, &format!("/t/{task}?before=52")).await;
    assert_eq!(shown_events(&first), (1..=51).collect::<Vec<_>>());
    assert!(!first.body.contains("Earlier events"), "nothing before the first event");

    // Long events: the page holds about a megabyte of them.
    for part in 1..=2 {
        let content = "word ".repeat(140_000);
        let event = json!({"type": "output", "name": format!("report {part}"), "content": content});
        let (status, body) = app.post(&format!("/v1/tasks/{task}/events"), event).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let latest = browser.get(&app, &format!("/t/{task}")).await;
    assert_eq!(shown_events(&latest), vec![253], "one long event fills the page");
    assert!(latest.body.len() < 2 * 1024 * 1024, "{} bytes", latest.body.len());
    assert!(latest.body.contains(&format!("href=\"/t/{task}?before=253\"")));
    let mut console = Browser::new();
    console.sign_in(&app, &app.key).await;
    let page = console.get(&app, &format!("/console/tasks/{task}")).await;
    assert_eq!(shown_events(&page), vec![253], "the owner's page is paged alike");
    let page = console.get(&app, &format!("/console/tasks/{task}?before=253")).await;
    assert_eq!(
        shown_events(&page),
        (153..=252).collect::<Vec<_>>(),
        "short events fill the rest of the budget"
    );
    assert!(page.body.contains(&format!("href=\"/console/tasks/{task}?before=153#events\"")));
}

#[tokio::test]
async fn pages_run_only_their_own_script() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let mut seen = Vec::new();
    for path in [path_of(link["url"].as_str().unwrap(), &app), "/console/login".into(), "/code".into()] {
        for _ in 0..2 {
            let response = app.client.get(app.url(&path)).send().await.unwrap();
            let headers = response.headers().clone();
            let html = response.text().await.unwrap();
            let csp = headers["content-security-policy"].to_str().unwrap().to_owned();
            let nonce = csp
                .split("'nonce-")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .expect("a script nonce")
                .to_owned();
            assert!(
                !csp.contains("unsafe-inline")
                    && !csp.contains("unsafe-eval")
                    && csp.contains("default-src 'none'"),
                "{csp}"
            );
            assert_eq!(html.matches("<script").count(), 1, "one script, ours: {html}");
            assert!(
                html.contains(&format!("<script nonce=\"{nonce}\" src=\"/assets/agentshare.js?v=")),
                "{html}"
            );
            for (name, value) in [
                ("x-robots-tag", "noindex, nofollow"),
                ("referrer-policy", "no-referrer"),
                ("x-content-type-options", "nosniff"),
                ("cache-control", "no-store, private"),
            ] {
                assert_eq!(headers[name], value, "{path}: {name}");
            }
            seen.push(nonce);
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "a fresh nonce on every response");
    let script = app.client.get(app.url("/assets/agentshare.js")).send().await.unwrap();
    assert_eq!(script.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(script.text().await.unwrap().contains("EventSource"));
}

async fn the_console_sets_the_sharing_policy_and_revokes_every_link(app: TestApp) {
    let mut browser = Browser::new();
    let tasks = browser.sign_in(&app, &app.key).await;
    assert!(tasks.body.contains("/console/settings/sharing"), "the navigation links to it");
    let form = browser.get(&app, "/console/settings/sharing").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    for field in ["max_link_lifetime_days", "require_password", "require_audience", "allow_share_code_write"]
    {
        assert!(form.body.contains(&format!("name=\"{field}\"")), "{field}: {}", form.body);
    }
    let csrf = form.csrf();
    let default = sharing_policy(&app).await;

    // Refused: without the token, and with a bad lifetime (said beside the field).
    let forged = browser
        .post(&app, "/console/settings/sharing", &[("csrf", "forged"), ("require_password", "on")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    for bad in ["0", "3651", "two weeks"] {
        let refused = browser
            .post(
                &app,
                "/console/settings/sharing",
                &[("csrf", &csrf), ("max_link_lifetime_days", bad), ("require_password", "on")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(refused.body.contains("id=\"p-lifetime-error\""), "{}", refused.body);
        assert!(
            refused.body.contains(&format!("value=\"{bad}\"")),
            "what was typed is kept: {}",
            refused.body
        );
    }
    assert_eq!(sharing_policy(&app).await, default, "nothing was stored");

    let saved = browser
        .post(
            &app,
            "/console/settings/sharing",
            &[("csrf", &csrf), ("max_link_lifetime_days", "14"), ("require_password", "on")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        sharing_policy(&app).await,
        json!({"max_link_lifetime_days": 14, "require_password": true, "require_audience": false,
               "allow_share_code_write": false}),
        "an unticked box is false"
    );
    let shown = browser.get(&app, saved.location()).await;
    assert!(shown.body.contains("value=\"14\""), "{}", shown.body);

    // The Share dialog answers the policy beside the form.
    let task = app.finished_task("t").await;
    let refused = browser
        .post(&app, &format!("/console/tasks/{task}/links"), &[("csrf", &csrf), ("expires_in", "7d")])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("requires every link to have a password"), "{}", refused.body);

    // Revoke all: a confirmation step, then every link goes.
    let links = [
        app.share(&task, json!({"password": "long enough"})).await,
        app.share(&task, json!({"password": "long enough"})).await,
    ];
    let shares = browser.get(&app, "/console/shares").await;
    assert!(shares.body.contains("/console/shares/revoke-all"), "{}", shares.body);
    let confirm = browser.get(&app, "/console/shares/revoke-all").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("2 links"), "{}", confirm.body);
    let forged = browser.post(&app, "/console/shares/revoke-all", &[("csrf", "")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    for l in &links {
        assert_eq!(link_data(&app, l["share_link_id"].as_str().unwrap()).await["status"], "active");
    }
    let revoked = browser.post(&app, "/console/shares/revoke-all", &[("csrf", &confirm.csrf())]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER, "{}", revoked.body);
    for l in &links {
        assert_eq!(link_data(&app, l["share_link_id"].as_str().unwrap()).await["status"], "revoked");
        assert_eq!(app.view(l["url"].as_str().unwrap(), None).await.0, StatusCode::NOT_FOUND);
    }
    let after = browser.get(&app, revoked.location()).await;
    assert!(after.body.contains("Revoked 2 links"), "{}", after.body);
}

async fn sharing_policy(app: &TestApp) -> Value {
    let (status, body) = app.get("/v1/settings/sharing").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn the_console_shows_a_links_activity_a_page_at_a_time_and_as_csv(app: TestApp) {
    let task = app.create_task("t").await;
    let hostile = "<img src=x onerror=alert(1)>.txt";
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts")))
        .query(&[("name", hostile)])
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, body) = app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let link = app.share(&task, json!({})).await;
    let (id, url) = (link["share_link_id"].as_str().unwrap(), link["url"].as_str().unwrap());
    let mut view = Value::Null;
    for _ in 0..21 {
        let (status, body) = app.view(url, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        view = body;
    }
    let download = view["data"]["artifacts"][0]["download_url"].as_str().unwrap();
    let response = app.client.get(download).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    crate::common::read_text(response).await;
    // The download is logged in the background: wait until the owner API shows it
    // among the newest two (it may share its millisecond with the last view).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, body) = app.get(&format!("/v1/share-links/{id}/activity?limit=2")).await;
        let kinds = body["data"]["activity"].as_array().cloned().unwrap_or_default();
        if kinds.iter().any(|entry| entry["kind"] == "downloaded") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the download is never logged: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let mut browser = Browser::new();
    browser.sign_in(&app, &app.key).await;
    let page = browser.get(&app, &format!("/console/links/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let activity = &page.body[page.body.find("id=\"activity\"").expect("an activity section")..];
    let activity = &activity[..activity.find("</section>").unwrap()];
    assert_eq!(activity.matches("data-kind=").count(), 20, "the newest twenty: {activity}");
    assert_eq!(activity.matches("data-kind=\"revealed\"").count(), 19, "{activity}");
    assert!(activity.contains("data-kind=\"downloaded\""), "{activity}");
    assert!(activity.contains("127.0.0.0/24"), "the client prefix: {activity}");
    assert!(activity.contains("&#60;img src=x onerror=alert(1)&#62;.txt"), "names are escaped: {activity}");
    assert!(!page.body.contains("<img src=x"), "never as markup");
    let csv_path = format!("/console/links/{id}/activity.csv");
    assert!(activity.contains(&format!("href=\"{csv_path}\"")), "a Download CSV link: {activity}");
    assert!(activity.contains("Download CSV"));
    let more = activity.split("href=\"").find(|h| h.contains("?activity=")).expect("a Show more link");
    let more = more.split('"').next().unwrap().replace("&#38;", "&");
    assert!(activity.contains("Show more"));

    let older = browser.get(&app, &more).await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.body);
    let rest = &older.body[older.body.find("id=\"activity\"").unwrap()..];
    let rest = &rest[..rest.find("</section>").unwrap()];
    assert_eq!(rest.matches("data-kind=\"revealed\"").count(), 2, "the two oldest: {rest}");
    assert!(!rest.contains("Show more"), "nothing older: {rest}");
    let bad = browser.get(&app, &format!("/console/links/{id}?activity=nonsense")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    let csv = browser.get(&app, &csv_path).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
    assert_eq!(csv.headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(csv.body.starts_with("\"at\",\"kind\",\"client\""), "{}", csv.body);
    assert_eq!(csv.body.lines().count(), 1 + 22, "{}", csv.body);
    assert!(csv.body.contains("\"<img src=x onerror=alert(1)>.txt\""), "{}", csv.body);

    let signed_out = Browser::new().get(&app, &csv_path).await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER, "the console's own sign-in guards it");
    let bob = app.new_owner("bob").await;
    let mut other = Browser::new();
    other.sign_in(&app, &bob).await;
    assert_eq!(other.get(&app, &csv_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get(&app, &format!("/console/links/{id}")).await.status, StatusCode::NOT_FOUND);
}

/// Pages and assets reach a browser gzipped, assets are kept for good when asked for
/// by their versioned URL, and the icon every browser asks for exists.
#[tokio::test]
async fn pages_and_assets_are_compressed_and_versioned_assets_are_immutable() {
    use std::io::Read as _;
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let page = path_of(link["url"].as_str().unwrap(), &app);

    let plain = app.client.get(app.url(&page)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none(), "only for clients that accept it");
    let plain = plain.text().await.unwrap();
    let version = plain
        .split("/assets/agentshare.css?v=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a versioned stylesheet")
        .to_owned();
    assert!(plain.contains(&format!(
        "<link rel=\"icon\" type=\"image/svg+xml\" href=\"/assets/favicon.svg?v={version}\">"
    )));

    let gunzip = |bytes: &[u8]| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).expect("gzip");
        text
    };
    for path in [
        page.clone(),
        format!("/assets/agentshare.css?v={version}"),
        format!("/assets/agentshare.js?v={version}"),
    ] {
        let response = app.client.get(app.url(&path)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        assert!(
            response.headers()["vary"].to_str().unwrap().to_lowercase().contains("accept-encoding"),
            "{path}"
        );
        let compressed = response.bytes().await.unwrap();
        let text = gunzip(&compressed);
        // A page carries a QR code as base64, which gzip barely shrinks.
        assert!(
            compressed.len() * 10 < text.len() * 6,
            "{path}: {} of {} bytes",
            compressed.len(),
            text.len()
        );
        if path == page {
            assert!(text.contains("</html>") && text.contains(link["title"].as_str().unwrap()), "{text}");
        }
    }

    let current =
        app.client.get(app.url(&format!("/assets/agentshare.js?v={version}"))).send().await.unwrap();
    assert_eq!(current.headers()["cache-control"], "public, max-age=31536000, immutable");
    for stale in ["/assets/agentshare.js", "/assets/agentshare.js?v=0123456789ab"] {
        let response = app.client.get(app.url(stale)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["cache-control"],
            "no-cache",
            "{stale}: another build's URL must not keep this content"
        );
    }

    let icon = app.client.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()[CONTENT_TYPE], "image/svg+xml");
    assert!(icon.text().await.unwrap().starts_with("<svg"));
}
