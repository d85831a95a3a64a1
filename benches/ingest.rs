//! How fast a release build takes OpenTelemetry traces, on each backend: exporters
//! send protobuf batches of agent runs to `POST /otlp/v1/traces` as fast as the
//! service takes them, first new spans, then the same spans again (a retrying
//! exporter, which must add nothing).
//!
//! `cargo bench --bench ingest -- [--seconds 10] [--senders 8] [--runs-per-batch 64]
//! [--backends sqlite,postgres] [--write BENCHMARKS.md]`, or `scripts/bench-ingest`.
//! Each run is 8 spans (an agent, three model calls with their messages and usage,
//! three tool calls, one more step), so a batch is 512 spans, the default batch of
//! the OpenTelemetry SDKs' batch processors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use common::{arg, write_between, Scratch};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message as _;

const BEGIN: &str = "<!-- ingest:begin (written by scripts/bench-ingest) -->";
const END: &str = "<!-- ingest:end -->";

/// A started server, stopped when dropped.
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

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Creates an owner's key, then starts `serve` on `url` and waits for `/healthz`.
async fn start(bin: &Path, url: &str, dir: &Path) -> anyhow::Result<(Server, String)> {
    let output =
        Command::new(bin).args(["keys", "create", "--owner", "bench", "--database-url", url]).output()?;
    if !output.status.success() {
        bail!("keys create failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let key = String::from_utf8(output.stdout)?.lines().last().context("no key printed")?.to_owned();
    let port = free_port()?;
    let child = Command::new(bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url])
        .args(["--mail-dir", &dir.join("mail").display().to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log"))?)
        .spawn()
        .context("cannot start agentshare")?;
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let health = client.get(format!("{}/healthz", server.base)).send().await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return Ok((server, key));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not become ready")
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
}

fn text(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// Run `n`'s 8 spans.
fn run_spans(n: u64) -> Vec<Span> {
    let trace_id = [n.to_be_bytes(), 0xa9e7u64.to_be_bytes()].concat();
    let start = 1_764_900_000_000_000_000u64 + n * 1_000_000_000;
    let span = |id: u64, parent: u64, name: &str, from: u64, to: u64, attributes: Vec<KeyValue>| Span {
        trace_id: trace_id.clone(),
        span_id: (n * 16 + id).to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 { vec![] } else { (n * 16 + parent).to_be_bytes().to_vec() },
        name: name.into(),
        start_time_unix_nano: start + from * 1_000_000,
        end_time_unix_nano: start + to * 1_000_000,
        attributes,
        ..Default::default()
    };
    let question = format!(
        r#"[{{"role":"user","parts":[{{"type":"text","content":"Task {n}: find why the nightly build fails and fix it."}}]}}]"#
    );
    let mut spans = vec![span(
        1,
        0,
        "invoke_agent Builder",
        0,
        900,
        vec![text("gen_ai.operation.name", "invoke_agent"), text("gen_ai.agent.name", "Builder")],
    )];
    for step in 0..3u64 {
        let answer = format!(
            r#"[{{"role":"assistant","parts":[{{"type":"text","content":"Step {step}: the linker runs out of memory; splitting the crate fixes it."}}]}}]"#
        );
        spans.push(span(
            2 + step,
            1,
            "chat gpt-4o",
            10 + step * 200,
            100 + step * 200,
            vec![
                text("gen_ai.operation.name", "chat"),
                text("gen_ai.request.model", "gpt-4o"),
                text("gen_ai.input.messages", &question),
                text("gen_ai.output.messages", &answer),
                int("gen_ai.usage.input_tokens", 1200),
                int("gen_ai.usage.output_tokens", 90),
            ],
        ));
        spans.push(span(
            5 + step,
            1,
            "execute_tool shell",
            110 + step * 200,
            190 + step * 200,
            vec![
                text("gen_ai.operation.name", "execute_tool"),
                text("gen_ai.tool.name", "shell"),
                text("gen_ai.tool.call.arguments", r#"{"command": "cargo build --release"}"#),
                text("gen_ai.tool.call.result", &"   Compiling a crate\n".repeat(20)),
            ],
        ));
    }
    spans.push(span(8, 1, "http GET", 800, 850, vec![text("http.request.method", "GET")]));
    spans
}

/// Batch `index`: `runs` runs, protobuf-encoded.
fn batch(index: u64, runs: u64) -> Vec<u8> {
    let spans = (0..runs).flat_map(|r| run_spans(index * runs + r)).collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", "bench-agent")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

struct Rate {
    spans_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    batches: usize,
}

/// Sends `batches` from `senders` concurrent exporters; each batch must be taken.
async fn send(
    base: &str,
    key: &str,
    batches: &[Vec<u8>],
    senders: usize,
    spans_per_batch: usize,
) -> anyhow::Result<Rate> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let (client, next, url, key) =
            (client.clone(), next.clone(), format!("{base}/otlp/v1/traces"), key.to_owned());
        let batches = batches.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = batches.get(i) else { break };
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .header("content-type", "application/x-protobuf")
                    .body(body.clone())
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!("batch {i}: {}", response.status());
                }
                latencies.push(sent.elapsed());
            }
            Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    Ok(Rate {
        spans_per_sec: (latencies.len() * spans_per_batch) as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        batches: latencies.len(),
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
    let bin = target.join("release/agentshare");
    let seconds: f64 = arg("--seconds", "10").parse()?;
    let senders: usize = arg("--senders", "8").parse()?;
    let runs: u64 = arg("--runs-per-batch", "64").parse()?;
    let spans_per_batch = (runs * 8) as usize;
    let mut rows = Vec::new();
    for backend in arg("--backends", "sqlite,postgres").split(',') {
        let dir = tempfile::tempdir()?;
        let scratch = Scratch::new(backend, dir.path()).await?;
        let (server, key) = start(&bin, &scratch.url, dir.path()).await?;
        // A first pass to learn the rate, then as many batches as fill `seconds`.
        let probe: Vec<Vec<u8>> = (0..senders as u64).map(|i| batch(i, runs)).collect();
        let first = send(&server.base, &key, &probe, senders, spans_per_batch).await?;
        let count = ((first.spans_per_sec * seconds) as usize / spans_per_batch).max(senders);
        eprintln!("{backend}: about {:.0} spans/s; sending {count} batches", first.spans_per_sec);
        let batches: Vec<Vec<u8>> = (0..count as u64).map(|i| batch(senders as u64 + i, runs)).collect();
        let new = send(&server.base, &key, &batches, senders, spans_per_batch).await?;
        let again = send(&server.base, &key, &batches, senders, spans_per_batch).await?;
        for (what, rate) in [("new spans", new), ("the same spans again", again)] {
            rows.push(format!(
                "| {backend} | {what} | {:.0} spans/s | {:.0} ms | {:.0} ms | {} |",
                rate.spans_per_sec, rate.p50_ms, rate.p99_ms, rate.batches
            ));
        }
        drop(server);
        scratch.drop_database().await?;
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let section = format!(
        "## Ingesting OpenTelemetry traces\n\n\
         `scripts/bench-ingest` ({senders} exporters at once, protobuf batches of {spans_per_batch} spans = {runs} \
         agent runs of 8 spans, about {seconds:.0} s of batches, on the same {cores}-core machine)\n\n\
         | backend | what | rate | batch p50 | batch p99 | batches |\n| --- | --- | --- | --- | --- | --- |\n{}\n\n\
         Each run becomes a task with its messages, tool calls, final answer and token usage; spans sent \
         again are recognised and add nothing.\n",
        rows.join("\n")
    );
    println!("{section}");
    let out = arg("--write", "");
    if !out.is_empty() {
        write_between(&root.join(out), BEGIN, END, &section)?;
    }
    Ok(())
}
