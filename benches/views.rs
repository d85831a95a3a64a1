//! The share-link hot path against the machine's limit (`scripts/bench`).
//!
//! Starts the release `agentshare` binary on SQLite, on PostgreSQL, and as two
//! instances on one PostgreSQL, and beside it the bare axum server of
//! `examples/bench_baseline.rs` serving the very bytes agentshare answered. Drives
//! each with `wrk` at the same settings, at each connection count (64 and 256), the
//! bare server right before agentshare, and reports throughput, p99, the ratios of
//! both to the bare server's, the CPU each spent per answer and resident memory,
//! with a million share links stored. Checks
//! that every answer was a 200 and that the link's `view_count` grew by exactly the
//! number of 200s. Then: 1,000 concurrent reveals of a `max_views` link, the rate
//! of creating links (with and without a password, and what password hashing does
//! to concurrent views), the database's growth per view, and analytics of a link
//! with ten million recorded views (loaded in bulk, not through HTTP).
//!
//! `cargo bench --bench views -- [--seconds 10] [--connections 64,256] [--links 1000000]
//! [--growth-views 10000000] [--backends sqlite,postgres] [--write BENCHMARKS.md]`
//!
//! With `--compare OTHER_BINARY [--rounds 3]` it measures instead the views of this
//! build and of another `agentshare` binary side by side in one run (each round:
//! the baseline, then each binary on a fresh database with the same links), and
//! writes the "Side by side" section.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use common::{arg, write_between, Scratch};
use serde_json::{json, Value};
use sqlx::Connection as _;

/// Settings of one run.
#[derive(Clone)]
struct Run {
    seconds: u64,
    /// Connection counts the views are measured at (the other loads use the largest).
    connection_counts: Vec<usize>,
    connections: usize,
    links: i64,
    growth_views: i64,
    dir: PathBuf,
    bin: PathBuf,
    baseline: PathBuf,
    lua: PathBuf,
}

/// One wrk measurement (summed over the instances it drove).
#[derive(Debug, Clone, Copy, Default)]
struct Load {
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A started server process, stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Resident memory now and at its peak, in MB.
    fn rss_mb(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(0.0, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Waits until the server answers `GET /healthz` (or stops it and fails).
    async fn ready(mut self) -> anyhow::Result<Server> {
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server at {} exited with {status}", self.base);
            }
            let health = client.get(format!("{}/healthz", self.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(self);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server at {} did not become ready", self.base)
    }
}

impl Run {
    /// Starts `agentshare serve` on `url`; its log goes to a file in the run's directory.
    async fn agentshare(&self, url: &str, name: &str) -> anyhow::Result<Server> {
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(self.dir.join(format!("{name}.log")))?;
        let child = Command::new(&self.bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url])
            .args(["--trusted-proxy", "127.0.0.0/8", "--db-max-connections", "16"])
            .args(["--mail-dir", &self.dir.join("mail").display().to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start agentshare")?;
        Server { child, base }.ready().await
    }

    async fn baseline(&self, json: &[u8], html: &[u8]) -> anyhow::Result<Server> {
        let (json_file, html_file) = (self.dir.join("view.json"), self.dir.join("view.html"));
        std::fs::write(&json_file, json)?;
        std::fs::write(&html_file, html)?;
        let port = free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(&self.baseline)
            .args([
                format!("127.0.0.1:{port}"),
                json_file.display().to_string(),
                html_file.display().to_string(),
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start the baseline")?;
        Server { child, base }.ready().await
    }

    /// Runs wrk against each URL at once (the connections split between them).
    fn wrk(
        &self,
        urls: &[String],
        connections: usize,
        seconds: u64,
        env: &[(&str, &str)],
        json: bool,
    ) -> anyhow::Result<Load> {
        // One wrk thread per server, as `wrk -t1`: the rest of the machine is the servers'.
        let threads = 1;
        let each = (connections / urls.len()).max(threads);
        let children = urls
            .iter()
            .map(|url| {
                let mut command = Command::new("wrk");
                command
                    .args(["-t", &threads.to_string(), "-c", &each.to_string()])
                    .args(["-d", &format!("{seconds}s"), "--timeout", "10s", "-s"])
                    .arg(&self.lua)
                    .arg(url)
                    .envs(env.iter().copied())
                    .stdout(Stdio::piped());
                command.args(["-H", &format!("User-Agent: {BROWSER}")]);
                if json {
                    command.args(["-H", "Accept: application/json"]);
                }
                command.spawn().context("cannot start wrk (apt-get install wrk)")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut total = Load::default();
        for child in children {
            let output = child.wait_with_output()?;
            let text = String::from_utf8_lossy(&output.stdout);
            let line = text
                .lines()
                .find(|l| l.starts_with("RESULT"))
                .with_context(|| format!("wrk said: {text}"))?;
            let field = |name: &str| -> f64 {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0)
            };
            total.requests += field("requests") as u64;
            total.non_2xx += field("non2xx") as u64;
            total.socket_errors += field("socket_errors") as u64;
            total.rate += field("requests") / (field("duration_us") / 1e6);
            total.p50_ms += field("p50_us") / 1000.0 / urls.len() as f64;
            total.p99_ms = total.p99_ms.max(field("p99_us") / 1000.0);
        }
        Ok(total)
    }
}

/// A load and what it cost: the servers' CPU (user + system) per answer, and on
/// PostgreSQL its processes' CPU per answer besides.
struct Costed {
    load: Load,
    cpu_us: f64,
    database_us: f64,
}

/// CPU time (user + system) a process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// CPU ticks used so far by every process named `postgres` on this machine (the
/// server and its backends), or 0 when it runs elsewhere.
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
        })
        .map(cpu_ticks)
        .sum()
}

/// Clock ticks per second of `/proc`'s CPU times.
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

impl Run {
    /// [`Run::wrk`] on `urls`, served by `servers`, with the CPU it cost them
    /// (and, with `postgres`, the CPU of PostgreSQL's processes).
    fn measured(
        &self,
        servers: &[&Server],
        urls: &[String],
        connections: usize,
        json: bool,
        postgres: bool,
    ) -> anyhow::Result<Costed> {
        let own = |servers: &[&Server]| servers.iter().map(|s| cpu_ticks(s.child.id())).sum::<u64>();
        let database_ticks = || if postgres { postgres_ticks() } else { 0 };
        let (before, database_before) = (own(servers), database_ticks());
        let load = self.wrk(urls, connections, self.seconds, &[], json)?;
        let (used, database) = (own(servers) - before, database_ticks() - database_before);
        let tick = ticks_per_second();
        let per_answer = |ticks: u64| ticks as f64 / tick * 1e6 / load.requests.max(1) as f64;
        Ok(Costed { load, cpu_us: per_answer(used), database_us: per_answer(database) })
    }
}

/// What the load generator says it is: a browser, as most viewers are.
const BROWSER: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// An owner, a completed task with about 2 KB of outputs, and an unlimited link.
struct Fixture {
    key: String,
    task_id: String,
    owner_id: String,
    share_link_id: String,
    url: String,
}

const OUTPUTS: [(&str, &str); 3] = [
    (
        "Summary",
        "# Login bug fixed\n\nUsers could not log in after their session cookie expired: the cookie was \
         **not renewed** on refresh, so the next request was refused. The fix renews it on every \
         authenticated request and adds a regression test.\n\n- Root cause: `SessionLayer` kept the \
         original expiry\n- Fix: renew on each response, with a sliding window of 30 days\n- Tests: 3 \
         new, 412 passing\n",
    ),
    (
        "Patch",
        "```diff\n--- a/src/session.rs\n+++ b/src/session.rs\n@@ -41,7 +41,9 @@ impl SessionLayer {\n-    \
         let expires = session.expires_at;\n+    let expires = now + self.window;\n+    \
         session.expires_at = expires;\n+    store.save(&session).await?;\n     \
         response.set_cookie(cookie(&session, expires));\n```\n\nThe change is confined to the session \
         layer; no schema change is needed.\n",
    ),
    (
        "Report",
        "## What was checked\n\n| check | result |\n| --- | --- |\n| unit tests | 412 passed |\n| \
         integration tests | 57 passed |\n| login after 31 days idle | works |\n| login on two devices | \
         works |\n\n## Follow-ups\n\n1. Shorten the window for admin sessions.\n2. Log renewals at debug \
         level only.\n3. Document the sliding window in the operations guide, with the settings that \
         control it and their defaults.\n\n> Deployed to staging at 14:05 UTC; no errors in the first \
         hour.\n",
    ),
];

async fn fixture(run: &Run, server: &Server, url: &str) -> anyhow::Result<Fixture> {
    let output = Command::new(&run.bin)
        .args(["keys", "create", "--owner", "bench", "--database-url", url])
        .output()
        .context("keys create")?;
    let key = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_owned();
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        client.post(format!("{}{path}", server.base)).bearer_auth(&key).json(&body).send()
    };
    let task: Value =
        post("/v1/tasks", json!({"title": "Fix the login bug", "agent": "coder 1.0"})).await?.json().await?;
    let task_id = task["data"]["task_id"].as_str().context("task id")?.to_owned();
    let owner_id = task["data"]["owner_id"].as_str().context("owner id")?.to_owned();
    for (name, content) in OUTPUTS {
        post(
            &format!("/v1/tasks/{task_id}/events"),
            json!({"type": "output", "name": name, "content": content}),
        )
        .await?
        .error_for_status()?;
    }
    client
        .patch(format!("{}/v1/tasks/{task_id}", server.base))
        .bearer_auth(&key)
        .json(&json!({"status": "completed"}))
        .send()
        .await?
        .error_for_status()?;
    let link: Value =
        post("/v1/share-links", json!({"task_id": task_id, "title": "Login fix"})).await?.json().await?;
    Ok(Fixture {
        share_link_id: link["data"]["share_link_id"].as_str().context("link id")?.to_owned(),
        url: link["data"]["url"].as_str().context("link url")?.to_owned(),
        key,
        task_id,
        owner_id,
    })
}

impl Fixture {
    /// Another link of the task (`body` merged over its task id).
    async fn link(&self, base: &str, mut body: Value) -> anyhow::Result<(String, String)> {
        body["task_id"] = json!(self.task_id);
        let link: Value = reqwest::Client::new()
            .post(format!("{base}/v1/share-links"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await?
            .json()
            .await?;
        let id = link["data"]["share_link_id"].as_str().context("link id")?.to_owned();
        Ok((id, link["data"]["url"].as_str().context("link url")?.to_owned()))
    }

    async fn view_count(&self, base: &str, id: &str) -> anyhow::Result<i64> {
        let body: Value = reqwest::Client::new()
            .get(format!("{base}/v1/share-links/{id}"))
            .bearer_auth(&self.key)
            .send()
            .await?
            .json()
            .await?;
        body["data"]["view_count"].as_i64().context("view_count")
    }
}

/// The response body of one GET of `url`.
async fn fetch(url: &str, json: bool) -> anyhow::Result<Vec<u8>> {
    let mut request = reqwest::Client::new().get(url);
    if json {
        request = request.header("accept", "application/json");
    }
    let response = request.send().await?.error_for_status()?;
    Ok(response.bytes().await?.to_vec())
}

/// A direct connection to the scratch database, for bulk loading and sizes.
enum Direct {
    Sqlite(sqlx::SqliteConnection, PathBuf),
    Postgres(sqlx::PgConnection),
}

impl Direct {
    async fn open(url: &str) -> anyhow::Result<Direct> {
        Ok(if url.starts_with("postgres") {
            Direct::Postgres(sqlx::PgConnection::connect(url).await?)
        } else {
            let path = PathBuf::from(url.trim_start_matches("sqlite://"));
            Direct::Sqlite(sqlx::SqliteConnection::connect(url).await?, path)
        })
    }

    async fn execute(&mut self, sql: &str) -> anyhow::Result<()> {
        match self {
            Direct::Sqlite(conn, _) => sqlx::query(sql).execute(conn).await.map(drop)?,
            Direct::Postgres(conn) => sqlx::query(sql).execute(conn).await.map(drop)?,
        }
        Ok(())
    }

    /// Bytes the database takes on disk (SQLite: the file, after a checkpoint).
    async fn size(&mut self) -> anyhow::Result<i64> {
        match self {
            Direct::Sqlite(conn, path) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await?;
                Ok(std::fs::metadata(path.as_path())?.len() as i64)
            }
            Direct::Postgres(conn) => {
                Ok(sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(conn).await?)
            }
        }
    }
}

/// `n` rows from 1 to `n`, in SQL both engines run.
fn numbers(n: i64) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})")
}

/// Stores `n` more share links of the fixture's task, straight into the table.
async fn load_links(db: &mut Direct, fx: &Fixture, n: i64) -> anyhow::Result<()> {
    let now = agentshare::domain::time::Timestamp::now().millis();
    db.execute(&format!(
        "INSERT INTO share_links (share_link_id, task_id, owner_id, token_hash, short_code_hash, title, \
         expires_at, allow_download, allow_comments, show_metadata, notify_on_view, created_at, updated_at) \
         {} SELECT 'share_bulk' || i, '{}', '{}', 'bulk-token-' || i, 'bulk-code-' || i, 'Bulk link ' || i, \
         {}, TRUE, FALSE, TRUE, FALSE, {now} - i, {now} - i FROM n",
        numbers(n),
        fx.task_id,
        fx.owner_id,
        now + 30 * 86_400_000,
    ))
    .await
}

/// Records `n` views of a new link straight into the tables, as the view writer
/// would have: rows spread over a year, 4 browsers, 5 referrers, 4 countries and
/// 50,000 viewers, with matching rollups and counts.
async fn load_views(db: &mut Direct, id: &str, n: i64) -> anyhow::Result<()> {
    let now = agentshare::domain::time::Timestamp::now().millis();
    let year = 365 * 86_400_000_i64;
    db.execute(&format!(
        "INSERT INTO share_link_views (view_id, share_link_id, viewed_at, client_prefix, country, city, \
         user_agent, referrer_host) {} SELECT 'view_bulk' || i, '{id}', {} + i * {} / {n}, \
         '198.51.' || (i % 250) || '.0/24', CASE i % 4 WHEN 0 THEN 'US' WHEN 1 THEN 'DE' WHEN 2 THEN 'JP' END, \
         NULL, '{BROWSER} v' || (i % 4), CASE WHEN i % 5 = 0 THEN NULL ELSE 'site' || (i % 5) || '.example' END \
         FROM n",
        numbers(n),
        now - year,
        year,
    ))
    .await?;
    db.execute(&format!(
        "INSERT INTO share_link_daily_views (share_link_id, day, views) {} \
         SELECT '{id}', 'd' || (i - 1), {} FROM n",
        numbers(365),
        n / 365
    ))
    .await?;
    for (dimension, values) in [("country", 4), ("referrer", 5), ("browser", 4), ("os", 4), ("device", 3)] {
        db.execute(&format!(
            "INSERT INTO share_link_breakdown (share_link_id, dimension, value, views) {} \
             SELECT '{id}', '{dimension}', 'value' || i, {} FROM n",
            numbers(values),
            n / values
        ))
        .await?;
    }
    db.execute(&format!(
        "INSERT INTO share_link_visitors (share_link_id, visitor_hash, first_seen_at) {} \
         SELECT '{id}', 'visitor' || i, {now} FROM n",
        numbers(50_000)
    ))
    .await?;
    db.execute(&format!(
        "UPDATE share_links SET view_count = {n}, unique_views = 50000, first_viewed_at = {}, \
         last_viewed_at = {now} WHERE share_link_id = '{id}'",
        now - year
    ))
    .await?;
    Ok(())
}

/// Percentile of sorted samples.
fn pct(samples: &[Duration], p: f64) -> f64 {
    samples[((samples.len() as f64 - 1.0) * p) as usize].as_secs_f64() * 1000.0
}

/// 1,000 concurrent JSON reveals of a link allowing `max_views`, spread over the
/// instances, each from its own viewer; answers how many were shown.
async fn race(fx: &Fixture, bases: &[String], max_views: i64) -> anyhow::Result<(usize, i64)> {
    let (id, url) = fx.link(&bases[0], json!({"max_views": max_views})).await?;
    let path = url.strip_prefix(&bases[0]).context("link url")?.to_owned();
    let clients: Vec<reqwest::Client> = (0..5)
        .map(|_| reqwest::Client::builder().http2_prior_knowledge().build())
        .collect::<Result<_, _>>()?;
    let requests = (0..1000).map(|i| {
        let url = format!("{}{path}", bases[i % bases.len()]);
        let client = &clients[i % clients.len()];
        async move {
            client
                .get(url)
                .header("accept", "application/json")
                .header("x-forwarded-for", format!("198.18.{}.{}", i / 250, i % 250))
                .send()
                .await
                .map(|r| r.status())
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let shown = statuses.iter().filter(|s| s.as_ref().is_ok_and(|s| s.as_u16() == 200)).count();
    Ok((shown, fx.view_count(&bases[0], &id).await?))
}

/// Results of one configuration, as table cells.
struct Measured {
    rows: Vec<String>,
    notes: Vec<String>,
}

#[allow(clippy::too_many_lines)]
async fn measure(run: &Run, backend: &str, instances: usize) -> anyhow::Result<Measured> {
    let scratch = Scratch::new(backend, &run.dir).await?;
    let name = if instances == 1 { backend.to_owned() } else { format!("{backend} ×{instances}") };
    let mut servers = Vec::new();
    for i in 0..instances {
        servers.push(run.agentshare(&scratch.url, &format!("{backend}-{instances}-{i}")).await?);
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let fx = fixture(run, &servers[0], &scratch.url).await?;
    let mut db = Direct::open(&scratch.url).await?;
    let began = Instant::now();
    load_links(&mut db, &fx, run.links).await?;
    let loaded = began.elapsed();
    let path = fx.url.strip_prefix(&bases[0]).context("link url")?.to_owned();
    let urls: Vec<String> = bases.iter().map(|b| format!("{b}{path}")).collect();
    let json_body = fetch(&urls[0], true).await?;
    let html_body = fetch(&urls[0], false).await?;
    let mut notes = vec![format!(
        "{name}: {} share links stored (bulk-loaded in {:.0} s); the viewed link's JSON view is {} bytes, its page {} bytes.",
        run.links + 1,
        loaded.as_secs_f64(),
        json_body.len(),
        html_body.len()
    )];
    let mut rows = Vec::new();
    let size_before = db.size().await?;
    let count_before = fx.view_count(&bases[0], &fx.share_link_id).await?;
    let mut views = 0;
    let mut in_flight = 0;
    for &connections in &run.connection_counts {
        // The bare server serves this configuration's very bytes, measured right
        // before agentshare, so each ratio comes from one run.
        let bare = run.baseline(&json_body, &html_body).await?;
        let bare_url = format!("{}{path}", bare.base);
        let mut bare_loads = Vec::new();
        for json in [true, false] {
            bare_loads.push(run.measured(
                &[&bare],
                std::slice::from_ref(&bare_url),
                connections,
                json,
                false,
            )?);
        }
        drop(bare);
        for ((kind, json), bare) in [("JSON view", true), ("HTML page", false)].into_iter().zip(bare_loads) {
            let own: Vec<&Server> = servers.iter().collect();
            let load = run.measured(&own, &urls, connections, json, backend == "postgres")?;
            views += load.load.requests - load.load.non_2xx;
            // Each connection may have had one request under way when wrk stopped:
            // counted, but its answer not read.
            in_flight += connections as i64;
            let rss: Vec<String> =
                servers.iter().map(|s| format!("{:.0}/{:.0}", s.rss_mb().0, s.rss_mb().1)).collect();
            let ok = if load.load.non_2xx == 0 && load.load.socket_errors == 0 {
                "all 200".to_owned()
            } else {
                format!("{} non-2xx, {} socket errors", load.load.non_2xx, load.load.socket_errors)
            };
            let goal = if backend == "sqlite" { 0.50 } else { 0.30 };
            let ratio = load.load.rate / bare.load.rate;
            let p99_ratio = load.load.p99_ms / bare.load.p99_ms;
            let database = if load.database_us > 0.0 {
                format!(" + {:.0} µs", load.database_us)
            } else {
                String::new()
            };
            rows.push(format!(
                "| {name} | {kind} | {connections} | {:.0}/s | {:.0}/s | **{:.2}** (≥ {goal:.2}: {}) | {:.1} ms | {:.1} ms | \
                 {p99_ratio:.1}× ({}) | {:.0} µs | {:.0} µs{database} | {} MB | {ok} |",
                bare.load.rate,
                load.load.rate,
                ratio,
                if ratio >= goal { "met" } else { "missed" },
                bare.load.p99_ms,
                load.load.p99_ms,
                if p99_ratio <= 2.0 { "met" } else { "missed" },
                bare.cpu_us,
                load.cpu_us,
                rss.join(" + "),
            ));
        }
    }
    let count_after = fx.view_count(&bases[0], &fx.share_link_id).await?;
    let size_after = db.size().await?;
    let counted = count_after - count_before;
    notes.push(format!(
        "{name}: {views} views answered 200 and view_count grew by {counted}: {}; the database grew by {:.0} \
         bytes per view.",
        if (views as i64..=views as i64 + in_flight).contains(&counted) {
            format!("every 200 was counted, and {} requests still under way when wrk stopped (at most {in_flight})", counted - views as i64)
        } else {
            "MISMATCH".to_owned()
        },
        (size_after - size_before) as f64 / counted.max(1) as f64,
    ));
    for max_views in [1, 10] {
        let (shown, count) = race(&fx, &bases, max_views).await?;
        notes.push(format!(
            "{name}: 1,000 concurrent reveals of a link with max_views {max_views}: {shown} shown, view_count {count}{}.",
            if shown as i64 == max_views && count == max_views { " (exact)" } else { " (NOT EXACT)" }
        ));
    }
    if instances == 1 {
        let create = format!("{}/v1/share-links", bases[0]);
        let plain = json!({"task_id": fx.task_id}).to_string();
        let load = run.wrk(
            std::slice::from_ref(&create),
            run.connections,
            run.seconds,
            &[("BENCH_BODY", plain.as_str()), ("BENCH_KEY", fx.key.as_str())],
            true,
        )?;
        notes.push(format!(
            "{name}: creating password-less links: {:.0} links/s, p50 {:.2} ms, p99 {:.2} ms ({} non-2xx).",
            load.rate, load.p50_ms, load.p99_ms, load.non_2xx
        ));
        let protected = json!({"task_id": fx.task_id, "password": "correct horse battery"}).to_string();
        let env = [("BENCH_BODY", protected.as_str()), ("BENCH_KEY", fx.key.as_str())];
        let (alone, (with_hashing, hashing)) = (
            run.wrk(&urls, run.connections, run.seconds, &[], true)?,
            std::thread::scope(|s| {
                let creating =
                    s.spawn(|| run.wrk(std::slice::from_ref(&create), 16, run.seconds, &env, true));
                let viewing = run.wrk(&urls, run.connections, run.seconds, &[], true);
                (viewing, creating.join().expect("wrk thread"))
            }),
        );
        let (with_hashing, hashing) = (with_hashing?, hashing?);
        notes.push(format!(
            "{name}: creating password-protected links (16 connections): {:.0} links/s; JSON views at the same \
             time: {:.0}/s, p99 {:.2} ms (alone: {:.0}/s, p99 {:.2} ms).",
            hashing.rate, with_hashing.rate, with_hashing.p99_ms, alone.rate, alone.p99_ms
        ));
        if run.growth_views > 0 {
            let (id, _) = fx.link(&bases[0], json!({})).await?;
            let before = db.size().await?;
            let began = Instant::now();
            load_views(&mut db, &id, run.growth_views).await?;
            let loaded = began.elapsed();
            let grown = db.size().await? - before;
            let client = reqwest::Client::new();
            let mut samples = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                let body: Value = client
                    .get(format!("{}/v1/share-links/{id}/analytics", bases[0]))
                    .bearer_auth(&fx.key)
                    .send()
                    .await?
                    .json()
                    .await?;
                samples.push(t.elapsed());
                anyhow::ensure!(
                    body["data"]["total_views"].as_i64() == Some(run.growth_views),
                    "analytics: {body}"
                );
            }
            samples.sort();
            notes.push(format!(
                "{name}: analytics (GET …/analytics over HTTP) of a link with {} recorded views: p50 {:.2} ms, \
                 p99 {:.2} ms, max {:.2} ms; those views take {:.0} bytes each on disk (bulk-loaded in {:.0} s).",
                run.growth_views,
                pct(&samples, 0.5),
                pct(&samples, 0.99),
                pct(&samples, 1.0),
                grown as f64 / run.growth_views as f64,
                loaded.as_secs_f64()
            ));
        }
    }
    drop(db);
    drop(servers);
    scratch.drop_database().await?;
    Ok(Measured { rows, notes })
}

const BEGIN: &str = "<!-- views:begin (written by scripts/bench) -->";
const END: &str = "<!-- views:end -->";

/// Replaces the section between [`BEGIN`] and [`END`] of `file` (or appends it).
fn write_section(file: &Path, section: &str) -> anyhow::Result<()> {
    write_between(file, BEGIN, END, section)
}

const COMPARE_BEGIN: &str = "<!-- compare:begin (written by scripts/bench --compare) -->";
const COMPARE_END: &str = "<!-- compare:end -->";

/// One round's rates of one configuration: the baseline's and each binary's.
#[derive(Default, Clone, Copy)]
struct Round {
    bare: (f64, f64),
    before: (f64, f64),
    after: (f64, f64),
}

/// The JSON and HTML rates of the binary of `run` on `backend` with `instances`
/// instances, on a fresh database with `run.links` links; and the bodies served.
async fn rates_of(
    run: &Run,
    backend: &str,
    instances: usize,
) -> anyhow::Result<((f64, f64), Vec<u8>, Vec<u8>)> {
    // A directory of its own: a fresh SQLite file, its own logs.
    let dir = tempfile::tempdir_in(&run.dir)?;
    let run = &Run { dir: dir.path().to_owned(), ..run.clone() };
    let scratch = Scratch::new(backend, &run.dir).await?;
    let mut servers = Vec::new();
    for i in 0..instances {
        servers.push(run.agentshare(&scratch.url, &format!("compare-{backend}-{instances}-{i}")).await?);
    }
    let bases: Vec<String> = servers.iter().map(|s| s.base.clone()).collect();
    let fx = fixture(run, &servers[0], &scratch.url).await?;
    let mut db = Direct::open(&scratch.url).await?;
    load_links(&mut db, &fx, run.links).await?;
    let path = fx.url.strip_prefix(&bases[0]).context("link url")?.to_owned();
    let urls: Vec<String> = bases.iter().map(|b| format!("{b}{path}")).collect();
    let (json_body, html_body) = (fetch(&urls[0], true).await?, fetch(&urls[0], false).await?);
    let json = run.wrk(&urls, run.connections, run.seconds, &[], true)?;
    let html = run.wrk(&urls, run.connections, run.seconds, &[], false)?;
    if json.non_2xx + html.non_2xx + json.socket_errors + html.socket_errors > 0 {
        bail!(
            "{} answered {} non-2xx and had {} socket errors",
            run.bin.display(),
            json.non_2xx + html.non_2xx,
            json.socket_errors + html.socket_errors
        );
    }
    drop(db);
    drop(servers);
    scratch.drop_database().await?;
    Ok(((json.rate, html.rate), json_body, html_body))
}

/// This build and `other` side by side: `rounds` rounds of each configuration.
async fn compare(
    run: &Run,
    other: PathBuf,
    configs: &[(&str, usize)],
    rounds: usize,
) -> anyhow::Result<String> {
    let before = Run { bin: other.clone(), ..run.clone() };
    let mut section = format!(
        "## Side by side\n\n`scripts/bench --compare {}` ({} s per load, {} connections, {} links, \
         {rounds} rounds; each round measures the baseline, then each binary on a fresh database; \
         medians of the rounds)\n\n\
         | server | what | baseline | before | after | before, of baseline | after, of baseline |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n",
        other.display(),
        run.seconds,
        run.connections,
        run.links + 1,
    );
    for &(backend, instances) in configs {
        let name = if instances == 1 { backend.to_owned() } else { format!("{backend} ×{instances}") };
        let mut measured = Vec::new();
        for round in 0..rounds {
            eprintln!("comparing {name}, round {}…", round + 1);
            // Alternate which binary goes first, so neither always meets a warmer machine.
            let (first, second) = if round % 2 == 0 { (&before, run) } else { (run, &before) };
            let (a, json_body, html_body) = rates_of(first, backend, instances).await?;
            let (b, _, _) = rates_of(second, backend, instances).await?;
            let (old, new) = if round % 2 == 0 { (a, b) } else { (b, a) };
            let bare = run.baseline(&json_body, &html_body).await?;
            let url = format!("{}/s/x", bare.base);
            let json = run.wrk(std::slice::from_ref(&url), run.connections, run.seconds, &[], true)?;
            let html = run.wrk(std::slice::from_ref(&url), run.connections, run.seconds, &[], false)?;
            drop(bare);
            measured.push(Round { bare: (json.rate, html.rate), before: old, after: new });
        }
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        for (kind, pick) in [("JSON view", 0), ("HTML page", 1)] {
            let get = |pair: (f64, f64)| if pick == 0 { pair.0 } else { pair.1 };
            let bare = median(measured.iter().map(|r| get(r.bare)).collect());
            let old = median(measured.iter().map(|r| get(r.before)).collect());
            let new = median(measured.iter().map(|r| get(r.after)).collect());
            let old_pct = median(measured.iter().map(|r| 100.0 * get(r.before) / get(r.bare)).collect());
            let new_pct = median(measured.iter().map(|r| 100.0 * get(r.after) / get(r.bare)).collect());
            section.push_str(&format!(
                "| {name} | {kind} | {bare:.0}/s | {old:.0}/s | {new:.0}/s | {old_pct:.0}% | {new_pct:.0}% |\n"
            ));
        }
    }
    Ok(section)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let dir = tempfile::tempdir()?;
    let connection_counts =
        arg("--connections", "64,256").split(',').map(str::parse).collect::<Result<Vec<usize>, _>>()?;
    let run = Run {
        seconds: arg("--seconds", "10").parse()?,
        connection_counts: connection_counts.clone(),
        connections: connection_counts.iter().copied().max().unwrap_or(256),
        links: arg("--links", "1000000").parse()?,
        growth_views: arg("--growth-views", "10000000").parse()?,
        dir: dir.path().to_owned(),
        bin: target.join("release/agentshare"),
        baseline: target.join("release/examples/bench_baseline"),
        lua: root.join("scripts/bench-wrk.lua"),
    };
    let backends = arg("--backends", "sqlite,postgres");
    let mut configs: Vec<(&str, usize)> = Vec::new();
    for backend in backends.split(',') {
        configs.push((backend, 1));
        if backend == "postgres" {
            configs.push((backend, 2));
        }
    }
    let other = arg("--compare", "");
    if !other.is_empty() {
        let rounds = arg("--rounds", "3").parse()?;
        let section = compare(&run, PathBuf::from(other), &configs, rounds).await?;
        println!("{section}");
        let out = arg("--write", "");
        if !out.is_empty() {
            write_between(&root.join(out), COMPARE_BEGIN, COMPARE_END, &section)?;
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for (backend, instances) in configs {
        eprintln!("measuring {backend} with {instances} instance(s)…");
        let measured = measure(&run, backend, instances).await?;
        rows.extend(measured.rows);
        notes.extend(measured.notes);
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut section = format!(
        "## Opening a share link, against the machine's limit\n\n\
         `scripts/bench` ({} s per load, `wrk -t1` per server on the same {cores}-core machine, \
         an unlimited link, every view committed before its answer; the bare axum server serves \
         the same bytes, measured right before agentshare in the same run; CPU per answer is the \
         server's user and system time over the load divided by its answers, and on PostgreSQL \
         the database's processes' besides)\n\n\
         | server | what | connections | bare axum | agentshare | of bare (goal) | bare p99 | p99 | \
         p99 of bare's (goal ≤ 2×) | bare CPU/answer | CPU/answer | RSS now/peak | answers |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        run.seconds,
    );
    for row in rows {
        section.push_str(&row);
        section.push('\n');
    }
    section.push('\n');
    for note in notes {
        section.push_str(&format!("- {note}\n"));
    }
    println!("{section}");
    let out = arg("--write", "");
    if !out.is_empty() {
        write_section(&root.join(out), &section)?;
    }
    Ok(())
}
