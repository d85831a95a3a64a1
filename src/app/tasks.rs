//! Tasks: an owner registers them, follows them and moves them through their
//! statuses, and may link one to a git repository for pull requests.

use super::access::{owned_task, Caller};
use super::error::{Error, Result};
use super::{pull_requests, AppState};
use crate::domain::ids::TaskId;
use crate::domain::page::Cursor;
use crate::domain::task::{self, TaskSource, TaskStatus};
use crate::domain::text::bounded;
use crate::storage::{NewTask, Owner, TaskFilter, TaskPage, TaskPatch, TaskRecord, UpdateOutcome};

/// A JSON object of facts about a run.
pub type Metadata = serde_json::Map<String, serde_json::Value>;

/// A task to register.
#[derive(Debug, Clone, Default)]
pub struct TaskInput {
    /// 1–200 characters, not blank.
    pub title: String,
    /// `None`: the task runs in cloud mode; else the machine it runs on.
    pub machine_id: Option<String>,
    /// What the agent was asked to do (owner-only; up to 100,000 characters).
    pub prompt: Option<String>,
    /// Which agent runs the task.
    pub agent: Option<String>,
    /// How the task comes in (not [`TaskSource::Otlp`]: those come from traces).
    pub source: TaskSource,
    /// Its id there, unique per owner and source.
    pub external_id: Option<String>,
    pub metadata: Option<Metadata>,
}

/// Changes to a task; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub status: Option<TaskStatus>,
    /// `Some(None)` moves the task to cloud mode.
    pub machine_id: Option<Option<String>>,
    /// `Some(None)` unlinks the repository.
    pub repository: Option<Option<String>>,
    /// The branch pull requests merge into (default `main`), with `repository`.
    pub base_branch: Option<String>,
    pub require_pr_approval: Option<bool>,
    /// `Some(None)` removes the metadata.
    pub metadata: Option<Option<Metadata>>,
}

fn optional_label(field: &str, value: Option<&str>) -> Result<Option<String>> {
    Ok(value.map(|v| bounded(field, v, 1, task::MAX_LABEL_CHARS, false)).transpose()?)
}

/// The stored form of `metadata`, within [`task::MAX_METADATA_BYTES`].
pub fn checked_metadata(metadata: &Metadata) -> Result<String> {
    let json = serde_json::Value::Object(metadata.clone()).to_string();
    if json.len() > task::MAX_METADATA_BYTES {
        return Err(Error::invalid(
            "metadata",
            format!("metadata must be at most {} bytes of JSON", task::MAX_METADATA_BYTES),
        ));
    }
    Ok(json)
}

/// Registers a task of `owner`, in `pending` status; [`Error::TaskExists`] when
/// the owner already has a task of the same source with the same `external_id`.
pub async fn create(state: &AppState, owner: &Owner, input: TaskInput) -> Result<TaskRecord> {
    if input.source == TaskSource::Otlp {
        return Err(Error::invalid("source", "otlp tasks are made from traces sent to /otlp/v1/traces"));
    }
    let task = NewTask {
        title: bounded("title", &input.title, 1, task::MAX_TITLE_CHARS, false)?,
        machine_id: optional_label("machine_id", input.machine_id.as_deref())?,
        prompt: input
            .prompt
            .as_deref()
            .map(|p| bounded("prompt", p, 0, task::MAX_PROMPT_CHARS, true))
            .transpose()?,
        agent: optional_label("agent", input.agent.as_deref())?,
        source: input.source,
        external_id: input
            .external_id
            .as_deref()
            .map(|id| bounded("external_id", id, 1, task::MAX_EXTERNAL_ID_CHARS, false))
            .transpose()?,
        metadata: input.metadata.as_ref().map(checked_metadata).transpose()?,
    };
    let record = state
        .db()
        .create_task(&owner.owner_id, &task)
        .await?
        .map_err(|task_id| Error::TaskExists { task_id })?;
    tracing::info!(task_id = %record.task_id, owner_id = %owner.owner_id, "task created");
    Ok(record)
}

/// The task, for a caller who may see it; viewers see secrets in its prompt masked.
pub async fn get(state: &AppState, caller: &Caller, task_id: &TaskId) -> Result<TaskRecord> {
    let mut task = caller.task(state, task_id).await?;
    if !caller.is_owner() {
        if let Some(prompt) = &task.prompt {
            if let std::borrow::Cow::Owned(masked) = crate::domain::secrets::mask(prompt) {
                task.prompt = Some(masked);
            }
        }
    }
    Ok(task)
}

/// A page of `owner`'s tasks, newest first, those `filter` lets through.
pub async fn list(
    state: &AppState,
    owner: &Owner,
    filter: &TaskFilter,
    after: Option<Cursor>,
    limit: u32,
) -> Result<TaskPage> {
    if let Some(id) = &filter.external_id {
        bounded("external_id", id, 1, task::MAX_EXTERNAL_ID_CHARS, false)?;
    }
    Ok(state.db().list_tasks(&owner.owner_id, filter, after, limit).await?)
}

/// Changes `owner`'s task. Status moves along `pending → running → completed |
/// failed | cancelled` (a pending task may also finish directly); final statuses
/// never change, and setting the current status again changes nothing.
pub async fn update(
    state: &AppState,
    owner: &Owner,
    task_id: &TaskId,
    changes: TaskChanges,
) -> Result<TaskRecord> {
    let patch = TaskPatch {
        title: changes
            .title
            .as_deref()
            .map(|t| bounded("title", t, 1, task::MAX_TITLE_CHARS, false))
            .transpose()?,
        machine_id: match changes.machine_id {
            Some(Some(machine)) => Some(optional_label("machine_id", Some(&machine))?),
            Some(None) => Some(None),
            None => None,
        },
        status: changes.status,
        repository: match changes.repository {
            Some(link) => {
                // Ownership first: nothing about repositories is told about another's task.
                owned_task(state, owner, task_id).await?;
                match link {
                    Some(name) => {
                        let base = changes.base_branch.as_deref().unwrap_or("main");
                        Some(Some(
                            pull_requests::check_repository_link(
                                state,
                                &owner.owner_id,
                                name.trim(),
                                base.trim(),
                            )
                            .await?,
                        ))
                    }
                    None => Some(None),
                }
            }
            None if changes.base_branch.is_some() => {
                return Err(Error::invalid("base_branch", "base_branch is set together with repository"))
            }
            None => None,
        },
        require_pr_approval: changes.require_pr_approval,
        metadata: changes.metadata.map(|m| m.as_ref().map(checked_metadata).transpose()).transpose()?,
    };
    match state.db().update_task(&owner.owner_id, task_id, &patch).await? {
        UpdateOutcome::Updated(task) => {
            state.live().changed(Some(&task.task_id)).await;
            tracing::info!(task_id = %task.task_id, status = task.status.as_str(), "task updated");
            Ok(*task)
        }
        UpdateOutcome::NotFound => Err(Error::task_not_found(task_id)),
        UpdateOutcome::InvalidTransition { from, to } => {
            Err(Error::InvalidTransition { task_id: task_id.clone(), from, to })
        }
    }
}
