//! The console's task list and task page: a task's progress, results and files,
//! its share links (with the Share dialog that makes a new one), and its share code.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::share_dialog::ShareDialog;
use super::{Console, Nav};
use crate::app::access::{owned_task, Caller};
use crate::app::share_codes::{self, LiveCode};
use crate::app::share_links::{self, LinkUrls};
use crate::app::{self, artifacts, tasks, AppState};
use crate::domain::ids::{ArtifactId, ShareLinkId, TaskId};
use crate::domain::page::Cursor;
use crate::domain::task::TaskStatus;
use crate::domain::task_share::CodePermissions;
use crate::domain::time::Timestamp;
use crate::http::{file_response, ClientIp, Closer};
use crate::storage::{ShareLinkRecord, TaskFilter, TaskRecord};
use crate::web::error::{failure, PageError};
use crate::web::format;
use crate::web::page::{page_or_error, see_other};
use crate::web::qr;
use crate::web::render::{timeline, FileLine, RenderedEvent};
use crate::web::session::PostedForm;

/// Tasks per page of the list.
const TASKS_PER_PAGE: u32 = 25;

#[derive(Template)]
#[template(path = "console/tasks.html")]
struct TaskListPage {
    nav: Nav,
    tasks: Vec<TaskLine>,
    /// The status filter, if any.
    status: Option<&'static str>,
    /// Each status, and whether it is the filter.
    statuses: Vec<(&'static str, bool)>,
    next: Option<String>,
}

struct TaskLine {
    task_id: String,
    title: String,
    status: &'static str,
    mode: &'static str,
    created: String,
    finished: Option<String>,
}

#[derive(Default, Deserialize)]
pub struct TaskListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

pub async fn task_list(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<TaskListQuery>,
) -> Response {
    let status = query.status.as_deref().and_then(TaskStatus::parse);
    let result = async {
        // A cursor that is not one of ours starts from the first page.
        let after = query.cursor.as_deref().and_then(Cursor::decode);
        let filter = TaskFilter { status, ..TaskFilter::default() };
        let list = tasks::list(&state, &console.owner, &filter, after, TASKS_PER_PAGE).await?;
        Ok::<_, PageError>(TaskListPage {
            nav: console.nav(&state, "tasks"),
            tasks: list
                .tasks
                .into_iter()
                .map(|t| TaskLine {
                    status: t.status.as_str(),
                    mode: if t.machine_id.is_some() { "local" } else { "cloud" },
                    created: format::time(t.created_at),
                    finished: t.finished_at.map(format::time),
                    task_id: t.task_id.into_string(),
                    title: t.title,
                })
                .collect(),
            status: status.map(TaskStatus::as_str),
            statuses: TaskStatus::ALL.iter().map(|s| (s.as_str(), Some(*s) == status)).collect(),
            next: list.next.map(|cursor| cursor.encode()),
        })
    }
    .await;
    page_or_error(StatusCode::OK, result)
}

/// A link, as tables of links show it.
pub struct LinkLine {
    pub link: ShareLinkRecord,
    pub urls: LinkUrls,
    pub status: &'static str,
    pub expires: String,
}

impl LinkLine {
    pub fn new(state: &AppState, link: ShareLinkRecord) -> LinkLine {
        LinkLine {
            urls: share_links::urls(state, &link.share_link_id),
            status: link.status(Timestamp::now()).as_str(),
            expires: link.expires_at.to_rfc3339(),
            link,
        }
    }
}

/// A link just made, shown with its copy button and QR code.
struct CreatedLink {
    share_link_id: ShareLinkId,
    url: String,
    short_url: String,
    qr: Option<std::sync::Arc<str>>,
}

/// The task's share code, as the page shows it.
struct CodeBox {
    code: LiveCode,
    /// `{public-url}/code/{code}`: opens the code form filled in.
    url: String,
    qr: Option<std::sync::Arc<str>>,
    expires: Option<String>,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "console/task.html")]
struct TaskPage {
    nav: Nav,
    path: String,
    task: TaskRecord,
    /// Links can be made (the task has finished).
    shareable: bool,
    dialog: ShareDialog,
    created: Option<CreatedLink>,
    links: Vec<LinkLine>,
    /// `None` for a local-mode task (codes need cloud mode).
    code: Option<Option<CodeBox>>,
    code_error: Option<String>,
    code_permissions: CodePermissions,
    events: Vec<RenderedEvent>,
    /// Where the page of earlier events begins, when there are some.
    earlier: Option<i64>,
    /// Whether these are the latest events (else a link leads to them).
    latest: bool,
    files: Vec<FileLine>,
    times: Vec<(&'static str, String)>,
    /// How the task came in and what its run reported (model, tokens…), as
    /// label and value.
    facts: Vec<(&'static str, String)>,
}

#[derive(Default, Deserialize)]
pub struct TaskPageQuery {
    /// Open the Share dialog (a link that works without script).
    share: Option<String>,
    /// A link just created, to show.
    created: Option<String>,
    /// Show the events before this sequence number (a page of earlier events).
    before: Option<String>,
}

pub(super) fn task_path(state: &AppState, task_id: &TaskId) -> String {
    format!("{}/console/tasks/{task_id}", state.urls().path())
}

pub async fn task_page(
    State(state): State<AppState>,
    console: Console,
    Path(task_id): Path<TaskId>,
    Query(query): Query<TaskPageQuery>,
) -> Response {
    let page_state = PageState {
        dialog: ShareDialog::fresh(query.share.is_some()),
        code_error: None,
        before: query.before.as_deref().and_then(|b| b.parse().ok()),
    };
    render(&state, &console, &task_id, query.created.as_deref(), page_state, StatusCode::OK).await
}

/// How a task came in, and the facts its run reported.
fn facts_of(task: &TaskRecord) -> Vec<(&'static str, String)> {
    use crate::domain::task::TaskSource;
    let mut facts = Vec::new();
    let source = match task.source {
        TaskSource::Api => None,
        TaskSource::Otlp => Some("OpenTelemetry traces"),
        TaskSource::Import => Some("an imported transcript"),
        TaskSource::Cli => Some("agentshare run"),
    };
    if let Some(source) = source {
        facts.push(("Came in through", source.to_owned()));
    }
    let metadata: serde_json::Map<String, serde_json::Value> =
        task.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or_default();
    let number = |key: &str| metadata.get(key).and_then(serde_json::Value::as_i64);
    if let Some(model) = metadata.get("model").and_then(serde_json::Value::as_str) {
        facts.push(("Model", model.to_owned()));
    }
    if let (Some(input), Some(output)) = (number("input_tokens"), number("output_tokens")) {
        facts.push(("Tokens", format!("{input} in, {output} out")));
    }
    if let Some(ms) = number("duration_ms") {
        facts.push(("Duration", format::duration(ms as f64 / 1000.0)));
    }
    if let Some(code) = number("exit_code") {
        facts.push(("Exit code", code.to_string()));
    }
    facts
}

/// What differs between showing a task page fresh and after a refused form.
pub(super) struct PageState {
    pub(super) dialog: ShareDialog,
    pub(super) code_error: Option<String>,
    /// The page of events that ends before this one (the latest without it).
    pub(super) before: Option<i64>,
}

pub(super) async fn render(
    state: &AppState,
    console: &Console,
    task_id: &TaskId,
    created: Option<&str>,
    page_state: PageState,
    status: StatusCode,
) -> Response {
    let owner = &console.owner;
    let result = async {
        let task = owned_task(state, owner, task_id).await?;
        let path = task_path(state, task_id);
        let links = share_links::list(state, owner, Some(task_id), None, None, 100).await?.links;
        let links: Vec<LinkLine> = links.into_iter().map(|l| LinkLine::new(state, l)).collect();
        let created =
            created.and_then(|id| links.iter().find(|l| l.link.share_link_id == id)).map(|l| CreatedLink {
                share_link_id: l.link.share_link_id.clone(),
                qr: qr::data_url(&l.urls.url),
                url: l.urls.url.clone(),
                short_url: l.urls.short_url.clone(),
            });
        let code = if task.machine_id.is_some() {
            None
        } else {
            let live = share_codes::live(state, &owner.owner_id, task_id).await?;
            Some(live.map(|code| {
                let url = format!("{}/code/{}", state.urls().public(), code.code);
                CodeBox {
                    qr: qr::data_url(&url),
                    url,
                    expires: code.share.expires_at.map(|t| t.to_rfc3339()),
                    last_used: code.share.last_used_at.map(|t| t.to_rfc3339()),
                    code,
                }
            }))
        };
        let code_permissions = match &code {
            Some(Some(code)) => code.code.share.permissions(),
            _ => CodePermissions::default(),
        };
        let caller = Caller::Owner(owner.clone());
        let timeline = timeline(state, &caller, &task, page_state.before, false).await?;
        let files = FileLine::of_task(artifacts::list(state, &caller, task_id).await?, &path);
        let mut times = vec![("Created", format::time(task.created_at))];
        times.extend(task.started_at.map(|t| ("Started", format::time(t))));
        times.extend(task.finished_at.map(|t| ("Finished", format::time(t))));
        let facts = facts_of(&task);
        Ok::<_, PageError>(TaskPage {
            nav: console.nav(state, "tasks"),
            path,
            shareable: task.status.is_final(),
            dialog: page_state.dialog,
            created,
            links,
            code,
            code_error: page_state.code_error,
            code_permissions,
            earlier: timeline.earlier,
            latest: timeline.latest,
            events: timeline.events,
            files,
            times,
            facts,
            task,
        })
    }
    .await;
    page_or_error(status, result)
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    can_send_message: Option<String>,
    can_view_pr: Option<String>,
    can_create_pr: Option<String>,
    can_approve_pr: Option<String>,
    can_merge_pr: Option<String>,
    /// Optional: the last day (UTC) the code works.
    expires_on: Option<String>,
    csrf: Option<String>,
}

pub async fn create_code(
    State(state): State<AppState>,
    console: Console,
    Path(task_id): Path<TaskId>,
    headers: HeaderMap,
    PostedForm(form): PostedForm<CodeForm>,
) -> Response {
    if let Err(refused) = console.check(&state, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let permissions = CodePermissions {
        can_send_message: form.can_send_message.is_some(),
        can_create_pr: form.can_create_pr.is_some(),
        can_approve_pr: form.can_approve_pr.is_some(),
        can_view_pr: form.can_view_pr.is_some(),
        can_merge_pr: form.can_merge_pr.is_some(),
    };
    let now = Timestamp::now();
    let expires_at = match form.expires_on.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(day) => match Timestamp::parse(&format!("{day}T23:59:59Z")).filter(|end| *end > now) {
            Some(end) => Some(end),
            None => {
                return code_refused(&state, &console, &task_id, "The last day must be today or later.").await
            }
        },
    };
    match share_codes::create(&state, &console.owner.owner_id, &task_id, permissions, expires_at).await {
        Ok(_) => see_other(&format!("{}#share-code", task_path(&state, &task_id))),
        Err(app::Error::NotCloudMode) => {
            code_refused(&state, &console, &task_id, "Share codes are for cloud-mode tasks only.").await
        }
        Err(app::Error::Invalid(field)) => code_refused(&state, &console, &task_id, &field.issue).await,
        Err(err) => failure(not_yours_is_not_found(err, &task_id)),
    }
}

async fn code_refused(state: &AppState, console: &Console, task_id: &TaskId, error: &str) -> Response {
    let page_state =
        PageState { dialog: ShareDialog::fresh(false), code_error: Some(error.to_owned()), before: None };
    render(state, console, task_id, None, page_state, StatusCode::BAD_REQUEST).await
}

/// A form with nothing but its anti-forgery token (and, for some, where to go back).
#[derive(Default, Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
    /// `task` or `shares`: the page to go back to.
    pub back: Option<String>,
}

pub async fn revoke_code(
    State(state): State<AppState>,
    console: Console,
    Path(task_id): Path<TaskId>,
    headers: HeaderMap,
    PostedForm(form): PostedForm<CsrfForm>,
) -> Response {
    let csrf = form.csrf.as_deref();
    if let Err(refused) = console.check(&state, &headers, csrf) {
        return refused.into_response();
    }
    let back = match form.back.as_deref() {
        Some("shares") => format!("{}/console/shares", state.urls().path()),
        _ => format!("{}#share-code", task_path(&state, &task_id)),
    };
    match share_codes::revoke(&state, &console.owner.owner_id, &task_id).await {
        // Already gone is what the owner wanted.
        Ok(()) | Err(app::Error::ShareCodeNotFound) => see_other(&back),
        Err(err) => failure(not_yours_is_not_found(err, &task_id)),
    }
}

/// In the console, another owner's task is not found (as everywhere but the share-code API).
fn not_yours_is_not_found(err: app::Error, task_id: &TaskId) -> app::Error {
    match err {
        app::Error::NotTaskOwner => app::Error::task_not_found(task_id),
        other => other,
    }
}

pub async fn download(
    State(state): State<AppState>,
    console: Console,
    ClientIp(client): ClientIp,
    closer: Closer,
    Path((task_id, artifact_id)): Path<(TaskId, ArtifactId)>,
) -> Response {
    let owner = Caller::Owner(console.owner);
    match artifacts::download(&state, &owner, &task_id, &artifact_id, client).await {
        Ok(file) => file_response(file, closer, state.settings()),
        Err(err) => failure(err),
    }
}
