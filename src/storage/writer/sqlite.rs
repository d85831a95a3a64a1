//! The SQLite writer: a thread of its own with a connection of its own, which runs
//! each batch's statements itself — no statement crosses a channel. It takes views
//! to count and links to create.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Instant;

use futures_util::FutureExt as _;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{OpenFlags, OptionalExtension as _, TransactionBehavior};
use sqlx::SqlitePool;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::counting::{count_batch, record_each, Counting, LinkNow, Records, LINK_NOW};
use super::{answer, split, Answer, PendingView, ViewOutcome, Waiting, WriteError, MAX_BATCH};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::metrics::Metrics;
use crate::storage::dialect::Backend;
use crate::storage::share_links::{insert_link, NewShareLink, ShareLinkRecord, TaskFacts};
use crate::storage::sql::{insert_in_chunks, Rows, Statements, Value};
use crate::storage::SQLITE_BUSY_TIMEOUT;

/// Work for the writer thread.
pub(super) enum Job {
    View(Waiting),
    Link(NewLink),
}

/// A link to create, with where its answer goes.
pub(super) struct NewLink {
    pub(super) link: NewShareLink,
    pub(super) answer: Answer<Option<ShareLinkRecord>>,
}

/// What became of a link to create: stored, or `None` when its id, token or
/// short code is taken; or why it could not be.
type Made = Result<Option<ShareLinkRecord>, WriteError>;

impl ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(n)),
            Value::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(b))),
            Value::NoText | Value::NoInt => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

/// Statements on the writer's own SQLite transaction. Nothing here waits: each
/// future is ready when first polled.
struct Direct<'t, 'c>(&'t rusqlite::Transaction<'c>);

/// `sql` with `$n` written `?n`: SQLite numbers `$n` by first appearance, `?n` by `n`.
fn numbered(sql: &str) -> Cow<'_, str> {
    if sql.contains('$') {
        Cow::Owned(sql.replace('$', "?"))
    } else {
        Cow::Borrowed(sql)
    }
}

impl Statements for Direct<'_, '_> {
    type Error = rusqlite::Error;

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> rusqlite::Result<u64> {
        let mut statement = self.0.prepare_cached(&numbered(sql))?;
        Ok(statement.execute(rusqlite::params_from_iter(values))? as u64)
    }

    async fn insert(&mut self, rows: Rows<'_>) -> rusqlite::Result<u64> {
        insert_in_chunks(self, rows).await
    }
}

impl Counting for Direct<'_, '_> {
    async fn link_now(&mut self, share_link_id: &str, at: Timestamp) -> rusqlite::Result<Option<LinkNow>> {
        let mut statement = self.0.prepare_cached(&numbered(LINK_NOW))?;
        statement
            .query_row((share_link_id, at.millis()), |row| {
                let status: String = row.get(3)?;
                let status = TaskStatus::parse(&status).ok_or_else(|| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Text,
                        format!("unknown task status {status:?}").into(),
                    )
                })?;
                let at = |n: usize| row.get::<_, Option<i64>>(n).map(|t| t.map(Timestamp));
                Ok(LinkNow {
                    view_count: row.get(0)?,
                    max_views: row.get(1)?,
                    version: row.get(2)?,
                    task: TaskFacts {
                        status,
                        agent: row.get(4)?,
                        created_at: Timestamp(row.get(5)?),
                        started_at: at(6)?,
                        finished_at: at(7)?,
                        last_event_seq: row.get(8)?,
                        artifacts_version: row.get(9)?,
                    },
                })
            })
            .optional()
    }

    async fn record(&mut self, records: &Records<'_>) -> rusqlite::Result<()> {
        record_each(self, records).await
    }
}

/// Runs a future of [`Direct`]'s statements, which is ready at once.
fn at_once<T>(work: impl std::future::Future<Output = rusqlite::Result<T>>) -> rusqlite::Result<T> {
    work.now_or_never().expect("statements on the writer's own connection never wait")
}

/// Opens the writer's connection to the SQLite file at `path`, set up as the
/// pool's connections are (see [`SQLITE_BUSY_TIMEOUT`]).
fn open(path: &Path) -> rusqlite::Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    // The database is in WAL mode already (the pool set it, and it persists).
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

/// Starts the writer thread for the SQLite database behind `gate`, the pool of
/// its one writing connection.
pub(super) fn start(gate: SqlitePool, jobs: mpsc::Receiver<Job>, metrics: Metrics) {
    let path = gate.connect_options().get_filename().to_owned();
    let runtime = Handle::current();
    std::thread::Builder::new()
        .name("view-writer".into())
        .spawn(move || Thread { path, gate, runtime, connection: None, metrics }.run(jobs))
        .expect("the view writer's thread starts");
}

/// The writer thread's connection, opened when first needed.
struct Thread {
    path: std::path::PathBuf,
    gate: SqlitePool,
    runtime: Handle,
    connection: Option<rusqlite::Connection>,
    metrics: Metrics,
}

impl Thread {
    /// Takes what has queued up (at least one job): the views in one
    /// transaction, the new links in another, answers, and starts over; it
    /// ends when every handle is dropped.
    fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut views: Vec<Waiting> = Vec::with_capacity(MAX_BATCH);
        let mut links: Vec<NewLink> = Vec::new();
        while let Some(first) = jobs.blocking_recv() {
            let mut next = Some(first);
            while let Some(job) = next {
                match job {
                    Job::View(waiting) => views.push(waiting),
                    Job::Link(link) => links.push(link),
                }
                next = (views.len() + links.len() < MAX_BATCH).then(|| jobs.try_recv().ok()).flatten();
            }
            // Requests are answered from the runtime, by one task per batch: waking
            // each request's task from this thread would cost a cross-thread wake
            // (and often a worker's futex) per request; from a worker of the
            // runtime it is a push onto that worker's own queue.
            if let Some((pending, answers)) = split(&mut views) {
                let started = Instant::now();
                let written = self.in_turn(|connection| commit(connection, &pending, Timestamp::now()));
                let (metrics, took) = (self.metrics.clone(), started.elapsed());
                drop(self.runtime.spawn(async move { answer(answers, written, &metrics, took) }));
            }
            // A request given up on (its client left, or it timed out) creates nothing.
            links.retain(|l| !l.answer.is_closed());
            if !links.is_empty() {
                let new: Vec<&NewShareLink> = links.iter().map(|l| &l.link).collect();
                let made = self.in_turn(|connection| create(connection, &new));
                let links = std::mem::take(&mut links);
                drop(self.runtime.spawn(async move {
                    match made {
                        Ok(made) => {
                            for (link, made) in links.into_iter().zip(made) {
                                let _ = link.answer.send(made);
                            }
                        }
                        Err(err) => {
                            for link in links {
                                let _ = link.answer.send(Err(err.clone()));
                            }
                        }
                    }
                }));
            }
        }
    }

    /// Runs `write` on the connection, in its turn behind the pool's one
    /// writing connection.
    ///
    /// SQLite admits one writer at a time, and the service's other writes go
    /// through the pool's one connection: each batch holds that connection while
    /// it writes, so writers take turns in the pool's queue instead of meeting
    /// `SQLITE_BUSY`. A panic fails its batch (the transaction rolls back as it
    /// unwinds); the next batch opens a new connection.
    fn in_turn<T>(
        &mut self,
        write: impl FnOnce(&mut rusqlite::Connection) -> Result<T, WriteError>,
    ) -> Result<T, WriteError> {
        let Thread { path, gate, runtime, connection, .. } = self;
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                let _turn = gate.acquire().await.map_err(WriteError::database)?;
                let connection = match connection {
                    Some(connection) => connection,
                    None => connection.insert(open(path).map_err(WriteError::database)?),
                };
                write(connection)
            })
        }))
        .unwrap_or_else(|_| {
            *connection = None;
            Err(WriteError::Panicked)
        })
    }
}

/// Creates `links` in one transaction of `connection`, each in a savepoint of
/// its own: what becomes of each (stored, or its id, token or short code
/// taken, or its error), or the error that kept the transaction from committing.
fn create(connection: &mut rusqlite::Connection, links: &[&NewShareLink]) -> Result<Vec<Made>, WriteError> {
    let tx =
        connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(WriteError::database)?;
    let mut made = Vec::with_capacity(links.len());
    for link in links {
        tx.execute_batch("SAVEPOINT new_link").map_err(WriteError::database)?;
        let stored = at_once(insert_link(&mut Direct(&tx), link, Timestamp::now()));
        let end = if stored.is_ok() { "RELEASE new_link" } else { "ROLLBACK TO new_link; RELEASE new_link" };
        tx.execute_batch(end).map_err(WriteError::database)?;
        made.push(stored.map_err(WriteError::database));
    }
    tx.commit().map_err(WriteError::database)?;
    Ok(made)
}

/// One batch of views in one transaction of `connection`.
fn commit(
    connection: &mut rusqlite::Connection,
    views: &[PendingView],
    now: Timestamp,
) -> Result<Vec<ViewOutcome>, WriteError> {
    let tx =
        connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(WriteError::database)?;
    let outcomes = at_once(count_batch(&mut Direct(&tx), views, now)).map_err(WriteError::database)?;
    tx.commit().map_err(WriteError::database)?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::share::Permissions;
    use crate::storage::{Db, DbOptions};

    fn new_link(share_link_id: &str, task_id: &str) -> NewShareLink {
        NewShareLink {
            share_link_id: share_link_id.into(),
            task_id: task_id.into(),
            owner_id: "owner_1".into(),
            token_hash: format!("token of {share_link_id}"),
            short_code_hash: format!("code of {share_link_id}"),
            title: format!("{share_link_id} of {task_id}"),
            description: None,
            password_hash: None,
            expires_at: Timestamp(4_000_000_000_000),
            max_views: Some(3),
            permissions: Permissions::default(),
            notify_on_view: false,
            mask_secrets: true,
            redaction: None,
            snapshot_seq: None,
            audience: None,
        }
    }

    #[tokio::test]
    async fn a_link_that_cannot_be_stored_fails_alone_in_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("links.sqlite");
        let options = DbOptions { url: format!("sqlite://{}", path.display()), max_connections: 2 };
        let db = Db::connect(&options).await.unwrap();
        db.migrate().await.unwrap();
        let mut connection = open(&path).unwrap();
        connection
            .execute_batch(
                "INSERT INTO owners (owner_id, name, created_at) VALUES ('owner_1', 'alice', 0); \
                 INSERT INTO tasks (task_id, owner_id, title, status, created_at, updated_at) \
                 VALUES ('task_1', 'owner_1', 'Task', 'completed', 0, 0);",
            )
            .unwrap();
        let links = [
            new_link("share_a", "task_1"),
            new_link("share_b", "task_gone"),
            new_link("share_a", "task_1"),
            new_link("share_c", "task_1"),
        ];
        let made = create(&mut connection, &links.iter().collect::<Vec<_>>()).unwrap();
        let stored = |n: usize| {
            made[n].as_ref().unwrap().as_ref().map(|l| (l.share_link_id.as_str(), l.title.as_str()))
        };
        assert_eq!(stored(0), Some(("share_a", "share_a of task_1")));
        assert!(made[1].as_ref().is_err_and(|e| e.to_string().contains("FOREIGN KEY")), "{:?}", made[1]);
        assert_eq!(stored(2), None, "a taken id stores nothing, and is no error");
        assert_eq!(stored(3), Some(("share_c", "share_c of task_1")));
        let record = made[3].as_ref().unwrap().as_ref().unwrap();
        assert_eq!((record.max_views, record.view_count, record.mask_secrets), (Some(3), 0, true));
        let rows: Vec<String> = connection
            .prepare("SELECT share_link_id FROM share_links ORDER BY share_link_id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows, ["share_a", "share_c"], "the failed link left nothing behind");
        // What the batch answered is what a read finds.
        let read = db.get_share_link(&"owner_1".into(), &"share_c".into()).await.unwrap().unwrap();
        assert_eq!(format!("{read:?}"), format!("{record:?}"));
    }
}
