//! Owners and their API keys.

use super::dialect::dispatch;
use super::Db;
use crate::domain::api_key::NewApiKey;
use crate::domain::ids::{ApiKeyId, OwnerId};
use crate::domain::time::Timestamp;

/// An account that owns tasks and shares.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Owner {
    pub owner_id: OwnerId,
    pub name: String,
    pub email: Option<String>,
    pub created_at: Timestamp,
}

/// What is kept of an API key (never the key itself).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRecord {
    pub key_id: ApiKeyId,
    pub owner_id: OwnerId,
    pub owner_name: String,
    pub key_prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Db {
    /// Finds the owner called `name`, creating it if there is none. A given `email`
    /// replaces the stored one. Safe against concurrent creators of the same name.
    pub async fn upsert_owner(&self, name: &str, email: Option<&str>) -> sqlx::Result<Owner> {
        let now = Timestamp::now();
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO owners (owner_id, name, email, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(OwnerId::generate())
            .bind(name)
            .bind(email)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let owner = sqlx::query_as(
                "UPDATE owners SET email = COALESCE($2, email) WHERE name = $1 \
                 RETURNING owner_id, name, email, created_at",
            )
            .bind(name)
            .bind(email)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(owner)
        })
    }

    /// The owner called `name`, if there is one.
    pub async fn owner_named(&self, name: &str) -> sqlx::Result<Option<Owner>> {
        dispatch!(self.read(), |pool| sqlx::query_as(
            "SELECT owner_id, name, email, created_at FROM owners WHERE name = $1"
        )
        .bind(name)
        .fetch_optional(pool)
        .await)
    }

    /// Stores a new key for `owner_id`.
    pub async fn insert_api_key(&self, owner_id: &OwnerId, key: &NewApiKey) -> sqlx::Result<()> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "INSERT INTO api_keys (key_id, owner_id, key_hash, key_prefix, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.key_id)
            .bind(owner_id)
            .bind(&key.hash)
            .bind(&key.display_prefix)
            .bind(Timestamp::now())
            .execute(pool)
            .await
            .map(|_| ())
        })
    }

    /// The owner holding the unrevoked key whose hash is `key_hash`.
    pub async fn owner_by_key_hash(&self, key_hash: &str) -> sqlx::Result<Option<Owner>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT o.owner_id, o.name, o.email, o.created_at FROM api_keys k \
                 JOIN owners o ON o.owner_id = k.owner_id \
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
            )
            .bind(key_hash)
            .fetch_optional(pool)
            .await
        })
    }

    /// Every key, or those of the owner called `owner_name`, newest first.
    pub async fn list_api_keys(&self, owner_name: Option<&str>) -> sqlx::Result<Vec<ApiKeyRecord>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT k.key_id, k.owner_id, o.name AS owner_name, k.key_prefix, k.created_at, k.revoked_at \
                 FROM api_keys k JOIN owners o ON o.owner_id = k.owner_id \
                 WHERE $1 IS NULL OR o.name = $1 ORDER BY k.created_at DESC, k.key_id",
            )
            .bind(owner_name)
            .fetch_all(pool)
            .await
        })
    }

    /// Revokes a key at once; answers false when no unrevoked key has that id.
    pub async fn revoke_api_key(&self, key_id: &ApiKeyId) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| {
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL")
                .bind(key_id)
                .bind(Timestamp::now())
                .execute(pool)
                .await
                .map(|r| r.rows_affected() == 1)
        })
    }
}
