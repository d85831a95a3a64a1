//! What owners are told of their links outside a request: mail about views of
//! links with `notify_on_view`, and `share_link.expired` when a link's time runs out.

use super::super::dialect::{dispatch, Tx};
use super::super::outbox::{self, OutboxEvent};
use super::super::Db;
use crate::domain::ids::{OwnerId, ShareLinkId, TaskId};
use crate::domain::time::Timestamp;
use crate::domain::webhook::{LinkFacts, WebhookEvent};

/// Views of a link waiting to be mailed to its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingViewMail {
    pub share_link_id: ShareLinkId,
    pub pending_views: i64,
    pub last_sent_at: Option<Timestamp>,
    pub title: String,
    pub view_count: i64,
    pub email: String,
}

impl Db {
    /// Notices links whose time ran out: puts `share_link.expired` in the outbox
    /// for each (once per expiry), in the transaction that marks it noticed.
    /// Answers how many were noticed.
    pub async fn notice_expired_links(&self, limit: i64) -> sqlx::Result<usize> {
        let now = Timestamp::now();
        let expired: Vec<(ShareLinkId, TaskId, OwnerId)> = dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT share_link_id, task_id, owner_id FROM share_links \
                 WHERE expires_at <= $1 AND expiry_notified_at IS NULL AND revoked_at IS NULL LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        let mut noticed = 0;
        for (share_link_id, task_id, owner_id) in expired {
            let expired = WebhookEvent::ShareLinkExpired(LinkFacts {
                share_link_id: share_link_id.clone(),
                task_id,
                timestamp: now,
            });
            let event = OutboxEvent::new(&owner_id, expired);
            noticed += dispatch!(self.write(), |pool| {
                let mut tx = pool.begin().await?;
                // Only the instance that flips the mark sends the event.
                let marked = sqlx::query(
                    "UPDATE share_links SET expiry_notified_at = $2 WHERE share_link_id = $1 \
                     AND expiry_notified_at IS NULL AND revoked_at IS NULL AND expires_at <= $2",
                )
                .bind(&share_link_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if marked == 1 {
                    outbox::write(&mut Tx::from(&mut tx), &event, now).await?;
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(marked as usize)
            })?;
        }
        Ok(noticed)
    }

    /// Links with views to mail whose last mail was sent before `cutoff` (or never).
    pub async fn pending_view_mail(&self, cutoff: Timestamp) -> sqlx::Result<Vec<PendingViewMail>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT v.share_link_id, v.pending_views, v.last_sent_at, l.title, l.view_count, o.email \
                 FROM view_mail v JOIN share_links l ON l.share_link_id = v.share_link_id \
                 JOIN owners o ON o.owner_id = l.owner_id \
                 WHERE v.pending_views > 0 AND o.email IS NOT NULL \
                   AND (v.last_sent_at IS NULL OR v.last_sent_at <= $1) LIMIT 100",
            )
            .bind(cutoff)
            .fetch_all(pool)
            .await
        })
    }

    /// Links whose views wait to be mailed to their owner, for metrics.
    pub async fn view_mail_waiting(&self) -> sqlx::Result<i64> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM view_mail WHERE pending_views > 0").fetch_one(pool).await
        })
    }

    /// Takes `pending.pending_views` views off the link's queue for one mail, if no
    /// other worker took them first: a compare-and-swap on the row.
    pub async fn take_view_mail(&self, pending: &PendingViewMail, now: Timestamp) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE view_mail SET pending_views = pending_views - $2, last_sent_at = $3, \
                 first_pending_at = CASE WHEN pending_views - $2 = 0 THEN NULL ELSE first_pending_at END \
                 WHERE share_link_id = $1 AND pending_views >= $2 \
                   AND (last_sent_at IS NULL AND $4 IS NULL OR last_sent_at = $4)",
            )
            .bind(&pending.share_link_id)
            .bind(pending.pending_views)
            .bind(now)
            .bind(pending.last_sent_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
    }

    /// Puts views back on the queue after their mail could not be sent.
    pub async fn return_view_mail(&self, pending: &PendingViewMail) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE view_mail SET pending_views = pending_views + $2, last_sent_at = $3 WHERE share_link_id = $1",
            )
            .bind(&pending.share_link_id)
            .bind(pending.pending_views)
            .bind(pending.last_sent_at)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }
}
