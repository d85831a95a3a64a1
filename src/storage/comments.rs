//! Comments on share links.

use std::time::Duration;

use super::dialect::{dispatch, Tx, Variants};
use super::outbox::{self, OutboxEvent};
use super::Db;
use crate::domain::ids::{CommentId, ShareLinkId};
use crate::domain::time::Timestamp;

const COMMENT_COLUMNS: &str =
    "comment_id, share_link_id, name, email, content, created_at, verified_at, deleted_at";

/// A comment as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRecord {
    pub comment_id: CommentId,
    pub share_link_id: ShareLinkId,
    pub name: String,
    pub email: String,
    pub content: String,
    pub created_at: Timestamp,
    pub verified_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
}

/// Where a comment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentStatus {
    /// Written; shown once its author opens the link mailed to them.
    PendingVerification,
    /// Verified, and shown to viewers.
    Published,
    /// Deleted by the link's owner; shown to nobody.
    Deleted,
}

impl CommentRecord {
    pub fn status(&self) -> CommentStatus {
        match (self.deleted_at, self.verified_at) {
            (Some(_), _) => CommentStatus::Deleted,
            (None, Some(_)) => CommentStatus::Published,
            (None, None) => CommentStatus::PendingVerification,
        }
    }
}

/// A validated comment waiting for its author's verification.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub comment_id: CommentId,
    pub share_link_id: ShareLinkId,
    pub name: String,
    pub email: String,
    pub content: String,
    pub verify_hash: String,
}

/// What keeps comments from being used to flood a link or mail strangers.
#[derive(Debug, Clone, Copy)]
pub struct CommentBounds {
    /// Comments awaiting verification a link holds at most.
    pub pending_per_link: i64,
    /// Comments a link takes per hour at most, verified or not.
    pub per_link_per_hour: i64,
    /// How long a verification link works; older unverified comments no longer
    /// count as pending.
    pub verify_within: Duration,
    /// One verification mail per address per this long.
    pub mail_every: Duration,
}

/// Why a comment was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentRefusal {
    /// The link holds as many comments awaiting verification, or took as many
    /// this hour, as it may.
    LinkBusy,
    /// A verification mail went to the address at `sent_at`, less than
    /// [`CommentBounds::mail_every`] ago.
    AddressMailed { sent_at: Timestamp },
}

/// Serializes comments on one link among PostgreSQL's sessions, so the counts
/// below are read and acted on as one step (SQLite has one writer).
const LINK_COMMENT_LOCK: Variants =
    Variants { sqlite: "", postgres: "SELECT pg_advisory_xact_lock(hashtext('share_link_comments:' || $1))" };

/// Inserts the comment only while the link is within its bounds: `$8` since when
/// an unverified comment still counts, `$9` the most pending, `$10` an hour ago,
/// `$11` the most per hour.
const INSERT_BOUNDED: &str = "INSERT INTO share_link_comments \
     (comment_id, share_link_id, name, email, content, verify_hash, created_at) \
     SELECT $1, $2, $3, $4, $5, $6, $7 \
     WHERE (SELECT COUNT(*) FROM share_link_comments WHERE share_link_id = $2 \
            AND verified_at IS NULL AND deleted_at IS NULL AND created_at > $8) < $9 \
       AND (SELECT COUNT(*) FROM share_link_comments WHERE share_link_id = $2 AND created_at > $10) < $11";

/// Claims the address's mail slot: sets `sent_at` unless the last mail is more
/// recent than `$3`.
const CLAIM_MAIL: &str = "INSERT INTO comment_mail (address_hash, sent_at) VALUES ($1, $2) \
     ON CONFLICT (address_hash) DO UPDATE SET sent_at = excluded.sent_at WHERE comment_mail.sent_at <= $3";

fn ago(now: Timestamp, span: Duration) -> Timestamp {
    Timestamp(now.millis().saturating_sub(i64::try_from(span.as_millis()).unwrap_or(i64::MAX)))
}

impl Db {
    /// Stores a comment awaiting verification and claims the one verification
    /// mail its address may have this period, both or neither: refused when the
    /// link is over its [`CommentBounds`] or the address was mailed lately.
    /// `address_hash` identifies the address (SHA-256 of its lower-cased form).
    pub async fn insert_comment(
        &self,
        comment: &NewComment,
        address_hash: &str,
        bounds: &CommentBounds,
    ) -> sqlx::Result<Result<(), CommentRefusal>> {
        let now = Timestamp::now();
        let lock = self.backend().sql(&LINK_COMMENT_LOCK);
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            if !lock.is_empty() {
                sqlx::query(lock).bind(&comment.share_link_id).execute(&mut *tx).await?;
            }
            let inserted = sqlx::query(INSERT_BOUNDED)
                .bind(&comment.comment_id)
                .bind(&comment.share_link_id)
                .bind(&comment.name)
                .bind(&comment.email)
                .bind(&comment.content)
                .bind(&comment.verify_hash)
                .bind(now)
                .bind(ago(now, bounds.verify_within))
                .bind(bounds.pending_per_link)
                .bind(ago(now, Duration::from_secs(3600)))
                .bind(bounds.per_link_per_hour)
                .execute(&mut *tx)
                .await?;
            if inserted.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(Err(CommentRefusal::LinkBusy));
            }
            let mail_since = ago(now, bounds.mail_every);
            let claimed = sqlx::query(CLAIM_MAIL)
                .bind(address_hash)
                .bind(now)
                .bind(mail_since)
                .execute(&mut *tx)
                .await?;
            if claimed.rows_affected() == 0 {
                let sent_at: Timestamp =
                    sqlx::query_scalar("SELECT sent_at FROM comment_mail WHERE address_hash = $1")
                        .bind(address_hash)
                        .fetch_one(&mut *tx)
                        .await?;
                tx.rollback().await?;
                return Ok(Err(CommentRefusal::AddressMailed { sent_at }));
            }
            // Slots older than the period are of no more use.
            sqlx::query("DELETE FROM comment_mail WHERE sent_at <= $1")
                .bind(mail_since)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Ok(()))
        })
    }

    /// Verifies the comment of `share_link_id` whose verification secret hashes to
    /// `verify_hash` (unless it was written longer than `within` ago), and puts
    /// `comment.created` in the outbox in the same transaction (built by `event`
    /// from the comment). Verifying twice is harmless.
    pub async fn verify_comment(
        &self,
        share_link_id: &ShareLinkId,
        verify_hash: &str,
        within: Duration,
        event: impl FnOnce(&CommentRecord) -> OutboxEvent,
    ) -> sqlx::Result<Option<CommentRecord>> {
        let now = Timestamp::now();
        let sql = format!(
            "UPDATE share_link_comments SET verified_at = COALESCE(verified_at, $3) \
             WHERE share_link_id = $1 AND verify_hash = $2 AND deleted_at IS NULL \
             AND (verified_at IS NOT NULL OR created_at > $4) RETURNING {COMMENT_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let comment: Option<CommentRecord> = sqlx::query_as(&sql)
                .bind(share_link_id)
                .bind(verify_hash)
                .bind(now)
                .bind(ago(now, within))
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(first_time) = comment.as_ref().filter(|c| c.verified_at == Some(now)) {
                outbox::write(&mut Tx::from(&mut tx), &event(first_time), now).await?;
            }
            tx.commit().await?;
            Ok(comment)
        })
    }

    /// A link's comments, oldest first: only verified, undeleted ones unless `all`.
    pub async fn list_comments(
        &self,
        share_link_id: &ShareLinkId,
        all: bool,
    ) -> sqlx::Result<Vec<CommentRecord>> {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} FROM share_link_comments WHERE share_link_id = $1 \
             AND ($2 OR (verified_at IS NOT NULL AND deleted_at IS NULL)) ORDER BY created_at, comment_id LIMIT 500"
        );
        dispatch!(self.read(), |pool| sqlx::query_as(&sql)
            .bind(share_link_id)
            .bind(all)
            .fetch_all(pool)
            .await)
    }

    /// Deletes (hides) a comment; answers whether there was one to delete.
    pub async fn delete_comment(
        &self,
        share_link_id: &ShareLinkId,
        comment_id: &CommentId,
    ) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE share_link_comments SET deleted_at = $3 WHERE share_link_id = $1 AND comment_id = $2 \
                 AND deleted_at IS NULL",
            )
            .bind(share_link_id)
            .bind(comment_id)
            .bind(Timestamp::now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
        })
    }
}
