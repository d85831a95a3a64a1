//! The writer of the hot path: views of share links, counted by group commit
//! (and, on SQLite, new share links, committed the same way).
//!
//! Opening a share link is the service's hot path, and every view must be committed
//! before the viewer sees anything (so a crash never shows a one-time link twice,
//! nor loses a counted view). One transaction per view caps an instance at a few
//! thousand views a second, however many cores it has: each view waits for its own
//! commit, and views of one link queue on its row.
//!
//! [`Writer`] takes views from a queue and commits them in batches: while one batch
//! commits, the next one accumulates, so batches grow with the load and need no
//! timer. How a batch counts its views is in [`counting`]. Each request is answered
//! only after the commit: granted with its own view number, or refused; a batch that
//! fails fails every request in it, and counts none of them.
//!
//! On PostgreSQL the writer is a task that runs batches through sqlx. On SQLite it
//! is a thread with a connection of its own ([`sqlite`]): a batch's statements run
//! where they are prepared, instead of each crossing to a driver's thread and back.
//! SQLite admits one writer at a time, so that thread also creates the service's
//! share links: the links asked for while the previous batch committed go into one
//! transaction, each in a savepoint of its own (one that fails fails only itself).

mod counting;
mod sqlite;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt as _;
use tokio::sync::{mpsc, oneshot};

use super::dialect::{dispatch, Tx};
use super::share_links::{CountedView, NewShareLink, NewView, ShareLinkRecord};
use super::Db;
use crate::domain::ids::{OwnerId, ShareLinkId, TaskId};
use crate::domain::time::Timestamp;
use crate::metrics::{Metrics, ViewCount};

/// Most views one transaction commits; more wait for the next batch.
pub const MAX_BATCH: usize = 1024;
/// Views waiting for a batch before new ones wait to be queued.
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;

/// What a view needs to know of its link.
#[derive(Debug, Clone)]
pub struct ViewedLink {
    pub share_link_id: ShareLinkId,
    pub owner_id: OwnerId,
    pub task_id: TaskId,
    pub notify_on_view: bool,
    /// The link's version the view was prepared with.
    pub version: i64,
}

impl From<&ShareLinkRecord> for ViewedLink {
    fn from(link: &ShareLinkRecord) -> ViewedLink {
        ViewedLink {
            share_link_id: link.share_link_id.clone(),
            owner_id: link.owner_id.clone(),
            task_id: link.task_id.clone(),
            notify_on_view: link.notify_on_view,
            version: link.version,
        }
    }
}

/// One view to count.
#[derive(Debug, Clone)]
pub struct PendingView {
    pub link: ViewedLink,
    pub view: NewView,
}

/// What became of a view.
#[derive(Debug, Clone)]
pub enum ViewOutcome {
    /// Counted and committed: the viewer may see the link.
    Counted(CountedView),
    /// The link is revoked, expired or used up.
    Refused,
    /// The owner changed the link since the view was prepared (its version moved):
    /// nothing was counted; prepare the view again from the link as it is now.
    Changed,
}

/// Why a write through the [`Writer`] did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The writer has stopped (the service is shutting down).
    #[error("the writer has stopped")]
    Stopped,
    /// The batch's writer panicked; the batch was rolled back.
    #[error("the batch's writer panicked")]
    Panicked,
    /// The database refused the batch (shared by every request in it).
    #[error("the database refused the batch: {0}")]
    Database(Arc<dyn std::error::Error + Send + Sync>),
}

impl WriteError {
    fn database(err: impl std::error::Error + Send + Sync + 'static) -> WriteError {
        WriteError::Database(Arc::new(err))
    }
}

/// Where the answer to one queued write goes.
type Answer<T> = oneshot::Sender<Result<T, WriteError>>;

/// A view waiting in the queue, with where its answer goes.
struct Waiting {
    view: PendingView,
    answer: Answer<ViewOutcome>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting").field("view", &self.view).finish_non_exhaustive()
    }
}

/// The queue of this instance's views (and, on SQLite, of the links it creates);
/// cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    queue: Queue,
}

#[derive(Clone, Debug)]
enum Queue {
    /// To the PostgreSQL writer task.
    Postgres(mpsc::Sender<Waiting>),
    /// To the SQLite writer thread.
    Sqlite(mpsc::Sender<sqlite::Job>),
}

fn stopped<T>(_: T) -> WriteError {
    WriteError::Stopped
}

impl Writer {
    /// Starts the writer of `db` (a thread for SQLite, a task on the current
    /// runtime for PostgreSQL), which records each batch in `metrics`. It ends
    /// when every handle is dropped.
    pub fn start(db: Db, metrics: Metrics) -> Writer {
        let queue = match db {
            Db::Sqlite { write, .. } => {
                let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
                sqlite::start(write, jobs, metrics);
                Queue::Sqlite(queue)
            }
            Db::Postgres(_) => {
                let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
                drop(tokio::spawn(write_batches(db, waiting, metrics)));
                Queue::Postgres(queue)
            }
        };
        Writer { queue }
    }

    /// Whether the writer still takes work (its thread or task has not ended).
    pub fn is_running(&self) -> bool {
        match &self.queue {
            Queue::Postgres(queue) => !queue.is_closed(),
            Queue::Sqlite(queue) => !queue.is_closed(),
        }
    }

    /// Counts one view of `link`, if the link is still active and still the
    /// version `link` is, and answers once the view is committed.
    pub async fn count_view(&self, link: &ShareLinkRecord, view: NewView) -> Result<ViewOutcome, WriteError> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { view: PendingView { link: link.into(), view }, answer };
        match &self.queue {
            Queue::Postgres(queue) => queue.send(waiting).await.map_err(stopped)?,
            Queue::Sqlite(queue) => queue.send(sqlite::Job::View(waiting)).await.map_err(stopped)?,
        }
        answered.await.map_err(stopped)?
    }

    /// Stores a new link of `db`, with its `share_link.created` event, as
    /// [`Db::insert_share_link`] does: `Ok(None)` when its id, token or short code
    /// is taken. On SQLite the writer thread commits the links asked for at once in
    /// one transaction; PostgreSQL takes them concurrently, each on a connection.
    pub async fn insert_link(
        &self,
        db: &Db,
        link: NewShareLink,
    ) -> Result<Option<ShareLinkRecord>, WriteError> {
        let Queue::Sqlite(queue) = &self.queue else {
            return db.insert_share_link(&link).await.map_err(WriteError::database);
        };
        let (answer, answered) = oneshot::channel();
        queue.send(sqlite::Job::Link(sqlite::NewLink { link, answer })).await.map_err(stopped)?;
        answered.await.map_err(stopped)?
    }
}

/// The PostgreSQL writer task: takes what has queued up (at least one view), commits it as
/// one batch, answers, and starts over.
async fn write_batches(db: Db, mut waiting: mpsc::Receiver<Waiting>, metrics: Metrics) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some((views, answers)) = split(&mut batch) else {
            continue;
        };
        let started = Instant::now();
        // A panic in a batch fails that batch (its transaction is dropped, so rolled
        // back) and leaves the writer serving the next one.
        let written = AssertUnwindSafe(db.record_views(&views, Timestamp::now()))
            .catch_unwind()
            .await
            .unwrap_or(Err(WriteError::Panicked));
        answer(answers, written, &metrics, started.elapsed());
    }
}

/// Empties `batch` into its views and their answers, leaving out requests given up
/// on (their client left, or they timed out): those spend no view. `None` when
/// nothing is left to count.
fn split(batch: &mut Vec<Waiting>) -> Option<(Vec<PendingView>, Vec<Answer<ViewOutcome>>)> {
    batch.retain(|w| !w.answer.is_closed());
    if batch.is_empty() {
        return None;
    }
    Some(batch.drain(..).map(|w| (w.view, w.answer)).unzip())
}

/// Sends each request of a batch what became of its view, or the batch's error,
/// and records the batch, whose transaction `took` that long.
fn answer(
    answers: Vec<Answer<ViewOutcome>>,
    written: Result<Vec<ViewOutcome>, WriteError>,
    metrics: &Metrics,
    took: std::time::Duration,
) {
    match written {
        Ok(counted) => {
            metrics.view_batch(
                counted.iter().map(|outcome| match outcome {
                    ViewOutcome::Counted(_) => ViewCount::Counted,
                    ViewOutcome::Refused => ViewCount::Refused,
                    ViewOutcome::Changed => ViewCount::Changed,
                }),
                took,
            );
            for (answer, counted) in answers.into_iter().zip(counted) {
                let _ = answer.send(Ok(counted));
            }
        }
        Err(err) => {
            metrics.view_batch_failed();
            let views = answers.len();
            tracing::error!(error = %err, views, "a batch of views could not be committed");
            for answer in answers {
                let _ = answer.send(Err(err.clone()));
            }
        }
    }
}

impl Db {
    /// Counts one view of `link` in a transaction of its own (a batch of one).
    pub async fn record_view(
        &self,
        link: &ShareLinkRecord,
        view: &NewView,
        now: Timestamp,
    ) -> Result<Option<CountedView>, WriteError> {
        let pending = PendingView { link: link.into(), view: view.clone() };
        Ok(match self.record_views(std::slice::from_ref(&pending), now).await?.pop() {
            Some(ViewOutcome::Counted(counted)) => Some(counted),
            _ => None,
        })
    }

    /// Counts a batch of views in one transaction through sqlx (see [`counting`]).
    pub async fn record_views(
        &self,
        views: &[PendingView],
        now: Timestamp,
    ) -> Result<Vec<ViewOutcome>, WriteError> {
        let written = dispatch!(self.write(), |pool| async {
            let mut tx = pool.begin().await?;
            let outcomes = counting::count_batch(&mut Tx::from(&mut tx), views, now).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(outcomes)
        }
        .await);
        written.map_err(WriteError::database)
    }
}
