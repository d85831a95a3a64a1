//! How a batch of views is counted, in one transaction.
//!
//! One counting write per link: [`count_batch`] reads the link's count, grants as
//! many of the batch's views as `max_views` still allows, and writes the new count
//! with a compare-and-swap on the count (and version) it read, looking again if
//! another instance counted views in between. So limits hold exactly, on one
//! instance or several, without check-then-act. View rows and rollups go in with
//! multi-row inserts and upserts, in key order (so two instances' batches lock
//! shared rows in the same order); on PostgreSQL all of them as one statement, as
//! each statement is a round trip the batch waits for. Notifications and expiry
//! events go to the outbox in the same transaction.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use super::{PendingView, ViewOutcome, ViewedLink};
use crate::domain::ids::ViewId;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{LinkFacts, LinkViewer, WebhookEvent};
use crate::storage::dialect::{bind_arrays, dispatch_tx, Tx};
use crate::storage::outbox::{self, OutboxEvent};
use crate::storage::share_links::{day_of, CountedView, TaskFacts, DIMENSIONS, VIEWER_DIMENSION};
use crate::storage::sql::{unnest_sql_from, Column, Rows, Statements, Value};

const VIEW_ROW: &str =
    "INSERT INTO share_link_views (view_id, share_link_id, viewed_at, client_prefix, country, \
     city, user_agent, referrer_host, viewer_email)";
const VIEW_COLUMNS: [Column; 9] = {
    use Column::{Int, Text};
    [Text, Text, Int, Text, Text, Text, Text, Text, Text]
};
const VISITOR_ROW: &str = "INSERT INTO share_link_visitors (share_link_id, visitor_hash, first_seen_at)";
const VISITOR_COLUMNS: [Column; 3] = [Column::Text, Column::Text, Column::Int];
const NEW_VISITOR_TAIL: &str = " ON CONFLICT (share_link_id, visitor_hash) DO NOTHING";
const BREAKDOWN_ROW: &str = "INSERT INTO share_link_breakdown (share_link_id, dimension, value, views)";
const BREAKDOWN_COLUMNS: [Column; 4] = [Column::Text, Column::Text, Column::Text, Column::Int];
const BREAKDOWN_TAIL: &str = " ON CONFLICT (share_link_id, dimension, value) \
     DO UPDATE SET views = share_link_breakdown.views + excluded.views";

/// The link's row and its task's, if the link is still active at `$2`.
pub(super) const LINK_NOW: &str =
    "SELECT l.view_count, l.max_views, l.version, t.status, t.agent, t.created_at, \
            t.started_at, t.finished_at, t.last_event_seq, t.artifacts_version \
     FROM share_links l JOIN tasks t ON t.task_id = l.task_id \
     WHERE l.share_link_id = $1 AND l.revoked_at IS NULL AND l.expires_at > $2";
/// Counts only if nobody counted views or changed the link since it was read.
const SWAP_COUNT: &str = "UPDATE share_links SET view_count = view_count + $3, \
         first_viewed_at = COALESCE(first_viewed_at, $2), last_viewed_at = $2 \
     WHERE share_link_id = $1 AND view_count = $4 AND version = $5 \
       AND revoked_at IS NULL AND expires_at > $2";
const DAILY_ROW: &str = "INSERT INTO share_link_daily_views (share_link_id, day, views)";
const DAILY_COLUMNS: [Column; 3] = [Column::Text, Column::Text, Column::Int];
const DAILY_TAIL: &str = " ON CONFLICT (share_link_id, day) \
     DO UPDATE SET views = share_link_daily_views.views + excluded.views";
const ADD_UNIQUE: &str = "UPDATE share_links SET unique_views = unique_views + $2 WHERE share_link_id = $1";
/// A batch's [`Records`] as one PostgreSQL statement, so one round trip instead of
/// one per statement: the inserts as data-modifying `WITH`s (each
/// column one array, in the order of [`Records`]' fields), then each link's count
/// of unique viewers raised by the viewers new to it. Every row it touches
/// belongs to a link whose row the batch has already locked with its count.
static RECORD_ALL: LazyLock<String> = LazyLock::new(|| {
    let mut first = 1;
    let mut insert = |head, columns: &[Column], tail| {
        let sql = unnest_sql_from(head, columns, tail, first);
        first += columns.len();
        sql
    };
    let views = insert(VIEW_ROW, &VIEW_COLUMNS, "");
    let breakdown = insert(BREAKDOWN_ROW, &BREAKDOWN_COLUMNS, BREAKDOWN_TAIL);
    let daily = insert(DAILY_ROW, &DAILY_COLUMNS, DAILY_TAIL);
    let returning = format!("{NEW_VISITOR_TAIL} RETURNING share_link_id");
    let visitors = insert(VISITOR_ROW, &VISITOR_COLUMNS, &returning);
    format!(
        "WITH views AS ({views}), breakdown AS ({breakdown}), daily AS ({daily}), visitors AS ({visitors}) \
         UPDATE share_links l SET unique_views = l.unique_views + new.viewers \
         FROM (SELECT share_link_id, count(*) AS viewers FROM visitors GROUP BY share_link_id) new \
         WHERE l.share_link_id = new.share_link_id"
    )
});
const PEND_MAIL: &str =
    "INSERT INTO view_mail (share_link_id, pending_views, first_pending_at) VALUES ($1, $3, $2) \
     ON CONFLICT (share_link_id) DO UPDATE SET pending_views = view_mail.pending_views + $3, \
     first_pending_at = COALESCE(view_mail.first_pending_at, $2)";
const EXPIRY_NOTIFIED: &str = "UPDATE share_links SET expiry_notified_at = $2 WHERE share_link_id = $1";

/// A link's row as a batch finds it ([`LINK_NOW`]), with its task.
#[derive(sqlx::FromRow)]
pub(super) struct LinkNow {
    pub view_count: i64,
    pub max_views: Option<i64>,
    pub version: i64,
    #[sqlx(flatten)]
    pub task: TaskFacts,
}

/// What a batch writes besides its links' counts, links in id order: the views'
/// rows, the rollups, and each link's viewers.
pub(super) struct Records<'a> {
    /// A row per counted view.
    pub views: Rows<'a>,
    /// Views by (link, dimension, value), added to the totals.
    pub breakdown: Rows<'a>,
    /// Each link's views of the day, added to its day's.
    pub daily: Rows<'a>,
    /// Each link's distinct viewers (link, visitor, first seen), a link's rows
    /// together; those new to the link raise its unique views.
    pub visitors: Rows<'a>,
}

/// The statements of a batch, on whichever connection runs them: a sqlx
/// transaction ([`Tx`]), or the SQLite writer thread's own.
pub(super) trait Counting: Statements {
    /// The link's row and its task's, if the link is still active at `at`.
    async fn link_now(&mut self, share_link_id: &str, at: Timestamp) -> Result<Option<LinkNow>, Self::Error>;

    /// Writes `records`.
    async fn record(&mut self, records: &Records<'_>) -> Result<(), Self::Error>;
}

impl Counting for Tx<'_, '_> {
    async fn link_now(&mut self, share_link_id: &str, at: Timestamp) -> sqlx::Result<Option<LinkNow>> {
        dispatch_tx!(self, |tx| sqlx::query_as(LINK_NOW)
            .bind(share_link_id)
            .bind(at)
            .fetch_optional(&mut ***tx)
            .await)
    }

    /// PostgreSQL: one statement ([`RECORD_ALL`]); SQLite: one each.
    async fn record(&mut self, records: &Records<'_>) -> sqlx::Result<()> {
        match self {
            Tx::Sqlite(_) => record_each(self, records).await,
            Tx::Postgres(tx) => {
                let mut query = sqlx::query(RECORD_ALL.as_str());
                for rows in [&records.views, &records.breakdown, &records.daily, &records.visitors] {
                    query = bind_arrays(query, rows);
                }
                query.execute(&mut ***tx).await?;
                Ok(())
            }
        }
    }
}

/// Writes `records` a statement (or a few, see [`Statements::insert`]) per table,
/// and per link for its viewers: where a statement costs no round trip.
pub(super) async fn record_each<S: Statements>(tx: &mut S, records: &Records<'_>) -> Result<(), S::Error> {
    tx.insert(records.views).await?;
    tx.insert(records.breakdown).await?;
    tx.insert(records.daily).await?;
    let visitors = records.visitors;
    let width = visitors.columns.len();
    let mut start = 0;
    while start < visitors.values.len() {
        let link = visitors.values[start];
        let mut end = start + width;
        while end < visitors.values.len() && visitors.values[end].text() == link.text() {
            end += width;
        }
        let new = tx.insert(Rows { values: &visitors.values[start..end], ..visitors }).await?;
        if new > 0 {
            tx.execute(ADD_UNIQUE, &[link, Value::Int(new as i64)]).await?;
        }
        start = end;
    }
    Ok(())
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
pub(super) async fn count_batch<C: Counting>(
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
    let view_ids: Vec<ViewId> = views.iter().map(|_| ViewId::generate()).collect();
    let mut outcomes = vec![ViewOutcome::Refused; views.len()];
    for batch in links.values_mut() {
        let id = batch.link.share_link_id.as_str();
        loop {
            let Some(LinkNow { view_count: before, max_views, version, task }) = tx.link_now(id, now).await?
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
    let mut views_rows = Vec::with_capacity(VIEW_COLUMNS.len() * granted.len());
    for &i in &granted {
        let view = &views[i].view;
        views_rows.extend([
            Value::Text(view_ids[i].as_str()),
            Value::Text(views[i].link.share_link_id.as_str()),
            Value::Int(at),
            view.client_prefix.as_deref().into(),
            view.country.as_deref().into(),
            view.city.as_deref().into(),
            view.user_agent.as_deref().into(),
            view.referrer_host.as_deref().into(),
            view.viewer_email.as_deref().into(),
        ]);
    }
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
        // Only views of a link with an audience carry a verified address.
        if let Some(email) = view.viewer_email.as_deref() {
            *breakdown.entry((views[i].link.share_link_id.as_str(), VIEWER_DIMENSION, email)).or_default() +=
                1;
        }
    }
    let mut breakdown_rows = Vec::with_capacity(BREAKDOWN_COLUMNS.len() * breakdown.len());
    for ((id, dimension, value), n) in breakdown {
        breakdown_rows.extend([Value::Text(id), Value::Text(dimension), Value::Text(value), Value::Int(n)]);
    }
    // (A link with views granted always has its task read.)
    let counted = || links.values().filter_map(|b| Some((b, b.task.as_ref().filter(|_| b.granted > 0)?)));
    let mut daily_rows = Vec::new();
    let mut visitor_rows = Vec::new();
    for (batch, _) in counted() {
        let id = batch.link.share_link_id.as_str();
        daily_rows.extend([Value::Text(id), Value::Text(&day), Value::Int(batch.granted as i64)]);
        let mut seen = HashSet::new();
        for &i in &batch.current[..batch.granted] {
            let hash = views[i].view.visitor_hash.as_str();
            if seen.insert(hash) {
                visitor_rows.extend([Value::Text(id), Value::Text(hash), Value::Int(at)]);
            }
        }
    }
    let records = Records {
        views: Rows { head: VIEW_ROW, columns: &VIEW_COLUMNS, values: &views_rows, tail: "" },
        breakdown: Rows {
            head: BREAKDOWN_ROW,
            columns: &BREAKDOWN_COLUMNS,
            values: &breakdown_rows,
            tail: BREAKDOWN_TAIL,
        },
        daily: Rows { head: DAILY_ROW, columns: &DAILY_COLUMNS, values: &daily_rows, tail: DAILY_TAIL },
        visitors: Rows {
            head: VISITOR_ROW,
            columns: &VISITOR_COLUMNS,
            values: &visitor_rows,
            tail: NEW_VISITOR_TAIL,
        },
    };
    // A batch whose every view was refused writes nothing (and, on PostgreSQL,
    // spends no round trip on nothing).
    if !granted.is_empty() {
        tx.record(&records).await?;
    }
    for (batch, task) in counted() {
        let id = batch.link.share_link_id.as_str();
        let mine = &batch.current[..batch.granted];
        let granted = Value::Int(batch.granted as i64);
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
                let viewed = WebhookEvent::ShareLinkViewed {
                    share_link_id: link.share_link_id.clone(),
                    task_id: link.task_id.clone(),
                    timestamp: now,
                    viewer: LinkViewer {
                        ip_address: view.ip_address.clone(),
                        user_agent: view.user_agent.clone(),
                        country: view.country.clone(),
                        city: view.city.clone(),
                    },
                    viewer_email: view.viewer_email.clone(),
                    view_count: batch.before + n as i64 + 1,
                    max_views: batch.max_views,
                };
                outbox::write(tx, &OutboxEvent::new(&link.owner_id, viewed), now).await?;
            }
            tx.execute(PEND_MAIL, &[Value::Text(id), Value::Int(at), granted]).await?;
        }
        if batch.max_views == Some(batch.before + batch.granted as i64) {
            tx.execute(EXPIRY_NOTIFIED, &[Value::Text(id), Value::Int(at)]).await?;
            let expired = WebhookEvent::ShareLinkExpired(LinkFacts {
                share_link_id: link.share_link_id.clone(),
                task_id: link.task_id.clone(),
                timestamp: now,
            });
            outbox::write(tx, &OutboxEvent::new(&link.owner_id, expired), now).await?;
        }
    }
    Ok(outcomes)
}
