//! Views of share links, counted by group commit.
//!
//! Opening a share link is the service's hot path, and every view must be committed
//! before the viewer sees anything (so a crash never shows a one-time link twice,
//! nor loses a counted view). One transaction per view caps an instance at a few
//! thousand views a second, however many cores it has: each view waits for its own
//! commit, and views of one link queue on its row.
//!
//! [`ViewWriter`] takes views from a queue and commits them in batches: while one
//! batch commits, the next one accumulates, so batches grow with the load and need
//! no timer. [`count_batch`] writes a batch in one transaction, with one counting
//! write per link: it reads the link's count, grants as many of the batch's views
//! as `max_views` still allows, and writes the new count with a compare-and-swap on
//! the count it read (looking again if another instance counted views in between).
//! So limits hold exactly, on one instance or several, without check-then-act. View
//! rows and rollups go in with multi-row inserts and upserts (on PostgreSQL, one
//! statement per table whatever the batch's size, its columns bound as arrays: each
//! statement is a round trip the batch waits for). Each request is
//! answered only after the commit: granted with its own view number, or refused; a
//! batch that fails fails every request in it, and counts none of them.
//!
//! On PostgreSQL the writer is a task that runs batches through sqlx. On SQLite it
//! is a thread with a connection of its own that runs the same batch logic
//! directly ([`direct`]): a batch's statements run where they are prepared, instead
//! of each crossing to a driver's thread and back. SQLite admits one writer at a
//! time, so the thread also creates the service's share links the same way: the
//! links asked for while the previous batch committed go into one transaction,
//! each in a savepoint of its own (one that fails fails only itself).

use std::collections::{BTreeMap, HashSet};
use std::panic::AssertUnwindSafe;

use anyhow::anyhow;
use futures_util::FutureExt as _;
use tokio::sync::{mpsc, oneshot};

use super::share_links::{
    day_of, CountedView, NewShareLink, NewView, ShareLinkRecord, TaskFacts, DIMENSIONS,
};
use super::webhooks::{enqueue_deliveries_for, OutboxEvent, ENQUEUE_EVENT};
use super::{dispatch, Backend, Db};
use crate::domain::ids;
use crate::domain::time::Timestamp;
use crate::domain::webhook::link_event;

/// Most views one transaction commits; more wait for the next batch.
pub const MAX_BATCH: usize = 1024;
/// Views waiting for a batch before new ones wait to be queued.
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;
/// Rows per multi-row insert on SQLite, largest first: a batch is cut into these
/// sizes, so a handful of distinct statements serve every batch (and stay
/// prepared). Not larger: binding costs grow with a statement's size, and in
/// process a statement more costs no round trip.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// What a view needs to know of its link.
#[derive(Debug, Clone)]
pub struct ViewedLink {
    pub share_link_id: String,
    pub owner_id: String,
    pub task_id: String,
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

/// A view waiting in the queue, with where its answer goes.
struct Waiting {
    view: PendingView,
    answer: oneshot::Sender<Result<ViewOutcome, String>>,
}

/// The queue of this instance's views (and, on SQLite, of the links it creates);
/// cheap to clone.
#[derive(Clone, Debug)]
pub struct ViewWriter {
    queue: Queue,
}

#[derive(Clone, Debug)]
enum Queue {
    /// To the PostgreSQL writer task.
    Postgres(mpsc::Sender<Waiting>),
    /// To the SQLite writer thread.
    Sqlite(mpsc::Sender<direct::Job>),
}

/// The answer to a writer that has stopped (the service is shutting down).
fn stopped<T>(_: T) -> anyhow::Error {
    anyhow!("the view writer has stopped")
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting").field("view", &self.view).finish_non_exhaustive()
    }
}

impl ViewWriter {
    /// Starts the writer of `db` (a thread for SQLite, a task on the current
    /// runtime for PostgreSQL). It ends when every handle is dropped.
    pub fn start(db: Db) -> ViewWriter {
        let queue = match db {
            Db::Sqlite { write, .. } => {
                let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
                direct::start(write, jobs);
                Queue::Sqlite(queue)
            }
            Db::Postgres(_) => {
                let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
                drop(tokio::spawn(write_batches(db, waiting)));
                Queue::Postgres(queue)
            }
        };
        ViewWriter { queue }
    }

    /// Counts one view of `link`, if the link is still active and still the
    /// version `link` is, and answers once the view is committed.
    pub async fn record(&self, link: &ShareLinkRecord, view: NewView) -> anyhow::Result<ViewOutcome> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { view: PendingView { link: link.into(), view }, answer };
        match &self.queue {
            Queue::Postgres(queue) => queue.send(waiting).await.map_err(stopped)?,
            Queue::Sqlite(queue) => queue.send(direct::Job::View(waiting)).await.map_err(stopped)?,
        }
        answered
            .await
            .map_err(stopped)?
            .map_err(|err| anyhow!("the batch of views could not be committed: {err}"))
    }

    /// Stores a new link of `db`, with its `share_link.created` event, as
    /// [`Db::insert_share_link`] does: `Ok(None)` when its id, token or short code
    /// is taken. On SQLite the writer thread commits the links asked for at once in
    /// one transaction; PostgreSQL takes them concurrently, each on a connection.
    pub async fn insert_link(&self, db: &Db, link: NewShareLink) -> anyhow::Result<Option<ShareLinkRecord>> {
        let Queue::Sqlite(queue) = &self.queue else {
            return Ok(db.insert_share_link(&link).await?);
        };
        let (answer, answered) = oneshot::channel();
        queue.send(direct::Job::Link(direct::NewLink { link, answer })).await.map_err(stopped)?;
        answered.await.map_err(stopped)?.map_err(|err| anyhow!("the share link could not be stored: {err}"))
    }
}

/// The PostgreSQL writer task: takes what has queued up (at least one view), commits it as
/// one batch, answers, and starts over.
async fn write_batches(db: Db, mut waiting: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let Some((views, answers)) = split(&mut batch) else {
            continue;
        };
        // A panic in a batch fails that batch (its transaction is dropped, so rolled
        // back) and leaves the writer serving the next one.
        let written = AssertUnwindSafe(db.record_views(&views, Timestamp::now()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::Protocol("the batch's writer panicked".into())))
            .map_err(|err| err.to_string());
        answer(answers, written, views.len());
    }
}

/// Where the answers of a batch's views go.
type Answers = Vec<oneshot::Sender<Result<ViewOutcome, String>>>;

/// Empties `batch` into its views and their answers, leaving out requests given up
/// on (their client left, or they timed out): those spend no view. `None` when
/// nothing is left to count.
fn split(batch: &mut Vec<Waiting>) -> Option<(Vec<PendingView>, Answers)> {
    batch.retain(|w| !w.answer.is_closed());
    if batch.is_empty() {
        return None;
    }
    Some(batch.drain(..).map(|w| (w.view, w.answer)).unzip())
}

/// Sends each request of a batch what became of its view, or the batch's error.
fn answer(answers: Answers, written: Result<Vec<ViewOutcome>, String>, views: usize) {
    match written {
        Ok(counted) => {
            for (answer, counted) in answers.into_iter().zip(counted) {
                let _ = answer.send(Ok(counted));
            }
        }
        Err(err) => {
            tracing::error!(error = %err, views, "a batch of views could not be committed");
            for answer in answers {
                let _ = answer.send(Err(err.clone()));
            }
        }
    }
}

/// `INSERT … VALUES (?, …), (…)` for `rows` rows of `columns` values, then `tail`.
///
/// The values are anonymous (`?`): binding a numbered one makes SQLite scan the
/// statement's list of names, so with hundreds of values a batch spent more time
/// binding than inserting.
fn insert_sql(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 3 + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            sql.push_str(if column == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// `INSERT … SELECT * FROM UNNEST($1::text[], …)`, then `tail`: on PostgreSQL, any
/// number of rows in one statement (one round trip, one prepared statement), each
/// column bound as one array.
fn unnest_sql(head: &str, columns: &[Column], tail: &str) -> String {
    use std::fmt::Write as _;
    let mut sql = format!("{head} SELECT * FROM UNNEST(");
    for (n, column) in columns.iter().enumerate() {
        let kind = match column {
            Column::Text => "text",
            Column::Int => "bigint",
        };
        let _ = write!(sql, "{}${}::{kind}[]", if n == 0 { "" } else { ", " }, n + 1);
    }
    sql.push(')');
    sql.push_str(tail);
    sql
}

/// Inserts `rows` as multi-row `VALUES` statements of the sizes in [`CHUNKS`] (so
/// a few prepared statements serve every batch): SQLite's way, in process, where a
/// statement costs no round trip.
async fn insert_in_chunks<C: Counting>(tx: &mut C, rows: Rows<'_>) -> Result<u64, C::Error> {
    let width = rows.columns.len();
    let mut inserted = 0;
    for (start, size) in chunked(rows.values.len() / width) {
        let sql = insert_sql(rows.head, width, size, rows.tail);
        inserted += tx.execute(&sql, &rows.values[start * width..(start + size) * width]).await?;
    }
    Ok(inserted)
}

/// Cuts `len` items into runs of the sizes in [`CHUNKS`], as `(start, size)`.
fn chunked(len: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    for size in CHUNKS {
        while len - start >= size {
            runs.push((start, size));
            start += size;
        }
    }
    runs
}

const VIEW_ROW: &str =
    "INSERT INTO share_link_views (view_id, share_link_id, viewed_at, client_prefix, country, \
     city, user_agent, referrer_host)";
const VIEW_COLUMNS: [Column; 8] = {
    use Column::{Int, Text};
    [Text, Text, Int, Text, Text, Text, Text, Text]
};
const VISITOR_ROW: &str = "INSERT INTO share_link_visitors (share_link_id, visitor_hash, first_seen_at)";
const VISITOR_COLUMNS: [Column; 3] = [Column::Text, Column::Text, Column::Int];
const NEW_VISITOR_TAIL: &str = " ON CONFLICT (share_link_id, visitor_hash) DO NOTHING";
const BREAKDOWN_ROW: &str = "INSERT INTO share_link_breakdown (share_link_id, dimension, value, views)";
const BREAKDOWN_COLUMNS: [Column; 4] = [Column::Text, Column::Text, Column::Text, Column::Int];
const BREAKDOWN_TAIL: &str = " ON CONFLICT (share_link_id, dimension, value) \
     DO UPDATE SET views = share_link_breakdown.views + excluded.views";

const LINK_NOW: &str = "SELECT l.view_count, l.max_views, l.version, t.status, t.agent, t.created_at, \
            t.started_at, t.finished_at, t.last_event_seq, t.artifacts_version \
     FROM share_links l JOIN tasks t ON t.task_id = l.task_id \
     WHERE l.share_link_id = $1 AND l.revoked_at IS NULL AND l.expires_at > $2";
/// Counts only if nobody counted views or changed the link since it was read.
const SWAP_COUNT: &str = "UPDATE share_links SET view_count = view_count + $3, \
         first_viewed_at = COALESCE(first_viewed_at, $2), last_viewed_at = $2 \
     WHERE share_link_id = $1 AND view_count = $4 AND version = $5 \
       AND revoked_at IS NULL AND expires_at > $2";
const ADD_DAILY: &str = "INSERT INTO share_link_daily_views (share_link_id, day, views) VALUES ($1, $2, $3) \
     ON CONFLICT (share_link_id, day) DO UPDATE SET views = share_link_daily_views.views + $3";
const ADD_UNIQUE: &str = "UPDATE share_links SET unique_views = unique_views + $2 WHERE share_link_id = $1";
const PEND_MAIL: &str =
    "INSERT INTO view_mail (share_link_id, pending_views, first_pending_at) VALUES ($1, $3, $2) \
     ON CONFLICT (share_link_id) DO UPDATE SET pending_views = view_mail.pending_views + $3, \
     first_pending_at = COALESCE(view_mail.first_pending_at, $2)";
const EXPIRY_NOTIFIED: &str = "UPDATE share_links SET expiry_notified_at = $2 WHERE share_link_id = $1";

/// A link's row as a batch finds it, with its task.
#[derive(sqlx::FromRow)]
struct LinkNow {
    view_count: i64,
    max_views: Option<i64>,
    version: i64,
    #[sqlx(flatten)]
    task: TaskFacts,
}

/// A value bound to a batch's statement.
#[derive(Debug, Clone, Copy)]
enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

/// The type of a column a batch inserts rows into.
#[derive(Debug, Clone, Copy)]
enum Column {
    Text,
    Int,
}

/// Rows a batch inserts: `values` row after row, a value per column.
#[derive(Clone, Copy)]
struct Rows<'a> {
    /// `INSERT INTO table (columns…)`.
    head: &'a str,
    columns: &'a [Column],
    values: &'a [Value<'a>],
    /// What follows the rows (`ON CONFLICT …`), or nothing.
    tail: &'a str,
}

impl<'a> Value<'a> {
    /// The text this is, or `None` for NULL (a text column holds nothing else).
    fn text(&self) -> Option<&'a str> {
        debug_assert!(!matches!(self, Value::Int(_)), "an integer in a text column");
        match *self {
            Value::Text(text) => Some(text),
            Value::Int(_) | Value::Null => None,
        }
    }

    /// The integer this is, or `None` for NULL (an integer column holds nothing else).
    fn int(&self) -> Option<i64> {
        debug_assert!(!matches!(self, Value::Text(_)), "a text in an integer column");
        match *self {
            Value::Int(n) => Some(n),
            Value::Text(_) | Value::Null => None,
        }
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Value<'a> {
        text.map_or(Value::Null, Value::Text)
    }
}

/// The statements of a batch, on whichever connection runs them. The batch's
/// logic ([`count_batch`]) is written once; sqlx runs it on PostgreSQL (and for
/// [`Db::record_views`]), the view writer's own SQLite connection on SQLite.
trait Counting {
    type Error: std::fmt::Display;
    /// The engine, for the SQL that differs.
    const BACKEND: Backend;
    /// The link's row and its task's, if the link is still active at `at`.
    async fn link_now(&mut self, share_link_id: &str, at: i64) -> Result<Option<LinkNow>, Self::Error>;
    /// Runs `sql` (`$n` placeholders, or `?` for SQLite's multi-row inserts)
    /// with `values`; answers the rows it changed.
    async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<u64, Self::Error>;
    /// Inserts `rows`; answers how many were inserted (not left out by `ON CONFLICT`).
    async fn insert(&mut self, rows: Rows<'_>) -> Result<u64, Self::Error>;
}

/// The views of one link in a batch, and what became of them.
struct LinkBatch<'a> {
    link: &'a ViewedLink,
    /// Indexes into the batch, in arrival order.
    views: Vec<usize>,
    /// The link's count before the batch, once read.
    before: i64,
    max_views: Option<i64>,
    task: Option<TaskFacts>,
    /// The views prepared with the link's current version, in arrival order;
    /// the first `granted` of them were counted.
    current: Vec<usize>,
    granted: usize,
}

/// Counts a batch of views inside the transaction `tx` runs in, with one counting
/// write per link: each view prepared with its link's current version is counted
/// (with its own view number) while the link is active and under `max_views`, in
/// arrival order, or refused. The views' records, rollups, unique viewers,
/// notifications and expiry events are written by the same transaction.
async fn count_batch<C: Counting>(
    tx: &mut C,
    views: &[PendingView],
    now: Timestamp,
) -> Result<Vec<ViewOutcome>, C::Error> {
    // Links in id order, so two instances' batches lock rows in the same order.
    let mut links: BTreeMap<&str, LinkBatch<'_>> = BTreeMap::new();
    for (i, pending) in views.iter().enumerate() {
        links
            .entry(pending.link.share_link_id.as_str())
            .or_insert_with(|| LinkBatch {
                link: &pending.link,
                views: Vec::new(),
                before: 0,
                max_views: None,
                task: None,
                current: Vec::new(),
                granted: 0,
            })
            .views
            .push(i);
    }
    let at = now.millis();
    let day = day_of(now);
    let view_ids: Vec<String> = views.iter().map(|_| ids::new_id("view")).collect();
    let mut outcomes = vec![ViewOutcome::Refused; views.len()];
    for batch in links.values_mut() {
        let id = batch.link.share_link_id.as_str();
        loop {
            let Some(LinkNow { view_count: before, max_views, version, task }) = tx.link_now(id, at).await?
            else {
                break;
            };
            let (current, changed): (Vec<usize>, Vec<usize>) =
                batch.views.iter().copied().partition(|&i| views[i].link.version == version);
            for i in changed {
                outcomes[i] = ViewOutcome::Changed;
            }
            let allowed = max_views.map_or(usize::MAX, |max| (max - before).max(0) as usize);
            let granted = current.len().min(allowed);
            if granted == 0 {
                break;
            }
            let values = [
                Value::Text(id),
                Value::Int(at),
                Value::Int(granted as i64),
                Value::Int(before),
                Value::Int(version),
            ];
            if tx.execute(SWAP_COUNT, &values).await? == 1 {
                batch.before = before;
                batch.max_views = max_views;
                batch.task = Some(task);
                batch.current = current;
                batch.granted = granted;
                break;
            }
        }
    }
    let granted: Vec<usize> = links.values().flat_map(|b| b.current[..b.granted].iter().copied()).collect();
    let mut values = Vec::with_capacity(VIEW_COLUMNS.len() * granted.len());
    for &i in &granted {
        let view = &views[i].view;
        values.extend([
            Value::Text(&view_ids[i]),
            Value::Text(&views[i].link.share_link_id),
            Value::Int(at),
            view.client_prefix.as_deref().into(),
            view.country.as_deref().into(),
            view.city.as_deref().into(),
            view.user_agent.as_deref().into(),
            view.referrer_host.as_deref().into(),
        ]);
    }
    tx.insert(Rows { head: VIEW_ROW, columns: &VIEW_COLUMNS, values: &values, tail: "" }).await?;
    // In key order: two instances' batches update shared rows in the same order.
    let mut breakdown: BTreeMap<(&str, &str, &str), i64> = BTreeMap::new();
    for &i in &granted {
        let view = &views[i].view;
        let values = [
            view.country.as_deref().unwrap_or("unknown"),
            view.referrer_host.as_deref().unwrap_or("direct"),
            view.browser.as_str(),
            view.os.as_str(),
            view.device.as_str(),
        ];
        for (dimension, value) in DIMENSIONS.iter().zip(values) {
            *breakdown.entry((views[i].link.share_link_id.as_str(), *dimension, value)).or_default() += 1;
        }
    }
    let mut values = Vec::with_capacity(BREAKDOWN_COLUMNS.len() * breakdown.len());
    for ((id, dimension, value), n) in breakdown {
        values.extend([Value::Text(id), Value::Text(dimension), Value::Text(value), Value::Int(n)]);
    }
    let rows =
        Rows { head: BREAKDOWN_ROW, columns: &BREAKDOWN_COLUMNS, values: &values, tail: BREAKDOWN_TAIL };
    tx.insert(rows).await?;
    // (A link with views granted always has its task read.)
    for (batch, task) in links.values().filter_map(|b| Some((b, b.task.as_ref().filter(|_| b.granted > 0)?)))
    {
        let id = batch.link.share_link_id.as_str();
        let mine = &batch.current[..batch.granted];
        let granted = Value::Int(batch.granted as i64);
        tx.execute(ADD_DAILY, &[Value::Text(id), Value::Text(&day), granted]).await?;
        let mut seen = HashSet::new();
        let values: Vec<Value<'_>> = mine
            .iter()
            .map(|&i| views[i].view.visitor_hash.as_str())
            .filter(|hash| seen.insert(*hash))
            .flat_map(|hash| [Value::Text(id), Value::Text(hash), Value::Int(at)])
            .collect();
        let rows =
            Rows { head: VISITOR_ROW, columns: &VISITOR_COLUMNS, values: &values, tail: NEW_VISITOR_TAIL };
        let new_visitors = tx.insert(rows).await?;
        if new_visitors > 0 {
            tx.execute(ADD_UNIQUE, &[Value::Text(id), Value::Int(new_visitors as i64)]).await?;
        }
        for (n, &i) in mine.iter().enumerate() {
            outcomes[i] = ViewOutcome::Counted(CountedView {
                view_id: view_ids[i].clone(),
                view_count: batch.before + n as i64 + 1,
                max_views: batch.max_views,
                viewed_at: now,
                task: task.clone(),
            });
        }
        let link = batch.link;
        if link.notify_on_view {
            for (n, &i) in mine.iter().enumerate() {
                let view = &views[i].view;
                let viewed = OutboxEvent::new(
                    &link.owner_id,
                    "share_link.viewed",
                    serde_json::json!({
                        "event": "share_link.viewed",
                        "share_link_id": id,
                        "task_id": link.task_id,
                        "timestamp": now,
                        "viewer": {
                            "ip_address": view.ip_address,
                            "user_agent": view.user_agent,
                            "country": view.country,
                            "city": view.city,
                        },
                        "view_count": batch.before + n as i64 + 1,
                        "max_views": batch.max_views,
                    }),
                );
                enqueue(tx, &viewed, at).await?;
            }
            tx.execute(PEND_MAIL, &[Value::Text(id), Value::Int(at), granted]).await?;
        }
        if batch.max_views == Some(batch.before + batch.granted as i64) {
            tx.execute(EXPIRY_NOTIFIED, &[Value::Text(id), Value::Int(at)]).await?;
            let expired = OutboxEvent::new(
                &link.owner_id,
                "share_link.expired",
                link_event("share_link.expired", id, &link.task_id, now),
            );
            enqueue(tx, &expired, at).await?;
        }
    }
    Ok(outcomes)
}

/// Stores `event` in the outbox with a delivery per endpoint that wants it (as
/// [`enqueue!`](super::webhooks::enqueue) does on a sqlx transaction).
async fn enqueue<C: Counting>(tx: &mut C, event: &OutboxEvent, at: i64) -> Result<(), C::Error> {
    let (id, owner, kind) =
        (Value::Text(&event.event_id), Value::Text(&event.owner_id), Value::Text(event.event_type));
    let stored =
        tx.execute(ENQUEUE_EVENT, &[id, owner, kind, Value::Text(&event.payload), Value::Int(at)]).await?;
    // No endpoint wants the event: there is nothing to deliver.
    if stored > 0 {
        tx.execute(enqueue_deliveries_for(C::BACKEND), &[id, owner, kind, Value::Int(at)]).await?;
    }
    Ok(())
}

/// A batch's statements on a sqlx transaction.
struct SqlxCounting<'t, 'c, DB: sqlx::Database>(&'t mut sqlx::Transaction<'c, DB>);

macro_rules! sqlx_counting {
    ($db:ty, $backend:expr, $insert:path) => {
        impl Counting for SqlxCounting<'_, '_, $db> {
            type Error = sqlx::Error;
            const BACKEND: Backend = $backend;

            async fn link_now(&mut self, share_link_id: &str, at: i64) -> sqlx::Result<Option<LinkNow>> {
                sqlx::query_as(LINK_NOW).bind(share_link_id).bind(at).fetch_optional(&mut **self.0).await
            }

            async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> sqlx::Result<u64> {
                let mut query = sqlx::query(sql);
                for value in values {
                    query = match *value {
                        Value::Text(text) => query.bind(text),
                        Value::Int(n) => query.bind(n),
                        Value::Null => query.bind(None::<&str>),
                    };
                }
                Ok(query.execute(&mut **self.0).await?.rows_affected())
            }

            async fn insert(&mut self, rows: Rows<'_>) -> sqlx::Result<u64> {
                $insert(self, rows).await
            }
        }
    };
}

sqlx_counting!(sqlx::Sqlite, Backend::Sqlite, insert_in_chunks);
sqlx_counting!(sqlx::Postgres, Backend::Postgres, insert_unnested);

/// Inserts `rows` on PostgreSQL in one statement, whatever their number: a
/// statement is a round trip, and a batch waits for each of them in turn.
async fn insert_unnested(tx: &mut SqlxCounting<'_, '_, sqlx::Postgres>, rows: Rows<'_>) -> sqlx::Result<u64> {
    if rows.values.is_empty() {
        return Ok(0);
    }
    let sql = unnest_sql(rows.head, rows.columns, rows.tail);
    let mut query = sqlx::query(&sql);
    for (n, column) in rows.columns.iter().enumerate() {
        let cells = rows.values.iter().skip(n).step_by(rows.columns.len());
        query = match column {
            Column::Text => query.bind(cells.map(Value::text).collect::<Vec<_>>()),
            Column::Int => query.bind(cells.map(Value::int).collect::<Vec<_>>()),
        };
    }
    Ok(query.execute(&mut **tx.0).await?.rows_affected())
}

impl Db {
    /// Counts one view of `link` in a transaction of its own (a batch of one).
    pub async fn record_view(
        &self,
        link: &ShareLinkRecord,
        view: &NewView,
        now: Timestamp,
    ) -> sqlx::Result<Option<CountedView>> {
        let pending = PendingView { link: link.into(), view: view.clone() };
        Ok(match self.record_views(std::slice::from_ref(&pending), now).await?.pop() {
            Some(ViewOutcome::Counted(counted)) => Some(counted),
            _ => None,
        })
    }

    /// Counts a batch of views in one transaction through sqlx (see [`count_batch`]).
    pub async fn record_views(
        &self,
        views: &[PendingView],
        now: Timestamp,
    ) -> sqlx::Result<Vec<ViewOutcome>> {
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let outcomes = count_batch(&mut SqlxCounting(&mut tx), views, now).await?;
            tx.commit().await?;
            Ok(outcomes)
        })
    }
}

/// The SQLite view writer: a thread of its own with a connection of its own,
/// which runs each batch's statements itself — no statement crosses a channel.
mod direct {
    use std::borrow::Cow;
    use std::panic::AssertUnwindSafe;
    use std::path::Path;

    use futures_util::FutureExt as _;
    use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
    use rusqlite::{OpenFlags, OptionalExtension as _, TransactionBehavior};
    use sqlx::SqlitePool;
    use tokio::runtime::Handle;
    use tokio::sync::mpsc;

    use tokio::sync::oneshot;

    use super::{
        answer, count_batch, enqueue, insert_in_chunks, split, Counting, LinkNow, PendingView, Rows, Value,
        Waiting, LINK_NOW, MAX_BATCH,
    };
    use crate::domain::task::TaskStatus;
    use crate::domain::time::Timestamp;
    use crate::storage::share_links::{link_created, INSERT_LINK};
    use crate::storage::{Backend, NewShareLink, ShareLinkRecord, TaskFacts, SQLITE_BUSY_TIMEOUT};

    /// Work for the writer thread.
    pub(super) enum Job {
        View(Waiting),
        Link(NewLink),
    }

    /// A link to create, with where its answer goes.
    pub(super) struct NewLink {
        pub(super) link: NewShareLink,
        pub(super) answer: oneshot::Sender<Made>,
    }

    /// What became of a link to create: stored, or `None` when its id, token or
    /// short code is taken; or why it could not be.
    pub(super) type Made = Result<Option<ShareLinkRecord>, String>;

    impl ToSql for Value<'_> {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(match *self {
                Value::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
                Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(n)),
                Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            })
        }
    }

    /// A batch's statements on the writer's own SQLite transaction. Nothing here
    /// waits: each future is ready when first polled.
    struct Direct<'t, 'c>(&'t rusqlite::Transaction<'c>);

    /// `sql` with `$n` written `?n`: SQLite numbers `$n` by first appearance, `?n` by `n`.
    fn numbered(sql: &str) -> Cow<'_, str> {
        if sql.contains('$') {
            Cow::Owned(sql.replace('$', "?"))
        } else {
            Cow::Borrowed(sql)
        }
    }

    impl Counting for Direct<'_, '_> {
        type Error = rusqlite::Error;
        const BACKEND: Backend = Backend::Sqlite;

        async fn link_now(&mut self, share_link_id: &str, at: i64) -> rusqlite::Result<Option<LinkNow>> {
            let mut statement = self.0.prepare_cached(&numbered(LINK_NOW))?;
            statement
                .query_row((share_link_id, at), |row| {
                    let status: String = row.get(3)?;
                    let status = TaskStatus::parse(&status).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            3,
                            rusqlite::types::Type::Text,
                            format!("unknown task status {status:?}").into(),
                        )
                    })?;
                    Ok(LinkNow {
                        view_count: row.get(0)?,
                        max_views: row.get(1)?,
                        version: row.get(2)?,
                        task: TaskFacts {
                            status,
                            agent: row.get(4)?,
                            created_at: row.get(5)?,
                            started_at: row.get(6)?,
                            finished_at: row.get(7)?,
                            last_event_seq: row.get(8)?,
                            artifacts_version: row.get(9)?,
                        },
                    })
                })
                .optional()
        }

        async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> rusqlite::Result<u64> {
            let mut statement = self.0.prepare_cached(&numbered(sql))?;
            Ok(statement.execute(rusqlite::params_from_iter(values))? as u64)
        }

        async fn insert(&mut self, rows: Rows<'_>) -> rusqlite::Result<u64> {
            insert_in_chunks(self, rows).await
        }
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
    pub(super) fn start(gate: SqlitePool, jobs: mpsc::Receiver<Job>) {
        let path = gate.connect_options().get_filename().to_owned();
        let runtime = Handle::current();
        std::thread::Builder::new()
            .name("view-writer".into())
            .spawn(move || Writer { path, gate, runtime, connection: None }.run(jobs))
            .expect("the view writer's thread starts");
    }

    /// The writer thread's connection, opened when first needed.
    struct Writer {
        path: std::path::PathBuf,
        gate: SqlitePool,
        runtime: Handle,
        connection: Option<rusqlite::Connection>,
    }

    impl Writer {
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
                if let Some((pending, answers)) = split(&mut views) {
                    let written = self.in_turn(|connection| commit(connection, &pending, Timestamp::now()));
                    answer(answers, written, pending.len());
                }
                // A request given up on (its client left, or it timed out) creates nothing.
                links.retain(|l| !l.answer.is_closed());
                if !links.is_empty() {
                    let new: Vec<&NewShareLink> = links.iter().map(|l| &l.link).collect();
                    match self.in_turn(|connection| create(connection, &new)) {
                        Ok(made) => {
                            for (link, made) in links.drain(..).zip(made) {
                                let _ = link.answer.send(made);
                            }
                        }
                        Err(err) => {
                            for link in links.drain(..) {
                                let _ = link.answer.send(Err(err.clone()));
                            }
                        }
                    }
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
            write: impl FnOnce(&mut rusqlite::Connection) -> Result<T, String>,
        ) -> Result<T, String> {
            let Writer { path, gate, runtime, connection } = self;
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                runtime.block_on(async {
                    let _turn = gate.acquire().await.map_err(|err| err.to_string())?;
                    let connection = match connection {
                        Some(connection) => connection,
                        None => connection.insert(open(path).map_err(|err| err.to_string())?),
                    };
                    write(connection)
                })
            }))
            .unwrap_or_else(|_| {
                *connection = None;
                Err("the batch's writer panicked".into())
            })
        }
    }

    /// Creates `links` in one transaction of `connection`, each in a savepoint of
    /// its own: what becomes of each (stored, or its id, token or short code
    /// taken, or its error), or the error that kept the transaction from committing.
    fn create(connection: &mut rusqlite::Connection, links: &[&NewShareLink]) -> Result<Vec<Made>, String> {
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        let mut made = Vec::with_capacity(links.len());
        for link in links {
            tx.execute_batch("SAVEPOINT new_link").map_err(|e| e.to_string())?;
            let stored = insert_link(&tx, link);
            let end =
                if stored.is_ok() { "RELEASE new_link" } else { "ROLLBACK TO new_link; RELEASE new_link" };
            tx.execute_batch(end).map_err(|e| e.to_string())?;
            made.push(stored);
        }
        tx.commit().map_err(|e| e.to_string())?;
        Ok(made)
    }

    /// Stores `link` and its `share_link.created` event; `None` when its id, token
    /// or short code is taken.
    fn insert_link(tx: &rusqlite::Transaction<'_>, link: &NewShareLink) -> Made {
        let now = Timestamp::now();
        let mut statement = tx.prepare_cached(&numbered(&INSERT_LINK)).map_err(|e| e.to_string())?;
        let values: [&dyn ToSql; 16] = [
            &link.share_link_id,
            &link.task_id,
            &link.owner_id,
            &link.token_hash,
            &link.short_code_hash,
            &link.title,
            &link.description,
            &link.password_hash,
            &link.expires_at.millis(),
            &link.max_views,
            &link.permissions.allow_download,
            &link.permissions.allow_comments,
            &link.permissions.show_metadata,
            &link.notify_on_view,
            &now.millis(),
            &link.mask_secrets,
        ];
        let record = statement.query_row(&values[..], link_record).optional().map_err(|e| e.to_string())?;
        if record.is_some() {
            enqueue(&mut Direct(tx), &link_created(link, now), now.millis())
                .now_or_never()
                .ok_or("a link's statement waited")?
                .map_err(|e| e.to_string())?;
        }
        Ok(record)
    }

    /// A `share_links` row as [`INSERT_LINK`] returns it.
    fn link_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<ShareLinkRecord> {
        Ok(ShareLinkRecord {
            share_link_id: row.get("share_link_id")?,
            task_id: row.get("task_id")?,
            owner_id: row.get("owner_id")?,
            title: row.get("title")?,
            description: row.get("description")?,
            password_hash: row.get("password_hash")?,
            expires_at: row.get("expires_at")?,
            max_views: row.get("max_views")?,
            view_count: row.get("view_count")?,
            unique_views: row.get("unique_views")?,
            first_viewed_at: row.get("first_viewed_at")?,
            last_viewed_at: row.get("last_viewed_at")?,
            allow_download: row.get("allow_download")?,
            allow_comments: row.get("allow_comments")?,
            show_metadata: row.get("show_metadata")?,
            notify_on_view: row.get("notify_on_view")?,
            mask_secrets: row.get("mask_secrets")?,
            revoked_at: row.get("revoked_at")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
            version: row.get("version")?,
        })
    }

    /// One batch in one transaction of `connection`.
    fn commit(
        connection: &mut rusqlite::Connection,
        views: &[PendingView],
        now: Timestamp,
    ) -> Result<Vec<super::ViewOutcome>, String> {
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        let outcomes = count_batch(&mut Direct(&tx), views, now)
            .now_or_never()
            .ok_or("a batch's statement waited")?
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
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
            assert!(made[1].as_ref().is_err_and(|e| e.contains("FOREIGN KEY")), "{:?}", made[1]);
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
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_few_statement_sizes_that_cover_it_exactly() {
        for len in 0..2000 {
            let runs = chunked(len);
            assert_eq!(runs.iter().map(|r| r.1).sum::<usize>(), len);
            let mut next = 0;
            for (start, size) in runs {
                assert_eq!(start, next, "runs follow each other");
                assert!(CHUNKS.contains(&size));
                next += size;
            }
        }
        assert_eq!(chunked(150), vec![(0, 64), (64, 64), (128, 16), (144, 4), (148, 1), (149, 1)]);
    }

    #[test]
    fn insert_sql_has_a_value_for_every_column_of_every_row() {
        assert_eq!(
            insert_sql("INSERT INTO t (a, b)", 2, 2, " X"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) X"
        );
        assert_eq!(
            unnest_sql("INSERT INTO t (a, b)", &[Column::Text, Column::Int], " X"),
            "INSERT INTO t (a, b) SELECT * FROM UNNEST($1::text[], $2::bigint[]) X"
        );
    }
}
