//! `agentshare demo`: a first look at the product. Fills the database with a sample
//! owner, a finished task with realistic results and files, share links of it, and
//! a running task shared by code whose progress arrives live — through the same
//! user actions the API uses — and says what to open.

use std::time::Duration;

use crate::app::events::{self, EventInput};
use crate::app::share_links::{self, LinkRequest};
use crate::app::tasks::{self, TaskChanges, TaskInput};
use crate::app::{artifacts, share_codes, AppState};
use crate::domain::api_key::NewApiKey;
use crate::domain::ids::{self, TaskId};
use crate::domain::share::Permissions;
use crate::domain::task::{EventType, TaskStatus};
use crate::domain::task_share::CodePermissions;
use crate::domain::time::Timestamp;
use crate::storage::Owner;

/// The password of the demo's protected link.
pub const DEMO_PASSWORD: &str = "demo-password";

/// What the demo made, to print.
pub struct Demo {
    pub api_key: String,
    pub console_url: String,
    pub link_url: String,
    pub protected_url: String,
    pub code_url: String,
}

/// Seeds the demo and starts the live task's progress in the background.
pub async fn seed(state: &AppState) -> anyhow::Result<Demo> {
    let db = state.db();
    let owner = db.upsert_owner("demo", Some("demo@example.com")).await?;
    let key = NewApiKey::generate();
    db.insert_api_key(&owner.owner_id, &key).await?;

    let task = TaskInput {
        title: "Fix the login redirect loop".into(),
        prompt: Some(
            "Users on Safari are sent back to /login right after signing in. Find out why and fix it; \
             add a regression test. The staging database password is in the vault."
                .into(),
        ),
        agent: Some("coder-agent 2.3".into()),
        ..TaskInput::default()
    };
    let id = tasks::create(state, &owner, task).await?.task_id;
    set_status(state, &owner, &id, TaskStatus::Running).await?;
    // The run as it happened: started 47 minutes ago, done 12 minutes ago.
    let now = Timestamp::now().millis();
    let (started, finished) = (Timestamp(now - 47 * 60_000), Timestamp(now - 12 * 60_000));
    let story = finished_events();
    let step = (finished.millis() - started.millis()) / story.len() as i64;
    for (n, (event_type, name, content, private)) in story.into_iter().enumerate() {
        let at = Some(Timestamp(started.millis() + step * (n as i64 + 1)));
        let event =
            EventInput { private, at, ..EventInput::new(event_type, name.map(str::to_owned), content) };
        events::append(state, &owner, &id, event).await?;
    }
    for (name, content_type, content) in artifacts() {
        let upload = artifacts::begin_upload(state, &owner, &id, name, Some(content_type)).await?;
        artifacts::finish_upload(state, upload, content.as_bytes()).await?;
    }
    set_status(state, &owner, &id, TaskStatus::Completed).await?;
    state.db().set_task_times(&id, Timestamp(started.millis() - 60_000), started, finished).await?;

    let open = LinkRequest {
        task_id: id.clone(),
        title: Some("Login fix — results".into()),
        description: Some("What was wrong with sign-in on Safari, the fix, and the test run.".into()),
        expires_at: None,
        password: None,
        permissions: Permissions { allow_download: true, allow_comments: true, show_metadata: true },
        max_views: None,
        notify_on_view: true,
        redaction: crate::domain::redaction::Redaction::default(),
        snapshot: false,
        audience: crate::domain::audience::Audience::Anyone,
    };
    let open = share_links::create(state, &owner, open).await?;
    let protected = LinkRequest {
        task_id: id.clone(),
        title: Some("Login fix (for the client, 3 views)".into()),
        description: None,
        expires_at: None,
        password: Some(DEMO_PASSWORD.into()),
        permissions: Permissions::default(),
        max_views: Some(3),
        notify_on_view: false,
        redaction: crate::domain::redaction::Redaction::default(),
        snapshot: false,
        audience: crate::domain::audience::Audience::Anyone,
    };
    let protected = share_links::create(state, &owner, protected).await?;

    let live = TaskInput {
        title: "Upgrade the web app's dependencies".into(),
        prompt: Some("Upgrade every dependency to its latest version and keep the tests green.".into()),
        agent: Some("coder-agent 2.3".into()),
        ..TaskInput::default()
    };
    let live = tasks::create(state, &owner, live).await?.task_id;
    set_status(state, &owner, &live, TaskStatus::Running).await?;
    let permissions = CodePermissions { can_send_message: true, ..CodePermissions::default() };
    let code = share_codes::create(state, &owner.owner_id, &live, permissions, None).await?;
    ingested(state, &owner).await?;
    tokio::spawn(progress(state.clone(), owner, live));

    Ok(Demo {
        api_key: key.secret,
        console_url: format!("{}/console", state.urls().public()),
        link_url: share_links::urls(state, &open.share_link_id).url,
        protected_url: share_links::urls(state, &protected.share_link_id).url,
        code_url: format!("{}/code/{code}", state.urls().public()),
    })
}

/// A run of an agent instrumented with OpenTelemetry, as its exporter would have
/// sent it to `POST /otlp/v1/traces`: the agent, two model calls and a tool.
async fn ingested(state: &AppState, owner: &Owner) -> anyhow::Result<()> {
    use crate::app::ingest::{self, Span};
    use serde_json::json;
    let trace = ids::random_bytes::<16>().to_vec();
    let now = u64::try_from(crate::domain::time::Timestamp::now().millis()).unwrap_or_default() * 1_000_000;
    let second = 1_000_000_000u64;
    let question = json!([{"role": "user", "parts": [{"type": "text", "content": "Why did last night's deploy roll back?"}]}]);
    let answer =
        "The deploy rolled back because the health check timed out: the new `/healthz` waits for the \
                  cache to warm, which takes 40 s, and the load balancer gives up after 30 s. Raise the \
                  timeout to 60 s or answer before the cache is warm.";
    let span =
        |id: u8, parent: Option<u8>, name: &str, from: u64, to: u64, attributes: serde_json::Value| Span {
            trace_id: trace.clone(),
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.into(),
            start_unix_nano: now - 120 * second + from * second,
            end_unix_nano: now - 120 * second + to * second,
            error: None,
            attributes: attributes.as_object().cloned().unwrap_or_default().into_iter().collect(),
            events: vec![],
        };
    let spans = vec![
        span(
            1,
            None,
            "invoke_agent Deploy doctor",
            0,
            42,
            json!({
                "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Deploy doctor",
            }),
        ),
        span(
            2,
            Some(1),
            "chat gpt-4o",
            1,
            6,
            json!({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                "gen_ai.input.messages": question.to_string(),
                "gen_ai.usage.input_tokens": 412, "gen_ai.usage.output_tokens": 38,
            }),
        ),
        span(
            3,
            Some(1),
            "execute_tool read_logs",
            7,
            12,
            json!({
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "read_logs",
                "gen_ai.tool.call.arguments": "{\"service\": \"web\", \"since\": \"22:00\"}",
                "gen_ai.tool.call.result": "22:14:03 deploy 7f3c started\n22:14:41 health check timed out after 30s\n22:14:41 rolling back to 6a1e",
            }),
        ),
        span(
            4,
            Some(1),
            "chat gpt-4o",
            13,
            41,
            json!({
                "gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.input.messages": question.to_string(),
                "gen_ai.output.messages": json!([{"role": "assistant", "parts": [{"type": "text", "content": answer}]}]).to_string(),
                "gen_ai.usage.input_tokens": 1210, "gen_ai.usage.output_tokens": 96,
            }),
        ),
    ];
    ingest::traces(state, owner, spans).await?;
    Ok(())
}

async fn set_status(
    state: &AppState,
    owner: &Owner,
    task_id: &TaskId,
    status: TaskStatus,
) -> anyhow::Result<()> {
    let changes = TaskChanges { status: Some(status), ..TaskChanges::default() };
    tasks::update(state, owner, task_id, changes).await?;
    Ok(())
}

/// The live task's agent: a step every few seconds for as long as the demo serves
/// (so "live" can be watched whenever someone looks), with its results after the
/// first round.
async fn progress(state: AppState, owner: Owner, task_id: TaskId) {
    let steps = [
        "Reading package.json and the lock file",
        "12 packages have newer versions; 2 are major upgrades",
        "Upgrading the minor and patch versions",
        "Running the test suite: 214 passed",
        "Upgrading `react-router` 6 → 7 (major)",
        "Adapting 9 route definitions to the new API",
        "Running the test suite: 213 passed, 1 failed",
        "Fixing the failing test: a redirect now needs `replace: true`",
        "Running the test suite: 214 passed",
    ];
    for round in 1.. {
        for step in steps {
            tokio::time::sleep(Duration::from_secs(6)).await;
            let text = if round == 1 { step.to_owned() } else { format!("Check {round}: {step}") };
            let event = EventInput::new(EventType::Progress, None, text);
            if events::append(&state, &owner, &task_id, event).await.is_err() {
                return;
            }
        }
        if round == 1 {
            let summary = EventInput::new(
                EventType::Output,
                Some("Summary".into()),
                "## Dependencies upgraded\n\n- 10 minor and patch upgrades\n- `react-router` 6 → 7, with 9 routes adapted\n- All 214 tests pass\n\nWatching for new releases: the checks go on.\n".into(),
            );
            if events::append(&state, &owner, &task_id, summary).await.is_err() {
                return;
            }
        }
    }
}

/// The finished task's story: progress, a message from its owner, logs, results.
fn finished_events() -> Vec<(EventType, Option<&'static str>, String, bool)> {
    // Written at run time so that no key-shaped literal sits in the source.
    let leaked = format!("sk_live_{}", ids::new_secret::<18>().replace(['-', '_'], "x"));
    vec![
        (EventType::Progress, None, "Reproducing the bug in Safari 17 with a fresh profile".into(), false),
        (EventType::Log, None, "$ npm test -- auth\n  ✓ signs in with a password (41 ms)\n  ✗ keeps the session after the redirect\n  1 failed, 23 passed".into(), false),
        (EventType::Message, None, "Focus on Safari first; Chrome users have not complained.".into(), false),
        (EventType::Progress, None, "Found it: the session cookie is set with `SameSite=None` but without `Secure`".into(), false),
        (EventType::Log, None, "Internal: customer ACME reported it first (ticket 4411).".into(), true),
        (
            EventType::Output,
            Some("Summary"),
            "## What was wrong\n\nAfter signing in, the server set the session cookie with `SameSite=None` but \
             **without** `Secure`. Safari drops such cookies, so the next request had no session and the app \
             redirected to `/login` again — a loop.\n\n## What changed\n\n- The cookie is now `Secure; \
             SameSite=Lax; HttpOnly`.\n- Local development uses `http://localhost`, which browsers treat as \
             secure, so nothing changes there.\n- A regression test signs in and follows the redirect.\n"
                .into(),
            false,
        ),
        (
            EventType::Output,
            Some("The fix"),
            "```diff\n--- a/server/session.ts\n+++ b/server/session.ts\n@@ -12,7 +12,8 @@ export function \
             sessionCookie(id: string) {\n   return serialize(\"sid\", id, {\n     httpOnly: true,\n-    \
             sameSite: \"none\",\n+    sameSite: \"lax\",\n+    secure: true,\n     path: \"/\",\n   });\n }\n```\n"
                .into(),
            false,
        ),
        (
            EventType::Output,
            Some("Test results"),
            format!(
                "| suite | passed | failed |\n|---|---:|---:|\n| auth | 24 | 0 |\n| api | 131 | 0 |\n| e2e (Safari, \
                 Chrome, Firefox) | 18 | 0 |\n\nDeployed to staging with `STRIPE_KEY={leaked}` (masked on shared \
                 pages unless the owner turns masking off).\n"
            ),
            false,
        ),
    ]
}

/// The finished task's files.
fn artifacts() -> [(&'static str, &'static str, &'static str); 3] {
    [
        (
            "report.md",
            "text/markdown",
            "# Login redirect loop\n\nRoot cause: session cookie `SameSite=None` without `Secure`, dropped by \
             Safari.\n\nFix: `Secure; SameSite=Lax; HttpOnly`.\n",
        ),
        (
            "fix.patch",
            "text/x-diff",
            "--- a/server/session.ts\n+++ b/server/session.ts\n@@ -12,7 +12,8 @@\n-    sameSite: \"none\",\n+    \
             sameSite: \"lax\",\n+    secure: true,\n",
        ),
        (
            "test-results.json",
            "application/json",
            "{\"suites\": {\"auth\": {\"passed\": 24, \"failed\": 0}, \"api\": {\"passed\": 131, \"failed\": 0}, \
             \"e2e\": {\"passed\": 18, \"failed\": 0}}}\n",
        ),
    ]
}
