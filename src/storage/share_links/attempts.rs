//! Brute-force limits on link passwords: every guess is recorded (in the database,
//! so the limits hold across instances), and only failures count.

use super::super::dialect::dispatch;
use super::super::Db;
use crate::domain::ids::ShareLinkId;
use crate::domain::time::Timestamp;

/// The answer to a password attempt reservation.
#[derive(Debug, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt may proceed; clear it with [`Db::clear_password_attempt`] if the
    /// password proves right.
    Reserved(String),
    /// Too many recent failures: try again after this many milliseconds.
    Locked { retry_after_ms: i64 },
}

/// Brute-force limits on link passwords.
#[derive(Debug, Clone, Copy)]
pub struct AttemptLimits {
    pub window_ms: i64,
    pub per_client: i64,
    pub per_link: i64,
}

impl Db {
    /// Records a password attempt on a link from `client_key` unless the link is
    /// locked for that client (`per_client` recent failures) or for everyone
    /// (`per_link`). The link's row is locked for the check, so concurrent guesses
    /// are counted one by one, on every instance.
    pub async fn reserve_password_attempt(
        &self,
        share_link_id: &ShareLinkId,
        client_key: &str,
        limits: AttemptLimits,
    ) -> sqlx::Result<Attempt> {
        let now = Timestamp::now().millis();
        let since = now - limits.window_ms;
        let attempt_id = crate::domain::ids::new_id("attempt");
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            // A no-op write that takes the link's row lock until commit.
            sqlx::query("UPDATE share_links SET updated_at = updated_at WHERE share_link_id = $1")
                .bind(share_link_id)
                .execute(&mut *tx)
                .await?;
            let (client_count, client_oldest): (i64, Option<i64>) = sqlx::query_as(
                "SELECT COUNT(*), MIN(attempted_at) FROM share_link_password_attempts \
                 WHERE share_link_id = $1 AND client_key = $2 AND attempted_at > $3",
            )
            .bind(share_link_id)
            .bind(client_key)
            .bind(since)
            .fetch_one(&mut *tx)
            .await?;
            let (link_count, link_oldest): (i64, Option<i64>) = sqlx::query_as(
                "SELECT COUNT(*), MIN(attempted_at) FROM share_link_password_attempts \
                 WHERE share_link_id = $1 AND attempted_at > $2",
            )
            .bind(share_link_id)
            .bind(since)
            .fetch_one(&mut *tx)
            .await?;
            let retry_at = |oldest: Option<i64>| oldest.unwrap_or(now) + limits.window_ms - now;
            let outcome = if client_count >= limits.per_client {
                Attempt::Locked { retry_after_ms: retry_at(client_oldest) }
            } else if link_count >= limits.per_link {
                Attempt::Locked { retry_after_ms: retry_at(link_oldest) }
            } else {
                sqlx::query(
                    "INSERT INTO share_link_password_attempts (attempt_id, share_link_id, client_key, attempted_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(&attempt_id)
                .bind(share_link_id)
                .bind(client_key)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Attempt::Reserved(attempt_id)
            };
            // Forget attempts that no window can count any more.
            sqlx::query(
                "DELETE FROM share_link_password_attempts WHERE share_link_id = $1 AND attempted_at <= $2",
            )
            .bind(share_link_id)
            .bind(since)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// Forgets an attempt whose password proved right: only failures count.
    pub async fn clear_password_attempt(&self, attempt_id: &str) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query("DELETE FROM share_link_password_attempts WHERE attempt_id = $1")
                .bind(attempt_id)
                .execute(pool)
                .await
                .map(|_| ())
        })
    }
}
