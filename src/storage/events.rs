//! Events of a task, numbered 1, 2, 3… per task in the order they were appended.

use super::dialect::{dispatch, dispatch_tx, Tx, Variants};
use super::sql::Statements as _;
use super::Db;
use crate::domain::ids::TaskId;
use crate::domain::task::{Author, EventType};
use crate::domain::time::Timestamp;

const EVENT_COLUMNS: &str = "task_id, seq, event_type, name, content, private, author, created_at, event_key";

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
    /// The key it was appended with, unique within the task, if any.
    pub event_key: Option<String>,
}

/// A validated event to append.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub event_type: EventType,
    pub name: Option<String>,
    pub content: String,
    pub private: bool,
    pub author: Author,
    /// Unique within the task: an event with a key already used is not appended.
    pub key: Option<String>,
    /// When it happened, if not now (an imported transcript, a span).
    pub at: Option<Timestamp>,
}

impl NewEvent {
    /// An event of the owner's, happening now, without a key.
    pub fn new(event_type: EventType, name: Option<String>, content: String) -> NewEvent {
        NewEvent { event_type, name, content, private: false, author: Author::Owner, key: None, at: None }
    }
}

/// What appending an event did.
#[derive(Debug)]
pub enum Appended {
    /// The event was appended.
    New(EventRecord),
    /// An event with its key was there already, and is answered instead.
    Existing(EventRecord),
}

impl Appended {
    pub fn record(self) -> EventRecord {
        match self {
            Appended::New(record) | Appended::Existing(record) => record,
        }
    }
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
    /// and no duplicates even with concurrent writers on several instances. An event
    /// whose key the task has already seen is not appended: the stored one is
    /// answered. `None` when there is no such task.
    pub async fn append_event(&self, task_id: &TaskId, event: &NewEvent) -> sqlx::Result<Option<Appended>> {
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let appended = append_in(&mut Tx::from(&mut tx), task_id, event).await?;
            tx.commit().await?;
            Ok(appended)
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

/// Reads a task's row, locking it on PostgreSQL until the transaction ends (SQLite
/// has one writer at a time).
const LOCK_TASK: Variants = Variants {
    sqlite: "SELECT last_event_seq FROM tasks WHERE task_id = $1",
    postgres: "SELECT last_event_seq FROM tasks WHERE task_id = $1 FOR UPDATE",
};

/// [`Db::append_event`] inside a transaction of the caller's.
pub(crate) async fn append_in(
    tx: &mut Tx<'_, '_>,
    task_id: &TaskId,
    event: &NewEvent,
) -> sqlx::Result<Option<Appended>> {
    let now = Timestamp::now();
    let existing = format!("SELECT {EVENT_COLUMNS} FROM task_events WHERE task_id = $1 AND event_key = $2");
    let insert = format!(
        "INSERT INTO task_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {EVENT_COLUMNS}"
    );
    let lock = tx.backend().sql(&LOCK_TASK);
    dispatch_tx!(tx, |tx| {
        // The task's row is locked first, so that two appends with one key are
        // checked one after the other.
        let task: Option<i64> = sqlx::query_scalar(lock).bind(task_id).fetch_optional(&mut ***tx).await?;
        if task.is_none() {
            return Ok(None);
        }
        if let Some(key) = &event.key {
            let found: Option<EventRecord> =
                sqlx::query_as(&existing).bind(task_id).bind(key).fetch_optional(&mut ***tx).await?;
            if let Some(found) = found {
                return Ok(Some(Appended::Existing(found)));
            }
        }
        let seq: i64 = sqlx::query_scalar(
            "UPDATE tasks SET last_event_seq = last_event_seq + 1, updated_at = $2 \
             WHERE task_id = $1 RETURNING last_event_seq",
        )
        .bind(task_id)
        .bind(now)
        .fetch_one(&mut ***tx)
        .await?;
        let record = sqlx::query_as(&insert)
            .bind(task_id)
            .bind(seq)
            .bind(event.event_type)
            .bind(&event.name)
            .bind(&event.content)
            .bind(event.private)
            .bind(event.author)
            .bind(event.at.unwrap_or(now))
            .bind(&event.key)
            .fetch_one(&mut ***tx)
            .await?;
        Ok(Some(Appended::New(record)))
    })
}
