//! Codes mailed to the audience of a link: one live code per address and link,
//! stored as a keyed hash with the tries it has left. Every counter moves in one
//! statement: a new code replaces the last one only while the address may be
//! mailed again, and each try is taken before the code is compared.

use super::super::dialect::dispatch;
use super::super::Db;
use crate::domain::ids::ShareLinkId;
use crate::domain::time::Timestamp;

/// A code to store for an address of a link's audience.
#[derive(Debug, Clone)]
pub struct NewVerification<'a> {
    pub share_link_id: &'a ShareLinkId,
    pub address_hash: &'a str,
    pub code_hash: &'a str,
    pub expires_at: Timestamp,
    pub tries: i64,
}

/// How often one address of a link may be mailed a code.
#[derive(Debug, Clone, Copy)]
pub struct MailBounds {
    pub per_window: i64,
    pub window_ms: i64,
}

impl Db {
    /// Stores `code` for its address, replacing the previous one, unless the address
    /// was mailed `bounds.per_window` codes within the window; true when stored (and
    /// the code may be mailed).
    pub async fn store_verification(
        &self,
        code: &NewVerification<'_>,
        bounds: MailBounds,
        now: Timestamp,
    ) -> sqlx::Result<bool> {
        let window_open_since = now.millis() - bounds.window_ms;
        let stored = dispatch!(self.write(), |pool| {
            sqlx::query(
                "INSERT INTO link_verifications \
                     (share_link_id, address_hash, code_hash, expires_at, tries_left, mails_sent, window_start) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6) \
                 ON CONFLICT (share_link_id, address_hash) DO UPDATE SET \
                     code_hash = excluded.code_hash, expires_at = excluded.expires_at, \
                     tries_left = excluded.tries_left, \
                     mails_sent = CASE WHEN link_verifications.window_start > $7 \
                         THEN link_verifications.mails_sent + 1 ELSE 1 END, \
                     window_start = CASE WHEN link_verifications.window_start > $7 \
                         THEN link_verifications.window_start ELSE excluded.window_start END \
                 WHERE link_verifications.window_start <= $7 OR link_verifications.mails_sent < $8",
            )
            .bind(code.share_link_id)
            .bind(code.address_hash)
            .bind(code.code_hash)
            .bind(code.expires_at)
            .bind(code.tries)
            .bind(now.millis())
            .bind(window_open_since)
            .bind(bounds.per_window)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(stored == 1)
    }

    /// Takes one try of the live code of an address: the code's hash, or `None`
    /// when there is no code, it expired or has no tries left. The try is spent
    /// whatever the comparison that follows finds.
    pub async fn take_verification_try(
        &self,
        share_link_id: &ShareLinkId,
        address_hash: &str,
        now: Timestamp,
    ) -> sqlx::Result<Option<String>> {
        dispatch!(self.write(), |pool| {
            sqlx::query_scalar(
                "UPDATE link_verifications SET tries_left = tries_left - 1 \
                 WHERE share_link_id = $1 AND address_hash = $2 AND tries_left > 0 AND expires_at > $3 \
                 RETURNING code_hash",
            )
            .bind(share_link_id)
            .bind(address_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
        })
    }

    /// Uses up the code whose hash is `code_hash` (a code proves an address once):
    /// it is kept, dead, so the address's mail count stays; false when it was used
    /// or replaced meanwhile.
    pub async fn use_verification(
        &self,
        share_link_id: &ShareLinkId,
        address_hash: &str,
        code_hash: &str,
    ) -> sqlx::Result<bool> {
        let used = dispatch!(self.write(), |pool| {
            sqlx::query(
                "UPDATE link_verifications SET tries_left = 0, expires_at = 0 \
                 WHERE share_link_id = $1 AND address_hash = $2 AND code_hash = $3 AND expires_at > 0",
            )
            .bind(share_link_id)
            .bind(address_hash)
            .bind(code_hash)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(used == 1)
    }
}
