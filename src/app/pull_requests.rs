//! Pull requests between branches of a task's git repository. The owner can do
//! everything; a viewer only what their share code allows (`canViewPr`,
//! `canCreatePr`, `canApprovePr`, `canMergePr`).
//!
//! Git work happens behind the [`Forge`] trait, on a blocking thread, in
//! repositories under `--repositories-dir` only.

use std::sync::Arc;

use super::access::Caller;
use super::error::{Error, Result};
use super::AppState;
use crate::domain::ids::{OwnerId, TaskId};
use crate::domain::task::PullRequestStatus;
use crate::domain::task_share::Action;
use crate::domain::text::bounded;
use crate::forge::{self, Diff, Forge, ForgeError, MergeOutcome, Repository, Signature};
use crate::storage::{NewPullRequest, PullRequestRecord, TaskRecord};

/// Longest title and description, in characters.
const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 10_000;

/// A pull request to open.
#[derive(Debug, Clone)]
pub struct PullRequestInput {
    /// 1–200 characters, not blank.
    pub title: String,
    /// A branch of the task's repository, other than its base branch.
    pub head_branch: String,
    /// Up to 10,000 characters.
    pub description: Option<String>,
}

/// A pull request, with what merging it changes when that was asked for.
pub struct PullRequest {
    pub record: PullRequestRecord,
    pub changes: Option<Changes>,
}

/// What merging a pull request changes: live while it is open, and kept (as this
/// JSON) once it is merged.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Changes {
    pub base_sha: String,
    pub head_sha: String,
    pub files: Vec<ChangedFile>,
    pub insertions: u64,
    pub deletions: u64,
    /// Unified diff, at most 1 MiB.
    pub patch: String,
    pub patch_truncated: bool,
}

/// One changed file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ChangedFile {
    pub path: String,
    /// For renames, the previous path.
    pub old_path: Option<String>,
    /// `added`, `modified`, `deleted`, `renamed`…
    pub status: String,
    pub insertions: u64,
    pub deletions: u64,
    pub binary: bool,
}

impl From<Diff> for Changes {
    fn from(d: Diff) -> Changes {
        Changes {
            base_sha: d.base_sha,
            head_sha: d.head_sha,
            files: d
                .files
                .into_iter()
                .map(|f| ChangedFile {
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

/// Runs blocking git work off the async executor.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(Error::internal)
}

fn forge_error(err: ForgeError) -> Error {
    match err {
        ForgeError::BranchNotFound(branch) => Error::BranchNotFound { branch },
        ForgeError::UnrelatedHistories { base, head } => Error::UnrelatedHistories { base, head },
        other => Error::internal(other),
    }
}

/// The task's repository, its base branch and the forge; [`Error::NoRepository`]
/// when it has none (or the server has no repositories directory), and
/// [`Error::RepositoryNotGranted`] once its owner may no longer use it.
async fn repository_of(state: &AppState, task: &TaskRecord) -> Result<(Repository, String, Arc<dyn Forge>)> {
    let no_repository = || Error::NoRepository { task_id: task.task_id.clone() };
    let forges = state.forges().ok_or_else(no_repository)?;
    let (Some(name), Some(base)) = (&task.repository, &task.base_branch) else { return Err(no_repository()) };
    let repo = forges.repositories.open(name).map_err(Error::internal)?;
    if !state.db().may_use_repository(&task.owner_id, repo.key()).await? {
        return Err(Error::RepositoryNotGranted { task_id: task.task_id.clone() });
    }
    Ok((repo, base.clone(), forges.forge.clone()))
}

/// Whether `owner_id` may link a task to the repository `name` (under the
/// repositories directory, granted to them by the operator) with pull requests
/// into `base` (a branch of it); answers the name and base to store. A repository
/// that does not exist and one the owner may not use are refused alike.
pub async fn check_repository_link(
    state: &AppState,
    owner_id: &OwnerId,
    name: &str,
    base: &str,
) -> Result<(String, String)> {
    let forges = state.forges().ok_or_else(|| {
        Error::invalid("repository", "This server has no repositories directory (--repositories-dir)")
    })?;
    if let Some(problem) = forge::repository_name_problem(name) {
        return Err(Error::invalid("repository", format!("{name:?}: {problem}")));
    }
    let unavailable = || {
        Error::invalid(
            "repository",
            format!("{name:?}: no repository of that name is available to this account (the operator grants them)"),
        )
    };
    let repo = match forges.repositories.open(name) {
        Ok(repo) => repo,
        Err(ForgeError::InvalidRepository(_)) => return Err(unavailable()),
        Err(err) => return Err(Error::internal(err)),
    };
    if !state.db().may_use_repository(owner_id, repo.key()).await? {
        return Err(unavailable());
    }
    forge::check_branch_name(base).map_err(|err| Error::invalid("base_branch", err.to_string()))?;
    let forge = forges.forge.clone();
    let branch = base.to_owned();
    let head = blocking(move || forge.branch_head(&repo, &branch)).await?.map_err(forge_error)?;
    if head.is_none() {
        return Err(Error::invalid("base_branch", format!("The repository has no branch named {base}")));
    }
    Ok((name.to_owned(), base.to_owned()))
}

/// The task's pull requests, newest first, for a caller who may view them.
pub async fn list(state: &AppState, caller: &Caller, task_id: &TaskId) -> Result<Vec<PullRequestRecord>> {
    caller.task(state, task_id).await?;
    caller.require(Action::ViewPr)?;
    Ok(state.db().list_pull_requests(task_id).await?)
}

/// Opens a pull request (head branch into the task's base branch), for a caller
/// who may create them; answers it with its diff.
pub async fn open(
    state: &AppState,
    caller: &Caller,
    task_id: &TaskId,
    input: PullRequestInput,
) -> Result<PullRequest> {
    let task = caller.task(state, task_id).await?;
    caller.require(Action::CreatePr)?;
    let title = bounded("title", &input.title, 1, MAX_TITLE_CHARS, false)?;
    let description = input
        .description
        .as_deref()
        .map(|d| bounded("description", d, 0, MAX_DESCRIPTION_CHARS, true))
        .transpose()?;
    let head_branch = input.head_branch.trim().to_owned();
    forge::check_branch_name(&head_branch).map_err(|err| Error::invalid("head_branch", err.to_string()))?;
    let (repo, base_branch, forge) = repository_of(state, &task).await?;
    if head_branch == base_branch {
        return Err(Error::invalid("head_branch", "head_branch must differ from the base branch"));
    }
    let open = state.db().list_pull_requests(task_id).await?;
    if let Some(existing) =
        open.iter().find(|pr| pr.status == PullRequestStatus::Open && pr.head_branch == head_branch)
    {
        return Err(Error::PullRequestExists { number: existing.number, head_branch });
    }
    let (base, head) = (base_branch.clone(), head_branch.clone());
    let diff = blocking(move || forge.diff(&repo, &base, &head)).await?.map_err(forge_error)?;
    let pr = NewPullRequest { title, description, head_branch, base_branch, author: caller.author() };
    let record =
        state.db().create_pull_request(task_id, &pr).await?.ok_or_else(|| Error::task_not_found(task_id))?;
    tracing::info!(task_id = %task_id, number = record.number, author = caller.author().as_str(), "pull request opened");
    Ok(PullRequest { record, changes: Some(diff.into()) })
}

/// The pull request `number` of a task the caller may see.
async fn pull_request(state: &AppState, task_id: &TaskId, number: i64) -> Result<PullRequestRecord> {
    state.db().get_pull_request(task_id, number).await?.ok_or(Error::PullRequestNotFound { number })
}

/// What a pull request changes: live while open, as merged afterwards.
async fn changes_of(state: &AppState, task: &TaskRecord, pr: &PullRequestRecord) -> Result<Changes> {
    if let Some(json) = &pr.merged_diff {
        return serde_json::from_str(json).map_err(Error::internal);
    }
    let (repo, _, forge) = repository_of(state, task).await?;
    let (base, head) = (pr.base_branch.clone(), pr.head_branch.clone());
    Ok(blocking(move || forge.diff(&repo, &base, &head)).await?.map_err(forge_error)?.into())
}

/// A pull request with its diff, for a caller who may view them.
pub async fn get(state: &AppState, caller: &Caller, task_id: &TaskId, number: i64) -> Result<PullRequest> {
    let task = caller.task(state, task_id).await?;
    caller.require(Action::ViewPr)?;
    let record = pull_request(state, task_id, number).await?;
    let changes = changes_of(state, &task, &record).await?;
    Ok(PullRequest { record, changes: Some(changes) })
}

fn not_open(pr: &PullRequestRecord) -> Error {
    Error::PullRequestNotOpen { number: pr.number, status: pr.status }
}

/// Records the caller's approval of an open pull request (once per owner or
/// viewer session).
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    task_id: &TaskId,
    number: i64,
) -> Result<PullRequest> {
    caller.task(state, task_id).await?;
    caller.require(Action::ApprovePr)?;
    let pr = pull_request(state, task_id, number).await?;
    if pr.status != PullRequestStatus::Open {
        return Err(not_open(&pr));
    }
    state.db().approve_pull_request(&pr.pr_id, caller.approver()).await?;
    tracing::info!(task_id = %task_id, number, author = caller.author().as_str(), "pull request approved");
    Ok(PullRequest { record: pull_request(state, task_id, number).await?, changes: None })
}

/// Merges an open pull request for real, for a caller who may merge: a
/// fast-forward when possible, otherwise a merge commit.
pub async fn merge(state: &AppState, caller: &Caller, task_id: &TaskId, number: i64) -> Result<PullRequest> {
    let task = caller.task(state, task_id).await?;
    caller.require(Action::MergePr)?;
    let pr = pull_request(state, task_id, number).await?;
    if pr.status != PullRequestStatus::Open {
        return Err(not_open(&pr));
    }
    if task.require_pr_approval && pr.approvals == 0 {
        return Err(Error::ApprovalRequired { number });
    }
    let (repo, base, forge) = repository_of(state, &task).await?;
    let head = pr.head_branch.clone();
    let message = format!("Merge pull request #{number} from {head}\n\n{}", pr.title);
    let (diff, outcome) = blocking(move || {
        let diff = forge.diff(&repo, &base, &head)?;
        let signature = Signature { name: "agentshare".into(), email: "agentshare@localhost".into() };
        forge.merge(&repo, &base, &head, &message, &signature).map(|outcome| (diff, outcome))
    })
    .await?
    .map_err(forge_error)?;
    let commit = match outcome {
        MergeOutcome::Merged { commit, .. } => commit,
        MergeOutcome::AlreadyMerged => diff.base_sha.clone(),
        MergeOutcome::Conflict { paths } => {
            return Err(Error::MergeConflict { number, base_branch: pr.base_branch, paths })
        }
        MergeOutcome::BaseMoved => return Err(Error::BaseMoved { number, base_branch: pr.base_branch }),
    };
    let changes = Changes::from(diff);
    let diff_json = serde_json::to_string(&changes).map_err(Error::internal)?;
    if !state.db().mark_pull_request_merged(&pr.pr_id, &commit, &diff_json).await? {
        return Err(not_open(&pull_request(state, task_id, number).await?));
    }
    tracing::info!(task_id = %task_id, number, commit = %commit, author = caller.author().as_str(), "pull request merged");
    Ok(PullRequest { record: pull_request(state, task_id, number).await?, changes: Some(changes) })
}
