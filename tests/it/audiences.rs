//! Links with an audience: only addresses proven by a code mailed to them (through
//! a real SMTP conversation) open the link; nothing is counted before.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::common::{assert_error, assert_invalid, read_body, Backend, TestApp};
use crate::mail::{next_mail, smtp_sink, Mail};
use crate::web::Browser;
use crate::webhooks::Receiver;

/// The owner's address: mails about views go there.
const OWNER: &str = "alice@example.com";

/// Each test on SQLite and on PostgreSQL, with mail going to a sink the test reads.
macro_rules! audience_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(setup) = super::Setup::spawn($crate::common::Backend::Sqlite).await {
                    super::$name(setup).await
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(setup) = super::Setup::spawn($crate::common::Backend::Postgres).await {
                    super::$name(setup).await
                }
            }
        }
    )*};
}

audience_tests!(
    bad_audiences_change_nothing,
    unverified_views_count_nothing,
    members_verify_by_mail_and_their_address_is_carried,
    five_wrong_codes_kill_the_code,
    expired_codes_do_not_work,
    tokens_prove_an_address_for_one_link_only,
    domains_admit_their_addresses,
    a_one_view_link_is_spent_only_by_a_verified_view,
    browsers_verify_with_forms_and_a_session_cookie,
    opening_a_link_to_anyone_holds_on_the_next_view,
);

/// An owner who opens a link to anyone is obeyed on the very next view, also after
/// viewers were turned away on this instance.
async fn opening_a_link_to_anyone_holds_on_the_next_view(s: Setup) {
    let link = s.link(json!({"type": "emails", "emails": ["zed@example.com"]}), json!({})).await;
    for _ in 0..2 {
        let (status, body) = s.view(&link, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_error(&body, "VERIFICATION_REQUIRED");
    }
    let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    let (status, body) = s.app.patch(&path, json!({"audience": {"type": "anyone"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.view(&link, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.view_count(&link).await, 1);
}

struct Setup {
    app: TestApp,
    inbox: mpsc::UnboundedReceiver<Mail>,
}

impl Setup {
    async fn spawn(backend: Backend) -> Option<Setup> {
        let (smtp, inbox) = smtp_sink().await;
        let app = TestApp::spawn_with(backend, move |s| {
            s.smtp_url = Some(smtp);
            s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
            s.webhook_retry_base = Duration::from_millis(50);
        })
        .await?;
        Some(Setup { app, inbox })
    }

    /// A link to a finished task for `audience`, with `extra` fields.
    async fn link(&self, audience: Value, extra: Value) -> Value {
        let task = self.app.finished_task("t").await;
        let mut body = json!({"title": "Audit", "audience": audience});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.app.share(&task, body).await
    }

    async fn post(&self, url: &str, body: Value) -> (StatusCode, Value) {
        let response = self.app.client.post(url).json(&body).send().await.unwrap();
        let status = response.status();
        (status, serde_json::from_slice(&read_body(response).await).unwrap_or(Value::Null))
    }

    async fn ask_code(&self, link: &Value, email: &str) -> (StatusCode, Value) {
        let url = format!("{}/verification", link["url"].as_str().unwrap());
        self.post(&url, json!({"email": email})).await
    }

    async fn confirm(&self, link: &Value, email: &str, code: &str) -> (StatusCode, Value) {
        let url = format!("{}/verification/confirm", link["url"].as_str().unwrap());
        self.post(&url, json!({"email": email, "code": code})).await
    }

    /// The next mail to anyone but the owner (who is told of views), which must go
    /// to `to`, and the code it carries.
    async fn code_for(&mut self, to: &str) -> String {
        let mail = loop {
            let mail = next_mail(&mut self.inbox).await;
            if mail.to != OWNER {
                break mail;
            }
        };
        assert_eq!(mail.to, to, "{}", mail.data);
        code_in(&mail)
    }

    /// Whether anyone but the owner was mailed and not yet read.
    fn mailed_others(&mut self) -> bool {
        std::iter::from_fn(|| self.inbox.try_recv().ok()).any(|mail| mail.to != OWNER)
    }

    /// A member's viewer token, through the mail.
    async fn verified(&mut self, link: &Value, email: &str) -> String {
        assert_eq!(self.ask_code(link, email).await.0, StatusCode::ACCEPTED);
        let code = self.code_for(email).await;
        let (status, body) = self.confirm(link, email, &code).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["viewer_token"].as_str().unwrap().to_owned()
    }

    async fn view(&self, link: &Value, viewer: Option<&str>, password: Option<&str>) -> (StatusCode, Value) {
        let mut request =
            self.app.client.get(link["url"].as_str().unwrap()).header("accept", "application/json");
        if let Some(viewer) = viewer {
            request = request.header("x-share-viewer", viewer);
        }
        if let Some(password) = password {
            request = request.header("x-share-password", password);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, serde_json::from_slice(&read_body(response).await).unwrap_or(Value::Null))
    }

    async fn view_count(&self, link: &Value) -> i64 {
        let (_, body) =
            self.app.get(&format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap())).await;
        body["data"]["view_count"].as_i64().unwrap()
    }
}

fn code_in(mail: &Mail) -> String {
    mail.text()
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a code in {}", mail.data))
        .to_owned()
}

/// A six-digit code that is not `code`.
fn other_than(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

async fn bad_audiences_change_nothing(s: Setup) {
    let app = &s.app;
    let task = app.finished_task("t").await;
    let many: Vec<String> = (0..101).map(|i| format!("p{i}@example.com")).collect();
    for (audience, field) in [
        (
            json!({"type": "emails", "emails": ["a@b.co", "c@d.co", "not an address"]}),
            Some("audience.emails[2]"),
        ),
        (json!({"type": "domains", "domains": ["example.com", "bad domain"]}), Some("audience.domains[1]")),
        (json!({"type": "emails", "emails": many}), Some("audience.emails")),
        (json!({"type": "emails", "emails": []}), Some("audience.emails")),
        (json!({"type": "everyone"}), None),
    ] {
        let (status, body) =
            app.post("/v1/share-links", json!({"task_id": task, "audience": audience})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        match field {
            Some(field) => assert_invalid(&body, field),
            None => assert_error(&body, "INVALID_REQUEST"),
        }
    }
    let (_, list) = app.get("/v1/share-links").await;
    assert_eq!(list["data"]["share_links"].as_array().map(Vec::len), Some(0), "{list}");

    let link = app
        .share(
            &task,
            json!({"audience": {"type": "emails", "emails": ["Ana@Example.COM", "ana@example.com"]}}),
        )
        .await;
    assert_eq!(link["audience"], json!({"type": "emails", "emails": ["ana@example.com"]}));
    let path = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    let (status, body) = app
        .patch(
            &path,
            json!({"title": "New", "audience": {"type": "domains", "domains": ["ok.com", "-no.com"]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "audience.domains[1]");
    let (_, now) = app.get(&path).await;
    assert_eq!(now["data"]["audience"], link["audience"], "a refused change changes nothing");
    assert_eq!(now["data"]["title"], link["title"]);
    let (status, body) = app.patch(&path, json!({"audience": {"type": "anyone"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["audience"], json!({"type": "anyone"}));
    let open = app.share(&task, json!({})).await;
    assert_eq!(open["audience"], json!({"type": "anyone"}), "anyone by default");
}

async fn unverified_views_count_nothing(s: Setup) {
    let mut receiver = Receiver::start().await;
    s.app
        .post(
            "/v1/webhooks",
            json!({"url": receiver.url, "events": ["share_link.viewed", "share_link.created"]}),
        )
        .await;
    let link = s
        .link(json!({"type": "emails", "emails": ["ana@example.com"]}), json!({"notify_on_view": true}))
        .await;
    let created: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    assert_eq!(created["event"], "share_link.created");
    for viewer in [None, Some("1.YW5hQGV4YW1wbGUuY29t.forged")] {
        let (status, body) = s.view(&link, viewer, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_error(&body, "VERIFICATION_REQUIRED");
    }
    let markdown = s.app.client.get(format!("{}.md", link["url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(markdown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(s.view_count(&link).await, 0, "nothing is counted");
    let analytics =
        s.app.get(&format!("/v1/share-links/{}/analytics", link["share_link_id"].as_str().unwrap())).await.1;
    assert_eq!(analytics["data"]["total_views"], 0, "{analytics}");
    // A viewer who verifies is counted, and theirs is the first notification.
    let mut s = s;
    let token = s.verified(&link, "ana@example.com").await;
    assert_eq!(s.view(&link, Some(&token), None).await.0, StatusCode::OK);
    let viewed: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    assert_eq!(viewed["view_count"], 1, "no earlier view was notified: {viewed}");
}

async fn members_verify_by_mail_and_their_address_is_carried(mut s: Setup) {
    let mut receiver = Receiver::start().await;
    s.app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["share_link.viewed"]})).await;
    let link = s
        .link(
            json!({"type": "emails", "emails": ["ana@example.com"]}),
            json!({"notify_on_view": true, "password": "letmein123"}),
        )
        .await;
    // A stranger is answered like a member, and mailed nothing: the member's
    // mail, asked for after, is the first to arrive.
    let (status, stranger) = s.ask_code(&link, "eve@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{stranger}");
    let (status, member) = s.ask_code(&link, "ANA@example.com").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(stranger, member, "the answer tells nobody who is in the audience");
    let code = s.code_for("ana@example.com").await;
    let (status, body) = s.ask_code(&link, "not an address").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "email");

    let (status, body) = s.confirm(&link, "eve@example.com", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code proves only its address");
    assert_error(&body, "VERIFICATION_FAILED");
    let (status, body) = s.confirm(&link, "ana@example.com", &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["data"]["viewer_token"].as_str().unwrap().to_owned();
    let (status, body) = s.confirm(&link, "ana@example.com", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a code works once: {body}");

    let (status, body) = s.view(&link, Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the password is still needed");
    assert_error(&body, "PASSWORD_REQUIRED");
    let (status, body) = s.view(&link, Some(&token), Some("letmein123")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["view_count"], 1);
    let viewed: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    assert_eq!(viewed["event"], "share_link.viewed");
    assert_eq!(viewed["viewer_email"], "ana@example.com", "{viewed}");
    let analytics =
        s.app.get(&format!("/v1/share-links/{}/analytics", link["share_link_id"].as_str().unwrap())).await.1;
    assert_eq!(
        analytics["data"]["viewers"],
        json!([{"value": "ana@example.com", "views": 1}]),
        "{analytics}"
    );
    let stored = s
        .app
        .sql_i64(&format!(
            "SELECT COUNT(*) FROM share_link_views WHERE share_link_id = '{}' AND viewer_email = 'ana@example.com'",
            link["share_link_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(stored, 1);
    // The activity log has the code sent, the address verified and the view, each
    // with the address (entries are written in the background: read until they are).
    let path = format!("/v1/share-links/{}/activity", link["share_link_id"].as_str().unwrap());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let logged = loop {
        let (_, log) = s.app.get(&path).await;
        let entries: Vec<(String, String)> = log["data"]["activity"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["email"] == "ana@example.com")
            .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["email"].as_str().unwrap().to_owned()))
            .collect();
        let kinds: Vec<&str> = entries.iter().map(|(kind, _)| kind.as_str()).collect();
        if ["verification_sent", "verification_succeeded", "revealed"].iter().all(|k| kinds.contains(k)) {
            break kinds.len();
        }
        assert!(tokio::time::Instant::now() < deadline, "the log has no verification entries: {log}");
        // Polled until it holds (or the deadline passes), not waited for blindly.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(logged >= 3);

    // Links anyone may open say nothing of addresses.
    let open = s.link(json!({"type": "anyone"}), json!({"notify_on_view": true})).await;
    assert_eq!(s.view(&open, None, None).await.0, StatusCode::OK);
    let viewed: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    assert_eq!(viewed["share_link_id"], open["share_link_id"]);
    assert_eq!(viewed["viewer_email"], Value::Null);
    let (status, body) = s.ask_code(&open, "ana@example.com").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "links anyone may open take no codes: {body}");

    // A barrier for the stranger's request, made long before: another member mail
    // arrives, and every mail so far went to the member.
    assert_eq!(s.ask_code(&link, "ana@example.com").await.0, StatusCode::ACCEPTED);
    s.code_for("ana@example.com").await;
    assert!(!s.mailed_others(), "nobody else was mailed");
}

async fn five_wrong_codes_kill_the_code(mut s: Setup) {
    let link = s.link(json!({"type": "emails", "emails": ["ana@example.com"]}), json!({})).await;
    assert_eq!(s.ask_code(&link, "ana@example.com").await.0, StatusCode::ACCEPTED);
    let code = s.code_for("ana@example.com").await;
    for _ in 0..5 {
        let (status, body) = s.confirm(&link, "ana@example.com", &other_than(&code)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_error(&body, "VERIFICATION_FAILED");
    }
    let (status, body) = s.confirm(&link, "ana@example.com", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the code is dead after 5 wrong tries: {body}");
    assert_error(&body, "VERIFICATION_FAILED");
    let (status, body) = s.confirm(&link, "ana@example.com", "12ab56").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "code");
    // A new request replaces the dead code.
    assert_eq!(s.ask_code(&link, "ana@example.com").await.0, StatusCode::ACCEPTED);
    let fresh = s.code_for("ana@example.com").await;
    let (status, body) = s.confirm(&link, "ana@example.com", &fresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn expired_codes_do_not_work(mut s: Setup) {
    let link = s.link(json!({"type": "emails", "emails": ["ana@example.com"]}), json!({})).await;
    assert_eq!(s.ask_code(&link, "ana@example.com").await.0, StatusCode::ACCEPTED);
    let code = s.code_for("ana@example.com").await;
    s.app.sql("UPDATE link_verifications SET expires_at = 1").await;
    let (status, body) = s.confirm(&link, "ana@example.com", &code).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error(&body, "VERIFICATION_FAILED");
    assert_eq!(s.view_count(&link).await, 0);
}

async fn tokens_prove_an_address_for_one_link_only(mut s: Setup) {
    let audience = json!({"type": "emails", "emails": ["ana@example.com"]});
    let first = s.link(audience.clone(), json!({})).await;
    let second = s.link(audience, json!({})).await;
    let token = s.verified(&first, "ana@example.com").await;
    let (status, body) = s.view(&second, Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error(&body, "VERIFICATION_REQUIRED");
    assert_eq!(s.view_count(&second).await, 0);
    assert_eq!(s.view(&first, Some(&token), None).await.0, StatusCode::OK);
    // An address the owner takes out of the audience no longer opens the link.
    let path = format!("/v1/share-links/{}", first["share_link_id"].as_str().unwrap());
    let (status, _) =
        s.app.patch(&path, json!({"audience": {"type": "emails", "emails": ["bo@example.com"]}})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = s.view(&first, Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error(&body, "VERIFICATION_REQUIRED");
}

async fn domains_admit_their_addresses(mut s: Setup) {
    let link = s.link(json!({"type": "domains", "domains": ["Example.ORG"]}), json!({})).await;
    assert_eq!(link["audience"], json!({"type": "domains", "domains": ["example.org"]}));
    assert_eq!(s.ask_code(&link, "eve@example.org.evil.io").await.0, StatusCode::ACCEPTED);
    assert_eq!(s.ask_code(&link, "eve@sub.example.org").await.0, StatusCode::ACCEPTED);
    let token = s.verified(&link, "bo@example.org").await;
    assert!(!s.mailed_others(), "only the member was mailed");
    let (status, body) = s.view(&link, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(s.ask_code(&link, "bo@example.org").await.0, StatusCode::ACCEPTED);
    s.code_for("bo@example.org").await;
    assert!(!s.mailed_others(), "nobody else was mailed");
}

async fn a_one_view_link_is_spent_only_by_a_verified_view(mut s: Setup) {
    let link =
        s.link(json!({"type": "emails", "emails": ["ana@example.com"]}), json!({"max_views": 1})).await;
    for _ in 0..3 {
        assert_eq!(s.view(&link, None, None).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(s.view_count(&link).await, 0);
    let token = s.verified(&link, "ana@example.com").await;
    let (status, body) = s.view(&link, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["views_remaining"], 0);
    let (status, _) = s.view(&link, Some(&token), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the one view is spent");
}

async fn browsers_verify_with_forms_and_a_session_cookie(mut s: Setup) {
    let link = s
        .link(json!({"type": "emails", "emails": ["ana@example.com"]}), json!({"title": "<b>Audit</b>"}))
        .await;
    let path = link["url"].as_str().unwrap().strip_prefix(&s.app.base).unwrap().to_owned();
    let mut browser = Browser::new();
    let form = browser.get(&s.app, &path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Enter your e-mail address"), "{}", form.body);
    assert!(!form.body.contains("The bug is gone"), "nothing of the link before verification");
    let csrf = form.csrf();
    let forged = browser.post(&s.app, &format!("{path}/verification"), &[("email", "ana@example.com")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "the form needs its anti-forgery token");
    assert!(!s.mailed_others());

    let refused =
        browser.post(&s.app, &format!("{path}/verification"), &[("email", "nobody"), ("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("valid e-mail address"), "{}", refused.body);
    // A stranger gets the code form too (and no mail); what they typed is escaped.
    let typed = "<i>eve@example.com</i>";
    let stranger =
        browser.post(&s.app, &format!("{path}/verification"), &[("email", typed), ("csrf", &csrf)]).await;
    assert_eq!(stranger.status, StatusCode::OK);
    assert!(stranger.body.contains("Enter your code"), "{}", stranger.body);
    assert!(
        stranger.body.contains("eve@example.com") && !stranger.body.contains("<i>eve"),
        "{}",
        stranger.body
    );

    let code_form = browser
        .post(&s.app, &format!("{path}/verification"), &[("email", "ana@example.com"), ("csrf", &csrf)])
        .await;
    assert_eq!(code_form.status, StatusCode::OK, "{}", code_form.body);
    assert!(code_form.body.contains("Enter your code"), "{}", code_form.body);
    let code = s.code_for("ana@example.com").await;
    let csrf = code_form.csrf();
    let wrong = browser
        .post(
            &s.app,
            &format!("{path}/verification/confirm"),
            &[("email", "ana@example.com"), ("code", &other_than(&code)), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not correct"), "{}", wrong.body);
    let done = browser
        .post(
            &s.app,
            &format!("{path}/verification/confirm"),
            &[("email", "ana@example.com"), ("code", &code), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), path);
    let (_, _, attributes) = browser.cookies.get("agentshare_audience").expect("the viewer token is kept");
    let lower = attributes.to_ascii_lowercase();
    assert!(lower.contains("httponly") && lower.contains("samesite=lax"), "{attributes}");
    assert!(lower.contains(&format!("path={}", path.to_ascii_lowercase())), "{attributes}");
    assert!(!lower.contains("max-age") && !lower.contains("expires"), "a session cookie: {attributes}");

    let page = browser.get(&s.app, &path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("The bug is gone"), "{}", page.body);
    assert!(page.body.contains("Audit") && !page.body.contains("<b>Audit"), "titles are escaped");
    assert_eq!(s.view_count(&link).await, 1);

    // Link previewers get the card that names nothing.
    let card = s
        .app
        .client
        .get(link["url"].as_str().unwrap())
        .header("user-agent", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)")
        .send()
        .await
        .unwrap();
    let card = crate::common::read_text(card).await;
    assert!(!card.contains("Audit") && card.contains("A shared agent run"), "{card}");
}
