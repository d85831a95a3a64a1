//! The console's task list and task page: a task's progress, results and files,
//! its share links (with the Share dialog that makes a new one), and its share code.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Console, Nav};
use crate::app::access::{owned_task, Caller};
use crate::app::preview;
use crate::app::share_codes::{self, LiveCode};
use crate::app::share_links::{self, LinkRequest, LinkUrls};
use crate::app::{self, artifacts, tasks, AppState};
use crate::domain::audience::Audience;
use crate::domain::ids::{ArtifactId, ShareLinkId, TaskId};
use crate::domain::page::Cursor;
use crate::domain::redaction::{FindingKind, Redaction};
use crate::domain::share::{check_max_views, Permissions, SharePassword};
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

/// What the Share dialog was given (kept when it comes back with an error).
#[derive(Debug, Default, Deserialize)]
pub struct ShareForm {
    title: Option<String>,
    description: Option<String>,
    /// `1h`, `1d`, `7d`, `30d`, `90d`, `365d` or `date`.
    expires_in: Option<String>,
    /// With `expires_in=date`: the last day (UTC) the link works.
    expires_on: Option<String>,
    password: Option<String>,
    max_views: Option<String>,
    allow_download: Option<String>,
    allow_comments: Option<String>,
    show_metadata: Option<String>,
    mask_secrets: Option<String>,
    redact_emails: Option<String>,
    redact_paths: Option<String>,
    /// The owner's patterns, one per line.
    redact_patterns: Option<String>,
    notify_on_view: Option<String>,
    /// `preview` to see what viewers would get, instead of creating the link.
    intent: Option<String>,
    csrf: Option<String>,
}

/// The Share dialog's fields, as shown.
struct ShareDialog {
    /// Shown open (no script needed), e.g. after an error.
    open: bool,
    error: Option<String>,
    title: String,
    description: String,
    expires_in: String,
    expires_on: String,
    max_views: String,
    allow_download: bool,
    allow_comments: bool,
    show_metadata: bool,
    mask_secrets: bool,
    redact_emails: bool,
    redact_paths: bool,
    redact_patterns: String,
    notify_on_view: bool,
    /// The password typed, kept only while previewing.
    password: String,
    /// What viewers would get, after Preview.
    preview: Option<DialogPreview>,
}

/// What the Share dialog shows after Preview.
struct DialogPreview {
    /// What viewers get, in a sentence.
    summary: String,
    findings: Vec<FindingLine>,
}

/// One finding, in words.
struct FindingLine {
    /// e.g. "2 e-mail addresses".
    what: String,
    /// e.g. "in the output “Result”".
    place: String,
    samples: String,
    hidden: bool,
}

impl FindingLine {
    fn of(finding: preview::Finding) -> FindingLine {
        let (one, many) = match finding.found {
            preview::Found::Kind(FindingKind::Secret) => ("secret", "secrets"),
            preview::Found::Kind(FindingKind::Email) => ("e-mail address", "e-mail addresses"),
            preview::Found::Kind(FindingKind::Path) => ("home-directory path", "home-directory paths"),
            preview::Found::Kind(FindingKind::IpAddress) => ("IP address", "IP addresses"),
            preview::Found::Kind(FindingKind::Pattern) => {
                ("match of your pattern", "matches of your pattern")
            }
            preview::Found::NotScanned("binary") => ("file not scanned (not text)", "files not scanned"),
            preview::Found::NotScanned(_) => ("file not scanned (too large)", "files not scanned"),
        };
        let what = if finding.count == 1 { format!("1 {one}") } else { format!("{} {many}", finding.count) };
        let what = match &finding.pattern {
            Some(pattern) => format!("{what} {pattern}"),
            None => what,
        };
        let place = match finding.place {
            preview::Place::Title => "in the title".to_owned(),
            preview::Place::Description => "in the description".to_owned(),
            preview::Place::Output(name) => format!("in the output “{name}”"),
            preview::Place::Metadata(field) => format!("in the task's {field}"),
            preview::Place::ArtifactName(name) => format!("in the file name “{name}”"),
            preview::Place::Artifact(name) => format!("in the file “{name}”"),
        };
        FindingLine { what, place, samples: finding.samples.join(", "), hidden: finding.redacted }
    }
}

impl ShareDialog {
    fn fresh(open: bool) -> ShareDialog {
        ShareDialog {
            open,
            error: None,
            title: String::new(),
            description: String::new(),
            expires_in: "30d".into(),
            expires_on: String::new(),
            max_views: String::new(),
            allow_download: true,
            allow_comments: false,
            show_metadata: true,
            mask_secrets: true,
            redact_emails: false,
            redact_paths: false,
            redact_patterns: String::new(),
            notify_on_view: false,
            password: String::new(),
            preview: None,
        }
    }

    fn again(form: &ShareForm, error: String) -> ShareDialog {
        ShareDialog {
            open: true,
            error: Some(error),
            title: form.title.clone().unwrap_or_default(),
            description: form.description.clone().unwrap_or_default(),
            expires_in: form.expires_in.clone().unwrap_or_else(|| "30d".into()),
            expires_on: form.expires_on.clone().unwrap_or_default(),
            max_views: form.max_views.clone().unwrap_or_default(),
            allow_download: form.allow_download.is_some(),
            allow_comments: form.allow_comments.is_some(),
            show_metadata: form.show_metadata.is_some(),
            mask_secrets: form.mask_secrets.is_some(),
            redact_emails: form.redact_emails.is_some(),
            redact_paths: form.redact_paths.is_some(),
            redact_patterns: form.redact_patterns.clone().unwrap_or_default(),
            notify_on_view: form.notify_on_view.is_some(),
            password: String::new(),
            preview: None,
        }
    }
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

fn task_path(state: &AppState, task_id: &TaskId) -> String {
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
struct PageState {
    dialog: ShareDialog,
    code_error: Option<String>,
    /// The page of events that ends before this one (the latest without it).
    before: Option<i64>,
}

async fn render(
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

/// The expiry the dialog asked for.
fn expiry(form: &ShareForm, now: Timestamp) -> Result<Timestamp, String> {
    let hours = match form.expires_in.as_deref().unwrap_or("30d") {
        "1h" => 1,
        "1d" => 24,
        "7d" => 7 * 24,
        "30d" => 30 * 24,
        "90d" => 90 * 24,
        "365d" => 365 * 24,
        "date" => {
            let day = form.expires_on.as_deref().unwrap_or_default().trim();
            let end =
                Timestamp::parse(&format!("{day}T23:59:59Z")).ok_or("Choose the last day the link works.")?;
            if end <= now {
                return Err("The last day must be today or later.".into());
            }
            return Ok(end);
        }
        _ => return Err("Choose when the link expires.".into()),
    };
    Ok(Timestamp(now.millis() + hours * 3600 * 1000))
}

/// The link the dialog asked for, or why it can't be made, in words for the dialog.
fn share_request(task_id: &TaskId, form: &ShareForm) -> Result<LinkRequest, String> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let max_views = match text(&form.max_views) {
        Some(n) => {
            let n = n.parse::<i64>().map_err(|_| "Max views must be a whole number.".to_owned())?;
            Some(
                check_max_views("max_views", n)
                    .map_err(|_| "Max views must be between 1 and 1,000,000,000.")?,
            )
        }
        None => None,
    };
    // Passwords are taken as typed (spaces count).
    let password = form.password.clone().filter(|p| !p.is_empty());
    if let Some(password) = &password {
        SharePassword::parse("password", password).map_err(|_| "The password must be 8 to 32 characters.")?;
    }
    Ok(LinkRequest {
        task_id: task_id.clone(),
        title: text(&form.title),
        description: text(&form.description),
        expires_at: Some(expiry(form, Timestamp::now())?),
        password,
        permissions: Permissions {
            allow_download: form.allow_download.is_some(),
            allow_comments: form.allow_comments.is_some(),
            show_metadata: form.show_metadata.is_some(),
        },
        max_views,
        notify_on_view: form.notify_on_view.is_some(),
        redaction: Redaction {
            secrets: form.mask_secrets.is_some(),
            emails: form.redact_emails.is_some(),
            paths: form.redact_paths.is_some(),
            patterns: form
                .redact_patterns
                .as_deref()
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect(),
        },
        audience: Audience::Anyone,
    })
}

pub async fn create_link(
    State(state): State<AppState>,
    console: Console,
    Path(task_id): Path<TaskId>,
    headers: HeaderMap,
    PostedForm(form): PostedForm<ShareForm>,
) -> Response {
    if let Err(refused) = console.check(&state, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let refused = |error: String| {
        let page_state =
            PageState { dialog: ShareDialog::again(&form, error), code_error: None, before: None };
        render(&state, &console, &task_id, None, page_state, StatusCode::BAD_REQUEST)
    };
    let request = match share_request(&task_id, &form) {
        Ok(request) => request,
        Err(error) => return refused(error).await,
    };
    if form.intent.as_deref() == Some("preview") {
        return match preview::preview(&state, &console.owner, request).await {
            Ok(shown) => {
                let mut dialog = ShareDialog::again(&form, String::new());
                dialog.error = None;
                dialog.password = form.password.clone().unwrap_or_default();
                let view = &shown.view;
                let outputs = view.outputs.iter().count();
                let files = view.artifacts.as_ref().map_or(0, Vec::len);
                let summary = format!(
                    "Viewers get {outputs} output{}{}{}, with what is marked hidden below replaced.",
                    if outputs == 1 { "" } else { "s" },
                    if view.artifacts.is_some() {
                        format!(" and {files} file{}", if files == 1 { "" } else { "s" })
                    } else {
                        String::new()
                    },
                    if view.metadata.is_some() { ", timings, agent and status" } else { "" },
                );
                dialog.preview = Some(DialogPreview {
                    summary,
                    findings: shown.findings.into_iter().map(FindingLine::of).collect(),
                });
                let page_state = PageState { dialog, code_error: None, before: None };
                render(&state, &console, &task_id, None, page_state, StatusCode::OK).await
            }
            Err(app::Error::TaskNotCompleted { .. }) => {
                refused("Links can be made once the task has finished.".into()).await
            }
            Err(app::Error::Invalid(field)) => refused(field.issue).await,
            Err(err) => failure(err),
        };
    }
    match share_links::create(&state, &console.owner, request).await {
        Ok(link) => {
            see_other(&format!("{}?created={}#links", task_path(&state, &task_id), link.share_link_id))
        }
        Err(app::Error::TaskNotCompleted { .. }) => {
            refused("Links can be made once the task has finished.".into()).await
        }
        Err(app::Error::Invalid(field)) => refused(field.issue).await,
        Err(err) => failure(err),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form(expires_in: &str, expires_on: &str) -> ShareForm {
        ShareForm {
            expires_in: Some(expires_in.into()),
            expires_on: Some(expires_on.into()),
            ..ShareForm::default()
        }
    }

    #[test]
    fn expiry_presets_count_from_now() {
        let now = Timestamp(1_000_000);
        assert_eq!(expiry(&form("1h", ""), now), Ok(Timestamp(1_000_000 + 3_600_000)));
        assert_eq!(expiry(&form("7d", ""), now), Ok(Timestamp(1_000_000 + 7 * 86_400_000)));
        assert!(expiry(&form("forever", ""), now).is_err());
    }

    #[test]
    fn an_expiry_date_means_the_end_of_that_day() {
        let now = Timestamp::parse("2030-01-01T12:00:00Z").unwrap();
        assert_eq!(
            expiry(&form("date", "2030-01-02"), now),
            Ok(Timestamp::parse("2030-01-02T23:59:59Z").unwrap())
        );
        assert!(expiry(&form("date", "2029-12-31"), now).is_err(), "in the past");
        assert!(expiry(&form("date", "tomorrow"), now).is_err());
    }

    #[test]
    fn unchecked_boxes_are_off_and_blank_fields_are_absent() {
        let task_id = TaskId::from("task_1");
        let request =
            share_request(&task_id, &ShareForm { max_views: Some(" 3 ".into()), ..ShareForm::default() })
                .unwrap();
        assert_eq!(request.title, None);
        assert_eq!(request.password, None);
        assert_eq!(request.max_views, Some(3));
        assert!(!request.permissions.allow_download);
        assert!(!request.redaction.secrets);
        assert!(share_request(
            &task_id,
            &ShareForm { max_views: Some("many".into()), ..ShareForm::default() }
        )
        .is_err());
    }

    #[test]
    fn the_dialog_words_what_it_refuses() {
        let task_id = TaskId::from("task_1");
        let refused = |form: ShareForm| share_request(&task_id, &form).err();
        assert_eq!(
            refused(ShareForm { max_views: Some("0".into()), ..ShareForm::default() }).as_deref(),
            Some("Max views must be between 1 and 1,000,000,000.")
        );
        assert_eq!(
            refused(ShareForm { password: Some("short".into()), ..ShareForm::default() }).as_deref(),
            Some("The password must be 8 to 32 characters.")
        );
    }
}
