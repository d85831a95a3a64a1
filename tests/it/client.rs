//! The command-line client (`agentshare login`, `run`, `share`, `tasks`, `links`,
//! `import`) as a user runs it: the real binary against a real server. Every
//! process is killed on every way out (its whole process group), and every wait
//! has a deadline.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::common::{Backend, TestApp, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_agentshare");
/// The longest any one step may take before the test fails (a hung build fails, it
/// doesn't hang).
const DEADLINE: Duration = Duration::from_secs(60);

/// Kills a process group when dropped: the client and everything it started.
struct Group(u32);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A user's home: the client's configuration goes here, nowhere else.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        Home { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config_file(&self) -> PathBuf {
        self.path().join(".config/agentshare/config.json")
    }

    /// The client with `args`, run in `cwd` (the home when `None`), in a process
    /// group of its own, with no AGENTSHARE_* variables but those in `env`.
    fn command(&self, args: &[&str], env: &[(&str, &str)], cwd: Option<&Path>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(args)
            .current_dir(cwd.unwrap_or(self.path()))
            .env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join(".config"))
            .env_remove("AGENTSHARE_SERVER")
            .env_remove("AGENTSHARE_API_KEY")
            .env_remove("AGENTSHARE_DATABASE_URL")
            .envs(env.iter().copied())
            .process_group(0)
            .kill_on_drop(true);
        command
    }

    /// Runs the client to its end; answers its exit code and output.
    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Finished {
        self.run_in(args, &[], stdin, None).await
    }

    async fn run_in(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: Option<&str>,
        cwd: Option<&Path>,
    ) -> Finished {
        let mut command = self.command(args, env, cwd);
        command
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start agentshare");
        let _group = Group(child.id().unwrap());
        if let Some(text) = stdin {
            let mut input = child.stdin.take().unwrap();
            input.write_all(text.as_bytes()).await.unwrap();
        }
        let output = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("agentshare {args:?} did not finish within {DEADLINE:?}"))
            .unwrap();
        Finished {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
struct Finished {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Finished {
    #[track_caller]
    fn succeeded(&self) -> &Finished {
        assert_eq!(self.code, Some(0), "{self:#?}");
        self
    }

    #[track_caller]
    fn failed_saying(&self, words: &[&str]) -> &Finished {
        assert!(self.code.is_some_and(|c| c != 0), "expected a failure: {self:#?}");
        for word in words {
            assert!(self.stderr.contains(word), "stderr should say {word:?}: {self:#?}");
        }
        self
    }
}

/// A running client whose output is read line by line as it comes.
struct Live {
    child: tokio::process::Child,
    _group: Group,
    lines: mpsc::UnboundedReceiver<(&'static str, String)>,
    seen: Vec<(&'static str, String)>,
}

impl Live {
    fn spawn(mut command: tokio::process::Command) -> Live {
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().expect("start agentshare");
        let group = Group(child.id().unwrap());
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let out = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = out.send(("stdout", line));
            }
        });
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(("stderr", line));
            }
        });
        Live { child, _group: group, lines, seen: Vec::new() }
    }

    /// Waits for a line of `stream` containing `text`; answers it.
    async fn expect(&mut self, stream: &str, text: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let next = tokio::time::timeout_at(deadline, self.lines.recv()).await;
            match next {
                Ok(Some((from, line))) => {
                    self.seen.push((from, line.clone()));
                    if from == stream && line.contains(text) {
                        return line;
                    }
                }
                Ok(None) => panic!("the output ended before {stream} said {text:?}: {:#?}", self.seen),
                Err(_) => panic!("{stream} did not say {text:?} within {DEADLINE:?}: {:#?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit; answers its exit code and everything it
    /// printed.
    async fn finish(mut self) -> (Option<i32>, Vec<(&'static str, String)>) {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("agentshare did not exit within {DEADLINE:?}: {:#?}", self.seen))
            .unwrap();
        // The readers end when the pipes close.
        let deadline = Instant::now() + DEADLINE;
        while let Ok(Some(line)) = tokio::time::timeout_at(deadline, self.lines.recv()).await {
            self.seen.push(line);
        }
        (status.code(), self.seen)
    }
}

/// Asks `probe` until it answers something, for at most [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A GET of the owner API with `key`; answers the `data` of a 200.
async fn data(base: &str, key: &str, path: &str) -> Value {
    let response = crate::common::http()
        .build()
        .unwrap()
        .get(format!("{base}{path}"))
        .bearer_auth(key)
        .timeout(DEADLINE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json::<Value>().await.unwrap()["data"].take()
}

/// Every event of a task, in order.
async fn events(base: &str, key: &str, task_id: &str) -> Vec<Value> {
    data(base, key, &format!("/v1/tasks/{task_id}/events?limit=1000")).await["events"]
        .as_array()
        .unwrap()
        .clone()
}

/// The lines of a task's `log` events of `stream`, in order (without the code
/// fences around them).
fn logged_lines(events: &[Value], stream: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "log" && e["name"] == stream)
        .flat_map(|e| e["content"].as_str().unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|line| !line.starts_with("```") && !line.starts_with('*'))
        .collect()
}

/// The tasks that `agentshare run` made.
async fn cli_tasks(base: &str, key: &str) -> Vec<Value> {
    data(base, key, "/v1/tasks?source=cli").await["tasks"].as_array().unwrap().clone()
}

/// `--server` and `--api-key` for `app`.
fn server_args(app: &TestApp) -> [&str; 4] {
    ["--server", &app.base, "--api-key", &app.key]
}

/// `command` with the `server` flags added (before `--`, where the wrapped command
/// begins).
fn args<'a>(server: &'a [&'a str], command: &'a [&'a str]) -> Vec<&'a str> {
    let at = command.iter().position(|a| *a == "--").unwrap_or(command.len());
    command[..at].iter().chain(server).chain(&command[at..]).copied().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_the_server_and_key_that_later_commands_use() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();

    let refused = home.run(&["login", "--server", &app.base, "--api-key", "ask_not-a-real-key"], None).await;
    refused.failed_saying(&["refused this API key", "nothing was saved"]);
    assert!(!home.config_file().exists(), "a refused key is not stored");

    // The key from standard input, as a script would give it.
    let login = home.run(&["login", "--server", &app.base], Some(&format!("{}\n", app.key))).await;
    login.succeeded();
    assert!(login.stdout.contains("the key works"), "{login:#?}");
    let config = home.config_file();
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&config).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the stored key is readable by its owner alone");
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(stored, json!({"server": app.base, "api_key": app.key}));

    // Later commands need neither flag.
    let task_id = app.create_task("made before").await;
    let listed = home.run(&["tasks", "list"], None).await;
    listed.succeeded();
    assert!(listed.stdout.contains(&task_id), "{listed:#?}");

    // The stored key is never sent to another server.
    let elsewhere = home.run(&["tasks", "list", "--server", "http://127.0.0.1:9"], None).await;
    elsewhere.failed_saying(&["no API key for http://127.0.0.1:9", "agentshare login --server"]);

    // Flags override the stored login, and logging in again replaces it.
    let other_key = app.new_owner("bob").await;
    let as_bob = home.run(&["tasks", "list", "--api-key", &other_key], None).await;
    as_bob.succeeded();
    assert!(as_bob.stdout.contains("no tasks"), "bob has none: {as_bob:#?}");
    home.run(&["login", "--server", &app.base, "--api-key", &other_key], None).await.succeeded();
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(stored["api_key"], other_key.as_str());
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&config).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

/// A command writing to both streams and exiting 3: the wrapper exits 3 and the
/// task holds everything.
async fn a_failing_command_is_recorded(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let script = "echo out-1; echo err-1 >&2; printf '\\033[31mred\\033[0m\\n'; echo out-2; \
                  echo err-2 >&2; echo 'the report' > report.txt; exit 3";
    let server = server_args(&app);
    let run = home
        .run_in(
            &args(
                &server,
                &[
                    "run",
                    "--title",
                    "Nightly check",
                    "--artifact",
                    "report.txt",
                    "--artifact",
                    "missing.txt",
                    "--",
                    "sh",
                    "-c",
                    script,
                ],
            ),
            &[],
            None,
            Some(work.path()),
        )
        .await;
    assert_eq!(run.code, Some(3), "the wrapper exits with the command's status: {run:#?}");
    assert!(
        run.stdout.contains("out-1\n") && run.stdout.contains("out-2\n"),
        "output passes through: {run:#?}"
    );
    assert!(run.stdout.contains("\u{1b}[31mred"), "unchanged on the terminal: {run:#?}");
    assert!(run.stderr.contains("err-1\n") && run.stderr.contains("err-2\n"), "{run:#?}");
    assert!(run.stderr.contains("missing.txt not found"), "a missing artifact is reported: {run:#?}");

    let tasks = cli_tasks(&app.base, &app.key).await;
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let task = &tasks[0];
    let task_id = task["task_id"].as_str().unwrap();
    assert_eq!(task["title"], "Nightly check");
    assert_eq!(task["status"], "failed");
    assert_eq!(task["metadata"]["exit_code"], 3);
    assert!(task["metadata"]["command"].as_str().unwrap().starts_with("sh -c 'echo out-1;"), "{task}");
    assert!(task["metadata"]["duration_ms"].is_u64(), "{task}");
    assert_eq!(task["external_id"].as_str().unwrap().len(), 36, "the run's UUID: {task}");

    let events = events(&app.base, &app.key, task_id).await;
    assert_eq!(logged_lines(&events, "stdout"), ["out-1", "red", "out-2"], "{events:#?}");
    assert_eq!(logged_lines(&events, "stderr"), ["err-1", "err-2"], "{events:#?}");
    for event in events.iter().filter(|e| e["type"] == "log") {
        assert!(event["key"].as_str().unwrap().starts_with("run/"), "{event}");
    }
    let outputs: Vec<&Value> = events.iter().filter(|e| e["type"] == "output").collect();
    assert_eq!(outputs.len(), 1, "{events:#?}");
    assert_eq!(outputs[0]["name"], "Final output");
    assert!(outputs[0]["content"].as_str().unwrap().contains("out-1\nred\nout-2\n"), "{:#?}", outputs[0]);

    let artifacts = data(&app.base, &app.key, &format!("/v1/tasks/{task_id}/artifacts")).await;
    let artifacts = artifacts["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{artifacts:#?}");
    assert_eq!(artifacts[0]["name"], "report.txt");
    assert_eq!(artifacts[0]["content_type"], "text/plain; charset=utf-8");
    let download = crate::common::http()
        .build()
        .unwrap()
        .get(format!(
            "{}/v1/tasks/{task_id}/artifacts/{}",
            app.base,
            artifacts[0]["artifact_id"].as_str().unwrap()
        ))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(download.text().await.unwrap(), "the report\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_is_recorded_on_sqlite() {
    a_failing_command_is_recorded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_is_recorded_on_postgres() {
    a_failing_command_is_recorded(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_share_prints_a_link_that_opens() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();
    let server = server_args(&app);
    let run =
        home.run(&args(&server, &["run", "--share", "--", "sh", "-c", "echo '## All green'"]), None).await;
    run.succeeded();
    let url = run
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("agentshare: share link: "))
        .unwrap_or_else(|| panic!("no link: {run:#?}"))
        .to_owned();
    let (status, view) = app.view(&url, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let outputs = view["data"]["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1, "{view}");
    assert!(outputs[0]["content"].as_str().unwrap().contains("## All green"), "{view}");
    assert_eq!(cli_tasks(&app.base, &app.key).await[0]["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_prints_a_share_code_before_the_command_starts() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();
    let server = server_args(&app);
    // The command says it started on standard error, the stream the code is printed on.
    let run = home
        .run(&args(&server, &["run", "--code", "--", "sh", "-c", "echo command-started >&2; echo hi"]), None)
        .await;
    run.succeeded();
    let lines: Vec<&str> = run.stderr.lines().collect();
    let code_at = lines.iter().position(|l| l.contains("share code ")).unwrap_or_else(|| panic!("{run:#?}"));
    let started_at = lines.iter().position(|l| *l == "command-started").unwrap_or_else(|| panic!("{run:#?}"));
    assert!(code_at < started_at, "the code comes first: {run:#?}");
    let code = lines[code_at].split("share code ").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(lines[code_at].contains(&format!("{}/code/{code}", app.base)), "{run:#?}");
    let exchanged = crate::common::http()
        .build()
        .unwrap()
        .get(format!("{}/v1/auth/share?code={code}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(exchanged.status(), StatusCode::OK, "the code opens the task");
}

/// A `serve` process on a port and database that survive it, so it can be stopped
/// and started again.
struct ServerProcess {
    child: std::process::Child,
    _group: Group,
    base: String,
}

impl ServerProcess {
    fn start(dir: &Path, database_url: &str, listen: &str) -> ServerProcess {
        let mut child = std::process::Command::new(BIN)
            .args(["serve", "--listen", listen, "--database-url", database_url])
            .current_dir(dir)
            .env_remove("AGENTSHARE_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start agentshare serve");
        let group = Group(child.id());
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("agentshare is serving on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap().to_owned());
                }
            }
        });
        let base = rx.recv_timeout(DEADLINE).expect("serve says where it listens");
        ServerProcess { child, _group: group, base }
    }

    /// SIGKILL: gone at once, mid-request if need be.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_its_output_while_the_server_is_down_and_sends_every_line_once() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = Home::new();
    let created = home.run(&["keys", "create", "--owner", "alice", "--database-url", &db.url], None).await;
    created.succeeded();
    let key = created.stdout.lines().last().unwrap().to_owned();
    let server = ServerProcess::start(dir.path(), &db.url, "127.0.0.1:0");
    let base = server.base.clone();
    let address = base.strip_prefix("http://").unwrap().to_owned();

    // The command goes on only when the test creates the gate files.
    let work = tempfile::tempdir().unwrap();
    let script = "echo before-out; echo before-err >&2; \
                  while [ ! -e gate-1 ]; do sleep 0.02; done; \
                  for i in 1 2 3; do echo during-out-$i; echo during-err-$i >&2; done; \
                  while [ ! -e gate-2 ]; do sleep 0.02; done; \
                  echo after-out";
    let command = home.command(
        &["run", "--server", &base, "--api-key", &key, "--", "sh", "-c", script],
        &[],
        Some(work.path()),
    );
    let mut run = Live::spawn(command);
    run.expect("stdout", "before-out").await;
    let task_id = eventually("the task appears", || async {
        cli_tasks(&base, &key).await.first().map(|t| t["task_id"].as_str().unwrap().to_owned())
    })
    .await;
    eventually("the first lines arrive", || async {
        let events = events(&base, &key, &task_id).await;
        (logged_lines(&events, "stdout") == ["before-out"]
            && logged_lines(&events, "stderr") == ["before-err"])
        .then_some(())
    })
    .await;

    server.kill();
    std::fs::write(work.path().join("gate-1"), "").unwrap();
    run.expect("stdout", "during-out-3").await;
    run.expect("stderr", "keeping the output and retrying").await;

    let server = ServerProcess::start(dir.path(), &db.url, &address);
    assert_eq!(server.base, base, "the same address again");
    std::fs::write(work.path().join("gate-2"), "").unwrap();
    let (code, printed) = run.finish().await;
    assert_eq!(code, Some(0), "{printed:#?}");
    assert!(printed.iter().any(|(_, l)| l.contains("reached") && l.contains("again")), "{printed:#?}");

    let events = events(&base, &key, &task_id).await;
    assert_eq!(
        logged_lines(&events, "stdout"),
        ["before-out", "during-out-1", "during-out-2", "during-out-3", "after-out"],
        "every line once, in order: {events:#?}"
    );
    assert_eq!(
        logged_lines(&events, "stderr"),
        ["before-err", "during-err-1", "during-err-2", "during-err-3"],
        "{events:#?}"
    );
    let task = data(&base, &key, &format!("/v1/tasks/{task_id}")).await;
    assert_eq!(task["status"], "completed", "{task}");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_reaches_the_command_and_its_outcome_is_recorded() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();
    let server = server_args(&app);
    let command =
        home.command(&args(&server, &["run", "--", "sh", "-c", "echo ready; exec sleep 600"]), &[], None);
    let mut run = Live::spawn(command);
    run.expect("stdout", "ready").await;
    // SIGINT to the wrapper alone, as a supervisor sends it: it is passed on.
    let pid = run.child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let (code, printed) = run.finish().await;
    assert_eq!(code, Some(130), "128 + SIGINT, as a shell reports it: {printed:#?}");
    let task = &cli_tasks(&app.base, &app.key).await[0];
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["metadata"]["signal"], 2, "{task}");
    assert_eq!(task["metadata"]["exit_code"], 130, "{task}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_prints_links_with_their_options_as_json_and_as_a_qr_code() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();
    let server = server_args(&app);
    let task_id = app.finished_task("Quarterly report").await;

    let before = chrono::Utc::now();
    let shared = home
        .run(
            &args(
                &server,
                &[
                    "share",
                    &task_id,
                    "--password-stdin",
                    "--max-views",
                    "1",
                    "--expires-in",
                    "7d",
                    "--no-download",
                    "--json",
                ],
            ),
            Some("correct horse\n"),
        )
        .await;
    shared.succeeded();
    let link: Value = serde_json::from_str(&shared.stdout).unwrap_or_else(|_| panic!("JSON: {shared:#?}"));
    assert_eq!(link["task_id"], task_id.as_str());
    assert_eq!(link["password_protected"], true);
    assert_eq!(link["max_views"], 1);
    assert_eq!(link["permissions"]["allow_download"], false);
    let expires = chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    let week = expires.with_timezone(&chrono::Utc) - before;
    assert!(week > chrono::Duration::days(7) - chrono::Duration::minutes(1), "{link}");
    assert!(week < chrono::Duration::days(7) + chrono::Duration::minutes(1), "{link}");
    let url = link["url"].as_str().unwrap();
    let (status, _) = app.view(url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the password is asked for");
    let (status, view) = app.view(url, Some("correct horse")).await;
    assert_eq!(status, StatusCode::OK, "{view}");

    let drawn = home.run(&args(&server, &["share", &task_id, "--qr"]), None).await;
    drawn.succeeded();
    let url = drawn.stdout.lines().last().unwrap();
    assert!(url.starts_with(&format!("{}/s/", app.base)), "the link alone on the last line: {drawn:#?}");
    let blocks = drawn.stdout.lines().filter(|l| l.contains('\u{2588}') || l.contains('\u{2580}')).count();
    assert!(blocks > 10, "a QR code drawn with half blocks: {drawn:#?}");
    assert_eq!(app.view(url, None).await.0, StatusCode::OK);

    let running = app.create_task("still going").await;
    let refused = home.run(&args(&server, &["share", &running]), None).await;
    refused.failed_saying(&["still running", "--code"]);
    let short = home.run(&args(&server, &["share", &task_id, "--password-stdin"]), Some("short\n")).await;
    short.failed_saying(&["Password must be 8-32 characters"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_links_are_listed_and_links_revoked() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();
    let server = server_args(&app);
    let first = app.finished_task("First task").await;
    let second = app.create_task("Second task").await;
    let link = app.share(&first, json!({"title": "For the client"})).await;
    let link_id = link["share_link_id"].as_str().unwrap();

    let tasks = home.run(&args(&server, &["tasks", "list"]), None).await;
    tasks.succeeded();
    let second_at = tasks.stdout.find(&second).unwrap_or_else(|| panic!("{tasks:#?}"));
    let first_at = tasks.stdout.find(&first).unwrap_or_else(|| panic!("{tasks:#?}"));
    assert!(second_at < first_at, "newest first: {tasks:#?}");
    assert!(tasks.stdout.contains("Second task") && tasks.stdout.contains("completed"), "{tasks:#?}");
    let json_tasks =
        home.run(&args(&server, &["tasks", "list", "--status", "completed", "--json"]), None).await;
    let listed: Value = serde_json::from_str(&json_tasks.succeeded().stdout).unwrap();
    let ids: Vec<&str> =
        listed["tasks"].as_array().unwrap().iter().map(|t| t["task_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str()]);
    let one = home.run(&args(&server, &["tasks", "list", "--limit", "1", "--json"]), None).await;
    let one: Value = serde_json::from_str(&one.succeeded().stdout).unwrap();
    assert_eq!(one["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(one["has_more"], true);

    let links = home.run(&args(&server, &["links", "list"]), None).await;
    links.succeeded();
    assert!(links.stdout.contains(link_id) && links.stdout.contains("active"), "{links:#?}");
    assert!(links.stdout.contains(link["url"].as_str().unwrap()), "{links:#?}");

    let revoked = home.run(&args(&server, &["links", "revoke", link_id]), None).await;
    revoked.succeeded();
    assert!(revoked.stdout.contains(&format!("revoked {link_id}")), "{revoked:#?}");
    assert_eq!(app.view(link["url"].as_str().unwrap(), None).await.0, StatusCode::NOT_FOUND);
    let listed = home.run(&args(&server, &["links", "list", "--status", "revoked", "--json"]), None).await;
    let listed: Value = serde_json::from_str(&listed.succeeded().stdout).unwrap();
    assert_eq!(listed["share_links"][0]["share_link_id"], link_id);
    assert_eq!(listed["share_links"][0]["status"], "revoked");

    let unknown = home.run(&args(&server, &["links", "revoke", "share_0000000000000000"]), None).await;
    unknown.failed_saying(&["404"]);
}

/// A Claude Code session imported, imported again, and imported once it went on.
async fn claude_code_sessions_are_imported_once_and_grow(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let home = Home::new();
    let server = server_args(&app);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/claude-code");
    let first_part = std::fs::read_to_string(fixtures.join("session.jsonl")).unwrap();
    let continued = std::fs::read_to_string(fixtures.join("session-continued.jsonl")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let session = work.path().join("3c9e4d52-8f1a-4b7e-a6d0-5e2f91c7b834.jsonl");
    std::fs::write(&session, &first_part).unwrap();
    let file = session.to_str().unwrap();

    let imported = home.run(&args(&server, &["import", "claude-code", file]), None).await;
    imported.succeeded();
    assert!(imported.stderr.contains("line 16"), "the malformed line is named: {imported:#?}");
    assert!(imported.stdout.contains("11 new entries"), "{imported:#?}");
    let tasks =
        data(&app.base, &app.key, "/v1/tasks?source=import").await["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    let task = &tasks[0];
    let task_id = task["task_id"].as_str().unwrap().to_owned();
    assert_eq!(task["external_id"], "3c9e4d52-8f1a-4b7e-a6d0-5e2f91c7b834");
    assert_eq!(task["title"], "Login form rejects empty passwords");
    assert_eq!(task["status"], "completed");
    assert_eq!(task["agent"], "claude-code 1.0.61");
    assert_eq!(task["prompt"], "The login form accepts an empty password. Fix it and add a test.");
    assert_eq!(task["metadata"]["model"], "claude-sonnet-4-20250514");

    let first_events = events(&app.base, &app.key, &task_id).await;
    let kinds: Vec<(&str, &str)> = first_events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["name"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("message", ""),
            ("message", ""),
            ("log", "Grep"),
            ("log", "Grep result"),
            ("message", ""),
            ("log", "Edit"),
            ("log", "Edit result"),
            ("log", "Bash"),
            ("log", "Bash result"),
            ("message", ""),
            ("output", "Final answer"),
        ],
        "{first_events:#?}"
    );
    let text = serde_json::to_string(&first_events).unwrap();
    for absent in ["SIDECHAIN", "Caveat", "command-name", "empty string passes", "PostToolUse", "trunc"] {
        assert!(!text.contains(absent), "{absent} is not imported: {text}");
    }
    assert!(first_events[0]["content"].as_str().unwrap().contains("accepts an empty password"));
    assert!(first_events[7]["content"].as_str().unwrap().contains("npm test -- login"));
    assert!(first_events[8]["content"].as_str().unwrap().contains("14 passed"));
    assert_eq!(first_events[0]["created_at"], "2025-07-28T09:14:28.036Z", "when it was said");
    let answer = first_events[10]["content"].as_str().unwrap();
    assert!(answer.starts_with("Fixed: the login form now rejects empty passwords."), "{answer}");

    // Again: nothing new.
    let again = home.run(&args(&server, &["import", "claude-code", file]), None).await;
    again.succeeded();
    assert!(again.stdout.contains("0 new entries (11 already there"), "{again:#?}");
    assert_eq!(events(&app.base, &app.key, &task_id).await, first_events);

    // The session went on: only what is new is added, to the same task.
    std::fs::write(&session, format!("{first_part}{continued}")).unwrap();
    let longer = home.run(&args(&server, &["import", "claude-code", file, "--share"]), None).await;
    longer.succeeded();
    assert!(longer.stdout.contains("7 new entries (10 already there"), "{longer:#?}");
    let all = events(&app.base, &app.key, &task_id).await;
    assert_eq!(all[..11], first_events[..]);
    let added: Vec<(&str, &str)> =
        all[11..].iter().map(|e| (e["type"].as_str().unwrap(), e["name"].as_str().unwrap_or(""))).collect();
    assert_eq!(
        added,
        [
            ("message", ""),
            ("log", "Edit"),
            ("log", "Edit result"),
            ("log", "Bash"),
            ("log", "Bash result"),
            ("message", ""),
            ("output", "Final answer"),
        ]
    );
    assert!(all[15]["content"].as_str().unwrap().contains("**Error**"), "a failed tool says so: {}", all[15]);
    assert!(all[17]["content"].as_str().unwrap().starts_with("Whitespace-only passwords"));
    let imported_tasks = data(&app.base, &app.key, "/v1/tasks?source=import").await;
    assert_eq!(imported_tasks["tasks"].as_array().unwrap().len(), 1, "still one task");
    let url = longer.stdout.lines().last().unwrap();
    let (status, view) = app.view(url, None).await;
    assert_eq!(status, StatusCode::OK, "{longer:#?}");
    assert_eq!(view["data"]["outputs"].as_array().unwrap().len(), 2, "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_sessions_are_imported_once_and_grow_on_sqlite() {
    claude_code_sessions_are_imported_once_and_grow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_sessions_are_imported_once_and_grow_on_postgres() {
    claude_code_sessions_are_imported_once_and_grow(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_say_what_is_wrong_and_what_to_do() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();

    // Nobody listens on a port just given back.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let nowhere = format!("http://127.0.0.1:{closed}");
    let unreachable = home.run(&["tasks", "list", "--server", &nowhere, "--api-key", "ask_x"], None).await;
    unreachable.failed_saying(&[&format!("cannot reach {nowhere}"), "is the server running? check --server"]);

    let work = tempfile::tempdir().unwrap();
    let not_run = home
        .run_in(
            &["run", "--server", &nowhere, "--api-key", "ask_x", "--", "sh", "-c", "touch ran"],
            &[],
            None,
            Some(work.path()),
        )
        .await;
    assert_eq!(not_run.code, Some(125), "{not_run:#?}");
    not_run.failed_saying(&["cannot reach", "the command was not run"]);
    assert!(!work.path().join("ran").exists());

    let refused = home.run(&["tasks", "list", "--server", &app.base, "--api-key", "ask_wrong"], None).await;
    refused.failed_saying(&["refused the API key", "--api-key", "agentshare login"]);
    let by_env = home
        .run_in(
            &["links", "list"],
            &[("AGENTSHARE_SERVER", &app.base), ("AGENTSHARE_API_KEY", "ask_wrong")],
            None,
            None,
        )
        .await;
    by_env.failed_saying(&["refused the API key"]);

    let no_key = home.run(&["tasks", "list", "--server", &app.base], None).await;
    no_key.failed_saying(&["no API key", "agentshare login"]);

    let server = server_args(&app);
    let missing =
        home.run(&args(&server, &["import", "claude-code", "/nonexistent/session.jsonl"]), None).await;
    missing.failed_saying(&["/nonexistent/session.jsonl: no such file"]);
    let missing = home.run(&args(&server, &["import", "otlp", "/nonexistent/traces.json"]), None).await;
    missing.failed_saying(&["/nonexistent/traces.json: no such file"]);

    let not_found = home.run(&args(&server, &["run", "--", "no-such-command-anywhere"]), None).await;
    assert_eq!(not_found.code, Some(127), "{not_found:#?}");
    assert!(not_found.stderr.contains("no-such-command-anywhere: command not found"), "{not_found:#?}");
    let task = &cli_tasks(&app.base, &app.key).await[0];
    assert_eq!(task["status"], "failed");
    assert_eq!(task["metadata"]["exit_code"], 127);
}

/// A proxy in front of `target` that passes every request on, but loses the answer
/// to the first try of each event and artifact upload (answering 503 instead, as a
/// proxy whose server dropped the connection would): the server stored what was
/// sent, the client can't know. Answers the proxy's URL and how many it lost.
async fn answer_losing_proxy(target: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    let lost = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(HashSet::<Vec<u8>>::new()));
    let client = crate::common::http().build().unwrap();
    let counter = lost.clone();
    let app = axum::Router::new().fallback(move |request: Request| {
        let (client, target, seen, lost) = (client.clone(), target.clone(), seen.clone(), counter.clone());
        async move {
            let (parts, body) = request.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
            let mut headers = parts.headers.clone();
            headers.remove("host");
            let answer = client
                .request(parts.method.clone(), format!("{target}{path}"))
                .headers(headers)
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            let upload = parts.method == "POST" && (path.contains("/events") || path.contains("/artifacts"));
            let first_try = upload && seen.lock().unwrap().insert([path.as_bytes(), &bytes[..]].concat());
            if first_try {
                lost.fetch_add(1, Ordering::SeqCst);
                return Response::builder().status(503).body(Body::empty()).unwrap();
            }
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            response.body(Body::from(answer.bytes().await.unwrap())).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_whose_answer_was_lost_are_stored_once() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let (proxy, lost) = answer_losing_proxy(app.base.clone()).await;
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let script = "echo one; echo two >&2; echo three; echo data > result.csv";
    let run = home
        .run_in(
            &[
                "run",
                "--server",
                &proxy,
                "--api-key",
                &app.key,
                "--artifact",
                "result.csv",
                "--",
                "sh",
                "-c",
                script,
            ],
            &[],
            None,
            Some(work.path()),
        )
        .await;
    run.succeeded();
    for trouble in ["did not reach", "not uploaded", "not recorded", "incomplete"] {
        assert!(!run.stderr.contains(trouble), "nothing went missing: {run:#?}");
    }
    let lost = lost.load(std::sync::atomic::Ordering::SeqCst);
    assert!(lost >= 3, "answers to the logs, the output and the file were lost: {lost}");

    let task = &cli_tasks(&app.base, &app.key).await[0];
    let task_id = task["task_id"].as_str().unwrap();
    assert_eq!(task["status"], "completed");
    let events = events(&app.base, &app.key, task_id).await;
    assert_eq!(logged_lines(&events, "stdout"), ["one", "three"], "{events:#?}");
    assert_eq!(logged_lines(&events, "stderr"), ["two"], "{events:#?}");
    assert_eq!(events.iter().filter(|e| e["type"] == "output").count(), 1, "{events:#?}");
    let artifacts = data(&app.base, &app.key, &format!("/v1/tasks/{task_id}/artifacts")).await;
    assert_eq!(artifacts["artifacts"].as_array().unwrap().len(), 1, "{artifacts}");
}

/// `import otlp` sends a Collector file export, one request a line, to the real
/// receiver: the run becomes a task, and what the server refused is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_files_are_imported_through_the_receiver() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let home = Home::new();
    let server = server_args(&app);
    let span = |id: &str, parent: &str, attributes: Value| {
        json!({
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": id, "parentSpanId": parent,
            "name": "invoke_agent Filer", "startTimeUnixNano": "1764900000000000000",
            "endTimeUnixNano": "1764900002000000000", "attributes": attributes,
        })
    };
    let text = |key: &str, value: &str| json!({"key": key, "value": {"stringValue": value}});
    let line = |spans: Vec<Value>| json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).to_string();
    let answer = json!([{"role": "assistant", "parts": [{"type": "text", "content": "Filed."}]}]).to_string();
    let mut bad = span("0000000000000003", "", json!([]));
    bad["traceId"] = json!("");
    let file = format!(
        "{}\n{}\n",
        line(vec![span(
            "0000000000000002",
            "0000000000000001",
            json!([text("gen_ai.operation.name", "chat"), text("gen_ai.output.messages", &answer),])
        )]),
        line(vec![
            span(
                "0000000000000001",
                "",
                json!([text("gen_ai.agent.name", "Filer"), text("gen_ai.conversation.id", "filed")])
            ),
            bad,
        ]),
    );
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("traces.json");
    std::fs::write(&path, file).unwrap();

    let imported = home.run(&args(&server, &["import", "otlp", path.to_str().unwrap()]), None).await;
    assert_ne!(imported.code, Some(0), "a refused span makes the import fail: {imported:#?}");
    assert!(imported.stdout.contains("2 spans accepted, 1 rejected"), "{imported:#?}");
    assert!(
        imported.stderr.contains("line 2: 1 span rejected: a span has no valid trace id"),
        "{imported:#?}"
    );
    let tasks = data(&app.base, &app.key, "/v1/tasks?source=otlp&external_id=filed").await;
    let task = &tasks["tasks"][0];
    assert_eq!(
        (task["title"].as_str(), task["status"].as_str()),
        (Some("Filer"), Some("completed")),
        "{tasks}"
    );
    let events = events(&app.base, &app.key, task["task_id"].as_str().unwrap()).await;
    assert_eq!(events.last().unwrap()["content"], "Filed.");
}
