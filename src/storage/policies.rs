//! Owners' sharing policies: one row per owner who saved one; an owner without a
//! row has the default policy.

use super::dialect::dispatch;
use super::Db;
use crate::domain::ids::OwnerId;
use crate::domain::policy::SharingPolicy;
use crate::domain::time::Timestamp;

/// A policy as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
struct PolicyRow {
    max_link_lifetime_days: Option<i64>,
    require_password: bool,
    require_audience: bool,
    allow_share_code_write: bool,
}

impl From<PolicyRow> for SharingPolicy {
    fn from(row: PolicyRow) -> SharingPolicy {
        SharingPolicy {
            max_link_lifetime_days: row.max_link_lifetime_days,
            require_password: row.require_password,
            require_audience: row.require_audience,
            allow_share_code_write: row.allow_share_code_write,
        }
    }
}

const POLICY_COLUMNS: &str =
    "max_link_lifetime_days, require_password, require_audience, allow_share_code_write";

impl Db {
    /// `owner_id`'s sharing policy (the default when they never saved one).
    pub async fn sharing_policy(&self, owner_id: &OwnerId) -> sqlx::Result<SharingPolicy> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM sharing_policies WHERE owner_id = $1");
        let row: Option<PolicyRow> =
            dispatch!(self.read(), |pool| sqlx::query_as(&sql).bind(owner_id).fetch_optional(pool).await)?;
        Ok(row.map(SharingPolicy::from).unwrap_or_default())
    }

    /// Replaces `owner_id`'s sharing policy with `policy`, in one statement; answers
    /// it as stored.
    pub async fn save_sharing_policy(
        &self,
        owner_id: &OwnerId,
        policy: &SharingPolicy,
    ) -> sqlx::Result<SharingPolicy> {
        let sql = format!(
            "INSERT INTO sharing_policies (owner_id, {POLICY_COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (owner_id) DO UPDATE SET max_link_lifetime_days = excluded.max_link_lifetime_days, \
               require_password = excluded.require_password, require_audience = excluded.require_audience, \
               allow_share_code_write = excluded.allow_share_code_write, updated_at = excluded.updated_at \
             RETURNING {POLICY_COLUMNS}"
        );
        let row: PolicyRow = dispatch!(self.write(), |pool| {
            sqlx::query_as(&sql)
                .bind(owner_id)
                .bind(policy.max_link_lifetime_days)
                .bind(policy.require_password)
                .bind(policy.require_audience)
                .bind(policy.allow_share_code_write)
                .bind(Timestamp::now())
                .fetch_one(pool)
                .await
        })?;
        Ok(row.into())
    }
}
