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
pub mod cache;
mod comments;
mod console;
pub(crate) mod dialect;
mod events;
pub(crate) mod outbox;
mod owners;
mod pull_requests;
mod share_links;
pub(crate) mod sql;
mod task_shares;
mod tasks;
mod types;
mod webhooks;
mod writer;

pub use artifacts::{ArtifactContent, ArtifactRecord, NewArtifact};
pub use cache::{ContentCache, LinkCache, ShownOutput, TaskContent};
pub use comments::{CommentRecord, CommentStatus, NewComment};
pub use console::ConsoleSession;
pub use dialect::Backend;
pub use events::{EventPage, EventRecord, NewEvent};
pub use outbox::OutboxEvent;
pub use owners::{ApiKeyRecord, Owner};
pub use pull_requests::{NewPullRequest, PullRequestRecord};
pub use share_links::{
    Analytics, Attempt, AttemptLimits, CountedView, LinkChange, LinkPage, NewShareLink, NewView,
    PendingViewMail, ShareLinkPatch, ShareLinkRecord, TaskFacts, DIMENSIONS,
};
pub use task_shares::{NewTaskShare, NewViewerSession, TaskShareRecord, ViewerSession};
pub use tasks::{NewTask, TaskPage, TaskPatch, TaskRecord, UpdateOutcome};
pub use webhooks::{AttemptRecord, AttemptResult, DueDelivery, WebhookPatch, WebhookRecord};
pub use writer::{PendingView, ViewOutcome, ViewedLink, WriteError, Writer, MAX_BATCH};

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::domain::page::Cursor;
use crate::domain::time::Timestamp;
use dialect::{dispatch, Conn};

/// How long a SQLite connection waits for the write lock (held by another process,
/// or by the other of the pool's writer and the view writer) before it fails.
/// The view writer's connection is set up as the pool's are: WAL (persistent, set
/// by the pool), `synchronous = NORMAL`, foreign keys on, and this timeout.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the service's database; cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite {
        /// Readers; many connections, WAL lets them run beside the writer.
        read: SqlitePool,
        /// The single writer connection.
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// The database, with what this instance keeps beside it: the [`Writer`] of views
/// (and, on SQLite, of new links), and caches of what viewers are shown.
pub struct Store {
    db: Db,
    writer: Writer,
    links: LinkCache,
    content: ContentCache,
}

impl Store {
    /// The store of `db`, starting its writer (on the current runtime).
    pub fn new(db: Db) -> Store {
        Store {
            writer: Writer::start(db.clone()),
            links: LinkCache::new(cache::LINKS_CACHED),
            content: ContentCache::new(cache::TASKS_CACHED, cache::LARGEST_CONTENT_CACHED),
            db,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
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

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Upper bound on pooled connections (PostgreSQL, and SQLite readers).
    pub max_connections: u32,
}

impl Db {
    /// Connects to the database named by `options.url`, creating a SQLite file (and
    /// its directory) when it does not exist yet. Does not run migrations.
    pub async fn connect(options: &DbOptions) -> anyhow::Result<Db> {
        let url = options.url.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Db::Postgres(pool))
        } else if let Some(path) = url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path.contains(":memory:") {
                anyhow::bail!(
                    "the SQLite database must be a file path, e.g. sqlite://./agentshare-data/agentshare.db"
                );
            }
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
            }
            let connect = SqliteConnectOptions::from_str(url)
                .context("invalid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a committed transaction survives a crash of the process;
                // only an OS crash or power loss can lose the last few.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                // A local file does not go stale: no ping before every write.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect.clone())
                .await
                .with_context(|| format!("cannot open SQLite database {path}"))?;
            let read = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect.read_only(true))
                .await
                .with_context(|| format!("cannot open SQLite database {path}"))?;
            Ok(Db::Sqlite { read, write })
        } else {
            anyhow::bail!("unsupported database URL (expected sqlite://PATH or postgres://...)")
        }
    }

    /// Brings the schema up to date. Safe to run from several instances at once:
    /// PostgreSQL migrations take an advisory lock.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite").run(write).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// The service-wide secret called `name`, created from `fresh` on first use. All
    /// instances sharing a database agree on it.
    pub async fn service_secret(&self, name: &str, fresh: &str) -> sqlx::Result<String> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "INSERT INTO service_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .bind(Timestamp::now())
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT value FROM service_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
        })
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers whether the database can serve a query right now.
    pub async fn ping(&self) -> bool {
        dispatch!(self.read(), |pool| sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) fn read(&self) -> Conn<'_> {
        match self {
            Db::Sqlite { read, .. } => Conn::Sqlite(read),
            Db::Postgres(pool) => Conn::Postgres(pool),
        }
    }

    pub(crate) fn write(&self) -> Conn<'_> {
        match self {
            Db::Sqlite { write, .. } => Conn::Sqlite(write),
            Db::Postgres(pool) => Conn::Postgres(pool),
        }
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
