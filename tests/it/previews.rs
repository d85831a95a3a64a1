//! Link previews: the Open Graph and Twitter card of a share link's page, and link
//! previewers and crawlers, which never spend a view, count or notify.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::TestApp;
use crate::mail::{next_mail, smtp_sink};
use crate::webhooks::Receiver;

/// The user agents of the link previewers and crawlers the documentation names.
pub const PREVIEWERS: &[&str] = &[
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Facebot/1.0; +https://developers.facebook.com/docs/sharing/webmasters/crawler)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
    "Iframely/1.3.1 (+https://iframely.com/docs/about)",
    "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
    "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
    "http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/)",
    "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
    "Mozilla/5.0 (compatible; vkShare; +http://vk.com/dev/Share)",
    "W3C_Validator/1.3 http://validator.w3.org/services",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
];

/// A person's browser.
pub const BROWSER: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

const GENERIC_TITLE: &str = "A shared agent run — agentshare";
const GENERIC_DESCRIPTION: &str = "Open the link to see it.";

/// A GitHub token as agents print it; masked in what viewers see.
pub const GITHUB_TOKEN: &str = "ghp_R2d2C3poL8kE9wQ1zX7vB4nM6tY0uI5oPaSd";

/// The `content` of the `<meta>` tag whose `property` or `name` is `key`.
pub fn meta(html: &str, key: &str) -> Option<String> {
    ["property", "name"].iter().find_map(|attr| {
        let marker = format!("<meta {attr}=\"{key}\" content=\"");
        let start = html.find(&marker)? + marker.len();
        Some(html[start..].split('"').next()?.to_owned())
    })
}

/// Every `<meta>` tag of `html`, as written.
fn meta_tags(html: &str) -> Vec<&str> {
    html.match_indices("<meta ").filter_map(|(i, _)| html[i..].split_once('>').map(|(tag, _)| tag)).collect()
}

/// Asserts `html` carries the card that names nothing, and nothing of `title`.
#[track_caller]
fn assert_generic_card(html: &str, title: &str) {
    assert_eq!(meta(html, "og:title").as_deref(), Some(GENERIC_TITLE), "{html}");
    assert_eq!(meta(html, "twitter:title").as_deref(), Some(GENERIC_TITLE), "{html}");
    assert_eq!(meta(html, "og:description").as_deref(), Some(GENERIC_DESCRIPTION), "{html}");
    assert_eq!(meta(html, "twitter:description").as_deref(), Some(GENERIC_DESCRIPTION), "{html}");
    assert_eq!(meta(html, "twitter:card").as_deref(), Some("summary"), "{html}");
    assert!(!html.contains(title), "the card names nothing: {html}");
    assert!(!html.contains("The bug is gone"), "no output: {html}");
}

fn settings(s: &mut agentshare::config::Settings) {
    s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
    s.webhook_retry_base = Duration::from_millis(50);
}

macro_rules! preview_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::common::Backend::Postgres).await
            }
        }
    )*};
}

preview_tests!(
    previewers_never_spend_count_or_notify,
    public_links_preview_their_title_and_a_masked_summary,
    other_links_preview_a_card_that_names_nothing,
);

async fn get(app: &TestApp, url: &str, agent: &str, accept: Option<&str>) -> (StatusCode, String) {
    let mut request = app.client.get(url).header("user-agent", agent);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn previewers_never_spend_count_or_notify(backend: crate::common::Backend) {
    let (smtp, mut inbox) = smtp_sink().await;
    let Some(app) = TestApp::spawn_with(backend, move |s| {
        settings(s);
        s.smtp_url = Some(smtp);
    })
    .await
    else {
        return;
    };
    let mut receiver = Receiver::start().await;
    let (status, body) =
        app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["share_link.viewed"]})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let task = app.finished_task("t").await;
    let once =
        app.share(&task, json!({"title": "Quarterly numbers", "max_views": 1, "notify_on_view": true})).await;
    let public = app.share(&task, json!({"title": "Open results", "notify_on_view": true})).await;
    let once_url = once["url"].as_str().unwrap();
    let public_url = public["url"].as_str().unwrap();

    for agent in PREVIEWERS {
        let (status, html) = get(&app, once_url, agent, None).await;
        assert_eq!(status, StatusCode::OK, "{agent}: previews unfurl");
        assert_generic_card(&html, "Quarterly numbers");
        assert!(!html.contains("Reveal"), "{agent}: a card, not the interstitial: {html}");
        let (status, body) = get(&app, once_url, agent, Some("application/json")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{agent}: {body}");
        crate::common::assert_error(&serde_json::from_str(&body).unwrap(), "PREVIEW_ONLY");
        let posted = app.client.post(once_url).header("user-agent", *agent).form(&[("reveal", "1")]);
        let response = posted.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{agent}: a previewer reveals nothing");
        assert!(!response.text().await.unwrap().contains("The bug is gone"));

        let (status, html) = get(&app, public_url, agent, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(meta(&html, "og:title").as_deref(), Some("Open results"), "{agent}: {html}");
        assert!(
            !html.contains("class=\"outputs\"") && !html.contains("Patch"),
            "a card, not the outputs: {html}"
        );
        let (status, body) = get(&app, public_url, agent, Some("application/json")).await;
        assert_eq!(status, StatusCode::OK, "{agent}: {body}");
        let view: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(view["data"]["view_count"], 0, "{agent}: not counted");
        assert_eq!(view["data"]["outputs"][0]["name"], "Summary");
    }

    for link in [&once, &public] {
        let id = link["share_link_id"].as_str().unwrap();
        let (_, got) = app.get(&format!("/v1/share-links/{id}")).await;
        assert_eq!(got["data"]["view_count"], 0, "{got}");
        assert_eq!(got["data"]["status"], "active");
        let (_, analytics) = app.get(&format!("/v1/share-links/{id}/analytics")).await;
        assert_eq!(analytics["data"]["total_views"], 0, "{analytics}");
    }
    let events =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.viewed'").await;
    assert_eq!(events, 0, "no notification was written");
    assert_eq!(app.sql_i64("SELECT COUNT(*) FROM view_mail").await, 0, "no mail is due");

    // A person opens the one-time link: the first notifications are of their view.
    let response = app
        .client
        .post(once_url)
        .header("user-agent", BROWSER)
        .form(&[("reveal", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("The bug is gone"), "the person sees the outputs");
    let delivery: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    assert_eq!(delivery["share_link_id"], once["share_link_id"]);
    assert_eq!(delivery["viewer"]["user_agent"], BROWSER);
    assert_eq!(delivery["view_count"], 1);
    let mail = next_mail(&mut inbox).await;
    assert!(mail.text().contains("Views so far: 1"), "{}", mail.data);
    let (status, _) = app.view(once_url, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "one view, spent by the person");
}

async fn public_links_preview_their_title_and_a_masked_summary(backend: crate::common::Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let task = app.create_task("t").await;
    let content = format!(
        "# Deployed\n\nThe **release** went out with [the token]({GITHUB_TOKEN}) `{GITHUB_TOKEN}`.\n\n{}",
        "More words. ".repeat(40)
    );
    for event in [
        json!({"type": "output", "name": "Summary", "content": content}),
        json!({"type": "output", "name": "Second", "content": "Not the first output"}),
    ] {
        let (status, body) = app.post(&format!("/v1/tasks/{task}/events"), event).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    let link = app.share(&task, json!({"title": "Release 4.2 <notes>"})).await;
    let url = link["url"].as_str().unwrap();

    let (status, preview) = get(&app, url, "Twitterbot/1.0", None).await;
    assert_eq!(status, StatusCode::OK);
    // What a person's browser shows carries the same card.
    let (status, page) = get(&app, url, BROWSER, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Not the first output"), "the page itself");
    for html in [&preview, &page] {
        assert_eq!(meta(html, "og:title").as_deref(), Some("Release 4.2 &#60;notes&#62;"), "escaped: {html}");
        assert_eq!(meta(html, "twitter:title"), meta(html, "og:title"));
        assert_eq!(meta(html, "og:type").as_deref(), Some("website"));
        assert_eq!(meta(html, "og:site_name").as_deref(), Some("agentshare"));
        assert_eq!(meta(html, "twitter:card").as_deref(), Some("summary"));
        let description = meta(html, "og:description").unwrap();
        assert_eq!(meta(html, "twitter:description").as_deref(), Some(description.as_str()));
        assert!(
            description.starts_with("Deployed The release went out with the token ghp_"),
            "{description}"
        );
        assert!(!description.contains('*') && !description.contains('#') && !description.contains('`'));
        assert!(description.chars().count() <= 200 && description.ends_with('…'), "{description}");
        for tag in meta_tags(html) {
            assert!(!tag.contains(GITHUB_TOKEN), "masked in every tag: {tag}");
        }
        assert!(meta(html, "og:url").is_none(), "no URL beyond the one asked for");
    }
    assert!(!preview.contains(GITHUB_TOKEN) && !preview.contains("Not the first output"), "{preview}");

    let unmasked = app.share(&task, json!({"mask_secrets": false})).await;
    let (_, html) = get(&app, unmasked["url"].as_str().unwrap(), "Discordbot/2.0", None).await;
    assert!(meta(&html, "og:description").unwrap().contains(GITHUB_TOKEN), "shown as the link shows it");
}

async fn other_links_preview_a_card_that_names_nothing(backend: crate::common::Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let task = app.finished_task("t").await;
    let protected = app.share(&task, json!({"title": "Protected plan", "password": "securepass123"})).await;
    let limited = app.share(&task, json!({"title": "Limited plan", "max_views": 5})).await;
    let revoked = app.share(&task, json!({"title": "Revoked plan"})).await;
    let expired = app.share(&task, json!({"title": "Expired plan"})).await;
    let id = revoked["share_link_id"].as_str().unwrap();
    let (status, _) = app.request(Method::DELETE, &format!("/v1/share-links/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let id = expired["share_link_id"].as_str().unwrap();
    app.sql(&format!("UPDATE share_links SET expires_at = 1000 WHERE share_link_id = '{id}'")).await;
    let unknown = format!("{}/s/{}", app.base, "A".repeat(43));

    let cases = [
        (protected["url"].as_str().unwrap(), "Protected plan", StatusCode::OK),
        (limited["url"].as_str().unwrap(), "Limited plan", StatusCode::OK),
        (revoked["url"].as_str().unwrap(), "Revoked plan", StatusCode::NOT_FOUND),
        (expired["url"].as_str().unwrap(), "Expired plan", StatusCode::NOT_FOUND),
        (unknown.as_str(), "plan", StatusCode::NOT_FOUND),
    ];
    for (url, title, status) in cases {
        let (got, html) = get(&app, url, "facebookexternalhit/1.1", None).await;
        assert_eq!(got, status, "{title}");
        assert_generic_card(&html, title);
        // People's browsers get the same card on the password, Reveal and gone pages.
        let (_, html) = get(&app, url, BROWSER, None).await;
        assert_eq!(meta(&html, "og:title").as_deref(), Some(GENERIC_TITLE), "{title}: {html}");
        assert_eq!(meta(&html, "og:description").as_deref(), Some(GENERIC_DESCRIPTION));
        for tag in meta_tags(&html) {
            assert!(!tag.contains(title), "{tag}");
        }
    }
    let response = app
        .client
        .get(protected["url"].as_str().unwrap())
        .header("user-agent", "Slackbot 1.0")
        .header("accept", "application/json")
        .header("x-share-password", "not-the-password")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    crate::common::assert_error(&response.json().await.unwrap(), "PASSWORD_REQUIRED");
    let id = protected["share_link_id"].as_str().unwrap();
    let attempts = app
        .sql_i64(&format!("SELECT COUNT(*) FROM share_link_password_attempts WHERE share_link_id = '{id}'"))
        .await;
    assert_eq!(attempts, 0, "a previewer tries no password");

    // After a password unlock, the page keeps the card that names nothing.
    let response = app
        .client
        .post(protected["url"].as_str().unwrap())
        .header("user-agent", BROWSER)
        .form(&[("password", "securepass123")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("The bug is gone"));
    assert_eq!(meta(&html, "og:title").as_deref(), Some(GENERIC_TITLE), "{html}");
}
