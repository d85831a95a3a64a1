//! Pruning what has run out, in small batches so that views are never kept waiting
//! for long: raw view rows past the retention window (analytics are read from
//! rollups and keep their totals), password attempts and verification codes long
//! past their windows, and webhook events settled long ago with their deliveries
//! and attempts.

use super::dialect::dispatch;
use super::Db;
use crate::domain::time::Timestamp;

/// Rows deleted per statement.
pub const BATCH: i64 = 1000;

/// How many rows one pass deleted, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub views: u64,
    pub password_attempts: u64,
    pub verifications: u64,
    pub webhook_events: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.views + self.password_attempts + self.verifications + self.webhook_events
    }
}

/// Until when each kind of row is kept.
#[derive(Debug, Clone, Copy)]
pub struct Cutoffs {
    /// Views before this go; `None` keeps them.
    pub views: Option<Timestamp>,
    /// Password attempts and settled verification codes before this go.
    pub attempts: Timestamp,
    /// Webhook events before this, with no delivery pending, go.
    pub webhook_events: Timestamp,
}

const VIEWS: &str = "DELETE FROM share_link_views WHERE (share_link_id, viewed_at, view_id) IN ( \
     SELECT share_link_id, viewed_at, view_id FROM share_link_views WHERE viewed_at < $1 LIMIT $2)";
const ATTEMPTS: &str = "DELETE FROM share_link_password_attempts WHERE attempt_id IN ( \
     SELECT attempt_id FROM share_link_password_attempts WHERE attempted_at < $1 LIMIT $2)";
const VERIFICATIONS: &str = "DELETE FROM link_verifications WHERE (share_link_id, address_hash) IN ( \
     SELECT share_link_id, address_hash FROM link_verifications \
     WHERE expires_at < $1 AND window_start < $1 LIMIT $2)";
/// Deliveries and their attempts go with their event (`ON DELETE CASCADE`).
const WEBHOOK_EVENTS: &str = "DELETE FROM webhook_events WHERE event_id IN ( \
     SELECT e.event_id FROM webhook_events e WHERE e.created_at < $1 AND NOT EXISTS ( \
         SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.event_id AND d.status = 'pending') \
     LIMIT $2)";

impl Db {
    /// Deletes one batch of what `sql` selects before `cutoff`; answers how many rows.
    async fn prune_batch(&self, sql: &str, cutoff: Timestamp) -> sqlx::Result<u64> {
        dispatch!(self.write(), |pool| {
            sqlx::query(sql).bind(cutoff).bind(BATCH).execute(pool).await.map(|done| done.rows_affected())
        })
    }

    /// Deletes everything `sql` selects before `cutoff`, a batch at a time.
    async fn prune_all(&self, sql: &str, cutoff: Timestamp) -> sqlx::Result<u64> {
        let mut deleted = 0;
        loop {
            let batch = self.prune_batch(sql, cutoff).await?;
            deleted += batch;
            if batch < BATCH.unsigned_abs() {
                return Ok(deleted);
            }
            // Others' writes (views above all) go between two batches.
            tokio::task::yield_now().await;
        }
    }

    /// One pass over everything that runs out.
    pub async fn prune(&self, cutoffs: Cutoffs) -> sqlx::Result<Pruned> {
        Ok(Pruned {
            views: match cutoffs.views {
                Some(cutoff) => self.prune_all(VIEWS, cutoff).await?,
                None => 0,
            },
            password_attempts: self.prune_all(ATTEMPTS, cutoffs.attempts).await?,
            verifications: self.prune_all(VERIFICATIONS, cutoffs.attempts).await?,
            webhook_events: self.prune_all(WEBHOOK_EVENTS, cutoffs.webhook_events).await?,
        })
    }
}
