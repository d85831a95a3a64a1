//! `/v1/tasks`: create, read, list and update an owner's tasks.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{decode_cursor, page_limit, present, ApiJson, ApiPath, ApiQuery, AuthOwner};
use super::{created, ok, Envelope};
use crate::app::tasks::{self, TaskChanges, TaskInput};
use crate::app::AppState;
use crate::domain::ids::TaskId;
use crate::domain::task::{TaskSource, TaskStatus};
use crate::domain::time::Timestamp;
use crate::storage::{TaskFilter, TaskRecord};

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
    /// How the task came in: `api`, `otlp` (OpenTelemetry traces), `import` (a
    /// transcript) or `cli` (`agentshare run`).
    pub source: TaskSource,
    /// The task's id where it came from (an OTLP conversation or trace id, an
    /// imported session's id…), unique per owner and source.
    pub external_id: Option<String>,
    /// Facts about the run: for traces, `model`, `input_tokens`, `output_tokens`,
    /// `duration_ms`; for `agentshare run`, `command`, `exit_code`, `duration_ms`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
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
            task_id: t.task_id.into_string(),
            title: t.title,
            status: t.status,
            machine_id: t.machine_id,
            prompt: t.prompt,
            agent: t.agent,
            last_event_seq: t.last_event_seq,
            owner_id: Some(t.owner_id.into_string()),
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
            finished_at: t.finished_at,
            repository: t.repository,
            base_branch: t.base_branch,
            require_pr_approval: t.require_pr_approval,
            source: t.source,
            external_id: t.external_id,
            metadata: t.metadata.as_deref().and_then(|json| serde_json::from_str(json).ok()),
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
    /// How the task comes in: `api` (the default), `import` or `cli`; `otlp` tasks
    /// are made by `POST /otlp/v1/traces` alone.
    pub source: Option<TaskSource>,
    /// The task's id where it comes from, unique per owner and source: creating a
    /// second task with the same one answers 409 `TASK_EXISTS` naming the first.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub external_id: Option<String>,
    /// Facts about the run, a JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
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
    /// Replaces the task's metadata (a JSON object of at most 16 KiB); null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Option<serde_json::Map<String, serde_json::Value>>>,
}

/// Query of `GET /v1/tasks`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTasksQuery {
    /// Only tasks in this status.
    pub status: Option<TaskStatus>,
    /// Only tasks that came in this way.
    pub source: Option<TaskSource>,
    /// Only the task with this `external_id` (with `source`, at most one).
    pub external_id: Option<String>,
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
        (status = 409, description = "`TASK_EXISTS`: a task of this source already has this `external_id` (`details.task_id`)", body = ErrorEnvelope),
    )
)]
async fn create_task(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<CreateTaskRequest>,
) -> Result<Response, ApiError> {
    let input = TaskInput {
        title: body.title,
        machine_id: body.machine_id,
        prompt: body.prompt,
        agent: body.agent,
        source: body.source.unwrap_or(TaskSource::Api),
        external_id: body.external_id,
        metadata: body.metadata,
    };
    Ok(created(TaskView::from(tasks::create(&state, &owner, input).await?)))
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
    Caller(caller): Caller,
    ApiPath(task_id): ApiPath<TaskId>,
) -> Result<Response, ApiError> {
    let task = tasks::get(&state, &caller, &task_id).await?;
    Ok(ok(if caller.is_owner() { TaskView::from(task) } else { TaskView::for_viewer(task) }))
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
    let filter = TaskFilter { status: query.status, source: query.source, external_id: query.external_id };
    let page = tasks::list(&state, &owner, &filter, after, limit).await?;
    Ok(ok(TaskList {
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
        tasks: page.tasks.into_iter().map(TaskView::from).collect(),
    }))
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
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(body): ApiJson<UpdateTaskRequest>,
) -> Result<Response, ApiError> {
    let changes = TaskChanges {
        title: body.title,
        status: body.status,
        machine_id: body.machine_id,
        repository: body.repository,
        base_branch: body.base_branch,
        require_pr_approval: body.require_pr_approval,
        metadata: body.metadata,
    };
    Ok(ok(TaskView::from(tasks::update(&state, &owner, &task_id, changes).await?)))
}
