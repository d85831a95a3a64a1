//! Three attacks against a running agentshare, and what an operator would notice
//! (`scripts/bench-attacks`).
//!
//! Each attack runs against the release `agentshare` binary, and with `--compare
//! OTHER_BINARY` against that one too, side by side. Every server runs on a fresh
//! SQLite database under `prlimit --nofile=256:256`, so running out of descriptors
//! shows. While an attack runs, the server's descriptors, threads and resident
//! memory are read from `/proc` every 500 ms, and honest requests from another
//! client address (127.0.0.2, a new connection each) are timed; an attack goes on
//! until the last of them is answered. Figures, not pass/fail:
//!
//! 1. 300 connections that send nothing or only the HTTP/2 preface, held 15 s;
//! 2. 40 slow downloads of a 20 MiB file and 520 of the task's zip, read at
//!    4 KiB/s for 30 s from 92 client addresses;
//! 3. a viewer with a share code floods a task with long messages, then 4 loops
//!    load the viewer's task page for 20 s.
//!
//! `cargo bench --bench attacks -- [--binary PATH] [--compare OTHER_BINARY] [--write BENCHMARKS.md]`
//!
//! Only flags every version of `serve` knows are passed (`--listen`,
//! `--database-url`, `--public-url`, `--request-timeout-secs`), so an older build
//! can be compared. A server whose memory grows past half of what the machine has
//! available (at most 8 GB) is killed, and the table says so.

// Only `arg()` is needed here; the scratch database is for the other benchmarks.
mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use common::{arg, thousands, write_between};
use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep, sleep_until, timeout, Instant};

/// The open-file limit every server runs under.
const NOFILE: u32 = 256;

/// Where honest clients connect from (attackers use 127.0.0.1 and other 127.x).
const HONEST: [u8; 4] = [127, 0, 0, 2];

/// The attacks, in the order of the table.
const ATTACKS: [&str; 3] = ["300 idle and h2c connections", "560 slow downloads", "message flood"];

/// One row of an attack's results: what is measured, and its value.
type Row = (String, String);

/// What one run needs to know besides the binary.
struct Env {
    /// Clock ticks per second of `/proc/PID/stat`, and where that figure came from.
    ticks: (f64, &'static str),
    /// Resident memory (MB) past which a server is killed.
    rss_cap_mb: f64,
}

/// A started `agentshare serve` (under `prlimit`), stopped when dropped, with its
/// database directory and its owner's API key.
struct Server {
    child: Child,
    addr: SocketAddr,
    base: String,
    key: String,
    dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Creates owner alice's key on a fresh database, then starts `serve` on it.
    async fn start(bin: &Path, request_timeout_secs: Option<u64>) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let db = format!("sqlite://{}/agentshare.db", dir.path().display());
        let output = Command::new(bin)
            .args(["keys", "create", "--owner", "alice", "--database-url", &db])
            .current_dir(dir.path())
            .output()
            .with_context(|| format!("cannot run {}", bin.display()))?;
        if !output.status.success() {
            bail!("keys create: {}", String::from_utf8_lossy(&output.stderr));
        }
        let key =
            String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().trim().to_owned();
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let base = format!("http://{addr}");
        let log = std::fs::File::create(dir.path().join("serve.log"))?;
        let mut command = Command::new("prlimit");
        command.arg(format!("--nofile={NOFILE}:{NOFILE}")).arg(bin).args([
            "serve",
            "--listen",
            &addr.to_string(),
            "--database-url",
            &db,
            "--public-url",
            &base,
        ]);
        if let Some(secs) = request_timeout_secs {
            command.args(["--request-timeout-secs", &secs.to_string()]);
        }
        // Its working directory is the scratch one, so defaults such as the mail
        // directory land there.
        let child = command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start prlimit (util-linux)")?;
        let mut server = Server { child, addr, base, key, dir };
        server.ready().await?;
        Ok(server)
    }

    /// Waits until the server answers `GET /healthz` (or fails, with its log).
    async fn ready(&mut self) -> anyhow::Result<()> {
        let client = client([127, 0, 0, 1], true)?;
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server at {} exited with {status}:\n{}", self.base, self.log_tail());
            }
            let health =
                timeout(Duration::from_secs(2), client.get(format!("{}/healthz", self.base)).send()).await;
            if matches!(health, Ok(Ok(ref r)) if r.status().is_success()) {
                return Ok(());
            }
            sleep(Duration::from_millis(100)).await;
        }
        bail!("the server at {} did not become ready:\n{}", self.base, self.log_tail())
    }

    /// The last lines the server logged.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// `prlimit` execs the server, so this is the server's process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server answers `/healthz` to an honest client once the attack
    /// is over (a second after its connections are gone).
    async fn still_serving(&mut self) -> anyhow::Result<String> {
        sleep(Duration::from_secs(1)).await;
        if let Some(status) = self.child.try_wait()? {
            return Ok(format!("no: exited ({status})"));
        }
        let started = Instant::now();
        let health = timeout(
            Duration::from_secs(10),
            client(HONEST, true)?.get(format!("{}/healthz", self.base)).send(),
        )
        .await;
        Ok(match health {
            Ok(Ok(r)) if r.status().is_success() => format!("yes ({})", ms(millis(started))),
            Ok(Ok(r)) => format!("no: {}", r.status().as_u16()),
            Ok(Err(_)) => "no: refused".into(),
            Err(_) => "no answer in 10 s".into(),
        })
    }

    /// A new task of the owner's, its id.
    async fn new_task(&self, owner: &reqwest::Client, title: &str) -> anyhow::Result<String> {
        let task = answer(
            owner
                .post(format!("{}/v1/tasks", self.base))
                .bearer_auth(&self.key)
                .json(&json!({"title": title})),
        )
        .await?;
        Ok(task["data"]["task_id"].as_str().context("task id")?.to_owned())
    }

    async fn set_status(&self, owner: &reqwest::Client, task_id: &str, status: &str) -> anyhow::Result<()> {
        let url = format!("{}/v1/tasks/{task_id}", self.base);
        answer(owner.patch(url).bearer_auth(&self.key).json(&json!({"status": status}))).await.map(drop)
    }

    /// The path (and query) of `url`, one of this server's.
    fn path_of<'a>(&self, url: &'a str) -> &'a str {
        url.strip_prefix(&self.base).unwrap_or(url)
    }
}

/// A client connecting from `from`, following no redirects and using no proxy;
/// with `fresh`, every request gets a new connection (as a new visitor's would).
fn client(from: [u8; 4], fresh: bool) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(from))
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none());
    if fresh {
        builder = builder.pool_max_idle_per_host(0);
    }
    Ok(builder.build()?)
}

/// The JSON of a request answered 2xx within a minute.
async fn answer(request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
    timeout(Duration::from_secs(60), async {
        let response = request.send().await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() {
            bail!("{status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("not JSON: {body}"))
    })
    .await
    .context("no answer within 60 s")?
}

/// The value of cookie `name` that `response` sets.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next()?.split_once('='))
        .find(|(n, v)| n.trim() == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

/// A form page's anti-forgery token and the cookie it must come back with.
async fn form(client: &reqwest::Client, url: &str) -> anyhow::Result<(String, String)> {
    let response =
        timeout(Duration::from_secs(30), client.get(url).send()).await.context("form: no answer")??;
    let cookie = set_cookie(&response, "agentshare_form").context("form: no agentshare_form cookie")?;
    let html = timeout(Duration::from_secs(30), response.text()).await.context("form: no page")??;
    let csrf = html
        .split_once(r#"name="csrf" value=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_owned())
        .context("form: no csrf field")?;
    Ok((csrf, format!("agentshare_form={cookie}")))
}

/// Posts the form of `url` (its token and cookie fetched first) and returns the
/// cookie `name` that the answer (a redirect) sets, as a `Cookie` header value.
async fn sign_in(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
    name: &str,
) -> anyhow::Result<String> {
    let (csrf, form_cookie) = form(client, url).await?;
    let mut fields = fields.to_vec();
    fields.push(("csrf", &csrf));
    let response =
        timeout(Duration::from_secs(30), client.post(url).header(COOKIE, form_cookie).form(&fields).send())
            .await
            .context("sign-in: no answer")??;
    let value = set_cookie(&response, name)
        .with_context(|| format!("{url} answered {} without a {name} cookie", response.status()))?;
    Ok(format!("{name}={value}"))
}

// What the operator sees: /proc/PID.

/// A server's descriptors, threads and resident memory at one moment.
#[derive(Clone, Copy, Default)]
struct Usage {
    fds: usize,
    threads: usize,
    rss_mb: f64,
}

fn usage(pid: u32) -> Usage {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Usage { fds, threads: field("Threads:") as usize, rss_mb: field("VmRSS:") / 1024.0 }
}

/// CPU time (user + system) the process has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is field 3,
    // utime 14 and stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

/// Peaks of [`Usage`] over an attack, sampled every 500 ms.
struct Sampler {
    stop: Arc<AtomicBool>,
    task: JoinHandle<(Usage, bool)>,
}

/// The peaks of an attack, and whether the server was killed for its memory.
struct Peaks {
    usage: Usage,
    killed: bool,
}

impl Sampler {
    /// Starts sampling `pid`; a server past `cap_mb` of memory is killed.
    fn start(pid: u32, cap_mb: f64) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let (mut peak, mut killed) = (usage(pid), false);
            while !stopped.load(Ordering::Relaxed) {
                let now = usage(pid);
                peak.fds = peak.fds.max(now.fds);
                peak.threads = peak.threads.max(now.threads);
                peak.rss_mb = peak.rss_mb.max(now.rss_mb);
                if now.rss_mb > cap_mb && !killed {
                    eprintln!("  the server passed {cap_mb:.0} MB of memory: killing it");
                    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                    killed = true;
                }
                sleep(Duration::from_millis(500)).await;
            }
            (peak, killed)
        });
        Sampler { stop, task }
    }

    async fn finish(self) -> anyhow::Result<Peaks> {
        self.stop.store(true, Ordering::Relaxed);
        let (usage, killed) = timeout(Duration::from_secs(5), self.task).await.context("sampler stuck")??;
        Ok(Peaks { usage, killed })
    }
}

/// Rows "X, idle → peak" of descriptors, threads and memory.
fn usage_rows(idle: Usage, peaks: &Peaks) -> Vec<Row> {
    let peak = peaks.usage;
    let killed = if peaks.killed { " (killed there)" } else { "" };
    vec![
        ("descriptors, idle → peak".into(), format!("{} → {}", idle.fds, peak.fds)),
        ("threads, idle → peak".into(), format!("{} → {}", idle.threads, peak.threads)),
        ("RSS, idle → peak".into(), format!("{} → {}{killed}", mb(idle.rss_mb), mb(peak.rss_mb))),
    ]
}

// Honest clients.

/// Latencies (ms) of honest requests that succeeded, and how many failed how.
#[derive(Default)]
struct Honest {
    ms: Vec<f64>,
    failed: BTreeMap<String, usize>,
}

/// Makes `count` requests built by `request`, one every `over / count`, each on
/// its own (a slow answer doesn't hold back the next) and given `limit` to answer
/// 2xx with its whole body, else it failed.
fn honest<F>(count: u32, over: Duration, limit: Duration, request: F) -> JoinHandle<Honest>
where
    F: Fn() -> reqwest::RequestBuilder + Send + 'static,
{
    tokio::spawn(async move {
        let began = Instant::now();
        let mut requests = JoinSet::new();
        for i in 0..count {
            sleep_until(began + over * i / count).await;
            let request = request();
            requests.spawn(async move {
                let started = Instant::now();
                let done = timeout(limit, async {
                    let response = request.send().await?;
                    let status = response.status();
                    response.bytes().await?;
                    Ok::<_, reqwest::Error>(status)
                })
                .await;
                match done {
                    Ok(Ok(status)) if status.is_success() => Ok(millis(started)),
                    Ok(Ok(status)) => Err(status.as_u16().to_string()),
                    Ok(Err(err)) if err.is_connect() => Err("no connection".to_owned()),
                    Ok(Err(_)) => Err("broken".to_owned()),
                    Err(_) => Err("timed out".to_owned()),
                }
            });
        }
        let mut out = Honest::default();
        for done in requests.join_all().await {
            match done {
                Ok(ms) => out.ms.push(ms),
                Err(failure) => *out.failed.entry(failure).or_default() += 1,
            }
        }
        out
    })
}

impl Honest {
    /// Rows of p50 / max and failures, for requests called `what`.
    fn rows(&self, what: &str) -> Vec<Row> {
        let mut sorted = self.ms.clone();
        sorted.sort_by(f64::total_cmp);
        let failed: usize = self.failed.values().sum();
        let how = if failed > 0 { format!(" ({})", counts(&self.failed)) } else { String::new() };
        let latency = match sorted.last() {
            Some(max) => format!("{} / {}", ms(sorted[sorted.len() / 2]), ms(*max)),
            None => "—".into(),
        };
        vec![
            (format!("{what}, p50 / max"), latency),
            (format!("{what}, failed"), format!("{failed} of {}{how}", failed + self.ms.len())),
        ]
    }
}

async fn collect(probes: JoinHandle<Honest>) -> anyhow::Result<Honest> {
    // Each probe has its own deadline; this one only guards against a bug.
    Ok(timeout(Duration::from_secs(300), probes).await.context("honest requests stuck")??)
}

// 1. Idle and h2c connections.

/// The HTTP/2 connection preface, all some clients ever send.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What became of a held connection by the time it was checked.
enum Held {
    Open,
    Closed,
    NeverConnected,
}

/// Opens a connection from 127.0.0.1 (sending only the preface with `h2c`, else
/// nothing), holds it until `check_at`, then reads whether the server closed it;
/// the connection is handed back, to be held on.
async fn hold(server: SocketAddr, h2c: bool, check_at: Instant) -> (Held, Option<TcpStream>) {
    let Ok(Ok(mut stream)) = timeout(Duration::from_secs(5), TcpStream::connect(server)).await else {
        return (Held::NeverConnected, None);
    };
    if h2c && !matches!(timeout(Duration::from_secs(5), stream.write_all(PREFACE)).await, Ok(Ok(()))) {
        return (Held::Closed, None);
    }
    sleep_until(check_at).await;
    let mut buf = [0u8; 4096];
    // Read what the server sent (an HTTP/2 server's settings, say) until the end of
    // the stream (closed) or until nothing more comes (open).
    for _ in 0..100 {
        match timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
            Err(_) => return (Held::Open, Some(stream)),
            Ok(Ok(0)) | Ok(Err(_)) => return (Held::Closed, None),
            Ok(Ok(_)) => {}
        }
    }
    (Held::Open, Some(stream))
}

async fn idle_connections(bin: &Path, env: &Env) -> anyhow::Result<Vec<Row>> {
    let mut server = Server::start(bin, Some(10)).await?;
    sleep(Duration::from_secs(1)).await;
    let idle = usage(server.pid());
    let sampler = Sampler::start(server.pid(), env.rss_cap_mb);
    let began = Instant::now();
    let check_at = began + Duration::from_secs(15);
    let (healthz, honest_client) = (format!("{}/healthz", server.base), client(HONEST, true)?);
    let probes =
        honest(20, Duration::from_secs(15), Duration::from_secs(5), move || honest_client.get(&healthz));
    let mut connections = JoinSet::new();
    for i in 0..300 {
        connections.spawn(hold(server.addr, i % 2 == 1, check_at));
    }
    sleep_until(check_at).await;
    let at_check = usage(server.pid());
    let (mut closed, mut never, mut still_open) = (0, 0, Vec::new());
    let all = timeout(Duration::from_secs(60), connections.join_all()).await.context("connections stuck")?;
    for (held, stream) in all {
        match held {
            Held::Closed => closed += 1,
            Held::NeverConnected => never += 1,
            Held::Open => {}
        }
        still_open.extend(stream);
    }
    // The attack lasts until the last honest request is answered (or gave up).
    let probes = collect(probes).await?;
    drop(still_open);
    let peaks = sampler.finish().await?;
    let mut rows = usage_rows(idle, &peaks);
    rows.insert(1, ("descriptors 15 s in".into(), at_check.fds.to_string()));
    let never = if never > 0 { format!(" ({never} never connected)") } else { String::new() };
    rows.push(("connections the server closed within 15 s".into(), format!("{closed} of 300{never}")));
    rows.extend(probes.rows("honest /healthz"));
    rows.push(("/healthz after the attack".into(), server.still_serving().await?));
    Ok(rows)
}

// 2. Slow readers.

/// How a slow download went.
enum Download {
    /// An answer with this status; `cut`: a 200 whose connection the server closed
    /// before the attack ended.
    Answered { status: u16, cut: bool },
    /// The connection failed or was closed before an answer.
    Closed,
    /// No status line before the attack ended.
    Unanswered,
}

/// `work`, unless the attack is stopped first (then `None`).
async fn unless_stopped<T>(stop: &mut watch::Receiver<bool>, work: impl Future<Output = T>) -> Option<T> {
    tokio::select! {
        done = work => Some(done),
        _ = stop.wait_for(|stopped| *stopped) => None,
    }
}

/// GETs `path` from address `from` with a 4 KiB receive buffer, then reads 4 KiB a
/// second until the attack is stopped.
async fn slow_download(
    from: Ipv4Addr,
    server: SocketAddr,
    path: Arc<str>,
    mut stop: watch::Receiver<bool>,
) -> Download {
    let connect = async {
        let socket = TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        socket.bind(SocketAddr::from((from, 0)))?;
        socket.connect(server).await
    };
    let mut stream = match unless_stopped(&mut stop, connect).await {
        Some(Ok(stream)) => stream,
        Some(Err(_)) => return Download::Closed,
        None => return Download::Unanswered,
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    match unless_stopped(&mut stop, stream.write_all(request.as_bytes())).await {
        Some(Ok(())) => {}
        Some(Err(_)) => return Download::Closed,
        None => return Download::Unanswered,
    }
    let mut buf = vec![0u8; 4096];
    let status = match unless_stopped(&mut stop, stream.read(&mut buf)).await {
        None => return Download::Unanswered,
        Some(Ok(0)) | Some(Err(_)) => return Download::Closed,
        // "HTTP/1.1 200 OK": the status is the second word.
        Some(Ok(n)) => String::from_utf8_lossy(&buf[..n])
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0),
    };
    if status != 200 {
        return Download::Answered { status, cut: false };
    }
    loop {
        if unless_stopped(&mut stop, sleep(Duration::from_secs(1))).await.is_none() {
            return Download::Answered { status, cut: false };
        }
        match unless_stopped(&mut stop, stream.read(&mut buf)).await {
            None => return Download::Answered { status, cut: false },
            Some(Ok(0)) | Some(Err(_)) => return Download::Answered { status, cut: true },
            Some(Ok(_)) => {}
        }
    }
}

/// Counts of how downloads went.
#[derive(Default)]
struct Tally {
    ok: usize,
    cut: usize,
    limited: usize,
    other: BTreeMap<u16, usize>,
    closed: usize,
    unanswered: usize,
}

impl Tally {
    fn add(&mut self, download: Download) {
        match download {
            Download::Answered { status: 200, cut } => {
                self.ok += 1;
                self.cut += usize::from(cut);
            }
            Download::Answered { status: 429, .. } => self.limited += 1,
            Download::Answered { status, .. } => *self.other.entry(status).or_default() += 1,
            Download::Closed => self.closed += 1,
            Download::Unanswered => self.unanswered += 1,
        }
    }

    fn cell(&self) -> String {
        let cut = if self.cut > 0 { format!(" ({} cut off)", self.cut) } else { String::new() };
        let other =
            if self.other.is_empty() { String::new() } else { format!(" · {}", counts(&self.other)) };
        format!(
            "200: {}{cut} · 429: {} · closed: {} · unanswered: {}{other}",
            self.ok, self.limited, self.closed, self.unanswered
        )
    }
}

async fn slow_readers(bin: &Path, env: &Env) -> anyhow::Result<Vec<Row>> {
    let mut server = Server::start(bin, None).await?;
    let owner = client([127, 0, 0, 1], false)?;
    let base = server.base.clone();
    let task_id = server.new_task(&owner, "A big build").await?;
    eprintln!("  uploading a 20 MiB artifact…");
    let content: Vec<u8> = (0..20u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    answer(
        owner
            .post(format!("{base}/v1/tasks/{task_id}/artifacts?name=big.bin"))
            .bearer_auth(&server.key)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(content),
    )
    .await?;
    server.set_status(&owner, &task_id, "completed").await?;
    let link = |body: Value| {
        answer(owner.post(format!("{base}/v1/share-links")).bearer_auth(&server.key).json(&body))
    };
    let open = link(json!({"task_id": task_id})).await?;
    let open = open["data"]["url"].as_str().context("link url")?.to_owned();
    let guarded = link(json!({"task_id": task_id, "password": "correct horse"})).await?;
    let guarded = guarded["data"]["url"].as_str().context("link url")?.to_owned();
    let view = answer(owner.get(&open).header(ACCEPT, "application/json")).await?;
    let grant = view["data"]["grant"].as_str().context("grant")?;
    let file = view["data"]["artifacts"][0]["download_url"].as_str().context("download_url")?;
    let file: Arc<str> = server.path_of(file).into();
    let zip: Arc<str> = format!("{}/artifacts.zip?grant={grant}", server.path_of(&open)).into();

    sleep(Duration::from_secs(1)).await;
    let idle = usage(server.pid());
    let sampler = Sampler::start(server.pid(), env.rss_cap_mb);
    let attack = Duration::from_secs(30);
    let until = Instant::now() + attack;
    let (stop, stopped) = watch::channel(false);
    let honest_client = client(HONEST, true)?;
    let probes = honest(20, attack, Duration::from_secs(10), move || {
        honest_client
            .get(&guarded)
            .header(ACCEPT, "application/json")
            .header("x-share-password", "correct horse")
    });
    let mut downloads = JoinSet::new();
    for i in 0..40u8 {
        let from = Ipv4Addr::new(127, 0, 0, 10 + i);
        let path = file.clone();
        let stopped = stopped.clone();
        downloads.spawn(async move { (false, slow_download(from, server.addr, path, stopped).await) });
    }
    for i in 0..520u16 {
        let from = Ipv4Addr::new(127, 0, 1, 1 + (i / 10) as u8);
        let path = zip.clone();
        let stopped = stopped.clone();
        downloads.spawn(async move { (true, slow_download(from, server.addr, path, stopped).await) });
    }
    // The attack lasts 30 s, and until the last honest request is answered (or gave up).
    sleep_until(until).await;
    let probes = collect(probes).await?;
    let _ = stop.send(true);
    let (mut files, mut zips) = (Tally::default(), Tally::default());
    let all = timeout(Duration::from_secs(30), downloads.join_all()).await.context("downloads stuck")?;
    for (is_zip, download) in all {
        let tally = if is_zip { &mut zips } else { &mut files };
        tally.add(download);
    }
    let peaks = sampler.finish().await?;
    let mut rows = usage_rows(idle, &peaks);
    rows.extend(probes.rows("honest password open"));
    rows.push(("40 slow file downloads".into(), files.cell()));
    rows.push(("520 slow zip downloads".into(), zips.cell()));
    rows.push(("/healthz after the attack".into(), server.still_serving().await?));
    Ok(rows)
}

// 3. Message flood.

/// `chars` characters of markdown, as an agent's chatty viewer might send.
fn message(chars: usize) -> String {
    const LINE: &str =
        "The build **still fails** on `cargo test` — see [the log](https://example.com/log) and retry, please.\n";
    LINE.chars().cycle().take(chars).collect()
}

/// "n", or "n, then STATUS" when a status stopped the sending.
fn sent(accepted: usize, stopped_by: Option<u16>) -> String {
    match stopped_by {
        Some(status) => format!("{accepted}, then {status}"),
        None => accepted.to_string(),
    }
}

async fn message_flood(bin: &Path, env: &Env) -> anyhow::Result<Vec<Row>> {
    let mut server = Server::start(bin, None).await?;
    let base = server.base.clone();
    let owner = client([127, 0, 0, 1], false)?;
    let task_id = server.new_task(&owner, "Chatty task").await?;
    server.set_status(&owner, &task_id, "running").await?;
    let shared = answer(
        owner
            .post(format!("{base}/v1/agentrix/tasks/{task_id}/share"))
            .bearer_auth(&server.key)
            .json(&json!({"permissions": {"canSendMessage": true}})),
    )
    .await?;
    let code = shared["shareCode"]
        .as_str()
        .or(shared["data"]["shareCode"].as_str())
        .context("shareCode")?
        .to_owned();
    let attacker = client([127, 0, 0, 1], false)?;
    let session = answer(attacker.get(format!("{base}/v1/auth/share")).query(&[("code", &code)])).await?;
    let token =
        session["token"].as_str().or(session["data"]["token"].as_str()).context("viewer token")?.to_owned();

    // Messages of 99,000 characters until refused; on a 400 (too long), the
    // attacker adapts to 4,000.
    eprintln!("  posting messages…");
    let bodies = [message(99_000), message(4_000)];
    let (mut accepted, mut stopped_by, mut size) = ([0usize; 2], [None; 2], 0);
    while accepted[0] + accepted[1] < 199 {
        let response = timeout(
            Duration::from_secs(60),
            attacker
                .post(format!("{base}/v1/tasks/{task_id}/messages"))
                .bearer_auth(&token)
                .json(&json!({"content": bodies[size]}))
                .send(),
        )
        .await
        .context("message: no answer within 60 s")??;
        match response.status().as_u16() {
            200 | 201 => accepted[size] += 1,
            400 if size == 0 => {
                stopped_by[0] = Some(400);
                size = 1;
            }
            status => {
                stopped_by[size] = Some(status);
                break;
            }
        }
    }
    let stored = accepted[0] * 99_000 + accepted[1] * 4_000;

    // The viewer's browser session (from the share-code form), and the owner's
    // console session (from honest 127.0.0.2).
    let page = format!("{base}/t/{task_id}");
    let viewer = sign_in(&attacker, &format!("{base}/code"), &[("code", &code)], "agentshare_viewer").await?;
    let honest_client = client(HONEST, true)?;
    let console = sign_in(
        &honest_client,
        &format!("{base}/console/login"),
        &[("api_key", &server.key), ("next", "")],
        "agentshare_console",
    )
    .await?;
    let first = timeout(Duration::from_secs(120), async {
        let response = attacker.get(&page).header(COOKIE, &viewer).send().await?.error_for_status()?;
        anyhow::Ok(response.bytes().await?.len())
    })
    .await
    .context("viewer page: no answer within 120 s")??;

    sleep(Duration::from_secs(1)).await;
    let pid = server.pid();
    let idle = usage(pid);
    let sampler = Sampler::start(pid, env.rss_cap_mb);
    let attack = Duration::from_secs(20);
    let began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = cpu_ticks(pid);
    let healthz = format!("{base}/healthz");
    let probe = honest_client.clone();
    let health = honest(20, attack, Duration::from_secs(10), move || probe.get(&healthz));
    let console_page = format!("{base}/console/tasks/{task_id}");
    let owner_pages = honest(20, attack, Duration::from_secs(10), move || {
        honest_client.get(&console_page).header(COOKIE, &console)
    });
    let mut loops = JoinSet::new();
    for _ in 0..4 {
        let (attacker, page, viewer, stop) = (attacker.clone(), page.clone(), viewer.clone(), stop.clone());
        loops.spawn(async move {
            let mut served = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let fetched = timeout(Duration::from_secs(120), async {
                    let response = attacker.get(&page).header(COOKIE, &viewer).send().await?;
                    let ok = response.status().is_success();
                    response.bytes().await?;
                    anyhow::Ok(ok)
                })
                .await;
                match fetched {
                    Ok(Ok(true)) => served += 1,
                    // Refused or failed: don't spin.
                    _ => sleep(Duration::from_millis(100)).await,
                }
            }
            served
        });
    }
    // The attack lasts 20 s, and until the last honest request is answered (or gave up).
    sleep_until(began + attack).await;
    let (health, owner_pages) = (collect(health).await?, collect(owner_pages).await?);
    stop.store(true, Ordering::Relaxed);
    let served: usize = timeout(Duration::from_secs(150), loops.join_all())
        .await
        .context("page loops stuck")?
        .into_iter()
        .sum();
    let (lasted, cpu) = (began.elapsed(), (cpu_ticks(pid).saturating_sub(cpu_before)) as f64 / env.ticks.0);
    let peaks = sampler.finish().await?;

    let mut rows = vec![
        ("messages of 99,000 chars accepted".into(), sent(accepted[0], stopped_by[0])),
        (
            "then messages of 4,000 chars accepted".into(),
            if size == 1 { sent(accepted[1], stopped_by[1]) } else { "— (not needed)".into() },
        ),
        ("characters the viewer stored".into(), thousands(stored as u64)),
        ("viewer task page, bytes".into(), thousands(first as u64)),
        (
            "viewer pages served (4 loops)".into(),
            format!("{} in {:.0} s", thousands(served as u64), lasted.as_secs_f64()),
        ),
        (
            "server CPU per viewer page".into(),
            if served > 0 { ms(cpu * 1000.0 / served as f64) } else { format!("— ({cpu:.1} s in all)") },
        ),
    ];
    rows.extend(usage_rows(idle, &peaks));
    rows.extend(health.rows("honest /healthz"));
    rows.extend(owner_pages.rows("owner's console task page"));
    rows.push(("/healthz after the attack".into(), server.still_serving().await?));
    Ok(rows)
}

// Figures.

/// "2 × 503, 1 × timed out".
fn counts<K: std::fmt::Display>(counts: &BTreeMap<K, usize>) -> String {
    let parts: Vec<String> = counts.iter().map(|(what, n)| format!("{n} × {what}")).collect();
    parts.join(", ")
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.1} ms")
    } else if value < 1000.0 {
        format!("{value:.0} ms")
    } else {
        format!("{:.2} s", value / 1000.0)
    }
}

fn mb(value: f64) -> String {
    format!("{} MB", thousands(value.round() as u64))
}

/// Clock ticks per second of `/proc/PID/stat`: `getconf CLK_TCK`, else 100.
fn clock_ticks() -> (f64, &'static str) {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .map_or((100.0, "assumed"), |t| (t, "from getconf CLK_TCK"))
}

/// Half of the memory the machine has available now, at most 8 GB.
fn rss_cap_mb() -> f64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let available_kb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(4.0 * 1024.0 * 1024.0);
    (available_kb / 1024.0 / 2.0).min(8192.0)
}

async fn run_attack(which: usize, bin: &Path, env: &Env) -> anyhow::Result<Vec<Row>> {
    match which {
        0 => idle_connections(bin, env).await,
        1 => slow_readers(bin, env).await,
        _ => message_flood(bin, env).await,
    }
}

const BEGIN: &str = "<!-- attacks:begin (written by scripts/bench-attacks) -->";
const END: &str = "<!-- attacks:end -->";

const EXPLAINED: &str = "\
Peaks are sampled from `/proc/PID` every 500 ms; idle is a second before the attack. Honest \
requests come from 127.0.0.2, each on a new connection: 20 of each kind, started at even \
intervals over the attack's nominal length whether or not the earlier ones were answered, each \
given 5 s (first attack) or 10 s (the others); a failure is an error status, a refused or broken \
connection, or no whole answer in that time. The attack goes on until the last honest request \
is answered or gave up. \"After the attack\" is one more `/healthz` a second after the \
attackers are gone.

- **300 idle and h2c connections** (`serve --request-timeout-secs 10`): 300 TCP connections from \
127.0.0.1, opened at once, 150 sending nothing and 150 only the HTTP/2 preface, held for 15 s. A \
connection counts as closed by the server when a read at 15 s finds it ended (EOF or reset). One \
the server never accepted counts as open: opened at once, they overflow the server's listen \
backlog, and the kernel keeps some half-open while the client takes them for established.
- **560 slow downloads** (default timeouts): a completed task with one 20 MiB artifact and two \
links to it, one with a password. 40 clients (127.0.0.10–49, one download each) GET the file and \
520 (10 from each of 127.0.1.1–52) the task's zip of all artifacts, all at once, each with a \
4 KiB receive buffer, reading 4 KiB a second for 30 s. Meanwhile the honest client opens the \
password link as JSON with the right password (an Argon2 check and a view). *closed*: the \
connection failed or ended before an answer; *unanswered*: no status line before the attack \
ended; *cut off*: a 200 whose connection the server ended before the attack did.
- **message flood** (default timeouts): a running task shared by a share code that allows \
messages; its viewer (127.0.0.1, `Authorization: Bearer` viewer token) posts up to 199 messages \
of 99,000 characters of markdown, stopping at the first refusal, and on a 400 (too long) goes on \
with messages of 4,000 characters. Then 4 loops of that viewer's browser session load the task \
page `/t/{task}` for 20 s, while the honest client times `/healthz` and the owner's console page \
of the task (`/console/tasks/{task}`, signed in). CPU per page is the server's user + system time \
over the attack (`/proc/PID/stat`) divided by the viewer pages served.
";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let bin = match arg("--binary", "") {
        path if path.is_empty() => target.join("release/agentshare"),
        path => PathBuf::from(path),
    };
    let other = arg("--compare", "");
    let mut binaries = Vec::new();
    if !other.is_empty() {
        binaries.push(("before", PathBuf::from(&other)));
    }
    binaries.push((if other.is_empty() { "value" } else { "after" }, bin));
    for (_, bin) in &binaries {
        anyhow::ensure!(bin.is_file(), "no binary at {} (cargo build --release)", bin.display());
    }
    let env = Env { ticks: clock_ticks(), rss_cap_mb: rss_cap_mb() };

    let mut table = String::new();
    let mut killed = false;
    for (which, attack) in ATTACKS.iter().enumerate() {
        let mut columns = Vec::new();
        for (label, bin) in &binaries {
            eprintln!("== {attack}: {label} ({})", bin.display());
            let rows = run_attack(which, bin, &env).await.with_context(|| format!("{attack}, {label}"))?;
            killed |= rows.iter().any(|(_, value)| value.contains("killed"));
            columns.push(rows);
        }
        for (i, (measure, _)) in columns[0].iter().enumerate() {
            let name = if i == 0 { *attack } else { "" };
            let values: Vec<&str> = columns.iter().map(|rows| rows[i].1.as_str()).collect();
            table.push_str(&format!("| {name} | {measure} | {} |\n", values.join(" | ")));
        }
    }

    let command = if other.is_empty() {
        "scripts/bench-attacks".to_owned()
    } else {
        format!("scripts/bench-attacks --compare {other}")
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (heads, rules) = if other.is_empty() { ("value", "---") } else { ("before | after", "--- | ---") };
    let cap = if killed {
        format!("\nA server was killed when its memory passed {:.0} MB (half of what the machine had available).\n", env.rss_cap_mb)
    } else {
        String::new()
    };
    let section = format!(
        "## Under attack\n\n\
         `{command}` (SQLite, {NOFILE} open files per server via `prlimit`, {cores} cores shared by the \
         server, the attackers and the honest client; {:.0} clock ticks per second, {})\n\n\
         | attack | measure | {heads} |\n| --- | --- | {rules} |\n{table}\n{EXPLAINED}{cap}\n",
        env.ticks.0, env.ticks.1,
    );
    println!("{section}");
    let out = arg("--write", "");
    if !out.is_empty() {
        write_between(&root.join(out), BEGIN, END, &section)?;
    }
    Ok(())
}
