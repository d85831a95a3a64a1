//! A real `agentshare serve` process under concurrent load — creating tasks and
//! links, viewing, revoking — killed with SIGKILL at random moments and restarted,
//! keeps every promise it acknowledged:
//! - every acknowledged task, link and revocation is there after the crash;
//! - no view is counted without its record, nor recorded without its count;
//! - no `max_views` link is ever revealed more than `max_views` times;
//! - no revoked link answers 200 once its revocation was acknowledged.
//!
//! The seed of the random schedule is printed; set `AGENTSHARE_CRASH_SEED` to replay one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::cli::{agentshare, Server};
use crate::common::{Backend, TestDb};

/// SIGKILLs per backend.
const KILLS: usize = 5;
/// Concurrent clients driving the load.
const CLIENTS: u64 = 6;

#[derive(Default)]
struct Ledger {
    /// Tasks whose creation, output and completion were all acknowledged.
    tasks: Vec<String>,
    links: HashMap<String, Link>,
    /// Links answered 200 after their revocation had been acknowledged.
    served_after_revocation: Vec<String>,
}

struct Link {
    path: String,
    max_views: Option<i64>,
    /// Views answered 200.
    served: i64,
    /// Set once a revocation was acknowledged.
    revoked: bool,
}

/// Acknowledged operations, to show the load was real.
#[derive(Default)]
struct Acks {
    tasks: AtomicU64,
    links: AtomicU64,
    views: AtomicU64,
    revocations: AtomicU64,
}

struct Load {
    key: String,
    ledger: Mutex<Ledger>,
    acks: Acks,
}

/// Why a client stopped: the server went away mid-request.
struct Gone;

impl Load {
    async fn call(
        &self,
        client: &reqwest::Client,
        base: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), Gone> {
        let mut request = client.request(method, format!("{base}{path}")).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|_| Gone)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|_| Gone)?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    }

    async fn create_task(&self, client: &reqwest::Client, base: &str, n: u64) -> Result<(), Gone> {
        let (status, body) = self
            .call(client, base, Method::POST, "/v1/tasks", Some(json!({"title": format!("task {n}")})))
            .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["data"]["task_id"].as_str().unwrap().to_owned();
        let output = json!({"type": "output", "name": "Result", "content": format!("# Done {n}")});
        let (status, body) =
            self.call(client, base, Method::POST, &format!("/v1/tasks/{id}/events"), Some(output)).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let done = json!({"status": "completed"});
        let (status, body) =
            self.call(client, base, Method::PATCH, &format!("/v1/tasks/{id}"), Some(done)).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.ledger.lock().unwrap().tasks.push(id);
        self.acks.tasks.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn create_link(&self, client: &reqwest::Client, base: &str, rng: &mut StdRng) -> Result<(), Gone> {
        let task = {
            let ledger = self.ledger.lock().unwrap();
            if ledger.tasks.is_empty() {
                return Ok(());
            }
            ledger.tasks[rng.random_range(0..ledger.tasks.len())].clone()
        };
        let max_views = rng.random_bool(0.6).then(|| rng.random_range(1..=4_i64));
        let body = match max_views {
            Some(n) => json!({"task_id": task, "max_views": n}),
            None => json!({"task_id": task}),
        };
        let (status, body) = self.call(client, base, Method::POST, "/v1/share-links", Some(body)).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let data = &body["data"];
        let url = data["url"].as_str().unwrap();
        let path = url[url.find("/s/").unwrap()..].to_owned();
        let link = Link { path, max_views, served: 0, revoked: false };
        self.ledger.lock().unwrap().links.insert(data["share_link_id"].as_str().unwrap().to_owned(), link);
        self.acks.links.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn pick_link(&self, rng: &mut StdRng) -> Option<(String, String, bool)> {
        let ledger = self.ledger.lock().unwrap();
        if ledger.links.is_empty() {
            return None;
        }
        let (id, link) = ledger.links.iter().nth(rng.random_range(0..ledger.links.len()))?;
        Some((id.clone(), link.path.clone(), link.revoked))
    }

    async fn view(&self, client: &reqwest::Client, base: &str, rng: &mut StdRng) -> Result<(), Gone> {
        let Some((id, path, revoked_before)) = self.pick_link(rng) else { return Ok(()) };
        // Each view comes from its own address, so the per-client miss limiter
        // (which revoked and used-up links feed) stays out of the way.
        let client_ip = format!("10.{}.{}.{}", rng.random::<u8>(), rng.random::<u8>(), rng.random::<u8>());
        let response = client
            .get(format!("{base}{path}"))
            .header("accept", "application/json")
            .header("x-forwarded-for", client_ip)
            .send()
            .await
            .map_err(|_| Gone)?;
        let status = response.status();
        response.bytes().await.map_err(|_| Gone)?;
        match status {
            StatusCode::OK => {
                let mut ledger = self.ledger.lock().unwrap();
                if revoked_before {
                    ledger.served_after_revocation.push(id.clone());
                }
                ledger.links.get_mut(&id).unwrap().served += 1;
                self.acks.views.fetch_add(1, Ordering::Relaxed);
            }
            StatusCode::NOT_FOUND => {}
            other => panic!("a view answered {other}"),
        }
        Ok(())
    }

    async fn revoke(&self, client: &reqwest::Client, base: &str, rng: &mut StdRng) -> Result<(), Gone> {
        let Some((id, _, _)) = self.pick_link(rng) else { return Ok(()) };
        let (status, body) =
            self.call(client, base, Method::DELETE, &format!("/v1/share-links/{id}"), None).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.ledger.lock().unwrap().links.get_mut(&id).unwrap().revoked = true;
        self.acks.revocations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// One client's random mix of operations, until the server goes away.
    async fn client(self: Arc<Self>, base: String, seed: u64, stop: Arc<AtomicBool>) {
        let client = crate::common::http().timeout(Duration::from_secs(30)).build().unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        let mut n = seed.wrapping_mul(1000);
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let step = match rng.random_range(0..100) {
                0..15 => self.create_task(&client, &base, n).await,
                15..35 => self.create_link(&client, &base, &mut rng).await,
                35..92 => self.view(&client, &base, &mut rng).await,
                _ => self.revoke(&client, &base, &mut rng).await,
            };
            if step.is_err() {
                return;
            }
        }
    }
}

async fn crash_and_restart(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let seed = std::env::var("AGENTSHARE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random::<u64>());
    eprintln!("crash test on {backend:?}: AGENTSHARE_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let (ok, out, err) = agentshare(&["keys", "create", "--owner", "kim", "--database-url", &db.url]);
    assert!(ok, "{err}");
    let load = Arc::new(Load {
        key: out.lines().last().unwrap().to_owned(),
        ledger: Mutex::default(),
        acks: Acks::default(),
    });
    let dir = tempfile::tempdir().unwrap();
    let args = ["--database-url", db.url.as_str(), "--trusted-proxy", "127.0.0.1/32"];

    for kill in 0..KILLS {
        let server = Server::start(dir.path(), &args);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let seed = rng.random::<u64>() ^ c;
                tokio::spawn(load.clone().client(server.base.clone(), seed, stop.clone()))
            })
            .collect();
        // The moment of the kill is what is random here; nothing waits on the load.
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..900))).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.await.expect("a client of the load");
        }
        eprintln!("kill {} of {KILLS}: SIGKILL sent", kill + 1);
    }

    let acks = &load.acks;
    let (tasks, links, views, revocations) = (
        acks.tasks.load(Ordering::Relaxed),
        acks.links.load(Ordering::Relaxed),
        acks.views.load(Ordering::Relaxed),
        acks.revocations.load(Ordering::Relaxed),
    );
    eprintln!("acknowledged: {tasks} tasks, {links} links, {views} views, {revocations} revocations");
    assert!(tasks > 0 && links > 0 && views > 0 && revocations > 0, "the load did all four things");

    // After the last crash, the service comes back and everything acknowledged is there.
    let server = Server::start(dir.path(), &args);
    let client = crate::common::http().build().unwrap();
    let ledger = std::mem::take(&mut *load.ledger.lock().unwrap());
    assert!(
        ledger.served_after_revocation.is_empty(),
        "links answered 200 after their revocation was acknowledged: {:?}",
        ledger.served_after_revocation
    );
    let owner_get = |path: String| {
        let request = client.get(format!("{}{path}", server.base)).bearer_auth(&load.key);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    for task in &ledger.tasks {
        let (status, body) = owner_get(format!("/v1/tasks/{task}")).await;
        assert_eq!(status, StatusCode::OK, "acknowledged task {task} is there: {body}");
        assert_eq!(body["data"]["status"], "completed", "{body}");
    }
    for (id, link) in &ledger.links {
        let (status, body) = owner_get(format!("/v1/share-links/{id}")).await;
        assert_eq!(status, StatusCode::OK, "acknowledged link {id} is there: {body}");
        let data = &body["data"];
        let view_count = data["view_count"].as_i64().unwrap();
        assert!(view_count >= link.served, "{id}: {} views answered 200, {view_count} counted", link.served);
        if let Some(max) = link.max_views {
            assert!(view_count <= max, "{id}: {view_count} views counted on a link of {max}");
            assert!(link.served <= max, "{id}: revealed {} times on a link of {max}", link.served);
        }
        if link.revoked {
            assert_eq!(data["status"], "revoked", "an acknowledged revocation survives: {body}");
            let response = client
                .get(format!("{}{}", server.base, link.path))
                .header("x-forwarded-for", format!("10.9.{}.{}", link.served % 250, rand::random::<u8>()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id} stays revoked");
        }
    }
    let mismatched = "SELECT COUNT(*) FROM share_links l WHERE l.view_count <> \
         (SELECT COUNT(*) FROM share_link_views v WHERE v.share_link_id = l.share_link_id) \
         OR l.view_count <> COALESCE((SELECT SUM(d.views) FROM share_link_daily_views d \
         WHERE d.share_link_id = l.share_link_id), 0)";
    assert_eq!(db.sql_i64(mismatched).await, 0, "every count has its view record and rollup, and no more");
    let over_limit =
        "SELECT COUNT(*) FROM share_links WHERE max_views IS NOT NULL AND view_count > max_views";
    assert_eq!(db.sql_i64(over_limit).await, 0);
    server.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_breaks_no_promise_on_sqlite() {
    crash_and_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_breaks_no_promise_on_postgres() {
    crash_and_restart(Backend::Postgres).await;
}
