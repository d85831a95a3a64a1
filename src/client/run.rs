//! `agentshare run -- CMD...`: runs a command as a task. The command's output goes
//! to the terminal as it comes and to the server as `log` events while it runs;
//! when it ends, its last lines of standard output become the task's output, the
//! named files its artifacts, and its exit status the task's status. The wrapper
//! exits with the command's status, whatever happened to the upload.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::time::Instant;

use super::config::{self, Target};
use super::connection::{with_retries, Body, Connection, Error, Patience};
use super::lines::{self, Queue, Stream, Tail};
use super::uploader::{Uploader, BATCH_BYTES};
use super::{progress, share, text};
use crate::domain::task::{MAX_LABEL_CHARS, MAX_TITLE_CHARS};

/// How long the output, the files and the outcome may take to reach the server
/// once the command has ended (retrying while it can't be reached).
pub const FINISH_WITHIN: Duration = Duration::from_secs(30);
/// How long the output of processes the command left behind is still read after
/// it exits.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// How long one artifact upload may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Exit statuses of the wrapper itself, as `env` and `timeout` use them: it failed
/// before the command ran; the command could not be run; it was not found.
pub const EXIT_WRAPPER_FAILED: u8 = 125;
pub const EXIT_NOT_EXECUTABLE: u8 = 126;
pub const EXIT_NOT_FOUND: u8 = 127;
/// Longest command line kept in the task's metadata, in characters.
const MAX_COMMAND_CHARS: usize = 2000;

/// What `agentshare run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The task's title (default: the command line).
    pub title: Option<String>,
    /// Print a share code before the command starts, to follow it live.
    pub code: bool,
    /// Print a share link once it has ended.
    pub share: bool,
    /// Files to upload as artifacts once it has ended.
    pub artifacts: Vec<PathBuf>,
    /// The command and its arguments.
    pub command: Vec<OsString>,
}

/// Runs the command as a task; answers the command's exit status (128 + the
/// signal that killed it), or 125 when the task could not be started.
pub async fn run(target: &Target, options: RunOptions) -> ExitCode {
    let started = match start(target, &options).await {
        Ok(started) => started,
        Err(err) => {
            eprintln!("error: {err:#}");
            eprintln!("agentshare: the command was not run");
            return ExitCode::from(EXIT_WRAPPER_FAILED);
        }
    };
    ExitCode::from(started.supervise(options).await)
}

/// A task created for a command that is about to run.
struct Started {
    connection: Connection,
    task_id: String,
    run_id: String,
    command_line: String,
}

async fn start(target: &Target, options: &RunOptions) -> anyhow::Result<Started> {
    let connection = config::connect(target)?;
    let program = options.command.first().context("no command to run: agentshare run -- CMD [ARGS...]")?;
    let command_line = command_line(&options.command);
    let run_id = new_run_id();
    let title = options
        .title
        .as_deref()
        .and_then(|t| text::label(t, MAX_TITLE_CHARS))
        .or_else(|| text::label(&command_line, MAX_TITLE_CHARS))
        .unwrap_or_else(|| "agentshare run".to_owned());
    let agent = std::path::Path::new(program)
        .file_name()
        .and_then(|name| text::label(&name.to_string_lossy(), MAX_LABEL_CHARS));
    let command = text::cut(&command_line, MAX_COMMAND_CHARS);
    let task = connection
        .data(
            Method::POST,
            "/v1/tasks",
            Some(json!({
                "title": title,
                "agent": agent,
                "source": "cli",
                "external_id": run_id,
                "metadata": {"command": command},
            })),
        )
        .await
        .context("could not create the task")?;
    let task_id = task["task_id"].as_str().context("the server answered no task_id")?.to_owned();
    connection
        .data(Method::PATCH, &format!("/v1/tasks/{task_id}"), Some(json!({"status": "running"})))
        .await
        .context("could not mark the task running")?;
    eprintln!(
        "agentshare: recording `{}` as task {task_id} on {}",
        text::cut(&command_line, 80),
        connection.base()
    );
    if options.code {
        let code =
            share::create_code(&connection, &task_id).await.context("could not create a share code")?;
        eprintln!(
            "agentshare: share code {code} — follow the task live at {}/code/{code}",
            connection.base()
        );
    }
    Ok(Started { connection, task_id, run_id, command_line })
}

/// Signals the wrapper handles instead of dying of them.
struct Signals {
    interrupt: Signal,
    quit: Signal,
    hangup: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            quit: signal(SignalKind::quit())?,
            hangup: signal(SignalKind::hangup())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// The next signal.
    async fn next(&mut self) -> rustix::process::Signal {
        use rustix::process::Signal as S;
        tokio::select! {
            _ = self.interrupt.recv() => S::INT,
            _ = self.quit.recv() => S::QUIT,
            _ = self.hangup.recv() => S::HUP,
            _ = self.terminate.recv() => S::TERM,
        }
    }
}

/// Whether the terminal delivers keyboard signals (Ctrl-C, Ctrl-\, hang-up) to the
/// command itself: it does when the wrapper, and so the command (same process
/// group), is the terminal's foreground job.
fn terminal_reaches_the_command() -> bool {
    let Ok(tty) = std::fs::File::open("/dev/tty") else { return false };
    rustix::termios::tcgetpgrp(&tty).is_ok_and(|group| group == rustix::process::getpgrp())
}

/// How the command ended.
struct Outcome {
    /// What the wrapper exits with.
    code: u8,
    /// The signal that killed it, if one did.
    signal: Option<i32>,
    duration: Duration,
}

impl Outcome {
    fn of(status: ExitStatus, duration: Duration) -> Outcome {
        use std::os::unix::process::ExitStatusExt as _;
        match (status.code(), status.signal()) {
            (Some(code), _) => Outcome { code: (code & 0xff) as u8, signal: None, duration },
            (None, Some(signal)) => {
                Outcome { code: (128 + signal).min(255) as u8, signal: Some(signal), duration }
            }
            (None, None) => Outcome { code: 1, signal: None, duration },
        }
    }
}

impl Started {
    async fn supervise(self, options: RunOptions) -> u8 {
        let mut signals = match Signals::install() {
            Ok(signals) => Some(signals),
            Err(err) => {
                eprintln!(
                    "agentshare: warning: cannot handle signals ({err}); Ctrl-C will end the wrapper too"
                );
                None
            }
        };
        let patience = Arc::new(Patience::unbounded());
        let queue = Queue::new(lines::QUEUE_BYTES, BATCH_BYTES);
        let uploader = tokio::spawn(
            Uploader::new(
                self.connection.clone(),
                self.task_id.clone(),
                self.run_id.clone(),
                queue.clone(),
                patience.clone(),
            )
            .run(),
        );
        let tail = Arc::new(Mutex::new(Tail::default()));
        let began = Instant::now();
        let mut child = match tokio::process::Command::new(&options.command[0])
            .args(&options.command[1..])
            .env("AGENTSHARE_TASK_ID", &self.task_id)
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(err) => {
                let (code, why) = match err.kind() {
                    std::io::ErrorKind::NotFound => (EXIT_NOT_FOUND, "command not found".to_owned()),
                    std::io::ErrorKind::PermissionDenied => {
                        (EXIT_NOT_EXECUTABLE, "permission denied (not executable)".to_owned())
                    }
                    _ => (EXIT_NOT_EXECUTABLE, err.to_string()),
                };
                let program = options.command[0].to_string_lossy().into_owned();
                eprintln!("agentshare: {program}: {why}");
                queue.push(lines::Line {
                    stream: Stream::Stderr,
                    text: text::clean(&format!("agentshare: {program}: {why}")),
                    at: chrono::Utc::now(),
                });
                let outcome = Outcome { code, signal: None, duration: began.elapsed() };
                return self
                    .finish(outcome, queue, uploader, patience, tail, Vec::new(), signals, &options)
                    .await;
            }
        };
        let child_id = child.id();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            let (queue, tail) = (queue.clone(), Some(tail.clone()));
            readers.push(tokio::spawn(lines::pump(stdout, tokio::io::stdout(), Stream::Stdout, queue, tail)));
        }
        if let Some(stderr) = child.stderr.take() {
            let queue = queue.clone();
            readers.push(tokio::spawn(lines::pump(stderr, tokio::io::stderr(), Stream::Stderr, queue, None)));
        }
        let status = loop {
            let next = async {
                match signals.as_mut() {
                    Some(signals) => signals.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = child.wait() => break status,
                signal = next => forward(child_id, signal),
            }
        };
        let outcome = match status {
            Ok(status) => Outcome::of(status, began.elapsed()),
            Err(err) => {
                eprintln!("agentshare: warning: lost track of the command: {err}");
                Outcome { code: 1, signal: None, duration: began.elapsed() }
            }
        };
        self.finish(outcome, queue, uploader, patience, tail, readers, signals, &options).await
    }

    /// Records what happened once the command has ended, within [`FINISH_WITHIN`]
    /// (or until Ctrl-C); answers the exit status.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        self,
        outcome: Outcome,
        queue: Arc<Queue>,
        uploader: tokio::task::JoinHandle<super::uploader::Report>,
        patience: Arc<Patience>,
        tail: Arc<Mutex<Tail>>,
        mut readers: Vec<tokio::task::JoinHandle<()>>,
        signals: Option<Signals>,
        options: &RunOptions,
    ) -> u8 {
        patience.set_deadline(Instant::now() + FINISH_WITHIN);
        // A signal now means: stop waiting for the server.
        let give_up = signals.map(|mut signals| {
            let patience = patience.clone();
            tokio::spawn(async move {
                signals.next().await;
                eprintln!("agentshare: interrupted: giving up on the upload");
                patience.abandon();
            })
        });
        // Whatever the command's leftover processes still write is read for a moment.
        let drain = futures_util::future::join_all(readers.iter_mut());
        if tokio::time::timeout(DRAIN_AFTER_EXIT, drain).await.is_err() {
            for reader in &readers {
                reader.abort();
            }
        }
        queue.close();
        let report = uploader.await.unwrap_or_default();
        let mut complete = report.lost == 0;
        if report.lost > 0 {
            eprintln!("agentshare: warning: {} lines of output did not reach the server", report.lost);
        }

        let final_output = tail.lock().unwrap_or_else(PoisonError::into_inner).text();
        if let Some(output) = final_output {
            let body = json!({
                "type": "output",
                "name": "Final output",
                "content": text::fenced(&output, "text"),
                "key": format!("run/{}/output", self.run_id),
            });
            if let Err(err) = self.post_event(&patience, body).await {
                complete = false;
                eprintln!("agentshare: warning: the final output was not recorded: {err}");
            }
        }

        if !upload_artifacts(&self.connection, &self.task_id, &options.artifacts, &patience).await {
            complete = false;
        }

        let status = if outcome.code == 0 && outcome.signal.is_none() { "completed" } else { "failed" };
        let mut metadata = json!({
            "command": text::cut(&self.command_line, MAX_COMMAND_CHARS),
            "exit_code": outcome.code,
            "duration_ms": outcome.duration.as_millis() as u64,
        });
        if let Some(signal) = outcome.signal {
            metadata["signal"] = json!(signal);
        }
        let path = format!("/v1/tasks/{}", self.task_id);
        let body = json!({"status": status, "metadata": metadata});
        let recorded = with_retries(
            &patience,
            || self.connection.data(Method::PATCH, &path, Some(body.clone())),
            |_| {},
        )
        .await;
        match recorded {
            Ok(_) => {
                let how = match outcome.signal {
                    Some(signal) => format!("killed by signal {signal}"),
                    None => format!("exit status {}", outcome.code),
                };
                eprintln!("agentshare: task {} {status} ({how})", self.task_id);
                if options.share {
                    match share::create_link(&self.connection, json!({"task_id": self.task_id}), &patience)
                        .await
                    {
                        Ok(link) => {
                            eprintln!("agentshare: share link: {}", link["url"].as_str().unwrap_or_default())
                        }
                        Err(err) => eprintln!("agentshare: warning: no share link: {err}"),
                    }
                }
            }
            Err(err) => {
                complete = false;
                eprintln!(
                    "agentshare: warning: the task's outcome was not recorded (it stays running): {err}"
                );
            }
        }
        if !complete {
            eprintln!(
                "agentshare: task {} on {} lacks part of the run (see the warnings above)",
                self.task_id,
                self.connection.base()
            );
        }
        if let Some(give_up) = give_up {
            give_up.abort();
        }
        outcome.code
    }

    async fn post_event(&self, patience: &Patience, body: Value) -> Result<(), Error> {
        let path = format!("/v1/tasks/{}/events", self.task_id);
        with_retries(patience, || self.connection.data(Method::POST, &path, Some(body.clone())), |_| {})
            .await
            .map(|_| ())
    }
}

/// Passes a signal the wrapper received on to the command, unless the terminal
/// already sent it there (Ctrl-C reaches the whole foreground job).
fn forward(child: Option<u32>, signal: rustix::process::Signal) {
    use rustix::process::Signal as S;
    let from_terminal = matches!(signal, S::INT | S::QUIT | S::HUP) && terminal_reaches_the_command();
    if from_terminal {
        return;
    }
    let Some(pid) = child.and_then(|id| rustix::process::Pid::from_raw(id as i32)) else { return };
    let _ = rustix::process::kill_process(pid, signal);
}

/// Uploads the files named by `--artifact`; answers whether all of them were
/// stored. A file that is missing or refused is reported and skipped.
async fn upload_artifacts(
    connection: &Connection,
    task_id: &str,
    paths: &[PathBuf],
    patience: &Patience,
) -> bool {
    if paths.is_empty() {
        return true;
    }
    let sizes: Vec<Option<u64>> = paths.iter().map(|p| std::fs::metadata(p).ok().map(|m| m.len())).collect();
    let bar = progress::bytes(sizes.iter().flatten().sum());
    let say = |message: String| bar.suspend(|| eprintln!("{message}"));
    let mut all = true;
    for (path, size) in paths.iter().zip(sizes) {
        let shown = path.display();
        let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            say(format!("agentshare: warning: artifact {shown} is not a file name: skipped"));
            all = false;
            continue;
        };
        bar.set_message(name.clone());
        let bytes = match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                say(format!("agentshare: warning: artifact {shown} not found: skipped"));
                all = false;
                continue;
            }
            Err(err) => {
                say(format!("agentshare: warning: cannot read artifact {shown}: {err}: skipped"));
                all = false;
                continue;
            }
        };
        let query: String =
            form_urlencoded::Serializer::new(String::new()).append_pair("name", &name).finish();
        let upload = format!("/v1/tasks/{task_id}/artifacts?{query}");
        let content_type = content_type_of(&name);
        let mut attempts = 0;
        let stored = with_retries(
            patience,
            || {
                attempts += 1;
                let body = Body::Bytes { content_type: content_type.to_owned(), bytes: bytes.clone() };
                connection.send(Method::POST, &upload, body, UPLOAD_TIMEOUT)
            },
            |_| {},
        )
        .await;
        match stored {
            Ok(_) => {}
            // A retry of an upload that was stored before its answer was lost.
            Err(err) if err.code() == Some("ARTIFACT_EXISTS") && attempts > 1 => {}
            Err(err) => {
                let why = match err.status() {
                    Some(413) => "it is larger than the server accepts".to_owned(),
                    _ => err.to_string(),
                };
                say(format!("agentshare: warning: artifact {shown} was not uploaded: {why}"));
                all = false;
            }
        }
        bar.inc(size.unwrap_or(0));
    }
    bar.finish_and_clear();
    all
}

/// The media type of a file, by its extension.
pub fn content_type_of(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "txt" | "log" | "out" => "text/plain; charset=utf-8",
        "md" | "markdown" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "diff" | "patch" => "text/x-diff; charset=utf-8",
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

/// The command line as a shell would show it: arguments with spaces or special
/// characters in single quotes.
pub fn command_line(command: &[OsString]) -> String {
    command
        .iter()
        .map(|arg| {
            let arg = arg.to_string_lossy();
            let plain =
                !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                arg.into_owned()
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A random UUID (version 4), naming one run.
fn new_run_id() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_quoted_like_a_shell_would() {
        let command: Vec<OsString> = ["claude", "-p", "fix the bug", "it's"].iter().map(Into::into).collect();
        assert_eq!(command_line(&command), r"claude -p 'fix the bug' 'it'\''s'");
    }

    #[test]
    fn run_ids_are_version_4_uuids() {
        let id = new_run_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_run_id());
    }

    #[test]
    fn media_types_follow_extensions() {
        assert_eq!(content_type_of("report.PDF"), "application/pdf");
        assert_eq!(content_type_of("notes"), "application/octet-stream");
    }
}
