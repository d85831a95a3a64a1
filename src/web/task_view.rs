//! The pages of someone who received a task share code (seed 003):
//! - `/code` (or `/code/{code}`, a link that carries it): enter the code;
//! - `/t/{task_id}`: the task in a viewer session, updating live while it runs,
//!   with a message box, artifacts and pull requests as the code's permissions allow.
//!
//! The session is the same kind the API issues (`GET /v1/auth/share`), kept in an
//! `HttpOnly` cookie scoped to the task's pages. What the page offers follows the
//! permissions; what the server accepts is decided by them again on every request,
//! through the same operations the API uses.

use std::time::Duration;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;
use futures_util::StreamExt as _;
use serde::Deserialize;

use super::error::{failure, PageError};
use super::page::{page, page_or_error, see_other};
use super::render::{diff_lines, live_html, timeline, DiffLine, FileLine, RenderedEvent};
use super::session::{
    check_form_token, check_session_token, cookie, form_token, removal, PostedForm, VIEWER_COOKIE,
};
use crate::app::access::{self, Caller};
use crate::app::events::{self, Live};
use crate::app::live::Form;
use crate::app::pull_requests::{self, Changes, PullRequestInput};
use crate::app::{self, artifacts, share_codes, AppState};
use crate::domain::ids::{ArtifactId, TaskId};
use crate::domain::task::PullRequestStatus;
use crate::domain::task_share::{Action, CodePermissions};
use crate::domain::time::Timestamp;
use crate::http::{file_response, ClientIp, Closer};
use crate::storage::{PullRequestRecord, TaskRecord, ViewerSession};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/code", get(enter_code).post(open_code))
        .route("/code/{code}", get(enter_given_code))
        .route("/t/{task_id}", get(task_page))
        .route("/t/{task_id}/stream", get(stream))
        .route("/t/{task_id}/messages", post(send_message))
        .route("/t/{task_id}/artifacts/{artifact_id}", get(download))
        .route("/t/{task_id}/pulls", post(create_pull))
        .route("/t/{task_id}/pulls/{number}", get(pull_page))
        .route("/t/{task_id}/pulls/{number}/approve", post(approve_pull))
        .route("/t/{task_id}/pulls/{number}/merge", post(merge_pull))
        .route("/t/{task_id}/leave", post(leave))
}

/// The pages of one task, under the public URL.
fn task_path(state: &AppState, task_id: &TaskId) -> String {
    format!("{}/t/{task_id}", state.urls().path())
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    action: String,
    csrf: String,
    code: String,
    error: Option<String>,
}

fn code_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    code: String,
    error: Option<String>,
) -> Response {
    let action = format!("{}/code", state.urls().path());
    let (jar, csrf) = form_token(state, jar, &action);
    (jar, page(status, &CodePage { action, csrf, code, error })).into_response()
}

async fn enter_code(State(state): State<AppState>, jar: CookieJar) -> Response {
    code_page(&state, jar, StatusCode::OK, String::new(), None)
}

async fn enter_given_code(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(code): Path<String>,
) -> Response {
    // Only what a code can be is put back into the form.
    let code: String = code.chars().filter(char::is_ascii_alphanumeric).take(64).collect();
    code_page(&state, jar, StatusCode::OK, code, None)
}

#[derive(Default, Deserialize)]
struct CodeForm {
    code: Option<String>,
    csrf: Option<String>,
}

async fn open_code(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<CodeForm>,
) -> Response {
    if let Err(refused) = check_form_token(&jar, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let code: String = form.code.unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    if code.is_empty() {
        return code_page(
            &state,
            jar,
            StatusCode::BAD_REQUEST,
            code,
            Some("Enter the code you were given.".into()),
        );
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    match share_codes::exchange(&state, &code, client, user_agent).await {
        Ok(session) => {
            let lifetime = Duration::from_millis((session.expires_at.millis() - Timestamp::now().millis()).max(0) as u64);
            let path = task_path(&state, &session.task_id);
            let jar = jar.add(cookie(&state, VIEWER_COOKIE, session.token, path.clone(), lifetime));
            (jar, see_other(&path)).into_response()
        }
        Err(app::Error::RateLimited { retry_after_secs }) => {
            let message = format!("Too many codes tried from here. Try again in {} seconds.", retry_after_secs);
            let mut response = code_page(&state, jar, StatusCode::TOO_MANY_REQUESTS, code, Some(message));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Err(app::Error::InvalidShareCode | app::Error::Invalid(_)) => code_page(
            &state,
            jar,
            StatusCode::UNAUTHORIZED,
            code,
            Some("That code doesn't work. Check it, or ask for a new one: codes can be rotated, revoked or expire.".into()),
        ),
        Err(err) => failure(err),
    }
}

#[derive(Template)]
#[template(path = "session_ended.html")]
struct SessionEnded {
    code_url: String,
}

/// The viewer session of this browser for `task_id`, or the page that says there
/// is none (it ended, was revoked, or never was).
async fn viewer(state: &AppState, jar: &CookieJar, task_id: &TaskId) -> Result<ViewerSession, Response> {
    let ended = || {
        let code_url = format!("{}/code", state.urls().path());
        page(StatusCode::UNAUTHORIZED, &SessionEnded { code_url })
    };
    let Some(token) = jar.get(VIEWER_COOKIE).map(|c| c.value().to_owned()) else {
        return Err(ended());
    };
    match access::viewer_session(state, &token).await {
        Ok(Some(session)) if session.task_id == *task_id => Ok(session),
        Ok(_) => Err(ended()),
        Err(err) => Err(failure(err)),
    }
}

/// The viewer session of a form this browser posted on `task_id`'s pages, once its
/// anti-forgery token checks out.
async fn posting_viewer(
    state: &AppState,
    jar: &CookieJar,
    headers: &HeaderMap,
    task_id: &TaskId,
    csrf: Option<&str>,
) -> Result<ViewerSession, Response> {
    let session = viewer(state, jar, task_id).await?;
    check_session_token(state, session.session_id.as_str(), headers, csrf)
        .map_err(IntoResponse::into_response)?;
    Ok(session)
}

/// What the permissions let a viewer do, in words (pull requests only where the
/// task has a repository).
fn allowed(permissions: CodePermissions, has_repository: bool) -> Vec<&'static str> {
    let mut list = vec!["follow its progress"];
    if permissions.can_send_message {
        list.push("send it messages");
    }
    if !has_repository {
        return list;
    }
    if permissions.can_view_pr {
        list.push("see its pull requests");
    }
    if permissions.can_create_pr {
        list.push("open pull requests");
    }
    if permissions.can_approve_pr {
        list.push("approve them");
    }
    if permissions.can_merge_pr {
        list.push("merge them");
    }
    list
}

#[derive(Template)]
#[template(path = "task_view.html")]
struct TaskPage {
    task: TaskRecord,
    path: String,
    csrf: String,
    permissions: CodePermissions,
    allowed: Vec<&'static str>,
    events: Vec<RenderedEvent>,
    /// Where the page of earlier events begins, when there are some.
    earlier: Option<i64>,
    /// Whether these are the latest events (else a link leads to them).
    latest: bool,
    /// Sequence number after which live updates start.
    after: i64,
    live: bool,
    files: Vec<FileLine>,
    /// `None` without `canViewPr`.
    pulls: Option<Vec<PullRequestRecord>>,
    error: Option<String>,
    notice: Option<&'static str>,
}

#[derive(Default, Deserialize)]
struct Notice {
    done: Option<String>,
    /// Show the events before this sequence number (a page of earlier events).
    before: Option<String>,
}

impl Notice {
    fn before(&self) -> Option<i64> {
        self.before.as_deref().and_then(|b| b.parse().ok())
    }
}

/// What a redirect after a successful action asks the page to say.
fn notice_text(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "sent" => "Message sent.",
        "opened" => "Pull request opened.",
        "approved" => "Approved.",
        "merged" => "Merged.",
        _ => return None,
    })
}

async fn task_page(
    State(state): State<AppState>,
    Path(task_id): Path<TaskId>,
    Query(notice): Query<Notice>,
    jar: CookieJar,
) -> Response {
    let session = match viewer(&state, &jar, &task_id).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    let before = notice.before();
    render_task(&state, session, StatusCode::OK, None, notice_text(notice.done.as_deref()), before).await
}

async fn render_task(
    state: &AppState,
    session: ViewerSession,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&'static str>,
    before: Option<i64>,
) -> Response {
    let result = async {
        let caller = Caller::Viewer(session.clone());
        let task = caller.task(state, &session.task_id).await?;
        let timeline = timeline(state, &caller, &task, before, true).await?;
        let path = task_path(state, &task.task_id);
        let files = FileLine::of_task(artifacts::list(state, &caller, &task.task_id).await?, &path);
        let permissions = session.permissions();
        let has_repository = task.repository.is_some() && state.forges().is_some();
        let pulls = if permissions.can_view_pr && has_repository {
            Some(pull_requests::list(state, &caller, &task.task_id).await?)
        } else {
            None
        };
        Ok::<_, PageError>(TaskPage {
            path,
            csrf: state.link_keys().csrf_token(session.session_id.as_str()),
            permissions,
            allowed: allowed(permissions, has_repository),
            earlier: timeline.earlier,
            latest: timeline.latest,
            // Live updates start after the last event this page covers, so none is
            // shown twice; pages of earlier events stay still.
            after: timeline.last_seq,
            live: timeline.latest && !task.status.is_final(),
            events: timeline.events,
            files,
            pulls,
            error,
            notice,
            task,
        })
    }
    .await;
    page_or_error(status, result)
}

#[derive(Default, Deserialize)]
struct StreamQuery {
    after: Option<i64>,
}

/// The task's events from `after` on, as rendered fragments (Server-Sent Events).
async fn stream(
    State(state): State<AppState>,
    Path(task_id): Path<TaskId>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
    jar: CookieJar,
) -> Response {
    let session = match viewer(&state, &jar, &task_id).await {
        Ok(session) => session,
        Err(_) => return (StatusCode::UNAUTHORIZED, "The session ended").into_response(),
    };
    // A reconnecting EventSource says where it was.
    let resumed =
        headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
    let after = resumed.or(query.after).unwrap_or(0).max(0);
    let caller = Caller::Viewer(session);
    let live = match events::follow(&state, &caller, client, &task_id, after).await {
        Ok(live) => live,
        Err(err) => return failure(err),
    };
    // Each event is rendered on a blocking thread in its turn, like the page.
    let messages = live.then(move |item| {
        let state = state.clone();
        async move {
            Ok::<_, std::convert::Infallible>(match item {
                Live::Event(sent) => {
                    // Rendered once per event for every live page of this instance.
                    let html = sent
                        .sent_as(Form::Page, |event| async move {
                            state.limits().rendering.run(move || live_html(event)).await.unwrap_or_default()
                        })
                        .await;
                    let seq = sent.event().seq.to_string();
                    if html.is_empty() {
                        // Skipped; the next page load shows it.
                        SseEvent::default().id(seq).comment("not rendered")
                    } else {
                        SseEvent::default().id(seq).event("event").data(&*html)
                    }
                }
                Live::End => SseEvent::default().event("end").data("{}"),
                Live::Revoked => SseEvent::default().event("revoked").data("{}"),
            })
        }
    });
    Sse::new(messages).keep_alive(KeepAlive::default()).into_response()
}

#[derive(Default, Deserialize)]
struct MessageForm {
    content: Option<String>,
    csrf: Option<String>,
}

async fn send_message(
    State(state): State<AppState>,
    Path(task_id): Path<TaskId>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<MessageForm>,
) -> Response {
    let session = match posting_viewer(&state, &jar, &headers, &task_id, form.csrf.as_deref()).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let caller = Caller::Viewer(session.clone());
    let content = form.content.as_deref().unwrap_or_default();
    match events::post_message(&state, &caller, client, &task_id, content).await {
        Ok(_) => see_other(&format!("{}?done=sent#message", task_path(&state, &task_id))),
        Err(err) => action_failed(&state, session, err).await,
    }
}

/// The task page again, saying why an action was refused.
async fn action_failed(state: &AppState, session: ViewerSession, err: app::Error) -> Response {
    let (status, message) = explain(err);
    render_task(state, session, status, Some(message), None, None).await
}

/// The status and a sentence for an error of an action a viewer took.
fn explain(err: app::Error) -> (StatusCode, String) {
    if let app::Error::Internal(cause) = &err {
        tracing::error!(error = format!("{cause:#}"), "request failed");
    }
    let message = match &err {
        app::Error::Forbidden { .. } => "The share code does not allow that.".to_owned(),
        app::Error::Internal(_) => "Something went wrong. Please try again.".to_owned(),
        other => other.to_string(),
    };
    (crate::http::status_of(err.kind()), message)
}

async fn download(
    State(state): State<AppState>,
    Path((task_id, artifact_id)): Path<(TaskId, ArtifactId)>,
    ClientIp(client): ClientIp,
    closer: Closer,
    jar: CookieJar,
) -> Response {
    let session = match viewer(&state, &jar, &task_id).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    match artifacts::download(&state, &Caller::Viewer(session), &task_id, &artifact_id, client).await {
        Ok(file) => file_response(file, closer, state.settings()),
        Err(err) => failure(err),
    }
}

#[derive(Default, Deserialize)]
struct PullForm {
    title: Option<String>,
    head_branch: Option<String>,
    description: Option<String>,
    csrf: Option<String>,
}

async fn create_pull(
    State(state): State<AppState>,
    Path(task_id): Path<TaskId>,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<PullForm>,
) -> Response {
    let session = match posting_viewer(&state, &jar, &headers, &task_id, form.csrf.as_deref()).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let input = PullRequestInput {
        title: form.title.unwrap_or_default(),
        head_branch: form.head_branch.unwrap_or_default(),
        description: form.description.filter(|d| !d.trim().is_empty()),
    };
    let caller = Caller::Viewer(session.clone());
    match pull_requests::open(&state, &caller, &task_id, input).await {
        Ok(pr) => {
            see_other(&format!("{}/pulls/{}?done=opened", task_path(&state, &task_id), pr.record.number))
        }
        Err(err) => action_failed(&state, session, err).await,
    }
}

#[derive(Template)]
#[template(path = "pull.html")]
struct PullPage {
    task: TaskRecord,
    path: String,
    csrf: String,
    pr: PullRequestRecord,
    changes: Option<Changes>,
    lines: Vec<DiffLine>,
    can_approve: bool,
    can_merge: bool,
    error: Option<String>,
    notice: Option<&'static str>,
}

async fn pull_page(
    State(state): State<AppState>,
    Path((task_id, number)): Path<(TaskId, String)>,
    Query(notice): Query<Notice>,
    jar: CookieJar,
) -> Response {
    let session = match viewer(&state, &jar, &task_id).await {
        Ok(session) => session,
        Err(page) => return page,
    };
    render_pull(&state, session, &number, StatusCode::OK, None, notice_text(notice.done.as_deref())).await
}

async fn render_pull(
    state: &AppState,
    session: ViewerSession,
    number: &str,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&'static str>,
) -> Response {
    let result = async {
        let number = pull_number(number)?;
        let caller = Caller::Viewer(session.clone());
        let task = caller.task(state, &session.task_id).await?;
        let pull = pull_requests::get(state, &caller, &task.task_id, number).await?;
        let permissions = session.permissions();
        let open = pull.record.status == PullRequestStatus::Open;
        Ok::<_, PageError>(PullPage {
            path: task_path(state, &task.task_id),
            csrf: state.link_keys().csrf_token(session.session_id.as_str()),
            lines: pull.changes.as_ref().map(diff_lines).unwrap_or_default(),
            can_approve: open && permissions.allows(Action::ApprovePr),
            can_merge: open && permissions.allows(Action::MergePr),
            pr: pull.record,
            changes: pull.changes,
            task,
            error,
            notice,
        })
    }
    .await;
    page_or_error(status, result)
}

fn pull_number(text: &str) -> Result<i64, app::Error> {
    text.parse::<i64>().ok().filter(|n| *n >= 1).ok_or(app::Error::PullRequestNotFound { number: 0 })
}

#[derive(Default, Deserialize)]
struct ActionForm {
    csrf: Option<String>,
}

/// What a pull request button does.
#[derive(Clone, Copy)]
enum PullAction {
    Approve,
    Merge,
}

async fn pull_action(
    state: AppState,
    task_id: TaskId,
    number: String,
    headers: HeaderMap,
    jar: CookieJar,
    form: ActionForm,
    action: PullAction,
) -> Response {
    let session = match posting_viewer(&state, &jar, &headers, &task_id, form.csrf.as_deref()).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    let caller = Caller::Viewer(session.clone());
    let result = async {
        let n = pull_number(&number)?;
        match action {
            PullAction::Approve => pull_requests::approve(&state, &caller, &task_id, n).await,
            PullAction::Merge => pull_requests::merge(&state, &caller, &task_id, n).await,
        }
    }
    .await;
    let done = match action {
        PullAction::Approve => "approved",
        PullAction::Merge => "merged",
    };
    match result {
        Ok(pr) => {
            see_other(&format!("{}/pulls/{}?done={done}", task_path(&state, &task_id), pr.record.number))
        }
        Err(err) => {
            let (status, message) = explain(err);
            render_pull(&state, session, &number, status, Some(message), None).await
        }
    }
}

async fn approve_pull(
    State(state): State<AppState>,
    Path((task_id, number)): Path<(TaskId, String)>,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<ActionForm>,
) -> Response {
    pull_action(state, task_id, number, headers, jar, form, PullAction::Approve).await
}

async fn merge_pull(
    State(state): State<AppState>,
    Path((task_id, number)): Path<(TaskId, String)>,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<ActionForm>,
) -> Response {
    pull_action(state, task_id, number, headers, jar, form, PullAction::Merge).await
}

/// Ends this browser's session of the task (the share code keeps working).
async fn leave(
    State(state): State<AppState>,
    Path(task_id): Path<TaskId>,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<ActionForm>,
) -> Response {
    let session = match posting_viewer(&state, &jar, &headers, &task_id, form.csrf.as_deref()).await {
        Ok(session) => session,
        Err(refused) => return refused,
    };
    if let Err(err) = share_codes::leave(&state, &session.session_id).await {
        return failure(err);
    }
    let jar = jar.add(removal(&state, VIEWER_COOKIE, task_path(&state, &task_id)));
    (jar, see_other(&format!("{}/code", state.urls().path()))).into_response()
}
