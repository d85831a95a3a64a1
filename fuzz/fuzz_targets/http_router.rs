//! Every route family of the real HTTP application, in process: the router that
//! `serve` runs (`startup::app`), over a SQLite database in a temporary directory
//! (or PostgreSQL, when `AGENTSHARE_FUZZ_POSTGRES_URL` names a server), seeded with
//! owners, tasks with outputs and artifacts, share links of every kind, share codes
//! with viewer sessions, a comment, a webhook endpoint, a git repository with a
//! pull request, and a console session — so the web pages (`/s/…`, `/code`, `/t/…`,
//! `/console/…`) are reached with their cookies and anti-forgery tokens too.
//!
//! Each input is one request written as text (see below): a method, a path with a
//! query string, headers (content type, accept, who is calling, the share-link
//! password, `Last-Event-ID`, `X-Forwarded-For` through a trusted proxy) and a
//! body, where placeholders stand for the seeded ids, tokens, keys, codes and
//! grants. The corpus starts from realistic requests of every route family
//! (`fuzz/corpus/http_router`) and a dictionary of the API's names
//! (`fuzz/dictionaries/http_router.dict`). The response must:
//! - never be a 5xx;
//! - carry, in a JSON body, the envelope of its family: `{success, data}` /
//!   `{success: false, error: {code, message, details}}` (seed 001 and the owner
//!   API), `{code, error, message}` (seed 003), with an error code the README
//!   documents for that status;
//! - keep the pages' protective headers (viewer, share-code and console pages).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use agentshare::app::state::Parts;
use agentshare::app::AppState;
use agentshare::config::Settings;
use agentshare::domain::api_key::NewApiKey;
use agentshare::domain::ids::{
    self, CommentId, ConsoleSessionId, OwnerId, ShareLinkId, TaskId, TaskShareId, ViewId, ViewerSessionId,
};
use agentshare::domain::page::Cursor;
use agentshare::domain::share::{LinkKeys, Permissions, SharePassword};
use agentshare::domain::task::{Author, EventType, TaskStatus};
use agentshare::domain::task_share::{CodePermissions, SESSION_PREFIX};
use agentshare::domain::time::Timestamp;
use agentshare::domain::webhook::{SessionViewer, WebhookEvent};
use agentshare::mail::Mailer;
use agentshare::storage::{
    Db, NewArtifact, NewComment, NewEvent, NewPullRequest, NewShareLink, NewTask, NewTaskShare,
    NewViewerSession, OutboxEvent, TaskPatch, TaskRecord,
};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt as _;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt as _;

/// The right password of the protected link.
const PASSWORD: &str = "correct-horse-9";
/// Requests after which the application state (and its in-memory limiters) is made anew.
const STATE_LIFETIME: u64 = 2000;

// ---------------------------------------------------------------------------------
// The seeded service.

/// What the fuzzer can name: everything seeded, by kind.
struct Fixture {
    owner_key: String,
    other_owner_key: String,
    /// Viewer sessions: one allowed everything, one view-only (on another task).
    viewer_full: String,
    viewer_limited: String,
    tasks: Vec<String>,
    artifacts: Vec<String>,
    links: Vec<String>,
    tokens: Vec<String>,
    comments: Vec<String>,
    verify_codes: Vec<String>,
    grants: Vec<String>,
    share_codes: Vec<String>,
    webhooks: Vec<String>,
    cursor: String,
    /// The console session's cookie secret and its forms' anti-forgery token.
    console: (String, String),
    /// The anti-forgery tokens of the two viewer sessions' forms.
    viewer_csrf: (String, String),
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    db: Db,
    settings: Settings,
    keys: LinkKeys,
    mail_dir: std::path::PathBuf,
    /// Owners and their keys outlive fixtures: no route can take them away.
    owners: (OwnerId, String, OwnerId, String),
    password_hash: String,
    repository: Option<String>,
    live: Mutex<Live>,
    requests: AtomicU64,
    _dir: tempfile::TempDir,
}

struct Live {
    router: Router,
    /// `None` until the first request.
    fixture: Option<Fixture>,
    /// Set when a request may have changed what the fixture relies on.
    stale: bool,
    made_at: u64,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let repository = make_repository(&dir.path().join("repositories"));
        let url = match std::env::var("AGENTSHARE_FUZZ_POSTGRES_URL") {
            Ok(admin) => runtime.block_on(fresh_postgres_database(&admin)),
            Err(_) => format!("sqlite://{}/agentshare.db", dir.path().display()),
        };
        let mut settings = Settings::new("127.0.0.1:0".parse().unwrap(), url);
        settings.public_url = Some("http://agentshare.test".into());
        settings.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        settings.max_body_bytes = 64 * 1024;
        settings.max_artifact_bytes = 64 * 1024;
        settings.request_timeout = Duration::from_secs(20);
        if repository.is_some() {
            settings.repositories_dir = Some(dir.path().join("repositories"));
        }
        let mail_dir = dir.path().join("mail");
        let db = runtime.block_on(async {
            let db = Db::connect(&settings.database).await.expect("the database");
            db.migrate().await.expect("migrations");
            db
        });
        let keys = LinkKeys::new([42; 32]);
        let owners = runtime.block_on(async {
            let mut made = Vec::new();
            for name in ["alice", "bob"] {
                let owner =
                    db.upsert_owner(name, Some(&format!("{name}@example.com"))).await.expect("an owner");
                let key = NewApiKey::generate();
                db.insert_api_key(&owner.owner_id, &key).await.expect("a key");
                made.push((owner.owner_id, key.secret));
            }
            let (b, a) = (made.pop().unwrap(), made.pop().unwrap());
            (a.0, a.1, b.0, b.1)
        });
        let password_hash = SharePassword::parse("password", PASSWORD).expect("a password").hash();
        Harness {
            runtime,
            db,
            settings,
            keys,
            mail_dir,
            owners,
            password_hash,
            repository,
            live: Mutex::new(Live { router: Router::new(), fixture: None, stale: true, made_at: 0 }),
            requests: AtomicU64::new(0),
            _dir: dir,
        }
    })
}

/// A new database on the PostgreSQL server at `admin`, for this process alone.
async fn fresh_postgres_database(admin: &str) -> String {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL");
    let name = format!("agentshare_fuzz_{}_{}", std::process::id(), Timestamp::now().millis());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("a database");
    let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
    format!("{base}/{name}")
}

/// A bare repository with `main` and a `feature` branch one commit ahead, when git is
/// available.
fn make_repository(root: &Path) -> Option<String> {
    let work = root.join("work");
    std::fs::create_dir_all(&work).ok()?;
    let git = |dir: &Path, args: &[&str]| {
        Command::new("git")
            .args([
                "-c",
                "user.name=Fuzz",
                "-c",
                "user.email=fuzz@example.com",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let made = git(&work, &["init", "--quiet"])
        && std::fs::write(work.join("README.md"), "hello\n").is_ok()
        && git(&work, &["add", "README.md"])
        && git(&work, &["commit", "--quiet", "-m", "first"])
        && git(&work, &["checkout", "--quiet", "-b", "feature"])
        && std::fs::write(work.join("README.md"), "hello, world\n").is_ok()
        && git(&work, &["commit", "--quiet", "-am", "second"])
        && git(root, &["clone", "--quiet", "--bare", "work", "acme.git"]);
    made.then(|| "acme.git".to_owned())
}

impl Harness {
    /// The router and fixture for the next request, renewed when stale or old.
    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if live.fixture.is_none() || live.stale || n - live.made_at >= STATE_LIFETIME {
            live.fixture = Some(self.runtime.block_on(self.seed()));
            live.router = agentshare::startup::app(self.state());
            live.stale = false;
            live.made_at = n;
        }
        live
    }

    /// Fresh application state on the same database: new in-memory limiters.
    fn state(&self) -> AppState {
        // The state starts its view writer on the runtime that serves the requests.
        let _runtime = self.runtime.enter();
        let mailer = Mailer::new(None, self.mail_dir.clone(), "agentshare <agentshare@localhost>".into())
            .expect("a mailer");
        AppState::new(Parts {
            db: self.db.clone(),
            settings: self.settings.clone(),
            public_url: "http://agentshare.test".into(),
            link_keys: self.keys.clone(),
            geo: None,
            mailer,
        })
    }

    /// Seeds a new set of tasks, links, codes and the rest.
    async fn seed(&self) -> Fixture {
        let db = &self.db;
        let (alice, alice_key, bob, bob_key) = self.owners.clone();
        let task = |title: &str, machine: Option<&str>| NewTask {
            title: title.into(),
            prompt: Some("SECRET-PROMPT: never shown to link viewers".into()),
            agent: Some("coder 1.0".into()),
            machine_id: machine.map(str::to_owned),
            ..NewTask::titled(title)
        };
        let new = |created: sqlx::Result<Result<TaskRecord, TaskId>>| created.expect("a task").expect("a new task");
        let done = new(db.create_task(&alice, &task("Fix the login bug", None)).await);
        let running = new(db.create_task(&alice, &task("Still going", None)).await);
        let local = new(db.create_task(&alice, &task("On a laptop", Some("laptop-1"))).await);
        let others = new(db.create_task(&bob, &task("Bob's task", None)).await);
        let finish = |status| TaskPatch { status: Some(status), ..Default::default() };
        db.update_task(&alice, &done.task_id, &finish(TaskStatus::Completed)).await.expect("completed");
        db.update_task(&alice, &running.task_id, &finish(TaskStatus::Running)).await.expect("running");
        db.update_task(&bob, &others.task_id, &finish(TaskStatus::Completed)).await.expect("completed");
        if let Some(repository) = &self.repository {
            let link = TaskPatch {
                repository: Some(Some((repository.clone(), "main".into()))),
                ..Default::default()
            };
            db.update_task(&alice, &done.task_id, &link).await.expect("linked");
            let pr = NewPullRequest {
                title: "Say hello to the world".into(),
                description: None,
                head_branch: "feature".into(),
                base_branch: "main".into(),
                author: Author::Owner,
            };
            db.create_pull_request(&done.task_id, &pr).await.expect("a pull request");
        }
        for (event_type, name, content, private) in [
            (EventType::Message, None, "Please fix the login", false),
            (EventType::Progress, None, "Reproducing the bug", false),
            (EventType::Log, None, "DEBUG token=abc123", false),
            (
                EventType::Output,
                Some("Summary"),
                "## Fixed\n\nThe cookie was not renewed. Key: `ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R`\n\n<script>alert(1)</script>",
                false,
            ),
            (EventType::Output, Some("Private notes"), "SECRET-PRIVATE", true),
        ] {
            for task_id in [&done.task_id, &running.task_id] {
                let event = NewEvent { private, ..NewEvent::new(event_type, name.map(str::to_owned), content.into()) };
                db.append_event(task_id, &event).await.expect("an event");
            }
        }
        let mut artifacts = Vec::new();
        for (name, content_type, content) in [
            ("report.txt", "text/plain", &b"all good\n"[..]),
            ("page.html", "text/html", b"<script>alert(1)</script>"),
        ] {
            let artifact = NewArtifact { name, content_type, content };
            let record =
                db.insert_artifact(&done.task_id, &artifact).await.expect("an artifact").expect("new");
            artifacts.push(record.artifact_id);
        }
        let now = Timestamp::now();
        let mut links = Vec::new();
        for (password, max_views, expires_at, allow_download, allow_comments) in [
            (None, None, now.plus_days(30), true, true),
            (Some(self.password_hash.clone()), None, now.plus_days(30), true, true),
            (None, Some(1_000_000_000), now.plus_days(30), false, false),
            (None, None, now.plus_days(30), true, true),
            (None, None, Timestamp(now.millis() + 1), true, true),
        ] {
            let share_link_id = ShareLinkId::generate();
            let link = NewShareLink {
                token_hash: ids::secret_hash(&self.keys.token(share_link_id.as_str())),
                short_code_hash: ids::secret_hash(&self.keys.short_code(share_link_id.as_str())),
                share_link_id,
                task_id: done.task_id.clone(),
                owner_id: alice.clone(),
                title: "Login Bug Fix Results".into(),
                description: Some("Results of the fix".into()),
                password_hash: password,
                expires_at,
                max_views,
                permissions: Permissions { allow_download, allow_comments, show_metadata: true },
                notify_on_view: true,
                mask_secrets: true,
            };
            let record = db.insert_share_link(&link).await.expect("a link").expect("no collision");
            links.push(record.share_link_id);
        }
        db.revoke_share_link(&alice, &links[3]).await.expect("revoked");
        let mut tokens: Vec<String> = links.iter().map(|id| self.keys.token(id.as_str())).collect();
        tokens.extend(links.iter().take(4).map(|id| self.keys.short_code(id.as_str())));
        let verify_code = ids::new_secret::<32>();
        let comment = NewComment {
            comment_id: CommentId::generate(),
            share_link_id: links[0].clone(),
            name: "Carol".into(),
            email: "carol@example.com".into(),
            content: "Thanks!".into(),
            verify_hash: ids::secret_hash(&verify_code),
        };
        let address = ids::secret_hash("carol@example.com");
        db.insert_comment(&comment, &address, &agentshare::app::comments::BOUNDS)
            .await
            .expect("a comment")
            .expect("within the bounds");
        let grant_until = Timestamp(now.millis() + 3_600_000);
        let grants = links
            .iter()
            .map(|id| self.keys.grant(id.as_str(), ViewId::generate().as_str(), grant_until))
            .collect();

        let mut share_codes = Vec::new();
        let mut sessions = Vec::new();
        let mut viewer_csrf = Vec::new();
        for (task_id, permissions) in [
            (
                &done.task_id,
                CodePermissions {
                    can_send_message: true,
                    can_create_pr: true,
                    can_approve_pr: true,
                    can_view_pr: true,
                    can_merge_pr: true,
                },
            ),
            (&running.task_id, CodePermissions::default()),
        ] {
            let share = NewTaskShare {
                task_share_id: TaskShareId::generate(),
                task_id: task_id.clone(),
                owner_id: alice.clone(),
                code_hash: String::new(),
                permissions,
                expires_at: None,
            };
            let code = self.keys.share_code(share.task_share_id.as_str());
            let share = NewTaskShare { code_hash: ids::secret_hash(&code), ..share };
            let record = db.replace_task_share(&share).await.expect("a share code");
            let token = format!("{SESSION_PREFIX}{}", ids::new_secret::<32>());
            let session_id = ViewerSessionId::generate();
            viewer_csrf.push(self.keys.csrf_token(session_id.as_str()));
            let session = NewViewerSession {
                session_id,
                token_hash: ids::secret_hash(&token),
                expires_at: Timestamp(now.millis() + 3_600_000),
            };
            let accessed = OutboxEvent::new(
                &alice,
                WebhookEvent::TaskShareAccessed {
                    task_id: record.task_id.clone(),
                    timestamp: now,
                    session_expires_at: session.expires_at,
                    permissions: record.permissions(),
                    viewer: SessionViewer { ip_address: "203.0.113.9".into(), user_agent: None },
                },
            );
            db.open_viewer_session(&record, &session, &accessed).await.expect("a session").expect("live");
            share_codes.push(code);
            sessions.push(token);
        }
        let webhook = db
            .create_webhook(&alice, "https://hooks.example.com/agentshare", Some("ops"), "share_link.viewed")
            .await
            .expect("a webhook");
        let console_secret = ids::new_secret::<32>();
        let console_session = db
            .open_console_session(
                &agentshare::domain::api_key::lookup_hash(&alice_key).expect("a key"),
                &ConsoleSessionId::generate(),
                &ids::secret_hash(&console_secret),
                now,
                Timestamp(now.millis() + 3_600_000),
            )
            .await
            .expect("a console session")
            .expect("a live key");
        Fixture {
            owner_key: alice_key,
            other_owner_key: bob_key,
            viewer_limited: sessions.pop().expect("two sessions"),
            viewer_full: sessions.pop().expect("two sessions"),
            tasks: [done.task_id, running.task_id, local.task_id, others.task_id]
                .into_iter()
                .map(String::from)
                .collect(),
            artifacts: artifacts.into_iter().map(String::from).collect(),
            links: links.into_iter().map(String::from).collect(),
            tokens,
            comments: vec![comment.comment_id.into_string()],
            verify_codes: vec![verify_code],
            grants,
            share_codes,
            webhooks: vec![webhook.webhook_id.into_string()],
            cursor: Cursor { at: now, id: "task_0000000000000000".into() }.encode(),
            console: (console_secret, self.keys.csrf_token(console_session.session_id.as_str())),
            viewer_csrf: (viewer_csrf.remove(0), viewer_csrf.remove(0)),
        }
    }
}

// ---------------------------------------------------------------------------------
// What the fuzzer decides.
//
// An input is a request written as text, so that the corpus reads as requests and
// seeds are easy to write:
//
//     POST /v1/share-links?limit=5
//     authorization: Bearer {owner}
//     content-type: application/json
//     client: proxied 203.0.113.9, 10.0.0.2
//
//     {"task_id": "{task0}", "password": "{password}"}
//
// The first line is the method and the path with its query; then headers, one a
// line, until an empty line; then the body, byte for byte. `client:` is not a
// header but who sends the request: `fresh` (an address of its own), `known N`
// (one of a few addresses), `proxied XFF` (through the trusted proxy, with that
// `X-Forwarded-For`) or `v6 N`. Placeholders in braces stand for what was seeded.

/// `{name}` → the seeded value it stands for.
fn placeholders(f: &Fixture) -> Vec<(String, String)> {
    let mut all = vec![
        ("{owner}".to_owned(), f.owner_key.clone()),
        ("{other-owner}".to_owned(), f.other_owner_key.clone()),
        ("{viewer}".to_owned(), f.viewer_full.clone()),
        ("{viewer-limited}".to_owned(), f.viewer_limited.clone()),
        ("{cursor}".to_owned(), f.cursor.clone()),
        ("{password}".to_owned(), PASSWORD.to_owned()),
        ("{console}".to_owned(), f.console.0.clone()),
        ("{console-csrf}".to_owned(), f.console.1.clone()),
        ("{viewer-csrf}".to_owned(), f.viewer_csrf.0.clone()),
        ("{viewer-limited-csrf}".to_owned(), f.viewer_csrf.1.clone()),
        // A pre-session form's token: any value, as long as the cookie says the same.
        ("{form}".to_owned(), "fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz".to_owned()),
    ];
    let lists: [(&str, &Vec<String>); 9] = [
        ("task", &f.tasks),
        ("artifact", &f.artifacts),
        ("link", &f.links),
        ("token", &f.tokens),
        ("comment", &f.comments),
        ("verify", &f.verify_codes),
        ("grant", &f.grants),
        ("code", &f.share_codes),
        ("webhook", &f.webhooks),
    ];
    for (name, values) in lists {
        all.extend(values.iter().enumerate().map(|(i, v)| (format!("{{{name}{i}}}"), v.clone())));
    }
    all
}

fn substitute(bytes: &[u8], placeholders: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    'outer: while let Some((&first, tail)) = rest.split_first() {
        if first == b'{' {
            for (name, value) in placeholders {
                if rest.starts_with(name.as_bytes()) {
                    out.extend_from_slice(value.as_bytes());
                    rest = &rest[name.len()..];
                    continue 'outer;
                }
            }
        }
        out.push(first);
        rest = tail;
    }
    out
}

struct Built {
    request: Request<Body>,
    /// A download: the body is the file, in the media type it was uploaded with.
    file: bool,
}

/// The envelope family of a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `{success, data}` / `{success: false, error}` (seed 001, the owner API).
    Api,
    /// `{code, error, message}` (seed 003).
    Codes,
    /// Public pages under `/s/`: HTML, or seed-001 JSON.
    Viewer,
    /// The web pages of share-code viewers (`/code`, `/t/…`) and of the console:
    /// HTML, redirects, downloads, or the service-wide JSON envelope.
    Page,
    /// `/openapi.json` and `/healthz`: documents of their own.
    Document,
}

fn family_of(path: &str) -> Family {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "openapi.json" | "healthz"] => Family::Document,
        ["", "v1", "agentrix", "tasks", _, "share"]
        | ["", "v1", "tasks", _, "share"]
        | ["", "v1", "auth", "share"] => Family::Codes,
        ["", "s", ..] => Family::Viewer,
        ["", "code", ..] | ["", "t", ..] | ["", "console", ..] => Family::Page,
        _ => Family::Api,
    }
}

/// The route a path names, with its parameters as `*`.
fn route_pattern(path: &str) -> String {
    const WORDS: &[&str] = &[
        "v1",
        "tasks",
        "events",
        "stream",
        "messages",
        "artifacts",
        "share-links",
        "analytics",
        "comments",
        "verify",
        "s",
        "agentrix",
        "share",
        "auth",
        "pull-requests",
        "approve",
        "merge",
        "webhooks",
        "test",
        "deliveries",
        "healthz",
        "openapi.json",
        "assets",
        "agentshare.css",
        "agentshare.js",
        "artifacts.zip",
        "code",
        "t",
        "pulls",
        "leave",
        "console",
        "login",
        "logout",
        "links",
        "shares",
        "revoke",
        "delete",
    ];
    let parts: Vec<&str> = path
        .split('/')
        .map(|part| if part.is_empty() || WORDS.contains(&part) { part } else { "*" })
        .collect();
    parts.join("/")
}

/// Who sends the request, from the `client:` line.
fn peer(line: &str, request_number: u64) -> (IpAddr, Option<String>) {
    let (kind, rest) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
    let n: u32 = rest.trim().parse().unwrap_or(0);
    match kind {
        "known" => (IpAddr::V4(Ipv4Addr::new(198, 51, 100, (n % 8) as u8)), None),
        "proxied" => (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), Some(rest.to_owned())),
        "v6" => (IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, n as u16, 0, 0, 0, 0, 1)), None),
        // A client of its own: limits per client never refuse it.
        _ => (IpAddr::V4(Ipv4Addr::from(0x6440_0000u32.wrapping_add(request_number as u32))), None),
    }
}

fn build(data: &[u8], f: &Fixture, request_number: u64) -> Option<Built> {
    let placeholders = placeholders(f);
    let split = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &b""[..]),
    };
    let head = String::from_utf8(substitute(head, &placeholders)).ok()?;
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let method = Method::from_bytes(method.as_bytes()).ok()?;
    let mut request = Request::builder().method(method).uri(target.trim()).body(Body::empty()).ok()?;
    let mut client = peer("fresh", request_number);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        if name.eq_ignore_ascii_case("client") {
            client = peer(value, request_number);
            continue;
        }
        let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim_start()))
        else {
            continue;
        };
        request.headers_mut().append(name, value);
    }
    let (ip, forwarded) = client;
    if let Some(forwarded) = forwarded.and_then(|f| HeaderValue::from_str(&f).ok()) {
        request.headers_mut().insert(HeaderName::from_static("x-forwarded-for"), forwarded);
    }
    request.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip, 40000)));
    *request.body_mut() = Body::from(substitute(body, &placeholders));
    let path = request.uri().path();
    let file = ["/s/", "/v1/tasks/", "/t/", "/console/tasks/"].iter().any(|p| path.starts_with(p))
        && (path.contains("/artifacts/") || path.ends_with("/artifacts.zip"));
    Some(Built { request, file })
}

// ---------------------------------------------------------------------------------
// What every answer must be.

/// Each documented error code with its status (README, *Errors*; seed 003 for the codes).
const API_CODES: &[(&str, u16)] = &[
    ("INVALID_REQUEST", 400),
    ("UNAUTHORIZED", 401),
    ("TASK_NOT_FOUND", 404),
    ("ARTIFACT_NOT_FOUND", 404),
    ("NOT_FOUND", 404),
    ("METHOD_NOT_ALLOWED", 405),
    ("INVALID_STATUS_TRANSITION", 409),
    ("ARTIFACT_EXISTS", 409),
    ("SHARE_LINK_NOT_FOUND", 404),
    ("TASK_NOT_COMPLETED", 403),
    ("SHARE_LINK_REVOKED", 409),
    ("PASSWORD_REQUIRED", 401),
    ("INVALID_PASSWORD", 401),
    ("TOO_MANY_ATTEMPTS", 429),
    ("VIEW_REQUIRED", 401),
    ("RATE_LIMITED", 429),
    ("DOWNLOAD_NOT_ALLOWED", 403),
    ("COMMENTS_NOT_ALLOWED", 403),
    ("COMMENT_NOT_FOUND", 404),
    ("FORBIDDEN", 403),
    ("PULL_REQUEST_NOT_FOUND", 404),
    ("WEBHOOK_NOT_FOUND", 404),
    ("NO_REPOSITORY", 409),
    ("BRANCH_NOT_FOUND", 409),
    ("PULL_REQUEST_EXISTS", 409),
    ("MERGE_CONFLICT", 409),
    ("APPROVAL_REQUIRED", 409),
    ("PULL_REQUEST_NOT_OPEN", 409),
    ("BASE_MOVED", 409),
    ("UNRELATED_HISTORIES", 409),
    ("PAYLOAD_TOO_LARGE", 413),
    ("UNSUPPORTED_MEDIA_TYPE", 415),
    ("TOO_MANY_STREAMS", 429),
    ("REQUEST_TIMEOUT", 408),
];

const CODE_CODES: &[(&str, &str, u16)] = &[
    ("INVALID_REQUEST", "validation_error", 400),
    ("UNAUTHORIZED", "unauthorized", 401),
    ("FORBIDDEN", "forbidden", 403),
    ("TASK_NOT_FOUND", "not_found", 404),
    ("SHARE_NOT_FOUND", "not_found", 404),
    ("TASK_NOT_IN_CLOUD_MODE", "conflict", 409),
    ("INVALID_SHARE_CODE", "unauthorized", 401),
    ("PAYLOAD_TOO_LARGE", "payload_too_large", 413),
    ("RATE_LIMITED", "rate_limited", 429),
];

/// Checks a seed-001 body: the success or the error envelope.
fn check_api_envelope(status: StatusCode, body: &Value, context: &str) {
    let object = body.as_object().unwrap_or_else(|| panic!("not an object: {body} ({context})"));
    if status.is_success() {
        assert_eq!(object.get("success"), Some(&Value::Bool(true)), "{body} ({context})");
        assert!(object.contains_key("data") && object.len() == 2, "{body} ({context})");
        return;
    }
    assert_eq!(object.get("success"), Some(&Value::Bool(false)), "{body} ({context})");
    assert!(object.len() == 2, "{body} ({context})");
    let error =
        object.get("error").and_then(Value::as_object).unwrap_or_else(|| panic!("{body} ({context})"));
    let code = error.get("code").and_then(Value::as_str).unwrap_or_else(|| panic!("{body} ({context})"));
    assert!(error.get("message").is_some_and(Value::is_string), "{body} ({context})");
    let details =
        error.get("details").and_then(Value::as_object).unwrap_or_else(|| panic!("{body} ({context})"));
    assert_eq!(error.len(), 3, "{body} ({context})");
    let documented = API_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .unwrap_or_else(|| panic!("undocumented {code} ({context})"));
    assert_eq!(documented.1, status.as_u16(), "{code} with status {status} ({context})");
    if code == "INVALID_REQUEST" {
        assert!(details.get("field").is_some_and(|f| f.is_null() || f.is_string()), "{body} ({context})");
        assert!(details.get("issue").is_some_and(Value::is_string), "{body} ({context})");
    }
}

/// Checks a seed-003 error body.
fn check_code_error(status: StatusCode, body: &Value, context: &str) {
    let object = body.as_object().unwrap_or_else(|| panic!("not an object: {body} ({context})"));
    assert_eq!(object.len(), 3, "{body} ({context})");
    let field =
        |name: &str| object.get(name).and_then(Value::as_str).unwrap_or_else(|| panic!("{body} ({context})"));
    let (code, error, _) = (field("code"), field("error"), field("message"));
    let documented = CODE_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .unwrap_or_else(|| panic!("undocumented {code} ({context})"));
    assert_eq!((documented.1, documented.2), (error, status.as_u16()), "{body} ({context})");
}

async fn read(response: Response<Body>) -> (axum::http::response::Parts, Option<Vec<u8>>) {
    let (parts, body) = response.into_parts();
    let streaming = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        // A live stream never ends by itself; its first message is enough.
        let mut body = body;
        let _ = tokio::time::timeout(Duration::from_millis(50), body.frame()).await;
        return (parts, None);
    }
    let bytes = body.collect().await.expect("a body").to_bytes().to_vec();
    (parts, Some(bytes))
}

fuzz_target!(|data: &[u8]| {
    let harness = harness();
    let mut live = harness.live();
    let request_number = harness.requests.load(Ordering::Relaxed);
    let fixture = live.fixture.as_ref().expect("seeded");
    let Some(Built { request, file }) = build(data, fixture, request_number) else { return };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let context = format!("{method} {}", request.uri());
    let router = live.router.clone();
    let (parts, body) =
        harness.runtime.block_on(async { read(router.oneshot(request).await.expect("infallible")).await });
    let status = parts.status;

    assert!(
        !status.is_server_error(),
        "{status} for {context}: {:?}",
        body.as_deref().map(String::from_utf8_lossy)
    );
    if std::env::var_os("AGENTSHARE_FUZZ_STATUSES").is_some() {
        // Which routes the corpus reaches, and how they answer (docs/fuzzing.md).
        eprintln!("status {method} {} {}", route_pattern(&path), status.as_u16());
    }

    // What might have changed the seeded state is renewed before the next request.
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    // A page's form that was taken answers a redirect (signing out, revoking, merging…).
    let taken_form = status == StatusCode::SEE_OTHER && family_of(&path) == Family::Page;
    let seeded = taken_form
        || status.is_success() && (method != Method::POST || path.contains("/share") || path.ends_with("/merge"));
    if changes && seeded {
        live.stale = true;
    }

    let content_type =
        parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(body) = body else { return };
    let family = family_of(&path);
    let json: Option<Value> = (content_type.starts_with("application/json")
        && method != Method::HEAD
        && !(file && status.is_success()))
    .then(|| {
        serde_json::from_slice(&body).unwrap_or_else(|err| {
            panic!("{err} in the JSON body of {status} for {context}: {}", String::from_utf8_lossy(&body))
        })
    });
    let routing = json.as_ref().is_some_and(|j| {
        j.get("success").is_some()
            && matches!(status.as_u16(), 404 | 405 | 408)
            && matches!(
                j["error"]["code"].as_str(),
                Some("NOT_FOUND" | "METHOD_NOT_ALLOWED" | "REQUEST_TIMEOUT")
            )
    });
    if matches!(family, Family::Viewer | Family::Page) && !routing {
        for name in ["x-robots-tag", "referrer-policy", "x-content-type-options", "cache-control"] {
            assert!(parts.headers.contains_key(name), "no {name} on {status} for {context}");
        }
    }
    let Some(json) = json else { return };
    match family {
        Family::Api | Family::Viewer | Family::Page => check_api_envelope(status, &json, &context),
        // The router's own answers (no such route or method, a request cut off by
        // the timeout) come in the service-wide envelope.
        Family::Codes if routing => check_api_envelope(status, &json, &context),
        Family::Codes if status.is_client_error() => check_code_error(status, &json, &context),
        Family::Codes => assert!(json.is_object() && json.get("success").is_none(), "{json} ({context})"),
        Family::Document => {}
    }
});
