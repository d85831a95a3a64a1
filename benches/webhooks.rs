//! Webhook delivery: latency from the event to the receiver, and the outbox's
//! throughput, against a receiver on this machine.
//!
//! `cargo bench --bench webhooks -- --backend sqlite --events 2000`
//! (`--backend postgres` uses `AGENTSHARE_TEST_POSTGRES_URL` and a scratch database).

mod common;

use common::{arg, Scratch};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentshare::config::Settings;
use agentshare::domain::api_key::NewApiKey;
use agentshare::domain::time::Timestamp;
use agentshare::domain::webhook::{LinkFacts, WebhookEvent};
use agentshare::startup::Application;
use agentshare::storage::{Db, DbOptions, OutboxEvent};
use tokio::sync::Notify;

/// Arrival time of each `webhook-id`.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let backend = arg("--backend", "sqlite");
    let events: usize = arg("--events", "2000").parse()?;
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(&backend, dir.path()).await?;
    let url = scratch.url.clone();

    // The receiver: notes when each event arrives.
    let arrivals: Arrivals = Arc::default();
    let arrived = Arc::new(Notify::new());
    let (seen, wake) = (arrivals.clone(), arrived.clone());
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let (seen, wake) = (seen.clone(), wake.clone());
            async move {
                let id =
                    headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                seen.lock().unwrap().insert(id, Instant::now());
                wake.notify_waiters();
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let mut settings = Settings::new("127.0.0.1:0".parse()?, url.clone());
    settings.webhook_allow_cidrs = vec!["127.0.0.0/8".parse()?];
    let app = Application::build(settings).await?;
    let base = app.public_url().to_owned();
    tokio::spawn(app.run_until(std::future::pending()));
    let db = Db::connect(&DbOptions { url, max_connections: 4 }).await?;
    let owner = db.upsert_owner("bench", None).await?;
    let key = NewApiKey::generate();
    db.insert_api_key(&owner.owner_id, &key).await?;
    let client = reqwest::Client::new();
    let status = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&key.secret)
        .header("content-type", "application/json")
        .body(serde_json::json!({"url": hook_url, "events": ["share_link.created"]}).to_string())
        .send()
        .await?
        .status();
    anyhow::ensure!(status.is_success(), "cannot register the endpoint: {status}");

    let wait_for = |id: String| {
        let (arrivals, arrived) = (arrivals.clone(), arrived.clone());
        async move {
            loop {
                let notified = arrived.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(at) = arrivals.lock().unwrap().get(&id) {
                    return *at;
                }
                let _ = tokio::time::timeout(Duration::from_secs(5), notified).await;
            }
        }
    };

    // Latency: one event at a time, caused through the API (creating a share link
    // puts `share_link.created` in the outbox), from the request to arrival.
    let api = |method: reqwest::Method, path: String, body: serde_json::Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&key.secret)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let task: serde_json::Value =
        api(reqwest::Method::POST, "/v1/tasks".into(), serde_json::json!({"title": "bench"}))
            .await?
            .json()
            .await?;
    let task_id = task["data"]["task_id"].as_str().unwrap_or_default().to_owned();
    api(reqwest::Method::PATCH, format!("/v1/tasks/{task_id}"), serde_json::json!({"status": "completed"}))
        .await?;
    let mut latencies = Vec::new();
    for _ in 0..100 {
        let sent = Instant::now();
        api(reqwest::Method::POST, "/v1/share-links".into(), serde_json::json!({"task_id": task_id})).await?;
        let id: String = db.latest_event_id(&owner.owner_id).await?.map(String::from).unwrap_or_default();
        let at = wait_for(id).await;
        latencies.push(at - sent);
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];

    // Throughput: a backlog of `events`, delivered as fast as the worker can.
    let batch: Vec<OutboxEvent> = (0..events)
        .map(|_| {
            let created = LinkFacts {
                share_link_id: "share_0000000000000000".into(),
                task_id: task_id.as_str().into(),
                timestamp: Timestamp::now(),
            };
            OutboxEvent::new(&owner.owner_id, WebhookEvent::ShareLinkCreated(created))
        })
        .collect();
    let started = Instant::now();
    for event in &batch {
        db.enqueue(event).await?;
    }
    let enqueued = started.elapsed();
    for event in &batch {
        wait_for(event.event_id.to_string()).await;
    }
    let drained = started.elapsed();

    db.close().await;
    scratch.drop_database().await?;
    println!(
        "| {backend} | {:.1} ms | {:.1} ms | {events} | {:.0} events/s | {:.0} events/s |",
        ms(p(0.5)),
        ms(p(0.99)),
        events as f64 / enqueued.as_secs_f64(),
        events as f64 / drained.as_secs_f64(),
    );
    Ok(())
}
