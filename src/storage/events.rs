//! Events of a task, numbered 1, 2, 3… per task in the order they were appended.

use super::dialect::dispatch;
use super::Db;
use crate::domain::ids::TaskId;
use crate::domain::task::{Author, EventType};
use crate::domain::time::Timestamp;

const EVENT_COLUMNS: &str = "task_id, seq, event_type, name, content, private, author, created_at";

/// An event as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRecord {
    pub task_id: TaskId,
    pub seq: i64,
    pub event_type: EventType,
    pub name: Option<String>,
    pub content: String,
    /// Private events are the owner's alone: never shown to anyone a task is shared with.
    pub private: bool,
    pub author: Author,
    pub created_at: Timestamp,
}

/// A validated event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub name: Option<String>,
    pub content: String,
    pub private: bool,
    pub author: Author,
}

/// A page of events in sequence order.
#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<EventRecord>,
    pub has_more: bool,
}

impl Db {
    /// Appends `event` to `task_id`, giving it the task's next sequence number. The
    /// counter and the event are written in one transaction, so numbers have no gaps
    /// and no duplicates even with concurrent writers on several instances.
    pub async fn append_event(
        &self,
        task_id: &TaskId,
        event: &NewEvent,
    ) -> sqlx::Result<Option<EventRecord>> {
        let now = Timestamp::now();
        let insert = format!(
            "INSERT INTO task_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {EVENT_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let seq: Option<i64> = sqlx::query_scalar(
                "UPDATE tasks SET last_event_seq = last_event_seq + 1, updated_at = $2 \
                 WHERE task_id = $1 RETURNING last_event_seq",
            )
            .bind(task_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(seq) = seq else { return Ok(None) };
            let record = sqlx::query_as(&insert)
                .bind(task_id)
                .bind(seq)
                .bind(event.event_type)
                .bind(&event.name)
                .bind(&event.content)
                .bind(event.private)
                .bind(event.author)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(record))
        })
    }

    /// Up to `limit` events of `task_id` with a sequence number above `after`, in
    /// order; only those of `event_type` when given, and no private ones unless
    /// `include_private`.
    pub async fn list_events(
        &self,
        task_id: &TaskId,
        after: i64,
        event_type: Option<EventType>,
        include_private: bool,
        limit: u32,
    ) -> sqlx::Result<EventPage> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM task_events \
             WHERE task_id = $1 AND seq > $2 AND ($3 IS NULL OR event_type = $3) AND ($4 OR NOT private) \
             ORDER BY seq LIMIT $5"
        );
        let mut events: Vec<EventRecord> = dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql)
                .bind(task_id)
                .bind(after)
                .bind(event_type)
                .bind(include_private)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        let has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        Ok(EventPage { events, has_more })
    }
}
