//! `/v1/tasks/{task_id}/pull-requests`: real pull requests between branches of the
//! task's git repository. The owner can do everything; a viewer session only what
//! its share code allows (`canViewPr`, `canCreatePr`, `canApprovePr`, `canMergePr`).
//!
//! Git work happens behind the [`Forge`](crate::forge::Forge) trait, on a blocking
//! thread, in repositories under `--repositories-dir` only.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath};
use super::{created, ok, Envelope};
use crate::domain::task_share::Action;
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::forge::{self, Diff, Forge, ForgeError, MergeOutcome, Repositories, Repository, Signature};
use crate::state::AppState;
use crate::storage::{NewPullRequest, PullRequestRecord, TaskRecord};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_pull_requests, create_pull_request))
        .routes(routes!(get_pull_request))
        .routes(routes!(approve_pull_request))
        .routes(routes!(merge_pull_request))
}

/// The forge and the directory repositories live in, when `--repositories-dir` is set.
pub struct Forges {
    pub repositories: Repositories,
    pub forge: Arc<dyn Forge>,
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

impl From<Diff> for DiffView {
    fn from(d: Diff) -> DiffView {
        DiffView {
            base_sha: d.base_sha,
            head_sha: d.head_sha,
            files: d
                .files
                .into_iter()
                .map(|f| FileChangeView {
                    path: f.path,
                    old_path: f.old_path,
                    status: f.status.as_str().to_owned(),
                    insertions: f.insertions,
                    deletions: f.deletions,
                    binary: f.binary,
                })
                .collect(),
            insertions: d.insertions,
            deletions: d.deletions,
            patch: d.patch,
            patch_truncated: d.patch_truncated,
        }
    }
}

impl PullRequestView {
    fn new(pr: PullRequestRecord, diff: Option<DiffView>) -> PullRequestView {
        PullRequestView {
            number: pr.number,
            title: pr.title,
            description: pr.description,
            head_branch: pr.head_branch,
            base_branch: pr.base_branch,
            status: pr.status,
            author: pr.author,
            approvals: pr.approvals,
            merge_commit: pr.merge_commit,
            created_at: Timestamp(pr.created_at),
            updated_at: Timestamp(pr.updated_at),
            merged_at: pr.merged_at.map(Timestamp),
            diff,
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
    task_id: String,
    number: i64,
}

/// The task's pull requests, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PullRequestList {
    pub pull_requests: Vec<PullRequestView>,
}

/// Runs blocking git work off the async executor.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|err| ApiError::Internal(err.into()))
}

fn forge_error(err: ForgeError) -> ApiError {
    match err {
        ForgeError::BranchNotFound(branch) => ApiError::Conflict {
            code: "BRANCH_NOT_FOUND",
            message: format!("The repository has no branch named {branch}"),
            details: json!({ "branch": branch }),
        },
        ForgeError::UnrelatedHistories { base, head } => ApiError::Conflict {
            code: "UNRELATED_HISTORIES",
            message: format!("{head} and {base} share no history"),
            details: json!({ "base_branch": base, "head_branch": head }),
        },
        other => ApiError::Internal(other.into()),
    }
}

/// The task's repository, or 409 `NO_REPOSITORY` when it has none (or the server
/// has no repositories directory).
fn repository_of(
    state: &AppState,
    task: &TaskRecord,
) -> Result<(Repository, String, Arc<dyn Forge>), ApiError> {
    let no_repository = || ApiError::Conflict {
        code: "NO_REPOSITORY",
        message: "This task is not linked to a repository".into(),
        details: json!({ "task_id": task.task_id }),
    };
    let forges = state.forges().ok_or_else(no_repository)?;
    let (Some(name), Some(base)) = (&task.repository, &task.base_branch) else { return Err(no_repository()) };
    let repo = forges.repositories.open(name).map_err(|err| ApiError::Internal(err.into()))?;
    Ok((repo, base.clone(), forges.forge.clone()))
}

/// Checks and resolves a repository link for a task (owner's `PATCH` of
/// `repository` and `base_branch`).
pub async fn check_repository_link(
    state: &AppState,
    name: &str,
    base: &str,
) -> Result<(String, String), ApiError> {
    let forges = state.forges().ok_or_else(|| {
        ApiError::invalid("repository", "This server has no repositories directory (--repositories-dir)")
    })?;
    let repo =
        forges.repositories.open(name).map_err(|err| ApiError::invalid("repository", err.to_string()))?;
    forge::check_branch_name(base).map_err(|err| ApiError::invalid("base_branch", err.to_string()))?;
    let forge = forges.forge.clone();
    let branch = base.to_owned();
    let head = blocking(move || forge.branch_head(&repo, &branch)).await?.map_err(forge_error)?;
    if head.is_none() {
        return Err(ApiError::invalid("base_branch", format!("The repository has no branch named {base}")));
    }
    Ok((name.to_owned(), base.to_owned()))
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
    caller: Caller,
    ApiPath(task_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(ok(PullRequestList { pull_requests: list(&state, &caller, &task_id).await? }))
}

/// The task's pull requests, newest first, for a caller who may view them.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
) -> Result<Vec<PullRequestView>, ApiError> {
    caller.task(state, task_id).await?;
    caller.require(Action::ViewPr)?;
    let prs = state.db().list_pull_requests(task_id).await?;
    Ok(prs.into_iter().map(|pr| PullRequestView::new(pr, None)).collect())
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
    caller: Caller,
    ApiPath(task_id): ApiPath<String>,
    ApiJson(body): ApiJson<CreatePullRequestRequest>,
) -> Result<Response, ApiError> {
    Ok(created(open(&state, &caller, &task_id, body).await?))
}

/// Opens a pull request for a caller who may create them.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    body: CreatePullRequestRequest,
) -> Result<PullRequestView, ApiError> {
    let task = caller.task(state, task_id).await?;
    caller.require(Action::CreatePr)?;
    let title = bounded("title", &body.title, 1, 200, false)?;
    let description =
        body.description.as_deref().map(|d| bounded("description", d, 0, 10_000, true)).transpose()?;
    let head_branch = body.head_branch.trim().to_owned();
    forge::check_branch_name(&head_branch)
        .map_err(|err| ApiError::invalid("head_branch", err.to_string()))?;
    let (repo, base_branch, forge) = repository_of(state, &task)?;
    if head_branch == base_branch {
        return Err(ApiError::invalid("head_branch", "head_branch must differ from the base branch"));
    }
    let open = state.db().list_pull_requests(task_id).await?;
    if let Some(existing) = open.iter().find(|pr| pr.status == "open" && pr.head_branch == head_branch) {
        return Err(ApiError::Conflict {
            code: "PULL_REQUEST_EXISTS",
            message: format!("Pull request #{} already proposes {head_branch}", existing.number),
            details: json!({ "number": existing.number }),
        });
    }
    let (base, head) = (base_branch.clone(), head_branch.clone());
    let diff = blocking(move || forge.diff(&repo, &base, &head)).await?.map_err(forge_error)?;
    let pr = NewPullRequest { title, description, head_branch, base_branch, author: caller.author() };
    let record = state
        .db()
        .create_pull_request(task_id, &pr)
        .await?
        .ok_or_else(|| ApiError::task_not_found(task_id))?;
    tracing::info!(task_id = %task_id, number = record.number, author = caller.author(), "pull request opened");
    Ok(PullRequestView::new(record, Some(diff.into())))
}

/// The pull request `number` of a task the caller may see.
async fn pull_request(state: &AppState, task_id: &str, number: i64) -> Result<PullRequestRecord, ApiError> {
    state.db().get_pull_request(task_id, number).await?.ok_or(ApiError::PullRequestNotFound { number })
}

/// The diff of a pull request: live while open, as merged afterwards.
async fn diff_of(state: &AppState, task: &TaskRecord, pr: &PullRequestRecord) -> Result<DiffView, ApiError> {
    if let Some(json) = &pr.merged_diff {
        return serde_json::from_str(json).map_err(|err| ApiError::Internal(err.into()));
    }
    let (repo, _, forge) = repository_of(state, task)?;
    let (base, head) = (pr.base_branch.clone(), pr.head_branch.clone());
    Ok(blocking(move || forge.diff(&repo, &base, &head)).await?.map_err(forge_error)?.into())
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
    caller: Caller,
    ApiPath(PullRequestPath { task_id, number }): ApiPath<PullRequestPath>,
) -> Result<Response, ApiError> {
    Ok(ok(get(&state, &caller, &task_id, number).await?))
}

/// A pull request with its diff, for a caller who may view them.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    number: i64,
) -> Result<PullRequestView, ApiError> {
    let task = caller.task(state, task_id).await?;
    caller.require(Action::ViewPr)?;
    let pr = pull_request(state, task_id, number).await?;
    let diff = diff_of(state, &task, &pr).await?;
    Ok(PullRequestView::new(pr, Some(diff)))
}

fn not_open(pr: &PullRequestRecord) -> ApiError {
    ApiError::Conflict {
        code: "PULL_REQUEST_NOT_OPEN",
        message: format!("Pull request #{} is {}", pr.number, pr.status),
        details: json!({ "number": pr.number, "status": pr.status }),
    }
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
    caller: Caller,
    ApiPath(PullRequestPath { task_id, number }): ApiPath<PullRequestPath>,
) -> Result<Response, ApiError> {
    Ok(ok(approve(&state, &caller, &task_id, number).await?))
}

/// Records the caller's approval of an open pull request.
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    number: i64,
) -> Result<PullRequestView, ApiError> {
    caller.task(state, task_id).await?;
    caller.require(Action::ApprovePr)?;
    let pr = pull_request(state, task_id, number).await?;
    if pr.status != "open" {
        return Err(not_open(&pr));
    }
    state.db().approve_pull_request(&pr.pr_id, &caller.approver()).await?;
    tracing::info!(task_id = %task_id, number, author = caller.author(), "pull request approved");
    Ok(PullRequestView::new(pull_request(state, task_id, number).await?, None))
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
    caller: Caller,
    ApiPath(PullRequestPath { task_id, number }): ApiPath<PullRequestPath>,
) -> Result<Response, ApiError> {
    Ok(ok(merge(&state, &caller, &task_id, number).await?))
}

/// Merges an open pull request for a caller who may merge.
pub async fn merge(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    number: i64,
) -> Result<PullRequestView, ApiError> {
    let task = caller.task(state, task_id).await?;
    caller.require(Action::MergePr)?;
    let pr = pull_request(state, task_id, number).await?;
    if pr.status != "open" {
        return Err(not_open(&pr));
    }
    if task.require_pr_approval && pr.approvals == 0 {
        return Err(ApiError::Conflict {
            code: "APPROVAL_REQUIRED",
            message: format!("Pull request #{number} needs an approval before it can be merged"),
            details: json!({ "number": number }),
        });
    }
    let (repo, base, forge) = repository_of(state, &task)?;
    let head = pr.head_branch.clone();
    let message = format!("Merge pull request #{number} from {head}\n\n{}", pr.title);
    let outcome = blocking(move || {
        let diff = forge.diff(&repo, &base, &head)?;
        let signature = Signature { name: "agentshare".into(), email: "agentshare@localhost".into() };
        forge.merge(&repo, &base, &head, &message, &signature).map(|outcome| (diff, outcome))
    })
    .await?
    .map_err(forge_error)?;
    let (diff, outcome) = outcome;
    let commit = match outcome {
        MergeOutcome::Merged { commit, .. } => commit,
        MergeOutcome::AlreadyMerged => diff.base_sha.clone(),
        MergeOutcome::Conflict { paths } => {
            return Err(ApiError::Conflict {
                code: "MERGE_CONFLICT",
                message: format!("Pull request #{number} conflicts with {}", pr.base_branch),
                details: json!({ "number": number, "paths": paths }),
            })
        }
        MergeOutcome::BaseMoved => {
            return Err(ApiError::Conflict {
                code: "BASE_MOVED",
                message: format!("{} changed while merging; try again", pr.base_branch),
                details: json!({ "number": number }),
            })
        }
    };
    let diff = DiffView::from(diff);
    let diff_json = serde_json::to_string(&diff).map_err(|err| ApiError::Internal(err.into()))?;
    if !state.db().mark_pull_request_merged(&pr.pr_id, &commit, &diff_json).await? {
        return Err(not_open(&pull_request(state, task_id, number).await?));
    }
    tracing::info!(task_id = %task_id, number, commit = %commit, author = caller.author(), "pull request merged");
    Ok(PullRequestView::new(pull_request(state, task_id, number).await?, Some(diff)))
}
