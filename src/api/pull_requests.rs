//! `/v1/tasks/{task_id}/pull-requests`: real pull requests between branches of the
//! task's git repository. The owner can do everything; a viewer session only what
//! its share code allows (`canViewPr`, `canCreatePr`, `canApprovePr`, `canMergePr`).
//!
//! The work itself is [`app::pull_requests`](crate::app::pull_requests).

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use super::{created, ok, Envelope};
use crate::app::pull_requests::{self, Changes, PullRequest, PullRequestInput};
use crate::app::AppState;
use crate::domain::ids::TaskId;
use crate::domain::time::Timestamp;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pull_requests, create_pull_request))
        .routes(routes!(get_pull_request))
        .routes(routes!(approve_pull_request))
        .routes(routes!(merge_pull_request))
}

/// A pull request as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PullRequestView {
    /// 1, 2, 3… per task.
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    /// The branch whose changes are proposed.
    pub head_branch: String,
    /// The branch they would be merged into (the task's base branch).
    pub base_branch: String,
    /// `open` or `merged`.
    pub status: String,
    /// `owner` or `viewer`.
    pub author: String,
    pub approvals: i64,
    pub merge_commit: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub merged_at: Option<Timestamp>,
    /// What the pull request changes (in lists: null).
    pub diff: Option<DiffView>,
}

/// What merging a pull request changes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiffView {
    pub base_sha: String,
    pub head_sha: String,
    pub files: Vec<FileChangeView>,
    pub insertions: u64,
    pub deletions: u64,
    /// Unified diff, at most 1 MiB.
    pub patch: String,
    pub patch_truncated: bool,
}

/// One changed file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileChangeView {
    pub path: String,
    /// For renames, the previous path.
    pub old_path: Option<String>,
    /// `added`, `modified`, `deleted`, `renamed`…
    pub status: String,
    pub insertions: u64,
    pub deletions: u64,
    pub binary: bool,
}

impl From<Changes> for DiffView {
    fn from(c: Changes) -> DiffView {
        DiffView {
            base_sha: c.base_sha,
            head_sha: c.head_sha,
            files: c
                .files
                .into_iter()
                .map(|f| FileChangeView {
                    path: f.path,
                    old_path: f.old_path,
                    status: f.status,
                    insertions: f.insertions,
                    deletions: f.deletions,
                    binary: f.binary,
                })
                .collect(),
            insertions: c.insertions,
            deletions: c.deletions,
            patch: c.patch,
            patch_truncated: c.patch_truncated,
        }
    }
}

impl From<PullRequest> for PullRequestView {
    fn from(PullRequest { record: pr, changes }: PullRequest) -> PullRequestView {
        PullRequestView {
            number: pr.number,
            title: pr.title,
            description: pr.description,
            head_branch: pr.head_branch,
            base_branch: pr.base_branch,
            status: pr.status.as_str().to_owned(),
            author: pr.author.as_str().to_owned(),
            approvals: pr.approvals,
            merge_commit: pr.merge_commit,
            created_at: pr.created_at,
            updated_at: pr.updated_at,
            merged_at: pr.merged_at,
            diff: changes.map(DiffView::from),
        }
    }
}

/// Body of `POST /v1/tasks/{task_id}/pull-requests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePullRequestRequest {
    /// 1–200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: String,
    /// A branch of the task's repository, other than its base branch.
    #[schema(pattern = r"\S")]
    pub head_branch: String,
    /// Up to 10,000 characters.
    #[schema(max_length = 10_000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

/// Path of the routes of one pull request.
#[derive(Debug, Deserialize)]
pub struct PullRequestPath {
    task_id: TaskId,
    number: i64,
}

/// The task's pull requests, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PullRequestList {
    pub pull_requests: Vec<PullRequestView>,
}

/// List pull requests
///
/// Needs `canViewPr` for viewers.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/pull-requests", tag = "pull-requests",
    params(("task_id" = String, Path, description = "Task identifier")),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The task's pull requests, newest first", body = Envelope<PullRequestList>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: no `canViewPr`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn list_pull_requests(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(task_id): ApiPath<TaskId>,
) -> Result<Response, ApiError> {
    let records = pull_requests::list(&state, &caller, &task_id).await?;
    let pull_requests = records
        .into_iter()
        .map(|record| PullRequestView::from(PullRequest { record, changes: None }))
        .collect();
    Ok(ok(PullRequestList { pull_requests }))
}

/// Open a pull request
///
/// Proposes merging `head_branch` into the task's base branch. Needs `canCreatePr`
/// for viewers.
#[utoipa::path(
    post, path = "/v1/tasks/{task_id}/pull-requests", tag = "pull-requests",
    params(("task_id" = String, Path, description = "Task identifier")),
    request_body = CreatePullRequestRequest,
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 201, description = "The new pull request, with its diff", body = Envelope<PullRequestView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: no `canCreatePr`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`NO_REPOSITORY`, `BRANCH_NOT_FOUND` or `PULL_REQUEST_EXISTS`", body = ErrorEnvelope),
    )
)]
async fn create_pull_request(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(body): ApiJson<CreatePullRequestRequest>,
) -> Result<Response, ApiError> {
    let input =
        PullRequestInput { title: body.title, head_branch: body.head_branch, description: body.description };
    Ok(created(PullRequestView::from(pull_requests::open(&state, &caller, &task_id, input).await?)))
}

/// Get a pull request with its diff
///
/// The changed files with their insertions and deletions, the totals and the
/// patch. Needs `canViewPr` for viewers.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/pull-requests/{number}", tag = "pull-requests",
    params(("task_id" = String, Path, description = "Task identifier"), ("number" = i64, Path, minimum = 1, description = "Pull request number")),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The pull request and its diff", body = Envelope<PullRequestView>),
        (status = 400, description = "`INVALID_REQUEST`: `number` is not an integer in range", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: no `canViewPr`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND` or `PULL_REQUEST_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn get_pull_request(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(PullRequestPath { task_id, number }): ApiPath<PullRequestPath>,
) -> Result<Response, ApiError> {
    Ok(ok(PullRequestView::from(pull_requests::get(&state, &caller, &task_id, number).await?)))
}

/// Approve a pull request
///
/// Records the caller's approval (once per owner or viewer session). Needs
/// `canApprovePr` for viewers.
#[utoipa::path(
    post, path = "/v1/tasks/{task_id}/pull-requests/{number}/approve", tag = "pull-requests",
    params(("task_id" = String, Path, description = "Task identifier"), ("number" = i64, Path, minimum = 1, description = "Pull request number")),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The pull request with its approvals", body = Envelope<PullRequestView>),
        (status = 400, description = "`INVALID_REQUEST`: `number` is not an integer in range", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: no `canApprovePr`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND` or `PULL_REQUEST_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`PULL_REQUEST_NOT_OPEN`", body = ErrorEnvelope),
    )
)]
async fn approve_pull_request(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(PullRequestPath { task_id, number }): ApiPath<PullRequestPath>,
) -> Result<Response, ApiError> {
    Ok(ok(PullRequestView::from(pull_requests::approve(&state, &caller, &task_id, number).await?)))
}

/// Merge a pull request
///
/// Merges the head branch into the base branch for real: a fast-forward when
/// possible, otherwise a merge commit. 409 `MERGE_CONFLICT` (with the conflicting
/// paths) when the branches conflict, 409 `APPROVAL_REQUIRED` when the task requires
/// an approval and there is none. Needs `canMergePr` for viewers.
#[utoipa::path(
    post, path = "/v1/tasks/{task_id}/pull-requests/{number}/merge", tag = "pull-requests",
    params(("task_id" = String, Path, description = "Task identifier"), ("number" = i64, Path, minimum = 1, description = "Pull request number")),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The merged pull request", body = Envelope<PullRequestView>),
        (status = 400, description = "`INVALID_REQUEST`: `number` is not an integer in range", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: no `canMergePr`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND` or `PULL_REQUEST_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`MERGE_CONFLICT`, `APPROVAL_REQUIRED`, `PULL_REQUEST_NOT_OPEN` or `BASE_MOVED`", body = ErrorEnvelope),
    )
)]
async fn merge_pull_request(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(PullRequestPath { task_id, number }): ApiPath<PullRequestPath>,
) -> Result<Response, ApiError> {
    Ok(ok(PullRequestView::from(pull_requests::merge(&state, &caller, &task_id, number).await?)))
}
