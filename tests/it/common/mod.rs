//! Test harness: a real server on a random port with a fresh database, talked to
//! over HTTP.
//!
//! SQLite tests always run. PostgreSQL tests run when `AGENTSHARE_TEST_POSTGRES_URL`
//! names a server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); each test gets
//! its own database there. Without it they are skipped, each with a notice that
//! counts them, and in CI (`CI` set to any truthy value) a missing URL fails them,
//! so CI can never pass without PostgreSQL. Every test that runs on PostgreSQL
//! alone has `postgres` in its name.
//!
//! Every request a test sends has a deadline, and every body or stream it reads is
//! bounded in time and size: a broken build fails a test, it never hangs one.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::SocketAddr;

use agentshare::config::Settings;
use agentshare::domain::api_key::NewApiKey;
use agentshare::startup::Application;
use agentshare::storage::{Db, DbOptions};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection as _;
use tokio::sync::oneshot;

pub const POSTGRES_URL_VAR: &str = "AGENTSHARE_TEST_POSTGRES_URL";

/// The longest a test waits for one answer, its body included: a server that never
/// finishes one (an endless stream, a hung request) fails the test instead of
/// hanging it.
pub const ANSWER_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// The most a test reads of one body: a stream that never ends fails the test
/// before it fills the machine's memory.
pub const LARGEST_BODY: usize = 64 << 20;

/// An HTTP client for tests: every request it sends fails after
/// [`ANSWER_DEADLINE`] if its answer has not arrived whole.
pub fn http() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(ANSWER_DEADLINE)
}

/// The whole body of `response`, read within [`ANSWER_DEADLINE`] and at most
/// [`LARGEST_BODY`] bytes of it; a body that never ends fails the test.
pub async fn read_body(mut response: reqwest::Response) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + ANSWER_DEADLINE;
    let mut body = Vec::new();
    while let Some(chunk) = tokio::time::timeout_at(deadline, response.chunk())
        .await
        .expect("the body ended in time")
        .expect("body readable")
    {
        body.extend_from_slice(&chunk);
        assert!(
            body.len() <= LARGEST_BODY,
            "the body goes on past {LARGEST_BODY} bytes: {}",
            String::from_utf8_lossy(&body[..512])
        );
    }
    body
}

/// [`read_body`] as text.
pub async fn read_text(response: reqwest::Response) -> String {
    String::from_utf8_lossy(&read_body(response).await).into_owned()
}

/// Reads a streamed response (Server-Sent Events) into `seen` until `until` holds
/// for what arrived or the stream ends, within 20 seconds: a stream that stalls
/// fails the test instead of hanging it.
pub async fn read_stream(response: &mut reqwest::Response, seen: &mut String, until: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !until(seen) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("the stream stalled; it sent: {seen}"));
        match chunk.expect("stream readable") {
            Some(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            None => break,
        }
        assert!(seen.len() <= LARGEST_BODY, "the stream goes on past {LARGEST_BODY} bytes");
    }
}

/// Whether `CI` is set to a truthy value (`true`, `1`, `yes`, `on`, in any case).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !matches!(v.as_str(), "" | "0" | "false" | "no" | "off")
    })
}

/// Declares `async fn NAME(app: TestApp)` tests to run once per backend, as
/// `NAME::sqlite` and `NAME::postgres`; with `configure = f;` first, each service's
/// settings are adjusted by `f` (e.g. [`behind_proxy`]).
#[macro_export]
macro_rules! backend_tests {
    (configure = $configure:path; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let backend = $crate::common::Backend::Sqlite;
                super::$name($crate::common::TestApp::spawn_with(backend, $configure).await.unwrap()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let backend = $crate::common::Backend::Postgres;
                if let Some(app) = $crate::common::TestApp::spawn_with(backend, $configure).await {
                    super::$name(app).await
                }
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await.unwrap()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await {
                    super::$name(app).await
                }
            }
        }
    )*};
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database of one backend (a temporary SQLite file, or a new
/// PostgreSQL database). `None` when PostgreSQL tests are disabled.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Another handle on a database that already exists (for a second instance).
    pub fn existing(other: &TestDb) -> TestDb {
        TestDb { url: other.url.clone(), backend: other.backend, _dir: None }
    }

    /// A database at `url` made some other way (a restored backup).
    pub fn at(url: String, backend: Backend) -> TestDb {
        TestDb { url, backend, _dir: None }
    }

    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/agentshare.db", dir.path().display());
                Some(TestDb { url, backend, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to test PostgreSQL");
                drop_stale_databases(&admin).await;
                let name = format!("agentshare_t_{}_{}", unix_seconds(), hex::encode(rand_bytes()));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                Some(TestDb { url: replace_database(&admin, &name), backend, _dir: None })
            }
        }
    }
}

impl TestDb {
    /// Runs one SQL statement directly on the database.
    pub async fn sql(&self, statement: &str) {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.unwrap();
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query(statement).execute(&mut conn).await.unwrap();
            }
        }
    }

    /// Runs a query returning one integer.
    pub async fn sql_i64(&self, query: &str) -> i64 {
        self.sql_scalar(query).await
    }

    /// Runs a query returning one value.
    pub async fn sql_scalar<T>(&self, query: &str) -> T
    where
        T: Send + Unpin,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(query).fetch_one(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(query).fetch_one(&mut conn).await.unwrap()
            }
        }
    }
}

fn unix_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// Drops test databases left by runs that started over an hour ago, once per process.
async fn drop_stale_databases(admin: &str) {
    static CLEANED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    CLEANED
        .get_or_init(|| async {
            let Ok(mut conn) = sqlx::PgConnection::connect(admin).await else {
                return;
            };
            let names: Vec<String> =
                sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'agentshare\\_t\\_%'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
            let cutoff = unix_seconds().saturating_sub(3600);
            for name in names {
                let started = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
                if started < cutoff {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            }
        })
        .await;
}

fn rand_bytes() -> [u8; 6] {
    agentshare::domain::ids::random_bytes::<6>()
}

/// `postgres://…/NAME?…` with the database replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_end..].find('/').map_or(base.len(), |i| i + authority_end);
    format!("{}/{name}{query}", &base[..path_start])
}

/// The PostgreSQL server for tests, or `None` when unset: each PostgreSQL test
/// then passes without running, and says so with the count of those skipped so far
/// (the last notice holds the total).
fn postgres_admin_url() -> Option<String> {
    static SKIPPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if in_ci() {
                panic!("{POSTGRES_URL_VAR} is not set: CI must run the PostgreSQL tests");
            }
            let skipped = SKIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            // Written past the test harness's capture so that it is seen.
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: {skipped} PostgreSQL test(s) SKIPPED so far, the last {test}. \
                 Set {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres to run them."
            );
            None
        }
    }
}

/// Settings of a service that believes `X-Forwarded-For` from loopback, so that each
/// test request can come from its own viewer.
pub fn behind_proxy(settings: &mut Settings) {
    settings.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
}

/// A running service and an owner (`alice`) with an API key.
pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    /// Where Prometheus metrics are served, when the settings asked for them.
    pub metrics: Option<SocketAddr>,
    pub client: reqwest::Client,
    /// Alice's API key; sent by [`TestApp::request`] unless another is given.
    pub key: String,
    pub db: TestDb,
    /// A second handle on the same database, for setting things up directly.
    pub store: Db,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts a service with default settings on a fresh database.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a service on a fresh database, letting `configure` adjust the settings.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Option<TestApp> {
        let db = TestDb::new(backend).await?;
        Some(Self::start_on(db, configure).await)
    }

    /// Starts a service on an existing database (e.g. a second instance).
    pub async fn start_on(db: TestDb, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = Settings::new("127.0.0.1:0".parse().unwrap(), db.url.clone());
        settings.database.max_connections = 5;
        settings.mail_dir = std::env::temp_dir().join("agentshare-test-mail");
        configure(&mut settings);
        let app = Application::build(settings).await.expect("service starts");
        let addr = app.local_addr();
        let metrics = app.metrics_addr();
        let base = app.public_url().to_owned();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        let store =
            Db::connect(&DbOptions { url: db.url.clone(), max_connections: 2 }).await.expect("connect");
        let mut test_app = TestApp {
            base,
            addr,
            metrics,
            client: http().build().expect("an HTTP client"),
            key: String::new(),
            db,
            store,
            shutdown: Some(tx),
            server: Some(server),
        };
        test_app.key = test_app.new_owner("alice").await;
        test_app
    }

    /// Creates (or reuses) the owner `name` and returns a new API key of theirs.
    pub async fn new_owner(&self, name: &str) -> String {
        let owner = self.store.upsert_owner(name, Some(&format!("{name}@example.com"))).await.unwrap();
        let key = NewApiKey::generate();
        self.store.insert_api_key(&owner.owner_id, &key).await.unwrap();
        key.secret
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server stops cleanly");
        }
    }

    /// Runs one SQL statement directly on the service's database (for arranging
    /// states the API can't reach quickly, like a link whose time has run out).
    pub async fn sql(&self, statement: &str) {
        self.db.sql(statement).await;
    }

    /// Runs a query returning one integer.
    pub async fn sql_i64(&self, query: &str) -> i64 {
        self.db.sql_i64(query).await
    }

    /// Creates a completed task with an output, a log, a message, a private output and
    /// an artifact; returns its id.
    pub async fn finished_task(&self, title: &str) -> String {
        let id = self.create_task(title).await;
        let events = format!("/v1/tasks/{id}/events");
        for event in [
            serde_json::json!({"type": "message", "content": "SECRET-PROMPT please fix"}),
            serde_json::json!({"type": "log", "content": "SECRET-LOG token=abc"}),
            serde_json::json!({"type": "output", "name": "Summary", "content": "# Fixed\n\nThe bug is gone."}),
            serde_json::json!({"type": "output", "name": "Internal", "content": "SECRET-PRIVATE", "private": true}),
            serde_json::json!({"type": "output", "name": "Patch", "content": "```diff\n+ok\n```"}),
        ] {
            let (status, body) = self.post(&events, event).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let response = self
            .client
            .post(self.url(&format!("/v1/tasks/{id}/artifacts?name=report.txt")))
            .bearer_auth(&self.key)
            .header("content-type", "text/plain")
            .body("the report")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let (status, body) =
            self.patch(&format!("/v1/tasks/{id}"), serde_json::json!({"status": "completed"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        id
    }

    /// Creates a share link with `body` (merged over `task_id`); returns its data.
    pub async fn share(&self, task_id: &str, mut body: Value) -> Value {
        body["task_id"] = Value::from(task_id);
        let (status, answer) = self.post("/v1/share-links", body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer["data"].clone()
    }

    /// Opens a link as a JSON viewer, with an optional password.
    pub async fn view(&self, url: &str, password: Option<&str>) -> (StatusCode, Value) {
        let mut request = self.client.get(url).header("accept", "application/json");
        if let Some(password) = password {
            request = request.header("x-share-password", password);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, serde_json::from_slice(&read_body(response).await).unwrap_or(Value::Null))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with `key` (if any) and a JSON body (if any); returns the
    /// status and the body parsed as JSON (`Value::Null` when it is not JSON).
    pub async fn request_as(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status();
        let text = read_body(response).await;
        (status, serde_json::from_slice(&text).unwrap_or(Value::Null))
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.request_as(Some(&self.key), method, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::PATCH, path, Some(body)).await
    }

    /// Creates a task titled `title` for alice and returns its id.
    pub async fn create_task(&self, title: &str) -> String {
        let (status, body) = self.post("/v1/tasks", serde_json::json!({ "title": title })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["task_id"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts `body` is the 001-family error envelope with `code`.
#[track_caller]
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(body["error"]["details"].is_object(), "{body}");
}

/// Asserts an `INVALID_REQUEST` naming `field`.
#[track_caller]
pub fn assert_invalid(body: &Value, field: &str) {
    assert_error(body, "INVALID_REQUEST");
    assert_eq!(body["error"]["details"]["field"], field, "{body}");
    assert!(body["error"]["details"]["issue"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}
