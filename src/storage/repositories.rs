//! Which owners may use which repositories under `--repositories-dir`: grants the
//! operator manages (`agentshare repositories grant|revoke|list`).

use super::dialect::dispatch;
use super::Db;
use crate::domain::ids::OwnerId;
use crate::domain::time::Timestamp;

/// One owner's grant of one repository.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RepositoryGrant {
    pub owner_id: OwnerId,
    pub owner_name: String,
    /// The repository's path relative to the repositories directory, symlinks
    /// followed (see `forge::Repository::key`).
    pub repository: String,
    pub granted_at: Timestamp,
}

impl Db {
    /// Lets `owner_id` use `repository`; answers whether the grant is new.
    pub async fn grant_repository(&self, owner_id: &OwnerId, repository: &str) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| sqlx::query(
            "INSERT INTO repository_grants (owner_id, repository, granted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (owner_id, repository) DO NOTHING"
        )
        .bind(owner_id)
        .bind(repository)
        .bind(Timestamp::now())
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
    }

    /// Takes `repository` from `owner_id`; answers whether there was a grant.
    /// Tasks linked to it keep their link but can no longer open pull requests,
    /// diffs or merges.
    pub async fn revoke_repository(&self, owner_id: &OwnerId, repository: &str) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| sqlx::query(
            "DELETE FROM repository_grants WHERE owner_id = $1 AND repository = $2"
        )
        .bind(owner_id)
        .bind(repository)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
    }

    /// Whether `owner_id` may use `repository`.
    pub async fn may_use_repository(&self, owner_id: &OwnerId, repository: &str) -> sqlx::Result<bool> {
        dispatch!(self.read(), |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM repository_grants WHERE owner_id = $1 AND repository = $2"
        )
        .bind(owner_id)
        .bind(repository)
        .fetch_one(pool)
        .await
        .map(|count| count > 0))
    }

    /// Every grant (or the grants of the owner called `owner_name`), by owner and
    /// repository.
    pub async fn list_repository_grants(
        &self,
        owner_name: Option<&str>,
    ) -> sqlx::Result<Vec<RepositoryGrant>> {
        dispatch!(self.read(), |pool| sqlx::query_as(
            "SELECT g.owner_id, o.name AS owner_name, g.repository, g.granted_at \
             FROM repository_grants g JOIN owners o ON o.owner_id = g.owner_id \
             WHERE $1 IS NULL OR o.name = $1 ORDER BY o.name, g.repository"
        )
        .bind(owner_name)
        .fetch_all(pool)
        .await)
    }
}
