//! `/v1/tasks`: create, read, list and update an owner's tasks.

use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthOwner};
use super::{created, ok, Envelope};
use crate::domain::task::{self, TaskStatus};
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::state::AppState;
use crate::storage::{NewTask, TaskPatch, TaskRecord, UpdateOutcome};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_task, list_tasks)).routes(routes!(get_task, update_task))
}

/// A task as the owner API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskView {
    #[schema(example = "task_1234567890abcdef")]
    pub task_id: String,
    pub title: String,
    pub status: TaskStatus,
    /// `cloud` when `machine_id` is null, `local` when the task runs on a user's machine.
    #[schema(example = "cloud")]
    pub mode: &'static str,
    pub machine_id: Option<String>,
    /// What the agent was asked to do. Never shown through share links; viewers with a
    /// share code see it, as part of the task its owner chose to share.
    pub prompt: Option<String>,
    /// Which agent runs the task (free text, e.g. `claude-code 1.2`).
    pub agent: Option<String>,
    /// Sequence number of the newest event; 0 when there is none.
    pub last_event_seq: i64,
    /// The owner's user id (not shown to viewers).
    #[schema(example = "user_abc123")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the task left `pending`.
    pub started_at: Option<Timestamp>,
    /// When the task reached `completed`, `failed` or `cancelled`.
    pub finished_at: Option<Timestamp>,
    /// The task's git repository (a name under `--repositories-dir`), if linked.
    pub repository: Option<String>,
    /// The branch pull requests merge into.
    pub base_branch: Option<String>,
    /// Whether a pull request needs an approval before it can be merged.
    pub require_pr_approval: bool,
}

impl TaskView {
    /// The task as a viewer with a share code sees it: without owner data.
    pub fn for_viewer(task: TaskRecord) -> TaskView {
        TaskView { owner_id: None, ..TaskView::from(task) }
    }
}

impl From<TaskRecord> for TaskView {
    fn from(t: TaskRecord) -> TaskView {
        TaskView {
            mode: if t.machine_id.is_some() { "local" } else { "cloud" },
            task_id: t.task_id,
            title: t.title,
            status: t.status,
            machine_id: t.machine_id,
            prompt: t.prompt,
            agent: t.agent,
            last_event_seq: t.last_event_seq,
            owner_id: Some(t.owner_id),
            created_at: Timestamp(t.created_at),
            updated_at: Timestamp(t.updated_at),
            started_at: t.started_at.map(Timestamp),
            finished_at: t.finished_at.map(Timestamp),
            repository: t.repository,
            base_branch: t.base_branch,
            require_pr_approval: t.require_pr_approval,
        }
    }
}

/// Body of `POST /v1/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// 1–200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
        example = "Fix the login bug"
    )]
    pub title: String,
    /// Null or absent: the task runs in cloud mode. A string: it runs on that machine.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub machine_id: Option<String>,
    /// What the agent was asked to do (owner-only; up to 100,000 characters).
    #[serde(default)]
    #[schema(max_length = 100_000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub prompt: Option<String>,
    /// Which agent runs the task.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub agent: Option<String>,
}

/// Body of `PATCH /v1/tasks/{task_id}`; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskRequest {
    /// 1–200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: Option<String>,
    pub status: Option<TaskStatus>,
    /// A string moves the task to that machine; `null` moves it to cloud mode.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub machine_id: Option<Option<String>>,
    /// Links the task to a git repository under `--repositories-dir` (its name
    /// there, e.g. `acme/web.git`); null unlinks it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub repository: Option<Option<String>>,
    /// The branch pull requests merge into (default `main`), when linking a repository.
    pub base_branch: Option<String>,
    /// Whether a pull request needs an approval before it can be merged.
    pub require_pr_approval: Option<bool>,
}

/// Distinguishes a field set to `null` (`Some(None)`) from an absent one (`None`).
pub fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Query of `GET /v1/tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    /// Only tasks in this status.
    pub status: Option<TaskStatus>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of tasks, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskView>,
    pub has_more: bool,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn optional_label(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    value.map(|v| bounded(field, v, 1, task::MAX_LABEL_CHARS, false)).transpose().map_err(Into::into)
}

/// Create a task
///
/// Registers a task in `pending` status. `machine_id` null (the default) means the
/// task runs in cloud mode; a string names the user's machine it runs on.
#[utoipa::path(
    post, path = "/v1/tasks", tag = "tasks",
    request_body = CreateTaskRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The new task", body = Envelope<TaskView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn create_task(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<CreateTaskRequest>,
) -> Result<Response, ApiError> {
    let task = NewTask {
        title: bounded("title", &body.title, 1, task::MAX_TITLE_CHARS, false)?,
        machine_id: optional_label("machine_id", body.machine_id.as_deref())?,
        prompt: body
            .prompt
            .as_deref()
            .map(|p| bounded("prompt", p, 0, task::MAX_PROMPT_CHARS, true))
            .transpose()?,
        agent: optional_label("agent", body.agent.as_deref())?,
    };
    let record = state.db().create_task(&owner.owner_id, &task).await?;
    tracing::info!(task_id = %record.task_id, owner_id = %owner.owner_id, "task created");
    Ok(created(TaskView::from(record)))
}

/// Get a task
///
/// Works with the owner's API key or a viewer session of the task's share code.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier")),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The task", body = Envelope<TaskView>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`: no such task, or another owner's", body = ErrorEnvelope),
    )
)]
async fn get_task(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(task_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let task = caller.task(&state, &task_id).await?;
    Ok(ok(if caller.is_owner() { TaskView::from(task) } else { TaskView::for_viewer(task) }))
}

/// The task `task_id` if `owner_id` owns it, else 404 `TASK_NOT_FOUND`: another
/// owner's task answers exactly like one that does not exist.
pub async fn owned_task(state: &AppState, owner_id: &str, task_id: &str) -> Result<TaskRecord, ApiError> {
    state.db().get_owned_task(owner_id, task_id).await?.ok_or_else(|| ApiError::task_not_found(task_id))
}

/// List tasks
///
/// The owner's tasks, newest first, `limit` at a time; follow `next_cursor` for more.
#[utoipa::path(
    get, path = "/v1/tasks", tag = "tasks",
    params(ListTasksQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of tasks", body = Envelope<TaskList>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn list_tasks(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiQuery(query): ApiQuery<ListTasksQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, 20, 100)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = state.db().list_tasks(&owner.owner_id, query.status, after, limit).await?;
    Ok(ok(TaskList {
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|(time, id)| encode_cursor(time, &id)),
        tasks: page.tasks.into_iter().map(TaskView::from).collect(),
    }))
}

/// Checks a `limit` query parameter: 1..=`max`, `default` when absent.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", format!("limit must be between 1 and {max}"))),
    }
}

/// An opaque page cursor for a (time, id) position.
pub fn encode_cursor(time: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{time}:{id}"))
}

/// Reads a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<(i64, String), ApiError> {
    let invalid = || ApiError::invalid("cursor", "cursor is not one this API handed out");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (time, id) = text.split_once(':').ok_or_else(invalid)?;
    if id.contains('\0') {
        return Err(invalid());
    }
    Ok((time.parse().map_err(|_| invalid())?, id.to_owned()))
}

/// Update a task
///
/// Changes the title, the status or the machine. Status moves along
/// `pending → running → completed | failed | cancelled` (a pending task may also
/// finish directly); final statuses never change. Setting the current status again
/// is accepted and changes nothing.
#[utoipa::path(
    patch, path = "/v1/tasks/{task_id}", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier")),
    request_body = Option<UpdateTaskRequest>,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The updated task", body = Envelope<TaskView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`INVALID_STATUS_TRANSITION`", body = ErrorEnvelope),
    )
)]
async fn update_task(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(task_id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateTaskRequest>,
) -> Result<Response, ApiError> {
    let patch = TaskPatch {
        title: body
            .title
            .as_deref()
            .map(|t| bounded("title", t, 1, task::MAX_TITLE_CHARS, false))
            .transpose()?,
        machine_id: match body.machine_id {
            Some(Some(machine)) => Some(optional_label("machine_id", Some(&machine))?),
            Some(None) => Some(None),
            None => None,
        },
        status: body.status,
        repository: match body.repository {
            // Ownership first: nothing about repositories is told about another's task.
            Some(_) if state.db().get_owned_task(&owner.owner_id, &task_id).await?.is_none() => {
                return Err(ApiError::task_not_found(&task_id))
            }
            Some(Some(name)) => {
                let base = body.base_branch.as_deref().unwrap_or("main");
                Some(Some(
                    super::pull_requests::check_repository_link(&state, name.trim(), base.trim()).await?,
                ))
            }
            Some(None) => Some(None),
            None if body.base_branch.is_some() => {
                return Err(ApiError::invalid("base_branch", "base_branch is set together with repository"))
            }
            None => None,
        },
        require_pr_approval: body.require_pr_approval,
    };
    match state.db().update_task(&owner.owner_id, &task_id, &patch).await? {
        UpdateOutcome::Updated(task) => {
            state.events_changed();
            tracing::info!(task_id = %task.task_id, status = task.status.as_str(), "task updated");
            Ok(ok(TaskView::from(*task)))
        }
        UpdateOutcome::NotFound => Err(ApiError::task_not_found(&task_id)),
        UpdateOutcome::InvalidTransition { from, to } => {
            Err(ApiError::InvalidTransition { task_id, from, to })
        }
    }
}
