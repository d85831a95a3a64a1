//! Pull requests of a task, numbered 1, 2, 3… per task.

use super::dialect::dispatch;
use super::Db;
use crate::domain::ids::{PullRequestId, TaskId};
use crate::domain::task::{Author, PullRequestStatus};
use crate::domain::time::Timestamp;

const PR_COLUMNS: &str =
    "p.pr_id, p.task_id, p.number, p.title, p.description, p.head_branch, p.base_branch, \
     p.status, p.author, p.merge_commit, p.merged_diff, p.created_at, p.updated_at, p.merged_at, \
     (SELECT COUNT(*) FROM pull_request_approvals a WHERE a.pr_id = p.pr_id) AS approvals";

/// A pull request as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PullRequestRecord {
    pub pr_id: PullRequestId,
    pub task_id: TaskId,
    pub number: i64,
    pub title: String,
    pub description: Option<String>,
    pub head_branch: String,
    pub base_branch: String,
    pub status: PullRequestStatus,
    pub author: Author,
    pub merge_commit: Option<String>,
    /// JSON of the diff at merge time.
    pub merged_diff: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub merged_at: Option<Timestamp>,
    pub approvals: i64,
}

/// A validated pull request to open.
#[derive(Debug, Clone)]
pub struct NewPullRequest {
    pub title: String,
    pub description: Option<String>,
    pub head_branch: String,
    pub base_branch: String,
    pub author: Author,
}

impl Db {
    /// Opens a pull request on `task_id` with the task's next number.
    pub async fn create_pull_request(
        &self,
        task_id: &TaskId,
        pr: &NewPullRequest,
    ) -> sqlx::Result<Option<PullRequestRecord>> {
        let now = Timestamp::now();
        let pr_id = PullRequestId::generate();
        let select = format!("SELECT {PR_COLUMNS} FROM pull_requests p WHERE p.pr_id = $1");
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let number: Option<i64> = sqlx::query_scalar(
                "UPDATE tasks SET last_pr_number = last_pr_number + 1, updated_at = $2 WHERE task_id = $1 \
                 RETURNING last_pr_number",
            )
            .bind(task_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(number) = number else { return Ok(None) };
            sqlx::query(
                "INSERT INTO pull_requests (pr_id, task_id, number, title, description, head_branch, base_branch, \
                 status, author, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $9)",
            )
            .bind(&pr_id)
            .bind(task_id)
            .bind(number)
            .bind(&pr.title)
            .bind(&pr.description)
            .bind(&pr.head_branch)
            .bind(&pr.base_branch)
            .bind(pr.author)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let record = sqlx::query_as(&select).bind(&pr_id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(record))
        })
    }

    /// The task's pull requests, newest first.
    pub async fn list_pull_requests(&self, task_id: &TaskId) -> sqlx::Result<Vec<PullRequestRecord>> {
        let sql =
            format!("SELECT {PR_COLUMNS} FROM pull_requests p WHERE p.task_id = $1 ORDER BY p.number DESC");
        dispatch!(self.read(), |pool| sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await)
    }

    /// Pull request `number` of `task_id`.
    pub async fn get_pull_request(
        &self,
        task_id: &TaskId,
        number: i64,
    ) -> sqlx::Result<Option<PullRequestRecord>> {
        let sql = format!("SELECT {PR_COLUMNS} FROM pull_requests p WHERE p.task_id = $1 AND p.number = $2");
        dispatch!(self.read(), |pool| sqlx::query_as(&sql)
            .bind(task_id)
            .bind(number)
            .fetch_optional(pool)
            .await)
    }

    /// Records `approver`'s approval (once per approver); answers whether it is new.
    pub async fn approve_pull_request(&self, pr_id: &PullRequestId, approver: &str) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "INSERT INTO pull_request_approvals (pr_id, approver, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (pr_id, approver) DO NOTHING",
            )
            .bind(pr_id)
            .bind(approver)
            .bind(Timestamp::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
    }

    /// Marks an open pull request merged; `false` if it was not open any more.
    pub async fn mark_pull_request_merged(
        &self,
        pr_id: &PullRequestId,
        commit: &str,
        diff_json: &str,
    ) -> sqlx::Result<bool> {
        let now = Timestamp::now();
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE pull_requests SET status = 'merged', merge_commit = $2, merged_diff = $3, merged_at = $4, \
                 updated_at = $4 WHERE pr_id = $1 AND status = 'open'",
            )
            .bind(pr_id)
            .bind(commit)
            .bind(diff_json)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
    }
}
