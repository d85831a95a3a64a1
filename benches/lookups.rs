//! Whether timing tells a link's fate: latency of opening an unknown, an expired,
//! a used-up and a revoked link (and the short codes of a revoked and an unknown
//! one), interleaved in random order over the same server and connection. All of
//! them answer the same 404; this measures whether they take the same time.
//!
//! `cargo bench --bench lookups -- --backend sqlite --rounds 3000`
//! (`--backend postgres` uses `AGENTSHARE_TEST_POSTGRES_URL` and a scratch database).

mod common;

use std::time::{Duration, Instant};

use common::{arg, Scratch};

use agentshare::config::Settings;
use agentshare::domain::api_key::NewApiKey;
use agentshare::startup::Application;
use agentshare::storage::{Db, DbOptions};
use rand::seq::SliceRandom as _;
use serde_json::{json, Value};

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let backend = arg("--backend", "sqlite");
    let rounds: usize = arg("--rounds", "3000").parse()?;
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(&backend, dir.path()).await?;
    let url = scratch.url.clone();

    let mut settings = Settings::new("127.0.0.1:0".parse()?, url.clone());
    // Each request names its own client, so the miss limiter never steps in.
    settings.trusted_proxies = vec!["127.0.0.1/32".parse()?];
    let app = Application::build(settings).await?;
    let base = app.public_url().to_owned();
    tokio::spawn(app.run_until(std::future::pending()));
    let db = Db::connect(&DbOptions { url, max_connections: 2 }).await?;
    let owner = db.upsert_owner("bench", None).await?;
    let key = NewApiKey::generate();
    db.insert_api_key(&owner.owner_id, &key).await?;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let call = |method: reqwest::Method, path: String, body: Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&key.secret)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let task: Value =
        call(reqwest::Method::POST, "/v1/tasks".into(), json!({"title": "t"})).await?.json().await?;
    let task = task["data"]["task_id"].as_str().unwrap_or_default().to_owned();
    let output = json!({"type": "output", "name": "Result", "content": "# Done\n\nAll good."});
    call(reqwest::Method::POST, format!("/v1/tasks/{task}/events"), output).await?;
    call(reqwest::Method::PATCH, format!("/v1/tasks/{task}"), json!({"status": "completed"})).await?;
    let link = |body: Value| {
        let request = call(reqwest::Method::POST, "/v1/share-links".into(), body);
        async move {
            let answer: Value = request.await?.json().await?;
            anyhow::Ok(answer["data"].clone())
        }
    };
    let revoked = link(json!({"task_id": task})).await?;
    let revoked_id = revoked["share_link_id"].as_str().unwrap_or_default();
    call(reqwest::Method::DELETE, format!("/v1/share-links/{revoked_id}"), json!({})).await?;
    let used = link(json!({"task_id": task, "max_views": 1})).await?;
    let used_url = used["url"].as_str().unwrap_or_default().to_owned();
    client.get(&used_url).header("accept", "application/json").send().await?;
    // Expired: a link whose time is up an instant after it was made.
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
    let expired = link(json!({"task_id": task, "expires_at": soon})).await?;
    tokio::time::sleep(Duration::from_millis(400)).await;

    let url_of = |l: &Value, field: &str| l[field].as_str().unwrap_or_default().to_owned();
    let classes: Vec<(&str, String)> = vec![
        ("unknown token", format!("{base}/s/{}", "Q".repeat(43))),
        ("expired link", url_of(&expired, "url")),
        ("used-up link", used_url),
        ("revoked link", url_of(&revoked, "url")),
        ("unknown short code", format!("{base}/s/Zz9Zz9Zz")),
        ("revoked link's short code", url_of(&revoked, "short_url")),
    ];
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); classes.len()];
    let mut bodies: Vec<Option<(u16, String)>> = vec![None; classes.len()];
    let mut order: Vec<usize> = (0..classes.len()).collect();
    let mut rng = rand::rng();
    for round in 0..rounds + rounds / 10 {
        order.shuffle(&mut rng);
        for &i in &order {
            let started = Instant::now();
            let response = client
                .get(&classes[i].1)
                .header("accept", "application/json")
                .header("x-forwarded-for", format!("10.{}.{}.{}", round % 250, i, round / 250 % 250))
                .send()
                .await?;
            let status = response.status().as_u16();
            let body = response.text().await?;
            let elapsed = started.elapsed();
            // The first tenth warms caches and connections up and is not counted.
            if round >= rounds / 10 {
                samples[i].push(elapsed);
            }
            match &bodies[i] {
                None => bodies[i] = Some((status, body)),
                Some(first) => {
                    anyhow::ensure!(*first == (status, body), "{} answered differently", classes[i].0)
                }
            }
        }
    }
    let reference = bodies[0].clone();
    println!("| backend | lookup | answer | identical to unknown | p50 | p90 | p99 |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (i, (name, _)) in classes.iter().enumerate() {
        let times = &mut samples[i];
        times.sort();
        let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_micros();
        let (status, _) = bodies[i].clone().unwrap_or_default();
        let same = if bodies[i] == reference { "yes" } else { "no" };
        println!(
            "| {backend} | {name} | {status} | {same} | {} µs | {} µs | {} µs |",
            at(0.5),
            at(0.9),
            at(0.99)
        );
    }
    drop(db);
    scratch.drop_database().await?;
    Ok(())
}
