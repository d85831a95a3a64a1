//! Tasks.

use super::dialect::dispatch;
use super::{next_page, Db};
use crate::domain::ids::{OwnerId, TaskId};
use crate::domain::page::Cursor;
use crate::domain::task::{TaskSource, TaskStatus};
use crate::domain::time::Timestamp;

pub(crate) const TASK_COLUMNS: &str = "task_id, owner_id, title, prompt, agent, machine_id, status, \
     last_event_seq, created_at, updated_at, started_at, finished_at, repository, base_branch, \
     require_pr_approval, source, external_id, metadata";

/// A task as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskRecord {
    pub task_id: TaskId,
    pub owner_id: OwnerId,
    pub title: String,
    pub prompt: Option<String>,
    pub agent: Option<String>,
    pub machine_id: Option<String>,
    pub status: TaskStatus,
    /// Sequence number of the newest event (0 when there is none).
    pub last_event_seq: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Name of the task's git repository under `--repositories-dir`, if linked.
    pub repository: Option<String>,
    /// Branch pull requests merge into.
    pub base_branch: Option<String>,
    /// Whether a pull request needs an approval before it can be merged.
    pub require_pr_approval: bool,
    /// How the task came in.
    pub source: TaskSource,
    /// Its id where it came from (unique per owner and source), if any.
    pub external_id: Option<String>,
    /// A JSON object (model, token usage, duration…), if any.
    pub metadata: Option<String>,
}

/// A validated request to create a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: String,
    pub prompt: Option<String>,
    pub agent: Option<String>,
    pub machine_id: Option<String>,
    pub source: TaskSource,
    pub external_id: Option<String>,
    /// A JSON object.
    pub metadata: Option<String>,
}

impl NewTask {
    /// A task with only a title, from the API, in cloud mode.
    pub fn titled(title: impl Into<String>) -> NewTask {
        NewTask {
            title: title.into(),
            prompt: None,
            agent: None,
            machine_id: None,
            source: TaskSource::Api,
            external_id: None,
            metadata: None,
        }
    }
}

/// Which of an owner's tasks to list.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    pub source: Option<TaskSource>,
    pub external_id: Option<String>,
}

/// A validated change to a task; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    /// `Some(None)` moves the task to cloud mode.
    pub machine_id: Option<Option<String>>,
    pub status: Option<TaskStatus>,
    /// `Some(None)` unlinks the repository; linking sets `base_branch` too.
    pub repository: Option<Option<(String, String)>>,
    pub require_pr_approval: Option<bool>,
    /// `Some(None)` removes the metadata.
    pub metadata: Option<Option<String>>,
}

/// What became of an update.
#[derive(Debug)]
pub enum UpdateOutcome {
    Updated(Box<TaskRecord>),
    NotFound,
    InvalidTransition { from: TaskStatus, to: TaskStatus },
}

/// One page of an owner's tasks, newest first.
#[derive(Debug)]
pub struct TaskPage {
    pub tasks: Vec<TaskRecord>,
    /// Where the next page starts (after the last task of this one), if any.
    pub next: Option<Cursor>,
}

impl Db {
    /// Stores a new task of `owner_id`; `Err(existing)` when the owner already has a
    /// task with the same source and `external_id`.
    pub async fn create_task(
        &self,
        owner_id: &OwnerId,
        task: &NewTask,
    ) -> sqlx::Result<Result<TaskRecord, TaskId>> {
        let now = Timestamp::now();
        let sql = format!(
            "INSERT INTO tasks (task_id, owner_id, title, prompt, agent, machine_id, status, created_at, updated_at, \
             source, external_id, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11) \
             ON CONFLICT (owner_id, source, external_id) WHERE external_id IS NOT NULL DO NOTHING \
             RETURNING {TASK_COLUMNS}"
        );
        let created: Option<TaskRecord> = dispatch!(self.write(), |pool| {
            sqlx::query_as(&sql)
                .bind(TaskId::generate())
                .bind(owner_id)
                .bind(&task.title)
                .bind(&task.prompt)
                .bind(&task.agent)
                .bind(&task.machine_id)
                .bind(TaskStatus::Pending)
                .bind(now)
                .bind(task.source)
                .bind(&task.external_id)
                .bind(&task.metadata)
                .fetch_optional(pool)
                .await
        })?;
        if let Some(created) = created {
            return Ok(Ok(created));
        }
        let existing = self
            .task_by_external_id(owner_id, task.source, task.external_id.as_deref().unwrap_or_default())
            .await?;
        match existing {
            Some(existing) => Ok(Err(existing.task_id)),
            // Only a conflict on the external id inserts nothing.
            None => Err(sqlx::Error::RowNotFound),
        }
    }

    /// Sets when a task was created, started and finished (the demo's sample task,
    /// so that it reads like a run that took its time).
    pub async fn set_task_times(
        &self,
        task_id: &TaskId,
        created: Timestamp,
        started: Timestamp,
        finished: Timestamp,
    ) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
            "UPDATE tasks SET created_at = $2, started_at = $3, finished_at = $4, updated_at = $4 WHERE task_id = $1"
        )
        .bind(task_id)
        .bind(created)
        .bind(started)
        .bind(finished)
        .execute(pool)
        .await
        .map(|_| ())
        })
    }

    /// `owner_id`'s task from `source` with `external_id`, if any.
    pub async fn task_by_external_id(
        &self,
        owner_id: &OwnerId,
        source: TaskSource,
        external_id: &str,
    ) -> sqlx::Result<Option<TaskRecord>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE owner_id = $1 AND source = $2 AND external_id = $3"
        );
        dispatch!(self.read(), |pool| sqlx::query_as(&sql)
            .bind(owner_id)
            .bind(source)
            .bind(external_id)
            .fetch_optional(pool)
            .await)
    }

    /// The task `task_id`, whoever owns it. Callers check ownership.
    pub async fn get_task(&self, task_id: &TaskId) -> sqlx::Result<Option<TaskRecord>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE task_id = $1");
        dispatch!(self.read(), |pool| sqlx::query_as(&sql).bind(task_id).fetch_optional(pool).await)
    }

    /// The task `task_id` if `owner_id` owns it.
    pub async fn get_owned_task(
        &self,
        owner_id: &OwnerId,
        task_id: &TaskId,
    ) -> sqlx::Result<Option<TaskRecord>> {
        Ok(self.get_task(task_id).await?.filter(|t| t.owner_id == *owner_id))
    }

    /// A page of `owner_id`'s tasks, newest first, those `filter` lets through.
    pub async fn list_tasks(
        &self,
        owner_id: &OwnerId,
        filter: &TaskFilter,
        after: Option<Cursor>,
        limit: u32,
    ) -> sqlx::Result<TaskPage> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM tasks \
             WHERE owner_id = $1 AND ($2 IS NULL OR status = $2) \
               AND (created_at < $3 OR (created_at = $3 AND task_id < $4)) \
               AND ($6 IS NULL OR source = $6) AND ($7 IS NULL OR external_id = $7) \
             ORDER BY created_at DESC, task_id DESC LIMIT $5"
        );
        let after = after.unwrap_or(Cursor { at: Timestamp(i64::MAX), id: String::new() });
        let mut tasks: Vec<TaskRecord> = dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql)
                .bind(owner_id)
                .bind(filter.status)
                .bind(after.at)
                .bind(&after.id)
                .bind(i64::from(limit) + 1)
                .bind(filter.source)
                .bind(&filter.external_id)
                .fetch_all(pool)
                .await
        })?;
        let next = next_page(&mut tasks, limit, |t| Cursor { at: t.created_at, id: t.task_id.to_string() });
        Ok(TaskPage { tasks, next })
    }

    /// Applies `patch` to `owner_id`'s task. The status changes only along the
    /// documented transitions; the check and the write are one conditional UPDATE,
    /// retried if another writer changed the status in between.
    pub async fn update_task(
        &self,
        owner_id: &OwnerId,
        task_id: &TaskId,
        patch: &TaskPatch,
    ) -> sqlx::Result<UpdateOutcome> {
        let sql = format!(
            "UPDATE tasks SET title = COALESCE($3, title), \
                 machine_id = CASE WHEN $4 THEN $5 ELSE machine_id END, \
                 status = $6, \
                 started_at = CASE WHEN $7 THEN COALESCE(started_at, $9) ELSE started_at END, \
                 finished_at = CASE WHEN $8 THEN COALESCE(finished_at, $9) ELSE finished_at END, \
                 repository = CASE WHEN $11 THEN $12 ELSE repository END, \
                 base_branch = CASE WHEN $11 THEN $13 ELSE base_branch END, \
                 require_pr_approval = COALESCE($14, require_pr_approval), \
                 metadata = CASE WHEN $15 THEN $16 ELSE metadata END, \
                 updated_at = $9 \
             WHERE task_id = $1 AND owner_id = $2 AND status = $10 RETURNING {TASK_COLUMNS}"
        );
        loop {
            let Some(current) = self.get_owned_task(owner_id, task_id).await? else {
                return Ok(UpdateOutcome::NotFound);
            };
            let next = patch.status.unwrap_or(current.status);
            if !current.status.can_become(next) {
                return Ok(UpdateOutcome::InvalidTransition { from: current.status, to: next });
            }
            let updated: Option<TaskRecord> = dispatch!(self.write(), |pool| {
                sqlx::query_as(&sql)
                    .bind(task_id)
                    .bind(owner_id)
                    .bind(&patch.title)
                    .bind(patch.machine_id.is_some())
                    .bind(patch.machine_id.clone().flatten())
                    .bind(next)
                    .bind(next != TaskStatus::Pending)
                    .bind(next.is_final())
                    .bind(Timestamp::now())
                    .bind(current.status)
                    .bind(patch.repository.is_some())
                    .bind(patch.repository.clone().flatten().map(|(repo, _)| repo))
                    .bind(patch.repository.clone().flatten().map(|(_, base)| base))
                    .bind(patch.require_pr_approval)
                    .bind(patch.metadata.is_some())
                    .bind(patch.metadata.clone().flatten())
                    .fetch_optional(pool)
                    .await
            })?;
            if let Some(task) = updated {
                return Ok(UpdateOutcome::Updated(Box::new(task)));
            }
            // The status changed under us: look again and re-check the transition.
        }
    }
}
