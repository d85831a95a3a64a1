//! Storage: one API over two backends.
//!
//! [`Db`] is either an embedded SQLite database (the default, no setup) or a
//! PostgreSQL pool (the scale-out backend, shared by several instances). Every query
//! is written once, in SQL both backends accept; [`dialect`] is the one place where
//! they differ. [`Store`] is the database with what an instance keeps beside it:
//! the writer that counts views ([`writer`]) and caches of what viewers see.
//!
//! SQLite gets two pools: many readers and exactly one writer. SQLite admits one
//! writer at a time anyway; funnelling writes through one connection turns lock
//! contention (`SQLITE_BUSY`) into an orderly queue inside the process. The view
//! writer has a connection of its own (see `writer::sqlite`), and takes its turn in
//! that queue by holding the writer's connection while each batch writes.

mod artifacts;
pub mod backup;
pub mod cache;
mod comments;
mod console;
pub(crate) mod dialect;
mod events;
pub mod live;
mod otlp;
pub(crate) mod outbox;
mod owners;
mod policies;
mod pull_requests;
mod repositories;
pub mod retention;
mod share_links;
pub(crate) mod sql;
mod task_shares;
mod tasks;
mod types;
mod webhooks;
mod writer;

pub use artifacts::{ArtifactFile, ArtifactRecord, NewArtifact, CHUNK_BYTES as ARTIFACT_CHUNK_BYTES};
pub use cache::{ContentCache, LinkCache, ShownOutput, TaskContent};
pub use comments::{CommentBounds, CommentRecord, CommentRefusal, CommentStatus, NewComment};
pub use console::ConsoleSession;
pub(crate) use dialect::SQLITE_BUSY_TIMEOUT;
pub use dialect::{sqlite_file, Backend, Db, DbOptions};
pub use events::{Appended, EventPage, EventRecord, NewEvent};
pub use otlp::{RootSpan, RunOutcome, RunUpdate, SpanUpdate, ANSWER_NAME, ASSISTANT};
pub use outbox::OutboxEvent;
pub use owners::{ApiKeyRecord, Owner};
pub use pull_requests::{NewPullRequest, PullRequestRecord};
pub use repositories::RepositoryGrant;
pub use share_links::{
    ActivityPage, ActivityRecord, Analytics, Attempt, AttemptLimits, CountedView, LinkChange, LinkPage,
    MailBounds, NewActivity, NewShareLink, NewVerification, NewView, PendingViewMail, ShareLinkPatch,
    ShareLinkRecord, TaskFacts, DIMENSIONS, VIEWER_DIMENSION,
};
pub use task_shares::{NewTaskShare, NewViewerSession, TaskShareRecord, ViewerSession};
pub use tasks::{NewTask, TaskFilter, TaskPage, TaskPatch, TaskRecord, UpdateOutcome};
pub use webhooks::{AttemptRecord, AttemptResult, DueDelivery, OutboxLevel, WebhookPatch, WebhookRecord};
pub use writer::{PendingView, ViewOutcome, ViewedLink, WriteError, Writer, MAX_BATCH};

use crate::domain::page::Cursor;
use crate::metrics::Metrics;

/// The database, with what this instance keeps beside it: the [`Writer`] of views
/// (and, on SQLite, of new links), and caches of what viewers are shown.
pub struct Store {
    db: Db,
    writer: Writer,
    links: LinkCache,
    content: ContentCache,
}

impl Store {
    /// The store of `db`, starting its writer (on the current runtime), which
    /// records its batches in `metrics`.
    pub fn new(db: Db, metrics: Metrics) -> Store {
        Store {
            writer: Writer::start(db.clone(), metrics),
            links: LinkCache::new(cache::LINKS_CACHED),
            content: ContentCache::new(cache::TASKS_CACHED, cache::LARGEST_CONTENT_CACHED),
            db,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether this instance's writer of views is running.
    pub fn writer_is_running(&self) -> bool {
        self.writer.is_running()
    }

    /// Links viewers opened lately.
    pub fn links(&self) -> &LinkCache {
        &self.links
    }

    /// What tasks show viewers.
    pub fn content(&self) -> &ContentCache {
        &self.content
    }

    /// Stores a new link with its `share_link.created` event; `Ok(None)` when its
    /// id, token or short code is taken. On SQLite, links asked for at once are
    /// committed together by the writer.
    pub async fn insert_share_link(&self, link: NewShareLink) -> Result<Option<ShareLinkRecord>, WriteError> {
        self.writer.insert_link(&self.db, link).await
    }

    /// Counts one view of `link` (see [`Writer::count_view`]).
    pub async fn count_view(&self, link: &ShareLinkRecord, view: NewView) -> Result<ViewOutcome, WriteError> {
        self.writer.count_view(link, view).await
    }
}

/// `Ok(None)` for an insert refused as a duplicate of an existing row.
pub(crate) fn none_if_duplicate<T>(inserted: sqlx::Result<T>) -> sqlx::Result<Option<T>> {
    match inserted {
        Ok(record) => Ok(Some(record)),
        Err(err) if is_unique_violation(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Keyset pagination: `rows` were fetched with `limit + 1`; cuts them to `limit`
/// and answers where the next page starts (the key of the last row kept), if there
/// is a next page.
pub(crate) fn next_page<T>(rows: &mut Vec<T>, limit: u32, key: impl Fn(&T) -> Cursor) -> Option<Cursor> {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(key)
    } else {
        None
    }
}

/// True when `err` is a unique-constraint violation (a duplicate key).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
