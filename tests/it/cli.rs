//! The `agentshare` binary as a user runs it.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Backend, TestApp, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_agentshare");

pub fn agentshare(args: &[&str]) -> (bool, String, String) {
    let output =
        Command::new(BIN).args(args).env_remove("AGENTSHARE_DATABASE_URL").output().expect("run agentshare");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The longest a test waits for a process to print what it is waiting for.
const DEADLINE: Duration = Duration::from_secs(60);

/// A child process, killed and reaped however the test ends (a failed assertion
/// included): no test leaves a process behind.
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a process prints on stdout, line by line, read on a thread of its own that
/// drains the pipe to its end (so the process never blocks on it); each wait for a
/// line has a deadline.
pub struct Printed(mpsc::Receiver<String>);

impl Printed {
    pub fn of(process: &mut Process) -> Printed {
        let stdout = process.0.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // Nobody listening any more: keep draining all the same.
                let _ = tx.send(line);
            }
        });
        Printed(rx)
    }

    /// The lines up to and including the first for which `last` holds; fails the
    /// test when the process ends or [`DEADLINE`] passes first.
    pub fn until(&self, last: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut lines = Vec::new();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(wait) {
                Ok(line) => {
                    let done = last(&line);
                    lines.push(line);
                    if done {
                        return lines;
                    }
                }
                Err(err) => panic!("not printed ({err}); the process printed:\n{}", lines.join("\n")),
            }
        }
    }
}

/// A `serve` process and the base URL it printed.
pub struct Server {
    process: Process,
    pub base: String,
}

impl Server {
    /// Creates a task with `key` and completes it; answers its id.
    pub async fn finished_task(&self, client: &reqwest::Client, key: &str) -> String {
        let created = client
            .post(format!("{}/v1/tasks", self.base))
            .bearer_auth(key)
            .json(&json!({"title": "done"}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
        let task: serde_json::Value = created.json().await.unwrap();
        let task_id = task["data"]["task_id"].as_str().unwrap().to_owned();
        let done = client
            .patch(format!("{}/v1/tasks/{task_id}", self.base))
            .bearer_auth(key)
            .json(&json!({"status": "completed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(done.status(), StatusCode::OK);
        task_id
    }

    pub fn start(dir: &std::path::Path, args: &[&str]) -> Server {
        Server::start_logging(dir, args, "warn", Stdio::null())
    }

    /// Starts `serve` with `RUST_LOG=log_filter`, its log (stderr) going to `log`.
    pub fn start_logging(dir: &std::path::Path, args: &[&str], log_filter: &str, log: Stdio) -> Server {
        Server::start_with_env(dir, args, log_filter, log, &[])
    }

    /// [`Server::start_logging`], with `env` set for the process.
    pub fn start_with_env(
        dir: &std::path::Path,
        args: &[&str],
        log_filter: &str,
        log: Stdio,
        env: &[(&str, &str)],
    ) -> Server {
        let mut process = Process(
            Command::new(BIN)
                .arg("serve")
                .args(["--listen", "127.0.0.1:0"])
                .args(args)
                .current_dir(dir)
                .env_remove("AGENTSHARE_DATABASE_URL")
                .env("RUST_LOG", log_filter)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("start agentshare serve"),
        );
        let printed = Printed::of(&mut process);
        let lines = printed.until(|line| line.starts_with("agentshare is serving on "));
        let line = lines.last().expect("the line it waited for");
        let base = line["agentshare is serving on ".len()..].split_whitespace().next().unwrap().to_owned();
        Server { process, base }
    }

    /// Kills the process at once (SIGKILL): nothing gets to finish.
    pub fn kill(self) {
        drop(self.process);
    }

    /// Sends SIGTERM and waits for the process to exit; answers whether it exited cleanly.
    pub fn terminate(mut self) -> bool {
        let pid = self.process.0.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        self.process.0.wait().expect("wait").success()
    }
}

#[tokio::test]
async fn serve_with_no_flags_uses_an_embedded_database_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let health: serde_json::Value = crate::common::http()
        .build()
        .unwrap()
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok", "database": "sqlite"}));
    assert!(dir.path().join("agentshare-data/agentshare.db").is_file());

    // keys create, run in the same directory, finds the same database by default.
    let output = Command::new(BIN)
        .args(["keys", "create", "--owner", "alice", "--email", "alice@example.com"])
        .current_dir(dir.path())
        .env_remove("AGENTSHARE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_owned();
    let response = crate::common::http()
        .build()
        .unwrap()
        .post(format!("{}/v1/tasks", server.base))
        .bearer_auth(&key)
        .json(&json!({"title": "from the CLI key"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(server.terminate(), "SIGTERM ends serve cleanly");
}

#[tokio::test]
async fn demo_fills_a_first_database_and_says_what_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Process(
        Command::new(BIN)
            .args(["demo", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env_remove("AGENTSHARE_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let printed = Printed::of(&mut demo).until(|line| line.starts_with("Press Ctrl-C")).join("\n");
    let after = |label: &str| {
        let start = printed.find(label).unwrap_or_else(|| panic!("{label}: {printed}")) + label.len();
        printed[start..].split_whitespace().next().unwrap().to_owned()
    };
    let link = after("(what a viewer sees):");
    let protected = after("3 views:");
    let code = after("shared by code:");
    let key = printed.lines().find(|l| l.starts_with("ask_")).expect("an API key").to_owned();

    let client = crate::common::http().build().unwrap();
    let view: serde_json::Value =
        client.get(&link).header("accept", "application/json").send().await.unwrap().json().await.unwrap();
    let outputs = view["data"]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 3, "{view}");
    let text = view.to_string();
    assert!(text.contains("What was wrong"), "{text}");
    assert!(text.contains("sk_live_••••••••"), "the demo shows masking: {text}");
    assert_eq!(view["data"]["artifacts"].as_array().unwrap().len(), 3);
    let locked = client.get(&protected).header("accept", "application/json").send().await.unwrap();
    assert_eq!(locked.status(), StatusCode::UNAUTHORIZED, "the second link needs its password");
    let unlocked = client
        .get(&protected)
        .header("accept", "application/json")
        .header("x-share-password", "demo-password")
        .send()
        .await
        .unwrap();
    assert_eq!(unlocked.status(), StatusCode::OK);
    assert_eq!(client.get(&code).send().await.unwrap().status(), StatusCode::OK, "the code's page opens");
    let tasks: serde_json::Value = client
        .get(link.split("/s/").next().unwrap().to_owned() + "/v1/tasks")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = tasks["data"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["source"].as_str().unwrap(), t["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [("otlp", "completed"), ("api", "running"), ("api", "completed")],
        "a run that came in as OpenTelemetry traces, a live task and a finished one: {tasks}"
    );
    let finished = &tasks["data"]["tasks"][2];
    let took = |from: &str, to: &str| {
        let at = |key: &str| chrono::DateTime::parse_from_rfc3339(finished[key].as_str().unwrap()).unwrap();
        (at(to) - at(from)).num_minutes()
    };
    assert!(took("started_at", "finished_at") >= 30, "a run that took its time: {finished}");
    assert!(took("created_at", "started_at") >= 1, "{finished}");
    let traced = &tasks["data"]["tasks"][0];
    assert_eq!(traced["title"], "Deploy doctor");
    assert_eq!(traced["metadata"]["input_tokens"], 1622);
    drop(demo);
    assert!(dir.path().join("agentshare-data/agentshare.db").is_file(), "the embedded default database");
}

async fn keys_lifecycle(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let url = db.url.clone();
    let (ok, stdout, stderr) = agentshare(&[
        "keys",
        "create",
        "--owner",
        "carol",
        "--email",
        "carol@example.com",
        "--database-url",
        &url,
    ]);
    assert!(ok, "{stderr}");
    let key = stdout.lines().last().unwrap().to_owned();
    assert!(key.starts_with("ask_") && key.len() == 47, "the key alone on the last line: {stdout:?}");
    let (_, second, _) = agentshare(&["keys", "create", "--owner", "carol", "--database-url", &url]);
    let second_key = second.lines().last().unwrap().to_owned();
    assert_ne!(key, second_key);

    let app = TestApp::start_on(db, |_| {}).await;
    for k in [&key, &second_key] {
        let (status, _) = app.request_as(Some(k), reqwest::Method::GET, "/v1/tasks", None).await;
        assert_eq!(status, StatusCode::OK);
    }

    let (ok, listing, _) = agentshare(&["keys", "list", "--owner", "carol", "--database-url", &url]);
    assert!(ok);
    assert!(!listing.contains(&key[8..]), "keys are never shown again");
    let key_ids: Vec<&str> = listing
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.starts_with("key_"))
        .collect();
    assert_eq!(key_ids.len(), 2, "{listing}");
    assert!(listing.contains(&key[..10]), "listing shows how each key starts: {listing}");

    // Find the first key's id by its prefix and revoke it.
    let line = listing.lines().find(|l| l.contains(&key[..10])).unwrap();
    let key_id = line.split_whitespace().next().unwrap();
    let (ok, _, _) = agentshare(&["keys", "revoke", key_id, "--database-url", &url]);
    assert!(ok);
    let (status, _) = app.request_as(Some(&key), reqwest::Method::GET, "/v1/tasks", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.request_as(Some(&second_key), reqwest::Method::GET, "/v1/tasks", None).await;
    assert_eq!(status, StatusCode::OK, "other keys keep working");
    let (ok, _, stderr) = agentshare(&["keys", "revoke", key_id, "--database-url", &url]);
    assert!(!ok && stderr.contains("no active key"), "{stderr}");
    let (_, listing, _) = agentshare(&["keys", "list", "--database-url", &url]);
    assert!(listing.lines().any(|l| l.starts_with(key_id) && l.contains("revoked")), "{listing}");
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_on_sqlite() {
    keys_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn keys_are_created_listed_and_revoked_on_postgres() {
    keys_lifecycle(Backend::Postgres).await;
}

#[test]
fn bad_arguments_fail_with_a_message() {
    let (ok, _, stderr) = agentshare(&[
        "keys",
        "create",
        "--owner",
        "dave",
        "--email",
        "not-an-email",
        "--database-url",
        "sqlite:///nonexistent-dir-for-test/x.db",
    ]);
    assert!(!ok);
    assert!(stderr.contains("is not an email address"), "{stderr}");
    let (ok, _, stderr) = agentshare(&["migrate", "--database-url", "mysql://localhost/x"]);
    assert!(!ok);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    let (ok, _, stderr) = agentshare(&["serve", "--public-url", "example.com"]);
    assert!(!ok);
    assert!(stderr.contains("http://"), "{stderr}");
}

#[tokio::test]
async fn migrate_brings_both_backends_up_to_date() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDb::new(backend).await else {
            continue;
        };
        for _ in 0..2 {
            let (ok, stdout, stderr) = agentshare(&["migrate", "--database-url", &db.url]);
            assert!(ok, "{stderr}");
            assert!(stdout.contains("up to date"));
        }
    }
}

/// SIGTERM while requests are in flight: every write the server acknowledged is
/// there after a restart.
async fn shutdown_keeps_acknowledged_writes(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, out, _) = agentshare(&["keys", "create", "--owner", "erin", "--database-url", &db.url]);
    let key = out.lines().last().unwrap().to_owned();
    let server = Server::start(dir.path(), &["--database-url", &db.url]);
    let client = crate::common::http().build().unwrap();
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut writers = Vec::new();
    for i in 0..8 {
        let (client, base, key, acked) = (client.clone(), server.base.clone(), key.clone(), acked_tx.clone());
        writers.push(tokio::spawn(async move {
            for j in 0.. {
                let sent = client
                    .post(format!("{base}/v1/tasks"))
                    .bearer_auth(&key)
                    .json(&json!({"title": format!("w{i}-{j}")}))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != StatusCode::CREATED {
                    break;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    break;
                };
                let _ = acked.send(body["data"]["task_id"].as_str().unwrap().to_owned());
            }
        }));
    }
    drop(acked_tx);
    // Let a good number of writes through, then ask the server to stop mid-stream.
    let mut acked = Vec::new();
    while acked.len() < 50 {
        acked.push(acked_rx.recv().await.expect("writes are acknowledged"));
    }
    let server_stopped = tokio::task::spawn_blocking(move || server.terminate());
    for writer in writers {
        writer.await.unwrap();
    }
    while let Some(id) = acked_rx.recv().await {
        acked.push(id);
    }
    assert!(server_stopped.await.unwrap(), "serve exits cleanly on SIGTERM");

    let app = TestApp::start_on(db, |_| {}).await;
    let owner = app.store.upsert_owner("erin", None).await.unwrap();
    for id in &acked {
        let task = app.store.get_owned_task(&owner.owner_id, &id.as_str().into()).await.unwrap();
        assert!(task.is_some(), "acknowledged task {id} survived the shutdown");
    }
}

#[tokio::test]
async fn graceful_shutdown_keeps_acknowledged_writes_on_sqlite() {
    shutdown_keeps_acknowledged_writes(Backend::Sqlite).await;
}

#[tokio::test]
async fn graceful_shutdown_keeps_acknowledged_writes_on_postgres() {
    shutdown_keeps_acknowledged_writes(Backend::Postgres).await;
}
