//! Sessions of the owner console: browsers that signed in with an API key.

use super::dialect::dispatch;
use super::{Db, Owner};
use crate::domain::ids::{ApiKeyId, ConsoleSessionId, OwnerId};
use crate::domain::time::Timestamp;

/// A live console session and the owner it acts for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsoleSession {
    pub session_id: ConsoleSessionId,
    pub owner_id: OwnerId,
    pub name: String,
    pub email: Option<String>,
    pub owner_created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl ConsoleSession {
    /// The owner this session acts for.
    pub fn owner(&self) -> Owner {
        Owner {
            owner_id: self.owner_id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            created_at: self.owner_created_at,
        }
    }
}

impl Db {
    /// Opens a console session for the holder of the unrevoked key whose hash is
    /// `key_hash`; `None` when there is no such key. Sessions of the same owner that
    /// have run out are cleared on the way.
    pub async fn open_console_session(
        &self,
        key_hash: &str,
        session_id: &ConsoleSessionId,
        token_hash: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> sqlx::Result<Option<ConsoleSession>> {
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let key: Option<(ApiKeyId, OwnerId)> = sqlx::query_as(
                "SELECT key_id, owner_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            )
            .bind(key_hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((key_id, owner_id)) = key else {
                return Ok(None);
            };
            sqlx::query("DELETE FROM console_sessions WHERE owner_id = $1 AND expires_at <= $2")
                .bind(&owner_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO console_sessions (session_id, token_hash, owner_id, key_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(session_id)
            .bind(token_hash)
            .bind(&owner_id)
            .bind(&key_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        })?;
        self.console_session(token_hash, now).await
    }

    /// The live session whose secret hashes to `token_hash`: not ended, not past its
    /// time, and its API key not revoked.
    pub async fn console_session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> sqlx::Result<Option<ConsoleSession>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT s.session_id, o.owner_id, o.name, o.email, o.created_at AS owner_created_at, s.expires_at \
                 FROM console_sessions s JOIN api_keys k ON k.key_id = s.key_id \
                 JOIN owners o ON o.owner_id = s.owner_id \
                 WHERE s.token_hash = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND k.revoked_at IS NULL",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
        })
    }

    /// Ends a session (signing out).
    pub async fn end_console_session(
        &self,
        session_id: &ConsoleSessionId,
        now: Timestamp,
    ) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE console_sessions SET ended_at = $2 WHERE session_id = $1 AND ended_at IS NULL",
            )
            .bind(session_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })
    }
}
