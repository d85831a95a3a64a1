//! Task share codes and the viewer sessions they issue.

use super::dialect::{dispatch, Tx};
use super::outbox::{self, OutboxEvent};
use super::{is_unique_violation, Db};
use crate::domain::ids::{OwnerId, TaskId, TaskShareId, ViewerSessionId};
use crate::domain::task_share::CodePermissions;
use crate::domain::time::Timestamp;

const SHARE_COLUMNS: &str =
    "task_share_id, task_id, owner_id, can_send_message, can_create_pr, can_approve_pr, \
     can_view_pr, can_merge_pr, expires_at, sessions_issued, last_used_at, created_at, revoked_at";

/// A task share code as stored (the code itself is derived, never stored).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskShareRecord {
    pub task_share_id: TaskShareId,
    pub task_id: TaskId,
    pub owner_id: OwnerId,
    pub can_send_message: bool,
    pub can_create_pr: bool,
    pub can_approve_pr: bool,
    pub can_view_pr: bool,
    pub can_merge_pr: bool,
    pub expires_at: Option<Timestamp>,
    pub sessions_issued: i64,
    pub last_used_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl TaskShareRecord {
    pub fn permissions(&self) -> CodePermissions {
        CodePermissions {
            can_send_message: self.can_send_message,
            can_create_pr: self.can_create_pr,
            can_approve_pr: self.can_approve_pr,
            can_view_pr: self.can_view_pr,
            can_merge_pr: self.can_merge_pr,
        }
    }

    /// Usable right now: not revoked, not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// A validated new share code for a task.
#[derive(Debug, Clone)]
pub struct NewTaskShare {
    pub task_share_id: TaskShareId,
    pub task_id: TaskId,
    pub owner_id: OwnerId,
    pub code_hash: String,
    pub permissions: CodePermissions,
    pub expires_at: Option<Timestamp>,
}

/// A live viewer session, with the permissions of the code that issued it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ViewerSession {
    pub session_id: ViewerSessionId,
    pub task_share_id: TaskShareId,
    pub task_id: TaskId,
    pub expires_at: Timestamp,
    pub can_send_message: bool,
    pub can_create_pr: bool,
    pub can_approve_pr: bool,
    pub can_view_pr: bool,
    pub can_merge_pr: bool,
}

impl ViewerSession {
    pub fn permissions(&self) -> CodePermissions {
        CodePermissions {
            can_send_message: self.can_send_message,
            can_create_pr: self.can_create_pr,
            can_approve_pr: self.can_approve_pr,
            can_view_pr: self.can_view_pr,
            can_merge_pr: self.can_merge_pr,
        }
    }
}

/// A new viewer session to store.
#[derive(Debug, Clone)]
pub struct NewViewerSession {
    pub session_id: ViewerSessionId,
    pub token_hash: String,
    pub expires_at: Timestamp,
}

/// A viewer session `v` that may still see its task, issued by a code `s` that is
/// live too, at `$2`.
pub(super) const LIVE_SESSION: &str = "v.revoked_at IS NULL AND v.expires_at > $2 \
     AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > $2)";

impl Db {
    /// Makes `share` the task's live code. Any previous code of the task is revoked
    /// in the same transaction, with every viewer session it issued: rotation cuts
    /// off the old code and its viewers at once.
    pub async fn replace_task_share(&self, share: &NewTaskShare) -> sqlx::Result<TaskShareRecord> {
        let mut attempt = 0;
        loop {
            match self.try_replace_task_share(share).await {
                // Two owners' requests raced to be the task's live code; try once more
                // now that the other one has committed.
                Err(err) if is_unique_violation(&err) && attempt < 3 => attempt += 1,
                other => return other,
            }
        }
    }

    async fn try_replace_task_share(&self, share: &NewTaskShare) -> sqlx::Result<TaskShareRecord> {
        let now = Timestamp::now();
        let p = share.permissions;
        let insert = format!(
            "INSERT INTO task_shares (task_share_id, task_id, owner_id, code_hash, can_send_message, can_create_pr, \
             can_approve_pr, can_view_pr, can_merge_pr, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING {SHARE_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE task_shares SET revoked_at = $2 WHERE task_id = $1 AND revoked_at IS NULL")
                .bind(&share.task_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE viewer_sessions SET revoked_at = $2 WHERE task_id = $1 AND revoked_at IS NULL",
            )
            .bind(&share.task_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let record = sqlx::query_as(&insert)
                .bind(&share.task_share_id)
                .bind(&share.task_id)
                .bind(&share.owner_id)
                .bind(&share.code_hash)
                .bind(p.can_send_message)
                .bind(p.can_create_pr)
                .bind(p.can_approve_pr)
                .bind(p.can_view_pr)
                .bind(p.can_merge_pr)
                .bind(share.expires_at)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(record)
        })
    }

    /// The task's current code (revoked or expired ones are not current).
    pub async fn live_task_share(&self, task_id: &TaskId) -> sqlx::Result<Option<TaskShareRecord>> {
        let sql = format!(
            "SELECT {SHARE_COLUMNS} FROM task_shares WHERE task_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2)"
        );
        dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql).bind(task_id).bind(Timestamp::now()).fetch_optional(pool).await
        })
    }

    /// Every live code of `owner_id`'s tasks, newest first.
    pub async fn live_task_shares_of(&self, owner_id: &OwnerId) -> sqlx::Result<Vec<TaskShareRecord>> {
        let sql = format!(
            "SELECT {SHARE_COLUMNS} FROM task_shares WHERE owner_id = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, task_share_id DESC"
        );
        dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql).bind(owner_id).bind(Timestamp::now()).fetch_all(pool).await
        })
    }

    /// Titles of `owner_id`'s tasks that have a live share (an active link or a live code).
    pub async fn titles_of_shared_tasks(&self, owner_id: &OwnerId) -> sqlx::Result<Vec<(TaskId, String)>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT task_id, title FROM tasks WHERE owner_id = $1 AND (\
                   task_id IN (SELECT task_id FROM share_links WHERE owner_id = $1 AND revoked_at IS NULL \
                     AND expires_at > $2 AND (max_views IS NULL OR view_count < max_views)) \
                   OR task_id IN (SELECT task_id FROM task_shares WHERE owner_id = $1 AND revoked_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > $2)))",
            )
            .bind(owner_id)
            .bind(Timestamp::now())
            .fetch_all(pool)
            .await
        })
    }

    /// Revokes the task's code and every viewer session it issued; `None` when the
    /// task had no live code.
    pub async fn revoke_task_share(&self, task_id: &TaskId) -> sqlx::Result<Option<TaskShareRecord>> {
        let now = Timestamp::now();
        let sql = format!(
            "UPDATE task_shares SET revoked_at = $2 WHERE task_id = $1 AND revoked_at IS NULL RETURNING {SHARE_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let revoked: Option<TaskShareRecord> =
                sqlx::query_as(&sql).bind(task_id).bind(now).fetch_optional(&mut *tx).await?;
            sqlx::query(
                "UPDATE viewer_sessions SET revoked_at = $2 WHERE task_id = $1 AND revoked_at IS NULL",
            )
            .bind(task_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(revoked)
        })
    }

    /// Revokes up to `limit` live codes of `owner_id` (only the code of `task_id`,
    /// when given) and every viewer session they issued, in one transaction, as
    /// [`Db::revoke_task_share`] revokes one; answers how many codes it revoked.
    pub async fn revoke_task_shares_batch(
        &self,
        owner_id: &OwnerId,
        task_id: Option<&TaskId>,
        limit: i64,
    ) -> sqlx::Result<u64> {
        let now = Timestamp::now();
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let revoked: Vec<TaskShareId> = sqlx::query_scalar(
                "UPDATE task_shares SET revoked_at = $2 WHERE owner_id = $1 AND revoked_at IS NULL \
                 AND task_share_id IN (SELECT task_share_id FROM task_shares WHERE owner_id = $1 \
                   AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
                   AND ($3 IS NULL OR task_id = $3) ORDER BY task_share_id LIMIT $4) \
                 RETURNING task_share_id",
            )
            .bind(owner_id)
            .bind(now)
            .bind(task_id)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            for task_share_id in &revoked {
                sqlx::query(
                    "UPDATE viewer_sessions SET revoked_at = $2 WHERE task_share_id = $1 AND revoked_at IS NULL",
                )
                .bind(task_share_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(revoked.len() as u64)
        })
    }

    /// The share whose code hashes to `code_hash`, in any state.
    pub async fn task_share_by_code(&self, code_hash: &str) -> sqlx::Result<Option<TaskShareRecord>> {
        let sql = format!("SELECT {SHARE_COLUMNS} FROM task_shares WHERE code_hash = $1");
        dispatch!(self.read(), |pool| sqlx::query_as(&sql).bind(code_hash).fetch_optional(pool).await)
    }

    /// Issues a viewer session for a live share: counted and stored in one
    /// transaction; `None` if the share stopped being live in the meantime.
    pub async fn open_viewer_session(
        &self,
        share: &TaskShareRecord,
        session: &NewViewerSession,
        accessed: &OutboxEvent,
    ) -> sqlx::Result<Option<TaskShareRecord>> {
        let now = Timestamp::now();
        let sql = format!(
            "UPDATE task_shares SET sessions_issued = sessions_issued + 1, last_used_at = $2 \
             WHERE task_share_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
             RETURNING {SHARE_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let updated: Option<TaskShareRecord> =
                sqlx::query_as(&sql).bind(&share.task_share_id).bind(now).fetch_optional(&mut *tx).await?;
            if updated.is_none() {
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO viewer_sessions (session_id, task_share_id, task_id, token_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&session.session_id)
            .bind(&share.task_share_id)
            .bind(&share.task_id)
            .bind(&session.token_hash)
            .bind(now)
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await?;
            outbox::write(&mut Tx::from(&mut tx), accessed, now).await?;
            tx.commit().await?;
            Ok(updated)
        })
    }

    /// The live session whose token hashes to `token_hash`: not revoked, not
    /// expired, and issued by a code that is itself still live.
    pub async fn viewer_session(&self, token_hash: &str) -> sqlx::Result<Option<ViewerSession>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(&format!(
                "SELECT v.session_id, v.task_share_id, v.task_id, v.expires_at, s.can_send_message, s.can_create_pr, \
                        s.can_approve_pr, s.can_view_pr, s.can_merge_pr \
                 FROM viewer_sessions v JOIN task_shares s ON s.task_share_id = v.task_share_id \
                 WHERE v.token_hash = $1 AND {LIVE_SESSION}",
            ))
            .bind(token_hash)
            .bind(Timestamp::now())
            .fetch_optional(pool)
            .await
        })
    }

    /// Ends one viewer session (the viewer left); its code and other sessions go on.
    pub async fn end_viewer_session(&self, session_id: &ViewerSessionId) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE viewer_sessions SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL",
            )
            .bind(session_id)
            .bind(Timestamp::now())
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// Records a code exchange by `client_key` and answers how many it made in the
    /// last `window_ms` (this one included). The attempt is committed before it is
    /// counted, so concurrent exchanges see each other.
    pub async fn count_code_exchange(
        &self,
        client_key: &str,
        window_ms: i64,
    ) -> sqlx::Result<(i64, Timestamp)> {
        let now = Timestamp::now();
        let since = Timestamp(now.millis() - window_ms);
        dispatch!(self.write(), |pool| {
            sqlx::query("INSERT INTO share_code_exchanges (exchange_id, client_key, attempted_at) VALUES ($1, $2, $3)")
                .bind(crate::domain::ids::new_id("exchange"))
                .bind(client_key)
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query("DELETE FROM share_code_exchanges WHERE client_key = $1 AND attempted_at <= $2")
                .bind(client_key)
                .bind(since)
                .execute(pool)
                .await?;
            sqlx::query_as(
                "SELECT COUNT(*), COALESCE(MIN(attempted_at), $3) FROM share_code_exchanges \
                 WHERE client_key = $1 AND attempted_at > $2",
            )
            .bind(client_key)
            .bind(since)
            .bind(now)
            .fetch_one(pool)
            .await
        })
    }
}
