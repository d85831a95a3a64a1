//! Comments on share links.

use super::dialect::{dispatch, Tx};
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

impl Db {
    pub async fn insert_comment(&self, comment: &NewComment) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "INSERT INTO share_link_comments (comment_id, share_link_id, name, email, content, verify_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&comment.comment_id)
            .bind(&comment.share_link_id)
            .bind(&comment.name)
            .bind(&comment.email)
            .bind(&comment.content)
            .bind(&comment.verify_hash)
            .bind(Timestamp::now())
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// Verifies the comment of `share_link_id` whose verification secret hashes to
    /// `verify_hash`, and puts `comment.created` in the outbox in the same
    /// transaction (built by `event` from the comment). Verifying twice is harmless.
    pub async fn verify_comment(
        &self,
        share_link_id: &ShareLinkId,
        verify_hash: &str,
        event: impl FnOnce(&CommentRecord) -> OutboxEvent,
    ) -> sqlx::Result<Option<CommentRecord>> {
        let now = Timestamp::now();
        let sql = format!(
            "UPDATE share_link_comments SET verified_at = COALESCE(verified_at, $3) \
             WHERE share_link_id = $1 AND verify_hash = $2 AND deleted_at IS NULL RETURNING {COMMENT_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let comment: Option<CommentRecord> = sqlx::query_as(&sql)
                .bind(share_link_id)
                .bind(verify_hash)
                .bind(now)
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
