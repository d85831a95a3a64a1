//! Live viewers at scale (`scripts/bench-streams`).
//!
//! Starts the release `agentshare` binary on SQLite, on PostgreSQL, and as two
//! instances on one PostgreSQL database, with limits raised so that one client
//! address may hold every stream. A running task is shared by a share code, the
//! code is exchanged for a viewer grant, and `--streams` Server-Sent-Events
//! streams of the task (`GET /v1/tasks/{id}/events/stream`, `Authorization: Bearer
//! vst_…`) are opened at once (half on each instance when there are two). Once
//! every stream is open (answered 200), the owner appends `--events` `log` events
//! on the first instance, one every 250 ms, and every stream records when each
//! event's `id:` line reaches it. Reports, per instance: the streams that opened
//! (and why the others did not), how long opening all of them took, resident
//! memory before and with the streams, fan-out latency (receive time − the time the
//! append's POST was sent; p50, p99, max; same instance and other instance), the
//! deliveries that never came, the server's CPU time per event, and on PostgreSQL
//! the database's transactions and rows read per event (`pg_stat_database`, read
//! through a connection to another database so that reading it adds nothing).
//!
//! `cargo bench --bench streams -- [--streams 10000] [--events 40]
//! [--backends sqlite,postgres] [--grace 10] [--binary PATH]
//! [--max-streams-per-client N] [--write BENCHMARKS.md]`
//!
//! `postgres` in `--backends` measures one instance and two; `postgres1` or
//! `postgres2` only one of them. `--binary` measures another build (say, the
//! release build of an earlier commit); `--max-streams-per-client` lowers the
//! server's limit, to see what refusals look like. Every server is killed however
//! the bench ends (a panic, an error, Ctrl-C or SIGTERM, which also drop the
//! scratch database), and every read has a deadline: a stream that misses an event
//! reports it missing `--grace` seconds after the last append was answered, and a
//! stream that cannot open is counted with its reason, never waited for without end.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::{arg, thousands, write_between, Scratch};
use serde_json::{json, Value};
use sqlx::Connection as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, timeout_at, Instant};

const BEGIN: &str = "<!-- streams:begin (written by scripts/bench-streams) -->";
const END: &str = "<!-- streams:end -->";

/// Time between two appended events.
const EVENT_EVERY: Duration = Duration::from_millis(250);
/// Streams being opened at once (TCP connect to response headers).
const OPENING_AT_ONCE: usize = 128;
/// The quiet window between opening the streams and the first event.
const QUIET: Duration = Duration::from_secs(5);

/// Settings of one run.
#[derive(Clone)]
struct Run {
    streams: usize,
    events: usize,
    grace: Duration,
    bin: PathBuf,
    ticks: f64,
    /// `serve --max-streams-per-client`, to see what refusals look like (default: all of them).
    max_streams_per_client: Option<usize>,
}

// ---------------------------------------------------------------------------
// Servers

/// A started `agentshare serve`, killed when dropped (and explicitly by [`Server::stop`]).
struct Server {
    child: Child,
    pid: u32,
    port: u16,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // kill_on_drop does the same; this makes sure of it even if the child
        // was taken out of tokio's hands.
        let _ = self.child.start_kill();
    }
}

impl Server {
    async fn start(run: &Run, url: &str, dir: &Path, name: &str) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = dir.join(format!("{name}.log"));
        let n = run.streams;
        let child = Command::new(&run.bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url])
            .args(["--db-max-connections", "16"])
            .args(["--mail-dir", &dir.join("mail").display().to_string()])
            .args(["--max-streams-per-client", &run.max_streams_per_client.unwrap_or(n + 64).to_string()])
            .args(["--max-connections-per-client", &(n + 256).to_string()])
            .args(["--max-connections", &(2 * n + 1024).to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start agentshare (cargo build --release)")?;
        let pid = child.id().context("the server has no pid")?;
        let mut server = Server { child, pid, port, base: format!("http://127.0.0.1:{port}"), log };
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            if let Some(status) = server.child.try_wait()? {
                bail!("{name} exited with {status}; its log: {}", server.log.display());
            }
            let health =
                timeout(Duration::from_secs(2), client.get(format!("{}/healthz", server.base)).send()).await;
            if matches!(health, Ok(Ok(ref r)) if r.status().is_success()) {
                return Ok(server);
            }
            sleep(Duration::from_millis(50)).await;
        }
        bail!("{name} did not become ready within a minute")
    }

    /// Kills the server and waits for it.
    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Resident memory, in KB (VmRSS).
    fn rss_kb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }

    /// CPU time (user + system) used so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        cpu_ticks(&self.pid.to_string())
    }

    /// Warning and error lines of its log: how many, and the first few kinds.
    fn complaints(&self) -> (usize, Vec<String>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        let mut count = 0;
        for line in text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")) {
            count += 1;
            // The message without its timestamp, spans and numbers, to group alike lines.
            let message =
                line.split_once("WARN").or_else(|| line.split_once("ERROR")).map_or(line, |(_, rest)| rest);
            let message = message.rsplit_once("}: ").map_or(message, |(_, rest)| rest).trim();
            // Up to its first `key=value` field.
            let message =
                message.split(' ').take_while(|word| !word.contains('=')).collect::<Vec<_>>().join(" ");
            let mut kind = String::new();
            for c in message.chars().take(120) {
                if !c.is_ascii_digit() {
                    kind.push(c);
                } else if !kind.ends_with('N') {
                    kind.push('N');
                }
            }
            *kinds.entry(kind).or_default() += 1;
        }
        let mut kinds: Vec<(String, usize)> = kinds.into_iter().collect();
        kinds.sort_by_key(|kind| std::cmp::Reverse(kind.1));
        (count, kinds.into_iter().take(3).map(|(m, n)| format!("{n} × `{m}`")).collect())
    }
}

/// CPU time (user + system) process `pid` (or `self`) used so far, in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (which may hold spaces): utime is field 14, stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// The machine's busy and total clock ticks so far, all cores (`/proc/stat`).
fn machine_busy() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    // idle and iowait are the 4th and 5th.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    (total.saturating_sub(idle), total)
}

// ---------------------------------------------------------------------------
// The task, its share code and the viewer grant

struct Shared {
    key: String,
    task_id: String,
    viewer_token: String,
}

async fn answer(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    let response =
        timeout(Duration::from_secs(60), request.send()).await.context("no answer within 60 s")??;
    let status = response.status();
    let body = response.text().await?;
    if !status.is_success() {
        bail!("{status}: {body}");
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn share(run: &Run, server: &Server, url: &str) -> anyhow::Result<Shared> {
    let output = timeout(
        Duration::from_secs(60),
        Command::new(&run.bin)
            .args(["keys", "create", "--owner", "bench", "--database-url", url])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("keys create: no answer within 60 s")??;
    let key = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_owned();
    anyhow::ensure!(!key.is_empty(), "keys create said: {}", String::from_utf8_lossy(&output.stderr));
    let client = reqwest::Client::new();
    let base = &server.base;
    let task = answer(
        client
            .post(format!("{base}/v1/tasks"))
            .bearer_auth(&key)
            .json(&json!({"title": "Watched by many", "agent": "bench"})),
    )
    .await?;
    let task_id = task["data"]["task_id"].as_str().context("task id")?.to_owned();
    answer(
        client
            .patch(format!("{base}/v1/tasks/{task_id}"))
            .bearer_auth(&key)
            .json(&json!({"status": "running"})),
    )
    .await?;
    let shared = answer(
        client.post(format!("{base}/v1/agentrix/tasks/{task_id}/share")).bearer_auth(&key).json(&json!({})),
    )
    .await?;
    let code = shared["shareCode"]
        .as_str()
        .or(shared["data"]["shareCode"].as_str())
        .context("shareCode")?
        .to_owned();
    let grant = answer(client.get(format!("{base}/v1/auth/share")).query(&[("code", &code)])).await?;
    let viewer_token =
        grant["token"].as_str().or(grant["data"]["token"].as_str()).context("viewer token")?.to_owned();
    Ok(Shared { key, task_id, viewer_token })
}

// ---------------------------------------------------------------------------
// One stream: a hand-written HTTP/1.1 client, so that 10,000 of them cost the
// machine (which the server shares) as little as possible.

/// What the event phase tells every stream: the sequence number of the last
/// event appended, and how long to wait for it.
#[derive(Clone, Copy)]
struct Stop {
    last_seq: i64,
    deadline: Instant,
}

/// What became of one stream.
#[derive(Default)]
struct StreamResult {
    instance: usize,
    opened: bool,
    /// `(seq, when its id: line arrived)`.
    received: Vec<(i64, Instant)>,
    /// Why it did not open, or how it ended before the last event.
    trouble: Option<String>,
}

/// Undoes chunked transfer encoding and finds the `id:` lines of an SSE stream.
struct Decoder {
    chunked: bool,
    /// Bytes left of the current chunk; `None` while reading a chunk's size line.
    left: Option<usize>,
    /// The `\r\n` after a chunk's data is still to come.
    after_chunk: bool,
    raw: Vec<u8>,
    line: Vec<u8>,
    ended: Option<String>,
}

impl Decoder {
    fn new(chunked: bool) -> Decoder {
        Decoder { chunked, left: None, after_chunk: false, raw: Vec::new(), line: Vec::new(), ended: None }
    }

    fn feed(&mut self, bytes: &[u8], at: Instant, out: &mut Vec<(i64, Instant)>) {
        if !self.chunked {
            self.lines(bytes, at, out);
            return;
        }
        self.raw.extend_from_slice(bytes);
        let mut pos = 0;
        loop {
            if self.after_chunk {
                if self.raw.len() - pos < 2 {
                    break;
                }
                pos += 2;
                self.after_chunk = false;
            }
            match self.left {
                None => {
                    let Some(end) = self.raw[pos..].windows(2).position(|w| w == b"\r\n") else { break };
                    let size_line = String::from_utf8_lossy(&self.raw[pos..pos + end]).to_string();
                    pos += end + 2;
                    let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16);
                    match size {
                        Ok(0) => {
                            self.ended.get_or_insert_with(|| "the server ended the response".into());
                            pos = self.raw.len();
                            break;
                        }
                        Ok(n) => self.left = Some(n),
                        Err(_) => {
                            self.ended.get_or_insert_with(|| format!("bad chunk size {size_line:?}"));
                            pos = self.raw.len();
                            break;
                        }
                    }
                }
                Some(n) => {
                    let take = n.min(self.raw.len() - pos);
                    if take == 0 {
                        break;
                    }
                    let data = self.raw[pos..pos + take].to_vec();
                    self.lines(&data, at, out);
                    pos += take;
                    if take == n {
                        self.left = None;
                        self.after_chunk = true;
                    } else {
                        self.left = Some(n - take);
                    }
                }
            }
        }
        self.raw.drain(..pos);
    }

    fn lines(&mut self, bytes: &[u8], at: Instant, out: &mut Vec<(i64, Instant)>) {
        for &b in bytes {
            if b != b'\n' {
                self.line.push(b);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let line = line.strip_suffix(b"\r").unwrap_or(&line);
            if let Some(id) = line.strip_prefix(b"id:") {
                if let Some(seq) = std::str::from_utf8(id).ok().and_then(|s| s.trim().parse::<i64>().ok()) {
                    out.push((seq, at));
                }
            } else if let Some(kind) = line.strip_prefix(b"event:") {
                let kind = String::from_utf8_lossy(kind).trim().to_owned();
                if kind == "end" || kind == "revoked" {
                    self.ended.get_or_insert_with(|| format!("the server sent `event: {kind}`"));
                }
            }
        }
    }
}

/// Connects, sends the request and reads the response's head. Returns the
/// connection, whether the body is chunked, and the body bytes already read.
async fn open_stream(port: u16, request: &[u8]) -> Result<(TcpStream, bool, Vec<u8>), String> {
    let mut conn = match timeout(Duration::from_secs(10), TcpStream::connect(("127.0.0.1", port))).await {
        Err(_) => return Err("TCP connect timed out (10 s)".into()),
        Ok(Err(e)) => return Err(format!("connect: {}", kind_of(&e))),
        Ok(Ok(conn)) => conn,
    };
    let _ = conn.set_nodelay(true);
    conn.write_all(request).await.map_err(|e| format!("sending the request: {}", kind_of(&e)))?;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    let end = timeout(Duration::from_secs(30), async {
        loop {
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(end);
            }
            if head.len() > 64 * 1024 {
                return Err("a response head over 64 KB".to_owned());
            }
            match conn.read(&mut buf).await {
                Ok(0) => return Err("closed before answering".to_owned()),
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("reading the answer: {}", kind_of(&e))),
            }
        }
    })
    .await
    .map_err(|_| "no answer within 30 s".to_owned())??;
    let text = String::from_utf8_lossy(&head[..end]).to_string();
    let status = text.split_whitespace().nth(1).unwrap_or("?").to_owned();
    if status != "200" {
        // The error's code, as far as it came with the head (`{"code": "TOO_MANY_STREAMS", …}`).
        let body = String::from_utf8_lossy(&head[end + 4..]).to_string();
        let code = body
            .split_once("\"code\"")
            .and_then(|(_, rest)| rest.split('"').nth(1))
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        return Err(match code {
            Some(code) => format!("HTTP {status} {code}"),
            None => format!("HTTP {status}"),
        });
    }
    let chunked = text.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    Ok((conn, chunked, head[end + 4..].to_vec()))
}

fn kind_of(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(24) => "too many open files (EMFILE)".into(),
        Some(99) => "no local port left (EADDRNOTAVAIL)".into(),
        _ => format!("{:?}", e.kind()),
    }
}

/// One viewer's stream, from connecting to the last event (or its deadline).
#[allow(clippy::too_many_arguments)]
async fn stream(
    instance: usize,
    port: u16,
    request: Arc<Vec<u8>>,
    opening: Arc<Semaphore>,
    open_by: Instant,
    hard_stop: Instant,
    opened_tx: mpsc::UnboundedSender<(usize, Result<Instant, String>)>,
    mut stop_rx: watch::Receiver<Option<Stop>>,
) -> StreamResult {
    let mut result = StreamResult { instance, ..StreamResult::default() };
    let opened = timeout_at(open_by, async {
        let _permit = opening.acquire().await.map_err(|_| "closed".to_owned())?;
        open_stream(port, &request).await
    })
    .await
    .unwrap_or_else(|_| Err("not open when the opening phase ended".into()));
    let (mut conn, chunked, rest) = match opened {
        Ok(opened) => {
            let _ = opened_tx.send((instance, Ok(Instant::now())));
            opened
        }
        Err(why) => {
            let _ = opened_tx.send((instance, Err(why.clone())));
            result.trouble = Some(why);
            return result;
        }
    };
    drop(opened_tx);
    result.opened = true;
    let mut decoder = Decoder::new(chunked);
    decoder.feed(&rest, Instant::now(), &mut result.received);
    let mut buf = vec![0u8; 4096];
    loop {
        let stop = *stop_rx.borrow_and_update();
        if let Some(stop) = stop {
            if result.received.last().is_some_and(|(seq, _)| *seq >= stop.last_seq) {
                break;
            }
        }
        if let Some(ended) = decoder.ended.take() {
            result.trouble = Some(ended);
            break;
        }
        let deadline = stop.map_or(hard_stop, |s| s.deadline.min(hard_stop));
        tokio::select! {
            read = conn.read(&mut buf) => match read {
                Ok(0) => {
                    result.trouble = Some("the server closed the connection".into());
                    break;
                }
                Ok(n) => decoder.feed(&buf[..n], Instant::now(), &mut result.received),
                Err(e) => {
                    result.trouble = Some(format!("read: {}", kind_of(&e)));
                    break;
                }
            },
            changed = stop_rx.changed() => {
                if changed.is_err() {
                    // The bench is giving up on this run.
                    result.trouble = Some("abandoned".into());
                    break;
                }
            }
            () = sleep_until(deadline) => break,
        }
    }
    result
}

// ---------------------------------------------------------------------------
// Measuring one configuration

/// Figures of one instance.
#[derive(Default, Clone)]
struct InstanceRow {
    label: String,
    assigned: usize,
    opened: usize,
    open_secs: Option<f64>,
    rss_before_kb: f64,
    rss_with_kb: f64,
    /// Latencies (ms) of this instance's streams, and whether the events were
    /// appended on this instance.
    latencies: Vec<f64>,
    same_instance: bool,
    pairs: usize,
    missing: usize,
    cpu_ms_per_event: Option<f64>,
    idle_cpu_ms_per_sec: Option<f64>,
    /// DB transactions and rows read per event (shown on the first instance's row).
    db_per_event: Option<(f64, f64, f64)>,
}

struct Measured {
    rows: Vec<InstanceRow>,
    notes: Vec<String>,
}

/// `pg_stat_database` of the scratch database, read from the admin database so
/// that reading adds nothing to it: (transactions, tup_returned, tup_fetched).
struct PgStats {
    conn: sqlx::PgConnection,
    name: String,
}

impl PgStats {
    async fn open(url: &str) -> anyhow::Result<PgStats> {
        let admin = std::env::var("AGENTSHARE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        Ok(PgStats { conn: sqlx::PgConnection::connect(&admin).await?, name })
    }

    async fn read(&mut self) -> anyhow::Result<(i64, i64, i64)> {
        let row: (Option<i64>, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT sum(xact_commit + xact_rollback)::bigint, sum(tup_returned)::bigint, \
             sum(tup_fetched)::bigint FROM pg_stat_database WHERE datname = $1",
        )
        .bind(&self.name)
        .fetch_one(&mut self.conn)
        .await?;
        Ok((row.0.unwrap_or(0), row.1.unwrap_or(0), row.2.unwrap_or(0)))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The measurement under way: its task (aborting it drops, and so kills, its
/// servers) and its PostgreSQL scratch database, for [`clean_up`] on a signal.
static CURRENT: std::sync::Mutex<Option<(tokio::task::AbortHandle, Option<String>)>> =
    std::sync::Mutex::new(None);

/// Stops the measurement under way and drops its scratch database.
async fn clean_up() {
    let current = CURRENT.lock().ok().and_then(|mut current| current.take());
    let Some((task, postgres)) = current else { return };
    task.abort();
    // Let the aborted task be dropped, and its servers with it.
    sleep(Duration::from_millis(500)).await;
    if let Some(url) = postgres {
        let admin = std::env::var("AGENTSHARE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let dropped = async {
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).await?;
            anyhow::Ok(())
        };
        match timeout(Duration::from_secs(10), dropped).await {
            Ok(Ok(())) => eprintln!("dropped the scratch database {name}"),
            _ => eprintln!("could not drop the scratch database {name}"),
        }
    }
}

async fn measure(run: &Run, backend: &str, instances: usize) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(backend, dir.path()).await?;
    let url = scratch.url.clone();
    // The measurement runs in a task of its own, so that a panic in it still
    // stops its servers (they are dropped as it unwinds) and drops the database.
    let task = tokio::spawn({
        let (run, url, dir_path) = (run.clone(), url.clone(), dir.path().to_owned());
        let backend = backend.to_owned();
        async move { measure_on(&run, &backend, instances, &url, &dir_path).await }
    });
    if let Ok(mut current) = CURRENT.lock() {
        *current = Some((task.abort_handle(), (backend == "postgres").then(|| url.clone())));
    }
    let outcome = task.await;
    if let Ok(mut current) = CURRENT.lock() {
        current.take();
    }
    if let Err(err) = scratch.drop_database().await {
        eprintln!("  could not drop the scratch database: {err:#}");
    }
    match outcome {
        Ok(result) => result,
        Err(join) => bail!("the measurement panicked: {join}"),
    }
}

async fn measure_on(
    run: &Run,
    backend: &str,
    instances: usize,
    url: &str,
    dir: &Path,
) -> anyhow::Result<Measured> {
    let label = if instances == 1 { backend.to_owned() } else { format!("{backend} ×{instances}") };
    let mut servers = Vec::new();
    for i in 0..instances {
        servers.push(Server::start(run, url, dir, &format!("instance{i}")).await?);
    }
    let result = measure_servers(run, &label, backend, url, &servers).await;
    for server in servers {
        server.stop().await;
    }
    result
}

async fn measure_servers(
    run: &Run,
    label: &str,
    backend: &str,
    url: &str,
    servers: &[Server],
) -> anyhow::Result<Measured> {
    let shared = share(run, &servers[0], url).await?;
    let mut pg = if backend == "postgres" { Some(PgStats::open(url).await?) } else { None };
    let mut notes = Vec::new();
    let n = run.streams;
    let names: Vec<String> = (0..servers.len())
        .map(|i| {
            if servers.len() == 1 {
                label.to_owned()
            } else {
                format!("{label}, {}", ["A", "B", "C", "D"][i.min(3)])
            }
        })
        .collect();

    sleep(Duration::from_secs(1)).await;
    let rss_before: Vec<f64> = servers.iter().map(Server::rss_kb).collect();

    // Opening: every stream at once (OPENING_AT_ONCE being opened at a time).
    eprintln!("  {label}: opening {n} streams…");
    let requests: Vec<Arc<Vec<u8>>> = servers
        .iter()
        .map(|s| {
            Arc::new(
                format!(
                    "GET /v1/tasks/{}/events/stream HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\n\
                     Accept: text/event-stream\r\nUser-Agent: agentshare-bench-streams\r\n\r\n",
                    shared.task_id, s.port, shared.viewer_token
                )
                .into_bytes(),
            )
        })
        .collect();
    let opening = Arc::new(Semaphore::new(OPENING_AT_ONCE));
    let started = Instant::now();
    // Opening ends after at most 60 s plus 20 ms a stream; then the event phase
    // (events, grace) and a margin: no read outlives `hard_stop`.
    let open_by = started + Duration::from_secs(60) + Duration::from_millis(20) * n as u32;
    let hard_stop = open_by
        + QUIET
        + EVENT_EVERY * run.events as u32
        + Duration::from_secs(60)
        + run.grace
        + Duration::from_secs(30);
    let (opened_tx, mut opened_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel::<Option<Stop>>(None);
    let mut set = JoinSet::new();
    for i in 0..n {
        let instance = i % servers.len();
        set.spawn(stream(
            instance,
            servers[instance].port,
            requests[instance].clone(),
            opening.clone(),
            open_by,
            hard_stop,
            opened_tx.clone(),
            stop_rx.clone(),
        ));
    }
    drop(opened_tx);
    drop(stop_rx);
    let mut outcomes = 0;
    let mut opened = 0;
    let mut last_open = started;
    let mut last_open_of = vec![None::<Instant>; servers.len()];
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut report = Instant::now() + Duration::from_secs(10);
    while outcomes < n {
        let next = timeout_at(open_by + Duration::from_secs(40), opened_rx.recv()).await;
        match next {
            Err(_) | Ok(None) => break,
            Ok(Some((instance, Ok(at)))) => {
                opened += 1;
                last_open = last_open.max(at);
                last_open_of[instance] = Some(last_open_of[instance].map_or(at, |t: Instant| t.max(at)));
            }
            Ok(Some((_, Err(why)))) => *failures.entry(why).or_default() += 1,
        }
        outcomes += 1;
        if Instant::now() >= report {
            eprintln!(
                "  {opened} of {n} open, {} failed ({:.0} s)",
                outcomes - opened,
                started.elapsed().as_secs_f64()
            );
            report += Duration::from_secs(10);
        }
    }
    let open_secs = (last_open - started).as_secs_f64();
    eprintln!("  {opened} of {n} streams open in {open_secs:.1} s; {} failed", outcomes - opened);
    if !failures.is_empty() {
        let list: Vec<String> = failures.iter().map(|(why, k)| format!("{k} × {why}")).collect();
        notes.push(format!("{label}: {} of {n} streams did not open: {}.", n - opened, list.join("; ")));
    }

    sleep(Duration::from_secs(1)).await;
    let rss_with: Vec<f64> = servers.iter().map(Server::rss_kb).collect();

    // A quiet window: what the open streams cost with nothing happening.
    let cpu0: Vec<u64> = servers.iter().map(Server::cpu_ticks).collect();
    let own0 = cpu_ticks("self");
    let busy0 = machine_busy();
    let db0 = match pg.as_mut() {
        Some(pg) => Some(pg.read().await?),
        None => None,
    };
    let quiet_start = Instant::now();
    sleep(QUIET).await;
    let quiet = quiet_start.elapsed().as_secs_f64();
    let cpu1: Vec<u64> = servers.iter().map(Server::cpu_ticks).collect();
    let own1 = cpu_ticks("self");
    let busy1 = machine_busy();
    let db1 = match pg.as_mut() {
        Some(pg) => Some(pg.read().await?),
        None => None,
    };

    // Events: appended on the first instance, one every EVENT_EVERY, each POST
    // sent on its schedule whatever became of the earlier ones.
    eprintln!("  {label}: appending {} events…", run.events);
    let owner = reqwest::Client::builder().no_proxy().build()?;
    let events_started = Instant::now();
    let mut appends = JoinSet::new();
    for i in 0..run.events {
        let at = events_started + EVENT_EVERY * i as u32;
        let request = owner
            .post(format!("{}/v1/tasks/{}/events", servers[0].base, shared.task_id))
            .bearer_auth(&shared.key)
            .json(&json!({"type": "log", "content": format!("step {i}: compiled 12 crates, 3 warnings, tests running")}));
        appends.spawn(async move {
            sleep_until(at).await;
            let sent = Instant::now();
            let outcome = match timeout(Duration::from_secs(60), request.send()).await {
                Err(_) => Err("no answer within 60 s".to_owned()),
                Ok(Err(e)) => Err(format!("{e}")),
                Ok(Ok(response)) => {
                    let status = response.status();
                    let body: Value = timeout(Duration::from_secs(60), response.json())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or(Value::Null);
                    match body["data"]["seq"].as_i64().or(body["seq"].as_i64()) {
                        Some(seq) if status.is_success() => Ok(seq),
                        _ => Err(format!("HTTP {status}")),
                    }
                }
            };
            (i, sent, Instant::now(), outcome)
        });
    }
    let mut sent_at: HashMap<i64, Instant> = HashMap::new();
    let mut append_failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut append_ms = Vec::new();
    while let Some(joined) = appends.join_next().await {
        let (_, sent, answered, outcome) = joined?;
        append_ms.push((answered - sent).as_secs_f64() * 1000.0);
        match outcome {
            Ok(seq) => {
                sent_at.insert(seq, sent);
            }
            Err(why) => *append_failures.entry(why).or_default() += 1,
        }
    }
    let appended_by = Instant::now();
    let last_seq = sent_at.keys().max().copied().unwrap_or(i64::MAX);
    let deadline = appended_by + run.grace;
    let _ = stop_tx.send(Some(Stop { last_seq, deadline }));
    let mut results = Vec::with_capacity(n);
    let mut panicked = 0;
    while let Some(joined) =
        timeout_at(hard_stop + Duration::from_secs(10), set.join_next()).await.ok().flatten()
    {
        match joined {
            Ok(result) => results.push(result),
            Err(_) => panicked += 1,
        }
    }
    if !set.is_empty() {
        notes.push(format!(
            "{label}: {} streams did not finish by their deadline and were abandoned.",
            set.len()
        ));
        set.abort_all();
    }
    drop(stop_tx);
    let events_done = Instant::now();
    let cpu2: Vec<u64> = servers.iter().map(Server::cpu_ticks).collect();
    let own2 = cpu_ticks("self");
    let busy2 = machine_busy();
    let event_secs = (events_done - events_started).as_secs_f64();
    // PostgreSQL publishes a backend's counts up to a second late: wait before
    // the last reading (the quiet window shows what that second adds).
    let db2 = match pg.as_mut() {
        Some(pg) => {
            sleep(Duration::from_millis(1500)).await;
            Some(pg.read().await?)
        }
        None => None,
    };
    let db_secs = events_done.elapsed().as_secs_f64() + event_secs;
    eprintln!("  events done in {event_secs:.1} s");
    if panicked > 0 {
        notes.push(format!("{label}: {panicked} stream tasks panicked."));
    }

    // Latencies, per instance.
    let appended = sent_at.len();
    let mut rows: Vec<InstanceRow> = names
        .iter()
        .enumerate()
        .map(|(i, name)| InstanceRow {
            label: name.clone(),
            assigned: (0..n).filter(|s| s % servers.len() == i).count(),
            rss_before_kb: rss_before[i],
            rss_with_kb: rss_with[i],
            same_instance: i == 0,
            cpu_ms_per_event: (appended > 0)
                .then(|| cpu2[i].saturating_sub(cpu1[i]) as f64 / run.ticks * 1000.0 / run.events as f64),
            idle_cpu_ms_per_sec: Some(cpu1[i].saturating_sub(cpu0[i]) as f64 / run.ticks * 1000.0 / quiet),
            ..InstanceRow::default()
        })
        .collect();
    let mut troubles: BTreeMap<String, usize> = BTreeMap::new();
    let mut early = 0usize;
    for result in &results {
        let row = &mut rows[result.instance];
        if !result.opened {
            continue;
        }
        row.opened += 1;
        let got: HashMap<i64, Instant> = result.received.iter().copied().collect();
        for (seq, sent) in &sent_at {
            row.pairs += 1;
            match got.get(seq) {
                Some(at) => row.latencies.push(at.saturating_duration_since(*sent).as_secs_f64() * 1000.0),
                None => row.missing += 1,
            }
        }
        if let Some(trouble) = &result.trouble {
            *troubles.entry(trouble.clone()).or_default() += 1;
            early += 1;
        }
    }
    for (row, last) in rows.iter_mut().zip(&last_open_of) {
        row.latencies.sort_by(f64::total_cmp);
        row.open_secs = last.map(|t| (t - started).as_secs_f64());
    }
    if early > 0 {
        let list: Vec<String> = troubles.iter().map(|(why, k)| format!("{k} × {why}")).collect();
        notes
            .push(format!("{label}: {early} open streams ended before the last event: {}.", list.join("; ")));
    }
    if !append_failures.is_empty() {
        let list: Vec<String> = append_failures.iter().map(|(why, k)| format!("{k} × {why}")).collect();
        notes.push(format!(
            "{label}: {} of {} appends failed ({}); their deliveries are not counted.",
            run.events - appended,
            run.events,
            list.join("; ")
        ));
    }
    append_ms.sort_by(f64::total_cmp);
    let mut summary = format!(
        "{label}: appends answered in p50 {} / max {}; the event phase (first append to the last delivery{}) took {:.1} s",
        ms(percentile(&append_ms, 0.5)),
        ms(percentile(&append_ms, 1.0)),
        if rows.iter().any(|r| r.missing > 0) { ", or the grace period" } else { "" },
        event_secs,
    );
    let idle_cpu: Vec<String> = rows
        .iter()
        .map(|r| {
            let idle = r.idle_cpu_ms_per_sec.unwrap_or(0.0);
            let above = r.cpu_ms_per_event.map_or(0.0, |c| c - idle * event_secs / run.events as f64);
            if above > 0.0 {
                format!("{idle:.0} ms/s (so {above:.1} ms per event above that)")
            } else {
                format!("{idle:.0} ms/s (and no more during the events)")
            }
        })
        .collect();
    summary.push_str(&format!(
        "; with the streams open and no events, the server{} used {} of CPU",
        if rows.len() > 1 { "s" } else { "" },
        idle_cpu.join(" + ")
    ));
    if let (Some(d0), Some(d1), Some(d2)) = (db0, db1, db2) {
        let per_event = |i: usize| -> f64 {
            let delta = match i {
                0 => d2.0 - d1.0,
                1 => d2.1 - d1.1,
                _ => d2.2 - d1.2,
            };
            delta as f64 / run.events as f64
        };
        rows[0].db_per_event = Some((per_event(0), per_event(1), per_event(2)));
        let (idle_xacts, idle_rows) = ((d1.0 - d0.0) as f64 / quiet, (d1.1 - d0.1) as f64 / quiet);
        // What the events added to what the open streams cost anyway.
        let above = |per_event: f64, idle: f64| {
            let above = per_event - idle * db_secs / run.events as f64;
            if above > 0.0 {
                format!("{above:.0}")
            } else {
                "none (less than at the quiet rate)".to_owned()
            }
        };
        summary.push_str(&format!(
            " and the database {idle_xacts:.0} transactions/s, {idle_rows:.0} rows read/s; per event (counted over \
             {db_secs:.1} s) {:.1} transactions, {:.0} rows read (tup_returned), {:.0} rows fetched (tup_fetched), \
             of which above the quiet rate: transactions {}, rows read {}",
            per_event(0),
            per_event(1),
            per_event(2),
            above(per_event(0), idle_xacts),
            above(per_event(1), idle_rows),
        ));
    }
    summary.push_str(&format!(
        "; the bench itself (the streams' client) used {:.0} ms/s of CPU in the quiet window and {:.1} ms per event",
        own1.saturating_sub(own0) as f64 / run.ticks * 1000.0 / quiet,
        own2.saturating_sub(own1) as f64 / run.ticks * 1000.0 / run.events as f64,
    ));
    let busy = |(b0, t0): (u64, u64), (b1, t1): (u64, u64)| {
        100.0 * b1.saturating_sub(b0) as f64 / t1.saturating_sub(t0).max(1) as f64
    };
    summary.push_str(&format!(
        "; the machine's cores were {:.0}% busy in the quiet window and {:.0}% during the events",
        busy(busy0, busy1),
        busy(busy1, busy2),
    ));
    summary.push('.');
    notes.push(summary);
    for (server, name) in servers.iter().zip(&names) {
        let (count, kinds) = server.complaints();
        if count > 0 {
            notes.push(format!("{name}: {count} warnings/errors in the server's log: {}.", kinds.join("; ")));
        }
    }
    Ok(Measured { rows, notes })
}

// ---------------------------------------------------------------------------
// The table

fn ms(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v >= 1_000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn row_text(row: &InstanceRow) -> String {
    let lat = if row.latencies.is_empty() {
        "—".to_owned()
    } else {
        format!(
            "{} / {} / {}",
            ms(percentile(&row.latencies, 0.5)),
            ms(percentile(&row.latencies, 0.99)),
            ms(percentile(&row.latencies, 1.0))
        )
    };
    let (same, other) = if row.same_instance { (lat, "—".to_owned()) } else { ("—".to_owned(), lat) };
    let open = if row.opened == row.assigned {
        thousands(row.opened as u64)
    } else {
        format!("{} of {}", thousands(row.opened as u64), thousands(row.assigned as u64))
    };
    let per_stream = if row.opened > 0 {
        format!("{:.1} KB", (row.rss_with_kb - row.rss_before_kb) / row.opened as f64)
    } else {
        "—".into()
    };
    let missing = if row.pairs == 0 {
        "—".to_owned()
    } else if row.missing == 0 {
        format!("0 of {}", thousands(row.pairs as u64))
    } else {
        format!("**{} of {}**", thousands(row.missing as u64), thousands(row.pairs as u64))
    };
    let (xacts, rows_read) = match row.db_per_event {
        Some((x, r, _)) => (format!("{x:.1}"), format!("{r:.0}")),
        None if row.label.starts_with("postgres") => ("(shared, above)".into(), "(shared, above)".into()),
        None => ("—".into(), "—".into()),
    };
    format!(
        "| {} | {open} | {} | {:.0} → {:.0} MB | {per_stream} | {same} | {other} | {missing} | {} | {xacts} | {rows_read} |\n",
        row.label,
        row.open_secs.map_or("—".into(), |s| ms(s * 1000.0)),
        row.rss_before_kb / 1024.0,
        row.rss_with_kb / 1024.0,
        row.cpu_ms_per_event.map_or("—".into(), |c| format!("{c:.1} ms")),
    )
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// Raises this process's open-file limit (and so its servers') to at least `want`
/// where allowed; returns the soft limit now.
fn raise_open_files(want: u64) -> u64 {
    use rlimit::Resource;
    if let Ok((_, hard)) = rlimit::getrlimit(Resource::NOFILE) {
        if hard < want {
            // Only root may raise the hard limit; otherwise the soft one goes to the hard.
            let _ = rlimit::setrlimit(Resource::NOFILE, want, want);
        }
    }
    let _ = rlimit::increase_nofile_limit(want);
    rlimit::getrlimit(Resource::NOFILE).map_or(0, |(soft, _)| soft)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().next().unwrap_or("?").to_owned();
    format!("{cores} cores, {mem_gb:.0} GiB, load average {load} at the start; the streams' client, the servers and PostgreSQL share the machine")
}

async fn run_all() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let run = Run {
        streams: arg("--streams", "10000").parse().context("--streams")?,
        events: arg("--events", "40").parse().context("--events")?,
        grace: Duration::from_secs(arg("--grace", "10").parse().context("--grace")?),
        bin: match arg("--binary", "") {
            path if path.is_empty() => target.join("release/agentshare"),
            path => PathBuf::from(path),
        },
        ticks: clock_ticks(),
        max_streams_per_client: match arg("--max-streams-per-client", "") {
            v if v.is_empty() => None,
            v => Some(v.parse().context("--max-streams-per-client")?),
        },
    };
    anyhow::ensure!(run.bin.is_file(), "no binary at {} (cargo build --release)", run.bin.display());
    anyhow::ensure!(run.streams > 0 && run.events > 0, "--streams and --events must be at least 1");
    let files = raise_open_files(2 * run.streams as u64 + 4096);
    let machine = machine();
    eprintln!("open-file limit {files} (servers inherit it); {machine}");
    if files < run.streams as u64 + 1024 {
        eprintln!(
            "warning: the open-file limit {files} is below {} streams and their servers' needs",
            run.streams
        );
    }

    let backends = arg("--backends", "sqlite,postgres");
    let mut configs: Vec<(&str, usize)> = Vec::new();
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        match backend {
            "sqlite" => configs.push(("sqlite", 1)),
            "postgres" => configs.extend([("postgres", 1), ("postgres", 2)]),
            "postgres1" => configs.push(("postgres", 1)),
            "postgres2" => configs.push(("postgres", 2)),
            other => bail!("unknown backend {other} (sqlite, postgres, postgres1, postgres2)"),
        }
    }
    let started = std::time::Instant::now();
    let mut table = String::new();
    let mut notes = Vec::new();
    for (backend, instances) in configs {
        eprintln!("== {backend}, {instances} instance(s): {} streams, {} events", run.streams, run.events);
        match measure(&run, backend, instances).await {
            Ok(measured) => {
                for row in &measured.rows {
                    table.push_str(&row_text(row));
                }
                notes.extend(measured.notes);
            }
            Err(err) => {
                let label =
                    if instances == 1 { backend.to_owned() } else { format!("{backend} ×{instances}") };
                eprintln!("  {label} failed: {err:#}");
                table.push_str(&format!(
                    "| {label} | failed: {} | | | | | | | | | |\n",
                    format!("{err:#}").replace('|', "/")
                ));
            }
        }
    }
    let mut shown_args: Vec<String> = Vec::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--write" => i += 2,
            "--bench" | "--no-write" => i += 1,
            a => {
                shown_args.push(a.to_owned());
                i += 1;
            }
        }
    }
    let command =
        std::iter::once("scripts/bench-streams".to_owned()).chain(shown_args).collect::<Vec<_>>().join(" ");
    let mut section = format!(
        "## Live viewers at scale\n\n\
         `{command}` ({} streams of one running task opened by one share-code viewer from 127.0.0.1, \
         {} `log` events appended by the owner on the first instance, one every {} ms; {machine}; took {:.0} s)\n\n\
         | backend | streams open | open, all | RSS before → with streams | per stream | latency, same instance: p50 / p99 / max | other instance: p50 / p99 / max | missing deliveries | server CPU per event | DB transactions per event | DB rows read per event |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n{table}\n",
        thousands(run.streams as u64),
        run.events,
        EVENT_EVERY.as_millis(),
        started.elapsed().as_secs_f64(),
    );
    section.push_str(
        "Streams are opened 128 at a time over raw HTTP/1.1 (one connection each) with the viewer's \
         grant; *open, all* is from the first connect to the last 200. Latency is the time an event's \
         `id:` line reached a stream less the time its append's POST was sent, over every (stream, \
         event) pair; *missing* counts pairs that had not arrived when the stream's wait ended (the \
         grace period after the last append answered). *Per stream* is the growth of VmRSS with every \
         stream open, divided by the streams. Server CPU is user + system time (`/proc/PID/stat`) from \
         the first append to the last delivery, divided by the events; DB figures are the growth of \
         `pg_stat_database` (`xact_commit + xact_rollback`, `tup_returned`) over the same window \
         plus 1.5 s for PostgreSQL to publish its counts, read from another database, divided by the \
         events. Before the events, 5 quiet seconds with every stream open measure what open streams \
         cost on their own (below).\n\n",
    );
    for note in &notes {
        section.push_str(&format!("- {note}\n"));
    }
    println!("{section}");
    let out = arg("--write", "");
    if !out.is_empty() {
        write_between(&root.join(out), BEGIN, END, &section)?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // On Ctrl-C or SIGTERM the measurement is aborted, which kills its servers,
    // and its scratch database dropped.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let why = tokio::select! {
        result = run_all() => return result,
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = term.recv() => "terminated",
    };
    clean_up().await;
    bail!(why)
}
