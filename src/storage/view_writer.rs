//! Views of share links, counted by group commit.
//!
//! Opening a share link is the service's hot path, and every view must be committed
//! before the viewer sees anything (so a crash never shows a one-time link twice,
//! nor loses a counted view). One transaction per view caps an instance at a few
//! thousand views a second, however many cores it has: each view waits for its own
//! commit, and views of one link queue on its row.
//!
//! [`ViewWriter`] is a task per instance that takes views from a queue and commits
//! them in batches: while one batch commits, the next one accumulates, so batches
//! grow with the load and need no timer. [`Db::record_views`] writes a batch in one
//! transaction, with one counting write per link: it reads the link's count,
//! grants as many of the batch's views as `max_views` still allows, and writes the
//! new count with a compare-and-swap on the count it read (looking again if another
//! instance counted views in between). So limits hold exactly, on one instance or
//! several, without check-then-act. View rows go in with multi-row inserts and the
//! rollups with one upsert per link and value. Each request is answered only after
//! the commit: granted with its own view number, or refused; a batch that fails
//! fails every request in it, and counts none of them.

use std::collections::{BTreeMap, HashMap, HashSet};

use std::panic::AssertUnwindSafe;

use anyhow::anyhow;
use futures_util::FutureExt as _;
use tokio::sync::{mpsc, oneshot};

use super::share_links::{day_of, CountedView, NewView, ShareLinkRecord, TaskFacts, DIMENSIONS};
use super::webhooks::{enqueue, OutboxEvent};
use super::{dispatch, Backend, Db};
use crate::domain::ids;
use crate::domain::time::Timestamp;
use crate::domain::webhook::link_event;

/// Most views one transaction commits; more wait for the next batch.
pub const MAX_BATCH: usize = 1024;
/// Views waiting for a batch before new ones wait to be queued.
const QUEUE_DEPTH: usize = 4 * MAX_BATCH;
/// Rows per multi-row insert, largest first: a batch is cut into these sizes, so
/// a handful of distinct statements serve every batch (and stay prepared). Not
/// larger: SQLite finds each numbered parameter by a scan of the statement's
/// parameters, so binding costs grow with the square of a statement's size.
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

/// The queue of this instance's views; cheap to clone.
#[derive(Clone, Debug)]
pub struct ViewWriter {
    queue: mpsc::Sender<Waiting>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting").field("view", &self.view).finish_non_exhaustive()
    }
}

impl ViewWriter {
    /// Starts the writer task on the current runtime. It ends when every handle is dropped.
    pub fn start(db: Db) -> ViewWriter {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(write_batches(db, waiting));
        ViewWriter { queue }
    }

    /// Counts one view of `link`, if the link is still active and still the
    /// version `link` is, and answers once the view is committed.
    pub async fn record(&self, link: &ShareLinkRecord, view: NewView) -> anyhow::Result<ViewOutcome> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { view: PendingView { link: link.into(), view }, answer };
        self.queue.send(waiting).await.map_err(|_| anyhow!("the view writer has stopped"))?;
        answered
            .await
            .map_err(|_| anyhow!("the view writer has stopped"))?
            .map_err(|err| anyhow!("the batch of views could not be committed: {err}"))
    }
}

/// The writer task: takes what has queued up (at least one view), commits it as
/// one batch, answers, and starts over.
async fn write_batches(db: Db, mut waiting: mpsc::Receiver<Waiting>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // A request given up on (its client left, or it timed out) spends no view.
        batch.retain(|w: &Waiting| !w.answer.is_closed());
        if batch.is_empty() {
            continue;
        }
        let (views, answers): (Vec<PendingView>, Vec<_>) =
            batch.drain(..).map(|w| (w.view, w.answer)).unzip();
        // A panic in a batch fails that batch (its transaction is dropped, so rolled
        // back) and leaves the writer serving the next one.
        let written = AssertUnwindSafe(db.record_views(&views, Timestamp::now()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::Protocol("the batch's writer panicked".into())));
        match written {
            Ok(counted) => {
                for (answer, counted) in answers.into_iter().zip(counted) {
                    let _ = answer.send(Ok(counted));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, views = views.len(), "a batch of views could not be committed");
                let message = err.to_string();
                for answer in answers {
                    let _ = answer.send(Err(message.clone()));
                }
            }
        }
    }
}

/// `INSERT … VALUES ($1, …), (…)` for `rows` rows of `columns` values, then `tail`.
///
/// On SQLite the values are anonymous (`?`): binding a numbered one makes SQLite
/// scan the statement's list of names, so with hundreds of values a batch spent
/// more time binding than inserting.
fn insert_sql(backend: Backend, head: &str, columns: usize, rows: usize, tail: &str) -> String {
    use std::fmt::Write as _;
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 6);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${}", row * columns + column + 1);
                }
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
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
const VISITOR_ROW: &str = "INSERT INTO share_link_visitors (share_link_id, visitor_hash, first_seen_at)";
const NEW_VISITOR_TAIL: &str = " ON CONFLICT (share_link_id, visitor_hash) DO NOTHING";

/// A link's row as a batch finds it, with its task.
#[derive(sqlx::FromRow)]
struct LinkNow {
    view_count: i64,
    max_views: Option<i64>,
    version: i64,
    #[sqlx(flatten)]
    task: TaskFacts,
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

    /// Counts a batch of views in one transaction, with one counting write per link:
    /// each view prepared with its link's current version is counted (with its own
    /// view number) while the link is active and under `max_views`, in arrival
    /// order, or refused. The views' records, rollups, unique viewers,
    /// notifications and expiry events are written in the same transaction.
    pub async fn record_views(
        &self,
        views: &[PendingView],
        now: Timestamp,
    ) -> sqlx::Result<Vec<ViewOutcome>> {
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
        let backend = self.backend();
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            for batch in links.values_mut() {
                let id = batch.link.share_link_id.as_str();
                loop {
                    let active: Option<LinkNow> = sqlx::query_as(
                        "SELECT l.view_count, l.max_views, l.version, t.status, t.agent, t.created_at, \
                                t.started_at, t.finished_at, t.last_event_seq, t.artifacts_version \
                         FROM share_links l JOIN tasks t ON t.task_id = l.task_id \
                         WHERE l.share_link_id = $1 AND l.revoked_at IS NULL AND l.expires_at > $2",
                    )
                    .bind(id)
                    .bind(at)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(LinkNow { view_count: before, max_views, version, task }) = active else {
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
                    // Counts only if nobody counted views or changed the link since the read.
                    let swapped = sqlx::query(
                        "UPDATE share_links SET view_count = view_count + $3, \
                             first_viewed_at = COALESCE(first_viewed_at, $2), last_viewed_at = $2 \
                         WHERE share_link_id = $1 AND view_count = $4 AND version = $5 \
                           AND revoked_at IS NULL AND expires_at > $2",
                    )
                    .bind(id)
                    .bind(at)
                    .bind(granted as i64)
                    .bind(before)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if swapped == 1 {
                        batch.before = before;
                        batch.max_views = max_views;
                        batch.task = Some(task);
                        batch.current = current;
                        batch.granted = granted;
                        break;
                    }
                }
            }
            let granted: Vec<usize> =
                links.values().flat_map(|b| b.current[..b.granted].iter().copied()).collect();
            for (start, size) in chunked(granted.len()) {
                let sql = insert_sql(backend, VIEW_ROW, 8, size, "");
                let mut insert = sqlx::query(&sql);
                for &i in &granted[start..start + size] {
                    let view = &views[i].view;
                    insert = insert
                        .bind(&view_ids[i])
                        .bind(&views[i].link.share_link_id)
                        .bind(at)
                        .bind(&view.client_prefix)
                        .bind(&view.country)
                        .bind(&view.city)
                        .bind(&view.user_agent)
                        .bind(&view.referrer_host);
                }
                insert.execute(&mut *tx).await?;
            }
            let mut breakdown: HashMap<(&str, &str, &str), i64> = HashMap::new();
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
                    *breakdown
                        .entry((views[i].link.share_link_id.as_str(), *dimension, value))
                        .or_default() += 1;
                }
            }
            for ((id, dimension, value), n) in &breakdown {
                sqlx::query(
                    "INSERT INTO share_link_breakdown (share_link_id, dimension, value, views) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (share_link_id, dimension, value) DO UPDATE SET views = share_link_breakdown.views + $4",
                )
                .bind(*id)
                .bind(*dimension)
                .bind(*value)
                .bind(*n)
                .execute(&mut *tx)
                .await?;
            }
            // (A link with views granted always has its task read.)
            for (batch, task) in
                links.values().filter_map(|b| Some((b, b.task.as_ref().filter(|_| b.granted > 0)?)))
            {
                let id = batch.link.share_link_id.as_str();
                let mine = &batch.current[..batch.granted];
                sqlx::query(
                    "INSERT INTO share_link_daily_views (share_link_id, day, views) VALUES ($1, $2, $3) \
                     ON CONFLICT (share_link_id, day) DO UPDATE SET views = share_link_daily_views.views + $3",
                )
                .bind(id)
                .bind(&day)
                .bind(batch.granted as i64)
                .execute(&mut *tx)
                .await?;
                let mut seen = HashSet::new();
                let visitors: Vec<&str> = mine
                    .iter()
                    .map(|&i| views[i].view.visitor_hash.as_str())
                    .filter(|hash| seen.insert(*hash))
                    .collect();
                let mut new_visitors = 0;
                for (start, size) in chunked(visitors.len()) {
                    let sql = insert_sql(backend, VISITOR_ROW, 3, size, NEW_VISITOR_TAIL);
                    let mut insert = sqlx::query(&sql);
                    for hash in &visitors[start..start + size] {
                        insert = insert.bind(id).bind(*hash).bind(at);
                    }
                    new_visitors += insert.execute(&mut *tx).await?.rows_affected();
                }
                if new_visitors > 0 {
                    sqlx::query(
                        "UPDATE share_links SET unique_views = unique_views + $2 WHERE share_link_id = $1",
                    )
                    .bind(id)
                    .bind(new_visitors as i64)
                    .execute(&mut *tx)
                    .await?;
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
                        enqueue!(tx, &viewed, at);
                    }
                    sqlx::query(
                        "INSERT INTO view_mail (share_link_id, pending_views, first_pending_at) VALUES ($1, $3, $2) \
                         ON CONFLICT (share_link_id) DO UPDATE SET pending_views = view_mail.pending_views + $3, \
                         first_pending_at = COALESCE(view_mail.first_pending_at, $2)",
                    )
                    .bind(id)
                    .bind(at)
                    .bind(batch.granted as i64)
                    .execute(&mut *tx)
                    .await?;
                }
                if batch.max_views == Some(batch.before + batch.granted as i64) {
                    sqlx::query("UPDATE share_links SET expiry_notified_at = $2 WHERE share_link_id = $1")
                        .bind(id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                    let expired = OutboxEvent::new(
                        &link.owner_id,
                        "share_link.expired",
                        link_event("share_link.expired", id, &link.task_id, now),
                    );
                    enqueue!(tx, &expired, at);
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        })?;
        Ok(outcomes)
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
            insert_sql(Backend::Postgres, "INSERT INTO t (a, b)", 2, 2, " X"),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) X"
        );
        assert_eq!(
            insert_sql(Backend::Sqlite, "INSERT INTO t (a, b)", 2, 2, " X"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) X"
        );
    }
}
