//! `agentshare import`: what agents left behind, brought in as tasks —
//! `claude-code` session transcripts, and `otlp` trace files sent to the server's
//! OpenTelemetry endpoint.

pub mod claude_code;
pub mod otlp;

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{json, Value};

use super::config::{self, Target};
use super::connection::{with_retries, Body, Connection, Error, Patience, REQUEST_TIMEOUT};
use super::{progress, share};

/// How long each request may be retried while the server can't be reached.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Says which lines were skipped: the first few, and how many more.
fn report_skipped(path: &Path, skipped: &[(usize, String)]) {
    const SHOWN: usize = 5;
    for (line, why) in skipped.iter().take(SHOWN) {
        eprintln!("agentshare: line {line} of {}: {why}: skipped", path.display());
    }
    if skipped.len() > SHOWN {
        eprintln!("agentshare: … and {} more lines skipped", skipped.len() - SHOWN);
    }
}

/// `n` and the noun, singular or plural (`entry` → `entries`, `line` → `lines`).
fn count(n: u64, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}

/// Reads a file, saying clearly when it isn't there.
fn read_file(path: &Path) -> anyhow::Result<String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            anyhow::bail!("{}: no such file", path.display())
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// `agentshare import claude-code FILE [--share]`: the session as a task (the same
/// task on every import of the same session, which gains only what is new).
pub async fn claude_code(target: &Target, path: &Path, share_it: bool) -> anyhow::Result<()> {
    let transcript = read_file(path)?;
    let mut session = claude_code::parse(&transcript);
    let malformed: Vec<(usize, String)> =
        session.malformed.iter().map(|line| (*line, "not JSON".to_owned())).collect();
    report_skipped(path, &malformed);
    if session.entries.is_empty() {
        anyhow::bail!("{} holds no Claude Code messages (is it a session transcript?)", path.display());
    }
    let session_id = match session.session_id.clone() {
        Some(id) => id,
        None => {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            anyhow::ensure!(!stem.is_empty(), "{} names no session", path.display());
            session.session_id = Some(stem.clone());
            stem
        }
    };
    let connection = config::connect(target)?;
    let patience = Patience::within(RETRY_FOR);
    let agent = match &session.version {
        Some(version) => format!("claude-code {version}"),
        None => "claude-code".to_owned(),
    };
    let created = with_retries(
        &patience,
        || {
            connection.data(
                Method::POST,
                "/v1/tasks",
                Some(json!({
                    "title": session.title(),
                    "prompt": session.first_prompt,
                    "agent": super::text::cut(&agent, crate::domain::task::MAX_LABEL_CHARS),
                    "source": "import",
                    "external_id": session_id,
                    "metadata": session.metadata(),
                })),
            )
        },
        |_| {},
    )
    .await;
    let (task_id, known) = match created {
        Ok(task) => {
            (task["task_id"].as_str().context("the server answered no task_id")?.to_owned(), HashSet::new())
        }
        Err(Error::Api { code, details, .. }) if code == "TASK_EXISTS" => {
            let task_id = details["task_id"].as_str().context("TASK_EXISTS named no task")?.to_owned();
            let known = event_keys(&connection, &task_id, &patience).await?;
            (task_id, known)
        }
        Err(err) => return Err(err).context("could not create the task"),
    };

    let fresh: Vec<&claude_code::Entry> = session
        .entries
        .iter()
        .chain(session.final_answer.as_ref())
        .filter(|entry| !known.contains(&entry.key))
        .collect();
    let bar = progress::items(fresh.len() as u64, "entries");
    bar.set_message(format!("importing {session_id}"));
    let events = format!("/v1/tasks/{task_id}/events");
    for entry in &fresh {
        let body = entry.body();
        with_retries(&patience, || connection.data(Method::POST, &events, Some(body.clone())), |_| {})
            .await
            .with_context(|| format!("could not import the entry {}", entry.key))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let task = format!("/v1/tasks/{task_id}");
    let outcome = json!({"status": "completed", "metadata": session.metadata()});
    with_retries(&patience, || connection.data(Method::PATCH, &task, Some(outcome.clone())), |_| {})
        .await
        .context("could not mark the task completed")?;
    let total = session.entries.len() + usize::from(session.final_answer.is_some());
    println!(
        "Imported Claude Code session {session_id} into task {task_id}: {} ({} already there, {} skipped)",
        count(fresh.len() as u64, "new entry"),
        total - fresh.len(),
        count((session.skipped + session.malformed.len()) as u64, "line"),
    );
    if share_it {
        let link = share::create_link(&connection, json!({"task_id": task_id}), &patience).await?;
        println!("{}", link["url"].as_str().unwrap_or_default());
    }
    Ok(())
}

/// The keys of a task's events (what an earlier import appended).
async fn event_keys(
    connection: &Connection,
    task_id: &str,
    patience: &Patience,
) -> anyhow::Result<HashSet<String>> {
    let mut keys = HashSet::new();
    let mut after = 0;
    loop {
        let path = format!("/v1/tasks/{task_id}/events?after={after}&limit=1000");
        let page = with_retries(patience, || connection.data(Method::GET, &path, None), |_| {})
            .await
            .context("could not read what was imported before")?;
        for event in page["events"].as_array().into_iter().flatten() {
            if let Some(key) = event["key"].as_str() {
                keys.insert(key.to_owned());
            }
        }
        let next = page["next_after"].as_i64().unwrap_or(after);
        if page["has_more"] != Value::Bool(true) || next <= after {
            return Ok(keys);
        }
        after = next;
    }
}

/// `agentshare import otlp FILE`: sends each line to `POST /otlp/v1/traces`;
/// fails when a line or a span was refused.
pub async fn otlp(target: &Target, path: &Path) -> anyhow::Result<()> {
    let text = read_file(path)?;
    let file = otlp::read(&text);
    report_skipped(path, &file.skipped);
    if file.batches.is_empty() {
        anyhow::bail!("{} holds no OTLP trace lines ({{\"resourceSpans\": [...]}} a line)", path.display());
    }
    let connection = config::connect(target)?;
    let patience = Patience::within(RETRY_FOR);
    let bar = progress::items(file.batches.len() as u64, "lines");
    bar.set_message("sending traces");
    let (mut accepted, mut rejected, mut failed) = (0u64, 0u64, 0usize);
    for batch in &file.batches {
        let sent = with_retries(
            &patience,
            || {
                let body = Body::Bytes {
                    content_type: "application/json".into(),
                    bytes: batch.body.clone().into_bytes(),
                };
                connection.send(Method::POST, "/otlp/v1/traces", body, REQUEST_TIMEOUT)
            },
            |_| {},
        )
        .await;
        match sent {
            Ok((_, body)) => {
                let response: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (refused, why) = otlp::rejected(&response);
                let refused = refused.min(batch.spans);
                accepted += batch.spans - refused;
                rejected += refused;
                if refused > 0 {
                    let why = why.unwrap_or_else(|| "no reason given".into());
                    bar.suspend(|| {
                        eprintln!(
                            "agentshare: line {}: {} rejected: {why}",
                            batch.line,
                            count(refused, "span")
                        )
                    });
                }
            }
            Err(err @ (Error::KeyRefused { .. } | Error::Unreachable { .. } | Error::TimedOut { .. })) => {
                bar.finish_and_clear();
                return Err(err.into());
            }
            Err(err) if err.status() == Some(404) => {
                bar.finish_and_clear();
                anyhow::bail!(
                    "the server at {} does not take OpenTelemetry traces (404 on /otlp/v1/traces): \
                     is it older than this client?",
                    connection.base()
                );
            }
            Err(err) => {
                failed += 1;
                rejected += batch.spans;
                bar.suspend(|| eprintln!("agentshare: line {}: refused: {err}", batch.line));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    println!(
        "Sent {} of {} to {}: {} accepted, {rejected} rejected",
        count(file.batches.len() as u64, "line"),
        path.display(),
        connection.base(),
        count(accepted, "span"),
    );
    if failed > 0 || rejected > 0 || !file.skipped.is_empty() {
        anyhow::bail!(
            "not everything was imported: {} rejected, {} refused, {} skipped",
            count(rejected, "span"),
            count(failed as u64, "line"),
            count(file.skipped.len() as u64, "line"),
        );
    }
    Ok(())
}
