//! Webhook endpoints, and the deliveries of the outbox's events to them.
//!
//! Events are written by [`outbox::write`] inside the transaction of whatever
//! caused them, one delivery per subscribed endpoint; a worker claims due
//! deliveries with a lease (and `FOR UPDATE SKIP LOCKED` on PostgreSQL), so with
//! several instances each delivery is attempted by one worker at a time.

use super::dialect::{dispatch, Tx, Variants};
use super::outbox::{self, OutboxEvent};
use super::Db;
use crate::domain::ids::{EventId, OwnerId, WebhookId};
use crate::domain::time::Timestamp;
use crate::domain::webhook::{DeliveryStatus, EndpointStatus, FAILING_AFTER, MAX_ATTEMPTS};

const ENDPOINT_COLUMNS: &str =
    "webhook_id, owner_id, url, description, event_types, secret_version, status, \
     consecutive_failures, created_at, updated_at";

/// A webhook endpoint as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRecord {
    pub webhook_id: WebhookId,
    pub owner_id: OwnerId,
    pub url: String,
    pub description: Option<String>,
    /// The event types sent to the endpoint, comma-separated.
    pub event_types: String,
    pub secret_version: i64,
    pub status: EndpointStatus,
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub event_types: Option<String>,
    /// `Active` or `Disabled` (either also clears the count of failures).
    pub status: Option<EndpointStatus>,
    pub rotate_secret: bool,
}

/// A delivery claimed by a worker, with what it needs to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueDelivery {
    pub delivery_id: String,
    pub event_id: EventId,
    pub webhook_id: WebhookId,
    pub attempts: i64,
    pub url: String,
    pub secret_version: i64,
    pub event_type: String,
    pub payload: String,
    pub event_created_at: Timestamp,
}

/// One attempt, as the deliveries API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRecord {
    pub attempt_id: String,
    pub event_id: EventId,
    pub event_type: String,
    pub attempted_at: Timestamp,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The delivery's status now.
    pub delivery_status: DeliveryStatus,
    pub attempts: i64,
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub succeeded: bool,
    /// When to try again, if it failed (ignored after the last attempt).
    pub retry_at: Timestamp,
}

macro_rules! claim {
    ($lock:literal) => {
        concat!(
            "UPDATE webhook_deliveries SET locked_until = $2 WHERE delivery_id IN (\
             SELECT d.delivery_id FROM webhook_deliveries d WHERE d.status = 'pending' \
             AND d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until < $1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.webhook_id = d.webhook_id \
             AND w.status = 'disabled') \
             ORDER BY d.next_attempt_at LIMIT $3",
            $lock,
            ") AND status = 'pending' AND (locked_until IS NULL OR locked_until < $1) RETURNING delivery_id"
        )
    };
}

/// Leases due deliveries. On PostgreSQL, workers of other instances skip the rows
/// one is claiming instead of waiting for it; SQLite has one writer anyway.
const CLAIM: Variants = Variants { sqlite: claim!(""), postgres: claim!(" FOR UPDATE SKIP LOCKED") };

impl Db {
    pub async fn create_webhook(
        &self,
        owner_id: &OwnerId,
        url: &str,
        description: Option<&str>,
        event_types: &str,
    ) -> sqlx::Result<WebhookRecord> {
        let sql = format!(
            "INSERT INTO webhook_endpoints (webhook_id, owner_id, url, description, event_types, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, 'active', $6, $6) RETURNING {ENDPOINT_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            sqlx::query_as(&sql)
                .bind(WebhookId::generate())
                .bind(owner_id)
                .bind(url)
                .bind(description)
                .bind(event_types)
                .bind(Timestamp::now())
                .fetch_one(pool)
                .await
        })
    }

    pub async fn list_webhooks(&self, owner_id: &OwnerId) -> sqlx::Result<Vec<WebhookRecord>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE owner_id = $1 ORDER BY created_at, webhook_id");
        dispatch!(self.read(), |pool| sqlx::query_as(&sql).bind(owner_id).fetch_all(pool).await)
    }

    pub async fn get_webhook(
        &self,
        owner_id: &OwnerId,
        webhook_id: &WebhookId,
    ) -> sqlx::Result<Option<WebhookRecord>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE owner_id = $1 AND webhook_id = $2"
        );
        dispatch!(self.read(), |pool| sqlx::query_as(&sql)
            .bind(owner_id)
            .bind(webhook_id)
            .fetch_optional(pool)
            .await)
    }

    pub async fn update_webhook(
        &self,
        owner_id: &OwnerId,
        webhook_id: &WebhookId,
        patch: &WebhookPatch,
    ) -> sqlx::Result<Option<WebhookRecord>> {
        let sql = format!(
            "UPDATE webhook_endpoints SET url = COALESCE($3, url), \
                 description = CASE WHEN $4 THEN $5 ELSE description END, \
                 event_types = COALESCE($6, event_types), \
                 status = COALESCE($7, status), \
                 consecutive_failures = CASE WHEN $7 IS NULL THEN consecutive_failures ELSE 0 END, \
                 secret_version = secret_version + CASE WHEN $8 THEN 1 ELSE 0 END, \
                 updated_at = $9 \
             WHERE owner_id = $1 AND webhook_id = $2 RETURNING {ENDPOINT_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            sqlx::query_as(&sql)
                .bind(owner_id)
                .bind(webhook_id)
                .bind(&patch.url)
                .bind(patch.description.is_some())
                .bind(patch.description.clone().flatten())
                .bind(&patch.event_types)
                .bind(patch.status)
                .bind(patch.rotate_secret)
                .bind(Timestamp::now())
                .fetch_optional(pool)
                .await
        })
    }

    /// Deletes an endpoint with its pending deliveries; answers whether there was one.
    pub async fn delete_webhook(&self, owner_id: &OwnerId, webhook_id: &WebhookId) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| {
            sqlx::query("DELETE FROM webhook_endpoints WHERE owner_id = $1 AND webhook_id = $2")
                .bind(owner_id)
                .bind(webhook_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
    }

    /// Puts `event` in the outbox for the one endpoint `webhook_id` (test events);
    /// false, and nothing written, when the endpoint no longer exists.
    pub async fn enqueue_for_endpoint(
        &self,
        webhook_id: &WebhookId,
        event: &OutboxEvent,
    ) -> sqlx::Result<bool> {
        let now = Timestamp::now();
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let queued =
                outbox::write_for_endpoint(&mut Tx::from(&mut tx), event, webhook_id.as_str(), now).await?;
            if queued {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(queued)
        })
    }

    /// Puts `event` in the outbox for every endpoint of its owner that wants it.
    pub async fn enqueue(&self, event: &OutboxEvent) -> sqlx::Result<()> {
        let now = Timestamp::now();
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            outbox::write(&mut Tx::from(&mut tx), event, now).await?;
            tx.commit().await
        })
    }

    /// Leases up to `limit` due deliveries until `lease_until` and returns them.
    /// A delivery leased by one worker is invisible to the others until its lease
    /// ends (a crashed worker's deliveries come back after it).
    pub async fn claim_deliveries(
        &self,
        lease_until: Timestamp,
        limit: i64,
    ) -> sqlx::Result<Vec<DueDelivery>> {
        let now = Timestamp::now();
        let claimed: Vec<String> = dispatch!(self.write(), |pool| {
            sqlx::query_scalar(self.backend().sql(&CLAIM))
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        let mut due = Vec::with_capacity(claimed.len());
        for delivery_id in claimed {
            let row: Option<DueDelivery> = dispatch!(self.read(), |pool| {
                sqlx::query_as(
                    "SELECT d.delivery_id, d.event_id, d.webhook_id, d.attempts, w.url, w.secret_version, \
                            e.event_type, e.payload, e.created_at AS event_created_at \
                     FROM webhook_deliveries d JOIN webhook_endpoints w ON w.webhook_id = d.webhook_id \
                     JOIN webhook_events e ON e.event_id = d.event_id WHERE d.delivery_id = $1",
                )
                .bind(&delivery_id)
                .fetch_optional(pool)
                .await
            })?;
            due.extend(row);
        }
        Ok(due)
    }

    /// Records an attempt and moves the delivery on: delivered, retried later, or
    /// failed after the last attempt; keeps the endpoint's failure count.
    pub async fn finish_attempt(&self, delivery: &DueDelivery, result: &AttemptResult) -> sqlx::Result<()> {
        let now = Timestamp::now();
        let attempts = delivery.attempts + 1;
        let status = if result.succeeded {
            DeliveryStatus::Delivered
        } else if attempts >= MAX_ATTEMPTS {
            DeliveryStatus::Failed
        } else {
            DeliveryStatus::Pending
        };
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO webhook_attempts (attempt_id, delivery_id, webhook_id, event_id, event_type, attempted_at, \
                 status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(crate::domain::ids::new_id("attempt"))
            .bind(&delivery.delivery_id)
            .bind(&delivery.webhook_id)
            .bind(&delivery.event_id)
            .bind(&delivery.event_type)
            .bind(now)
            .bind(result.status_code.map(i64::from))
            .bind(result.latency_ms)
            .bind(&result.error)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3, next_attempt_at = $4, locked_until = NULL, \
                 delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END WHERE delivery_id = $1",
            )
            .bind(&delivery.delivery_id)
            .bind(status)
            .bind(attempts)
            .bind(result.retry_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if result.succeeded {
                sqlx::query(
                    "UPDATE webhook_endpoints SET consecutive_failures = 0, \
                     status = CASE WHEN status = 'failing' THEN 'active' ELSE status END \
                     WHERE webhook_id = $1 AND (consecutive_failures <> 0 OR status = 'failing')",
                )
                .bind(&delivery.webhook_id)
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1, \
                     status = CASE WHEN status = 'active' AND consecutive_failures + 1 >= $2 THEN 'failing' ELSE status END \
                     WHERE webhook_id = $1",
                )
                .bind(&delivery.webhook_id)
                .bind(FAILING_AFTER)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })
    }

    /// When the next pending delivery is due, if any. Deliveries to a disabled
    /// endpoint wait, unattempted, until it is enabled again.
    pub async fn next_delivery_due(&self) -> sqlx::Result<Option<Timestamp>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar(
                "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d WHERE d.status = 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.webhook_id = d.webhook_id \
                 AND w.status = 'disabled')",
            )
            .fetch_one(pool)
            .await
        })
    }

    /// The outbox's level, for metrics: deliveries waiting (to endpoints that are
    /// not disabled), when the oldest of them was made, and endpoints failing.
    pub async fn outbox_level(&self) -> sqlx::Result<OutboxLevel> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT COUNT(*) AS pending, MIN(d.created_at) AS oldest,                  (SELECT COUNT(*) FROM webhook_endpoints WHERE status = 'failing') AS failing_endpoints                  FROM webhook_deliveries d WHERE d.status = 'pending'                  AND NOT EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.webhook_id = d.webhook_id                  AND w.status = 'disabled')",
            )
            .fetch_one(pool)
            .await
        })
    }

    /// The id of the owner's newest event in the outbox.
    pub async fn latest_event_id(&self, owner_id: &OwnerId) -> sqlx::Result<Option<EventId>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar(
                "SELECT event_id FROM webhook_events WHERE owner_id = $1 ORDER BY created_at DESC, event_id LIMIT 1",
            )
            .bind(owner_id)
            .fetch_optional(pool)
            .await
        })
    }

    /// The newest `limit` attempts to deliver to an endpoint.
    pub async fn webhook_attempts(
        &self,
        webhook_id: &WebhookId,
        limit: i64,
    ) -> sqlx::Result<Vec<AttemptRecord>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT a.attempt_id, a.event_id, a.event_type, a.attempted_at, a.status_code, a.latency_ms, a.error, \
                        d.status AS delivery_status, d.attempts \
                 FROM webhook_attempts a JOIN webhook_deliveries d ON d.delivery_id = a.delivery_id \
                 WHERE a.webhook_id = $1 ORDER BY a.attempted_at DESC, a.attempt_id LIMIT $2",
            )
            .bind(webhook_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
    }
}

/// How full the outbox is ([`Db::outbox_level`]).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct OutboxLevel {
    pub pending: i64,
    pub oldest: Option<Timestamp>,
    pub failing_endpoints: i64,
}
