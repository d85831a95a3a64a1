//! The activity log of a share link: what viewers did, in order, from the owner
//! API (pages and CSV), bounded against floods, private to the link's owner, and
//! gone with the link.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, assert_invalid, read_text, TestApp};

backend_tests!(
    configure = crate::common::behind_proxy;
    a_viewers_actions_appear_in_the_log_in_order,
    pages_of_the_log_hold_every_entry_once,
    the_csv_holds_the_log_and_defuses_formulas,
    a_flood_of_wrong_passwords_makes_one_entry_a_minute,
    only_the_owner_reads_a_links_activity,
    the_log_goes_with_its_link,
    a_log_that_cannot_be_written_changes_no_answer,
);

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
/// A file name a spreadsheet would take for a formula.
const HOSTILE_FILE: &str = "=SUM(A1,\"x\").txt";
const PASSWORD: &str = "correct horse";
/// How long the log may take to show what happened.
const DEADLINE: Duration = Duration::from_secs(20);

/// A viewer: an address (through the trusted proxy) and a browser.
#[derive(Clone, Copy)]
struct Viewer {
    ip: &'static str,
    agent: &'static str,
}

const ALICE_DESK: Viewer = Viewer { ip: "203.0.113.7", agent: FIREFOX };
const MALLORY_PHONE: Viewer = Viewer { ip: "198.51.100.23", agent: IPHONE };

impl Viewer {
    fn get(&self, app: &TestApp, url: &str) -> reqwest::RequestBuilder {
        app.client.get(url).header("x-forwarded-for", self.ip).header("user-agent", self.agent)
    }

    /// Opens `url` as a JSON client, with `password` if any.
    async fn open(&self, app: &TestApp, url: &str, password: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.get(app, url).header("accept", "application/json");
        if let Some(password) = password {
            request = request.header("x-share-password", password);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, serde_json::from_str(&read_text(response).await).unwrap_or(Value::Null))
    }

    /// GETs `url` and reads the whole answer; answers its status.
    async fn fetch(&self, app: &TestApp, url: &str) -> StatusCode {
        let response = self.get(app, url).send().await.unwrap();
        let status = response.status();
        read_text(response).await;
        status
    }
}

/// A finished task with an output and two files: `report.txt` and [`HOSTILE_FILE`].
async fn task_with_files(app: &TestApp) -> String {
    let task = app.create_task("activity").await;
    let (status, body) = app
        .post(
            &format!("/v1/tasks/{task}/events"),
            json!({"type": "output", "name": "Summary", "content": "done"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for name in ["report.txt", HOSTILE_FILE] {
        let response = app
            .client
            .post(app.url(&format!("/v1/tasks/{task}/artifacts")))
            .query(&[("name", name)])
            .bearer_auth(&app.key)
            .header("content-type", "text/plain")
            .body("the report")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{}", read_text(response).await);
    }
    let (status, body) = app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    task
}

/// Every entry of the log, newest first, read in pages of `limit`.
async fn whole_log(app: &TestApp, id: &str, limit: u32) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut path = format!("/v1/share-links/{id}/activity?limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, body) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["success"], true, "{body}");
        let page = body["data"]["activity"].as_array().unwrap();
        assert!(page.len() <= limit as usize, "{body}");
        entries.extend(page.iter().cloned());
        assert_eq!(body["data"]["has_more"], body["data"]["next_cursor"].is_string(), "{body}");
        match body["data"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return entries,
        }
    }
    panic!("a thousand pages and no end: the cursor goes round ({} entries so far)", entries.len());
}

/// The log once `done` holds for it (oldest first), within [`DEADLINE`].
async fn log_when(app: &TestApp, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut entries = whole_log(app, id, 200).await;
        entries.reverse();
        if done(&entries) {
            return entries;
        }
        assert!(tokio::time::Instant::now() < deadline, "the log never got there: {entries:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many of `entries` are of `kind`.
fn count(entries: &[Value], kind: &str) -> usize {
    entries.iter().filter(|e| e["kind"] == kind).count()
}

fn minute_now() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() / 60_000
}

async fn a_viewers_actions_appear_in_the_log_in_order(app: TestApp) {
    let task = task_with_files(&app).await;
    let permissions = json!({"allow_download": true, "allow_comments": true});
    let link = app.share(&task, json!({"password": PASSWORD, "permissions": permissions})).await;
    let (id, url) = (link["share_link_id"].as_str().unwrap(), link["url"].as_str().unwrap());
    let seen = |n: usize| move |entries: &[Value]| entries.len() >= n;

    // The page shows the password form: no view spent.
    let status = ALICE_DESK.fetch(&app, url).await;
    assert_eq!(status, StatusCode::OK);
    log_when(&app, id, seen(1)).await;
    let response = app
        .client
        .post(url)
        .header("x-forwarded-for", ALICE_DESK.ip)
        .header("user-agent", ALICE_DESK.agent)
        .form(&[("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    read_text(response).await;
    log_when(&app, id, seen(2)).await;
    let (status, view) = ALICE_DESK.open(&app, url, Some(PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    log_when(&app, id, seen(3)).await;
    let artifacts = view["data"]["artifacts"].as_array().unwrap();
    let hostile = artifacts.iter().find(|a| a["name"] == HOSTILE_FILE).unwrap();
    assert_eq!(ALICE_DESK.fetch(&app, hostile["download_url"].as_str().unwrap()).await, StatusCode::OK);
    log_when(&app, id, seen(4)).await;
    let grant = view["data"]["grant"].as_str().unwrap();
    assert_eq!(ALICE_DESK.fetch(&app, &format!("{url}/artifacts.zip?grant={grant}")).await, StatusCode::OK);
    log_when(&app, id, seen(5)).await;
    let response = app
        .client
        .post(format!("{url}/comments"))
        .header("x-forwarded-for", ALICE_DESK.ip)
        .header("user-agent", ALICE_DESK.agent)
        .json(
            &json!({"name": "Carol", "email": "carol@example.org", "content": "Looks good", "grant": grant}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let comment: Value = serde_json::from_str(&read_text(response).await).unwrap();
    let comment_id = comment["data"]["comment_id"].as_str().unwrap().to_owned();
    log_when(&app, id, seen(6)).await;

    // Someone else guesses until refused.
    for _ in 0..5 {
        let (status, body) = MALLORY_PHONE.open(&app, url, Some("guess guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let (status, body) = MALLORY_PHONE.open(&app, url, Some("guess guess")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_error(&body, "TOO_MANY_ATTEMPTS");

    let expected = [
        "opened",
        "password_failed",
        "revealed",
        "downloaded",
        "downloaded",
        "commented",
        "password_failed",
        "refused",
    ];
    let log = log_when(&app, id, |entries| entries.last().is_some_and(|e| e["kind"] == "refused")).await;
    // Wrong passwords from one client are kept once a minute: a minute may have turned.
    let mut collapsed: Vec<&Value> = Vec::new();
    for entry in &log {
        if !collapsed.last().is_some_and(|last| {
            entry["kind"] == "password_failed"
                && last["kind"] == entry["kind"]
                && last["client"] == entry["client"]
        }) {
            collapsed.push(entry);
        }
    }
    let collapsed_kinds: Vec<&str> = collapsed.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(collapsed_kinds, expected, "{log:#?}");

    for (i, entry) in collapsed.iter().enumerate() {
        let (client, agent, browser) = if i < 6 {
            ("203.0.113.0/24", "desktop", "Firefox")
        } else {
            ("198.51.100.0/24", "mobile", "Safari")
        };
        assert_eq!(entry["client"], client, "{entry}");
        assert_eq!(entry["agent"], agent, "{entry}");
        assert_eq!(entry["browser"], browser, "{entry}");
        let at = entry["at"].as_str().unwrap();
        assert!(at.ends_with('Z') && at.len() == "2030-01-01T00:00:00.000Z".len(), "{at}");
        if entry["kind"] != "commented" {
            assert_eq!(entry["email"], Value::Null, "{entry}");
        }
    }
    assert_eq!(collapsed[3]["file"], HOSTILE_FILE);
    assert_eq!(collapsed[4]["file"], "all files (zip)");
    assert_eq!(collapsed[5]["comment_id"], comment_id.as_str());
    assert_eq!(collapsed[5]["email"], Value::Null, "not verified yet");
    let everything = serde_json::to_string(&log).unwrap();
    assert!(
        !everything.contains("203.0.113.7") && !everything.contains("198.51.100.23"),
        "never a full address: {everything}"
    );

    // Once the commenter verifies their address, the entry carries it.
    app.sql(&format!("UPDATE share_link_comments SET verified_at = 1 WHERE comment_id = '{comment_id}'"))
        .await;
    let log = whole_log(&app, id, 200).await;
    let commented = log.iter().find(|e| e["kind"] == "commented").unwrap();
    assert_eq!(commented["email"], "carol@example.org");
}

async fn pages_of_the_log_hold_every_entry_once(app: TestApp) {
    let task = task_with_files(&app).await;
    let link = app.share(&task, json!({})).await;
    let (id, url) = (link["share_link_id"].as_str().unwrap(), link["url"].as_str().unwrap());
    for i in 0..7 {
        let viewer = Viewer { ip: ["192.0.2.1", "192.0.2.2", "203.0.113.9"][i % 3], agent: FIREFOX };
        let (status, view) = viewer.open(&app, url, None).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        if i < 3 {
            let download = view["data"]["artifacts"][0]["download_url"].as_str().unwrap();
            assert_eq!(viewer.fetch(&app, download).await, StatusCode::OK);
        }
    }
    let everything = log_when(&app, id, |entries| entries.len() == 10).await;
    assert_eq!(count(&everything, "revealed"), 7);
    assert_eq!(count(&everything, "downloaded"), 3);
    let mut newest_first = everything.clone();
    newest_first.reverse();

    for limit in [1, 3, 4, 10, 200] {
        let paged = whole_log(&app, id, limit).await;
        assert_eq!(paged, newest_first, "pages of {limit} hold every entry once, newest first");
    }
    let times: Vec<&str> = newest_first.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    let (status, body) = app.get(&format!("/v1/share-links/{id}/activity")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["activity"].as_array().unwrap().len(), 10, "50 by default");
    assert_eq!(body["data"]["next_cursor"], Value::Null);
    assert_eq!(body["data"]["has_more"], false);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=many", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("format=xml", "format"),
    ] {
        let (status, body) = app.get(&format!("/v1/share-links/{id}/activity?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_invalid(&body, field);
    }
}

/// Reads a CSV body into rows of cells (cells here hold no line breaks).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    text.split_terminator("\r\n")
        .map(|line| {
            let mut cells = Vec::new();
            let mut cell = String::new();
            let (mut quoted, mut chars) = (false, line.chars().peekable());
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        chars.next();
                        cell.push('"');
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => cells.push(std::mem::take(&mut cell)),
                    (c, _) => cell.push(c),
                }
            }
            cells.push(cell);
            cells
        })
        .collect()
}

async fn the_csv_holds_the_log_and_defuses_formulas(app: TestApp) {
    let task = task_with_files(&app).await;
    let link = app.share(&task, json!({"password": PASSWORD})).await;
    let (id, url) = (link["share_link_id"].as_str().unwrap(), link["url"].as_str().unwrap());
    let (status, _) = ALICE_DESK.open(&app, url, Some("wrong wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, view) = ALICE_DESK.open(&app, url, Some(PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    for artifact in view["data"]["artifacts"].as_array().unwrap() {
        assert_eq!(ALICE_DESK.fetch(&app, artifact["download_url"].as_str().unwrap()).await, StatusCode::OK);
    }
    let log = log_when(&app, id, |entries| entries.len() == 4).await;

    let response = app
        .client
        .get(app.url(&format!("/v1/share-links/{id}/activity?format=csv")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/csv; charset=utf-8");
    let disposition = header("content-disposition");
    assert!(
        disposition.starts_with(&format!("attachment; filename=\"share-link-{id}-activity.csv\"")),
        "{disposition}"
    );
    let text = read_text(response).await;
    let rows = parse_csv(&text);
    assert_eq!(
        rows[0],
        ["at", "kind", "client", "agent", "browser", "email", "file", "comment_id"],
        "{text}"
    );
    assert_eq!(rows.len(), 1 + log.len(), "{text}");
    for (row, entry) in rows[1..].iter().zip(log.iter().rev()) {
        assert_eq!(row[0], entry["at"].as_str().unwrap(), "{text}");
        assert_eq!(row[1], entry["kind"].as_str().unwrap(), "{text}");
        assert_eq!(row[2], "203.0.113.0/24", "{text}");
        assert_eq!(row[3], "desktop");
        assert_eq!(row[4], "Firefox");
    }
    assert!(
        text.contains("\"'=SUM(A1,\"\"x\"\").txt\""),
        "a formula is quoted, its quotes doubled, and defused with a leading ': {text}"
    );
    assert!(!text.contains(",\"=SUM"), "no cell starts with =: {text}");

    // The CSV of an empty log is its header.
    let quiet = app.share(&task, json!({})).await;
    let response = app
        .client
        .get(app.url(&format!(
            "/v1/share-links/{}/activity?format=csv",
            quiet["share_link_id"].as_str().unwrap()
        )))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        read_text(response).await,
        "\"at\",\"kind\",\"client\",\"agent\",\"browser\",\"email\",\"file\",\"comment_id\"\r\n"
    );
}

async fn a_flood_of_wrong_passwords_makes_one_entry_a_minute(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"password": PASSWORD})).await;
    let (id, url) = (link["share_link_id"].as_str().unwrap(), link["url"].as_str().unwrap());
    let started = minute_now();
    for _ in 0..5 {
        let (status, _) = ALICE_DESK.open(&app, url, Some("guess guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    for _ in 0..10 {
        let (status, _) = ALICE_DESK.open(&app, url, Some("guess guess")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    // Another host of the same /24 is the same client prefix.
    let neighbour = Viewer { ip: "203.0.113.8", agent: FIREFOX };
    for _ in 0..3 {
        let (status, _) = neighbour.open(&app, url, Some("guess guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // A page shown again and again, too.
    for _ in 0..5 {
        assert_eq!(ALICE_DESK.fetch(&app, url).await, StatusCode::OK);
    }
    // Another client's wrong password is its own entry; once it is in, so is the flood.
    let (status, _) = MALLORY_PHONE.open(&app, url, Some("guess guess")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let minutes = (minute_now() - started + 1) as usize;
    let log = log_when(&app, id, |entries| {
        entries.iter().any(|e| e["kind"] == "password_failed" && e["client"] == "198.51.100.0/24")
            && ["refused", "opened"].iter().all(|kind| count(entries, kind) >= 1)
    })
    .await;
    let flood: Vec<Value> = log.iter().filter(|e| e["client"] == "203.0.113.0/24").cloned().collect();
    for kind in ["password_failed", "refused", "opened"] {
        assert!(
            (1..=minutes).contains(&count(&flood, kind)),
            "{kind}: one entry per minute at most ({minutes} minute(s)): {log:#?}"
        );
    }
    let stored =
        app.sql_i64(&format!("SELECT COUNT(*) FROM share_link_activity WHERE share_link_id = '{id}'")).await;
    assert!(stored <= 1 + 3 * minutes as i64, "{stored} rows stored");
}

async fn only_the_owner_reads_a_links_activity(app: TestApp) {
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let (status, _) = ALICE_DESK.open(&app, link["url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    log_when(&app, id, |entries| entries.len() == 1).await;

    let bob = app.new_owner("bob").await;
    for query in ["", "?format=csv", "?limit=5"] {
        let path = format!("/v1/share-links/{id}/activity{query}");
        let (status, body) = app.request_as(Some(&bob), Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_error(&body, "SHARE_LINK_NOT_FOUND");
        let (status, _) = app.request_as(None, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let (status, body) = app.get("/v1/share-links/share_0000000000000000/activity").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "SHARE_LINK_NOT_FOUND");
}

async fn the_log_goes_with_its_link(app: TestApp) {
    let task = task_with_files(&app).await;
    let link = app.share(&task, json!({"password": PASSWORD})).await;
    let (id, url) = (link["share_link_id"].as_str().unwrap(), link["url"].as_str().unwrap());
    let (status, _) = ALICE_DESK.open(&app, url, Some("wrong wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = ALICE_DESK.open(&app, url, Some(PASSWORD)).await;
    assert_eq!(status, StatusCode::OK);
    log_when(&app, id, |entries| entries.len() == 2).await;
    let rows = format!("SELECT COUNT(*) FROM share_link_activity WHERE share_link_id = '{id}'");
    assert_eq!(app.sql_i64(&rows).await, 1);

    app.sql(&format!("DELETE FROM share_links WHERE share_link_id = '{id}'")).await;
    assert_eq!(app.sql_i64(&rows).await, 0, "the link's activity is deleted with it");
    let (status, _) = app.get(&format!("/v1/share-links/{id}/activity")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_log_that_cannot_be_written_changes_no_answer(app: TestApp) {
    let task = task_with_files(&app).await;
    let link = app.share(&task, json!({"password": PASSWORD})).await;
    let url = link["url"].as_str().unwrap();
    app.sql("DROP TABLE share_link_activity").await;

    assert_eq!(ALICE_DESK.fetch(&app, url).await, StatusCode::OK, "the password page");
    let (status, body) = ALICE_DESK.open(&app, url, Some("wrong wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_error(&body, "INVALID_PASSWORD");
    let (status, view) = ALICE_DESK.open(&app, url, Some(PASSWORD)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let download = view["data"]["artifacts"][0]["download_url"].as_str().unwrap();
    assert_eq!(ALICE_DESK.fetch(&app, download).await, StatusCode::OK);
}
