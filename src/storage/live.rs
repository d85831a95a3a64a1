//! What live streams of tasks read, and how instances tell each other that a
//! task changed: on PostgreSQL a `NOTIFY` on [`CHANNEL`] after each change,
//! heard by every instance's [`Announcements`]; on SQLite there is one instance,
//! and nothing to tell.

use std::collections::HashSet;

use sqlx::postgres::PgListener;

use super::dialect::dispatch;
use super::task_shares::LIVE_SESSION;
use super::Db;
use crate::domain::ids::{TaskId, ViewerSessionId};
use crate::domain::time::Timestamp;

/// The PostgreSQL channel of task changes; the payload is the announcing
/// instance's id, a space and a task id (nothing after the space for changes
/// of many tasks at once).
pub const CHANNEL: &str = "agentshare_tasks";

/// What another instance announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// This task changed: events, status or who may view it.
    Task(TaskId),
    /// Any task may have changed (many at once, or announcements were missed
    /// while the connection was down).
    All,
}

impl Db {
    /// The viewer sessions of `task_id` that may still see it now: neither they
    /// nor their share code revoked or expired.
    pub async fn live_sessions(&self, task_id: &TaskId) -> sqlx::Result<HashSet<ViewerSessionId>> {
        let ids: Vec<ViewerSessionId> = dispatch!(self.read(), |pool| {
            sqlx::query_scalar(&format!(
                "SELECT v.session_id FROM viewer_sessions v JOIN task_shares s ON s.task_share_id = v.task_share_id \
                 WHERE v.task_id = $1 AND {LIVE_SESSION}"
            ))
            .bind(task_id)
            .bind(Timestamp::now())
            .fetch_all(pool)
            .await
        })?;
        Ok(ids.into_iter().collect())
    }

    /// Tells the other instances that `task` (or, with `None`, any task)
    /// changed, as the instance `instance`. Call it after the change is committed.
    pub async fn announce(&self, instance: &str, task: Option<&TaskId>) -> sqlx::Result<()> {
        if let Db::Postgres(pool) = self {
            let payload = format!("{instance} {}", task.map_or("", TaskId::as_str));
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(pool).await?;
        }
        Ok(())
    }

    /// What instances other than `instance` announce, on PostgreSQL; `None` on SQLite.
    pub async fn announcements(&self, instance: &str) -> sqlx::Result<Option<Announcements>> {
        let Db::Postgres(pool) = self else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Announcements { listener, own: format!("{instance} ") }))
    }
}

/// Announcements of other instances.
pub struct Announcements {
    listener: PgListener,
    /// How this instance's own announcements begin: they are skipped.
    own: String,
}

impl Announcements {
    /// The next announcement. After the connection was lost (it reconnects by
    /// itself), [`Announcement::All`]: what was announced meanwhile is unknown.
    pub async fn next(&mut self) -> sqlx::Result<Announcement> {
        loop {
            let Some(notification) = self.listener.try_recv().await? else {
                return Ok(Announcement::All);
            };
            let payload = notification.payload();
            if payload.starts_with(&self.own) {
                continue;
            }
            return Ok(match payload.split_once(' ') {
                Some((_, "")) | None => Announcement::All,
                Some((_, task)) => Announcement::Task(TaskId::from(task)),
            });
        }
    }
}
