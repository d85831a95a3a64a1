//! View emails through a real SMTP conversation with a sink started by the test,
//! and GeoIP locations from a MaxMind-format database.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

use crate::common::{Backend, TestApp};

/// A message the sink accepted.
#[derive(Debug)]
pub struct Mail {
    pub to: String,
    pub data: String,
}

impl Mail {
    /// The message with quoted-printable encoding undone (soft line breaks joined,
    /// `=XX` escapes decoded), as a mail client would show it.
    pub fn text(&self) -> String {
        let joined = self.data.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let escape = (bytes[i] == b'=' && i + 2 < bytes.len())
                .then(|| {
                    u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16).ok()
                })
                .flatten();
            match escape {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A minimal SMTP server that accepts every message.
pub async fn smtp_sink() -> (String, mpsc::UnboundedReceiver<Mail>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.ok();
                let (mut to, mut data, mut in_data) = (String::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            let _ = tx
                                .send(Mail { to: std::mem::take(&mut to), data: std::mem::take(&mut data) });
                            write.write_all(b"250 queued\r\n").await.ok();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to = line[8..].trim().trim_matches(['<', '>']).to_owned();
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.ok();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.ok();
                }
            });
        }
    });
    (url, rx)
}

pub async fn next_mail(rx: &mut mpsc::UnboundedReceiver<Mail>) -> Mail {
    tokio::time::timeout(Duration::from_secs(30), rx.recv()).await.expect("a mail arrives").unwrap()
}

async fn views_are_mailed_to_the_owner_without_flooding(backend: Backend) {
    let (url, mut inbox) = smtp_sink().await;
    let Some(app) = TestApp::spawn_with(backend, move |s| {
        s.smtp_url = Some(url);
        s.view_mail_interval = Duration::from_secs(1);
    })
    .await
    else {
        return;
    };
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"title": "Audit results", "notify_on_view": true})).await;
    let quiet = app.share(&task, json!({"title": "Quiet"})).await;
    let url = link["url"].as_str().unwrap();
    app.view(quiet["url"].as_str().unwrap(), None).await;
    assert_eq!(app.view(url, None).await.0, StatusCode::OK);
    let first = next_mail(&mut inbox).await;
    assert_eq!(first.to, "alice@example.com");
    assert!(
        first.data.contains("Subject: Your share link =?utf-8?") || first.data.contains("Audit results"),
        "{}",
        first.data
    );
    assert!(first.text().contains("Views so far: 1"), "{}", first.data);
    // "Who looked" leads to the link's console page, which a browser can open.
    let id = link["share_link_id"].as_str().unwrap();
    let who = first.text().split_whitespace().find(|w| w.contains("/console/links/")).map(str::to_owned);
    assert_eq!(who, Some(format!("{}/console/links/{id}", app.base)), "{}", first.text());
    let opened = app.client.get(who.unwrap()).send().await.unwrap();
    assert!(opened.status().is_success() || opened.status().is_redirection(), "a page: {}", opened.status());
    assert!(
        opened.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html")
            || opened.headers().contains_key("location")
    );

    for _ in 0..5 {
        app.view(url, None).await;
    }
    let digest = next_mail(&mut inbox).await;
    assert!(digest.text().contains("5 more times"), "one digest for the five: {}", digest.data);
    assert!(digest.text().contains("Views so far: 6"));
    assert!(inbox.try_recv().is_err(), "no mail per view, and none about the quiet link");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_mailed_to_the_owner_without_flooding_on_sqlite() {
    views_are_mailed_to_the_owner_without_flooding(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_are_mailed_to_the_owner_without_flooding_on_postgres() {
    views_are_mailed_to_the_owner_without_flooding(Backend::Postgres).await;
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    let target = mail_dir.clone();
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| s.mail_dir = target).await.unwrap();
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"title": "Written down", "notify_on_view": true})).await;
    app.view(link["url"].as_str().unwrap(), None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let file = loop {
        let found = std::fs::read_dir(&mail_dir).ok().and_then(|mut d| d.next()).and_then(Result::ok);
        if let Some(entry) = found {
            break entry.path();
        }
        assert!(tokio::time::Instant::now() < deadline, "no mail file appeared");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(file.extension().unwrap(), "eml");
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains("To: alice@example.com") && text.contains("Views so far: 1"), "{text}");
}

/// Country and city come from the configured database, for the client address
/// (through a trusted proxy here), into the notification and the analytics.
#[tokio::test]
async fn views_are_located_with_a_geoip_database() {
    let db = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/test-city.mmdb"));
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.geoip_db = Some(db);
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await
    .unwrap();
    let mut receiver = crate::webhooks::Receiver::start().await;
    app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["share_link.viewed"]})).await;
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({"notify_on_view": true})).await;
    for client in ["203.0.113.9", "203.0.113.10", "198.51.100.1", "192.0.2.1"] {
        let response = app
            .client
            .get(link["url"].as_str().unwrap())
            .header("accept", "application/json")
            .header("x-forwarded-for", client)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let first: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    let mut all = vec![first];
    for _ in 0..3 {
        all.push(serde_json::from_str(&receiver.next().await.body).unwrap());
    }
    let sf = all.iter().find(|e| e["viewer"]["ip_address"] == "203.0.113.9").unwrap();
    assert_eq!(sf["viewer"]["country"], "US");
    assert_eq!(sf["viewer"]["city"], "San Francisco");
    let unknown = all.iter().find(|e| e["viewer"]["ip_address"] == "192.0.2.1").unwrap();
    assert_eq!(unknown["viewer"]["country"], Value::Null);
    let (_, analytics) =
        app.get(&format!("/v1/share-links/{}/analytics", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(analytics["data"]["countries"][0], json!({"value": "US", "views": 2}));
    assert!(analytics["data"]["countries"].as_array().unwrap().contains(&json!({"value": "DE", "views": 1})));
}
