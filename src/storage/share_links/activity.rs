//! The activity log of a link: spent views come from `share_link_views` (the view
//! counter writes them; nothing is written twice), everything else from
//! `share_link_activity`. A page of the log merges the two, newest first.

use super::super::dialect::dispatch;
use super::super::{next_page, Db};
use crate::domain::activity::{ActivityKind, THROTTLE_MS};
use crate::domain::ids::{new_id, CommentId, ShareLinkId};
use crate::domain::page::Cursor;
use crate::domain::time::Timestamp;

/// An entry to add to a link's log.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub share_link_id: ShareLinkId,
    pub kind: ActivityKind,
    pub at: Timestamp,
    /// The truncated client address, never the full one.
    pub client_prefix: Option<String>,
    pub user_agent: Option<String>,
    pub email: Option<String>,
    pub file: Option<String>,
    pub comment_id: Option<CommentId>,
}

/// An entry of a link's log, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRecord {
    /// A view's id for `revealed`, else the entry's own.
    pub id: String,
    pub kind: ActivityKind,
    pub at: Timestamp,
    pub client_prefix: Option<String>,
    pub user_agent: Option<String>,
    /// The address given with a comment once it is verified, or one verified otherwise.
    pub email: Option<String>,
    pub file: Option<String>,
    pub comment_id: Option<String>,
}

/// A page of a link's log, newest first.
#[derive(Debug)]
pub struct ActivityPage {
    pub entries: Vec<ActivityRecord>,
    pub next: Option<Cursor>,
}

const INSERT: &str = "INSERT INTO share_link_activity \
     (share_link_id, at, activity_id, kind, client_prefix, user_agent, email, file, comment_id, throttle_key) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (share_link_id, throttle_key) DO NOTHING";

/// Both sources, each cut to one page (a range read on its key), merged and cut again.
/// `$2`/`$3` is where the previous page ended, `$4` how many rows to read.
const PAGE: &str = "SELECT id, kind, at, client_prefix, user_agent, email, file, comment_id FROM ( \
       SELECT * FROM ( \
         SELECT view_id AS id, 'revealed' AS kind, viewed_at AS at, client_prefix, user_agent, \
                viewer_email AS email, CAST(NULL AS TEXT) AS file, CAST(NULL AS TEXT) AS comment_id \
         FROM share_link_views \
         WHERE share_link_id = $1 AND (viewed_at < $2 OR (viewed_at = $2 AND view_id < $3)) \
         ORDER BY viewed_at DESC, view_id DESC LIMIT $4) AS views \
       UNION ALL \
       SELECT * FROM ( \
         SELECT a.activity_id AS id, a.kind, a.at, a.client_prefix, a.user_agent, \
                CASE WHEN c.verified_at IS NOT NULL THEN c.email ELSE a.email END AS email, \
                a.file, a.comment_id \
         FROM share_link_activity a \
         LEFT JOIN share_link_comments c ON c.comment_id = a.comment_id \
         WHERE a.share_link_id = $1 AND (a.at < $2 OR (a.at = $2 AND a.activity_id < $3)) \
         ORDER BY a.at DESC, a.activity_id DESC LIMIT $4) AS other \
     ) AS merged ORDER BY at DESC, id DESC LIMIT $4";

impl Db {
    /// Adds an entry to a link's log. An entry of a throttled kind is kept only if
    /// none of its kind came from its client prefix in the same minute: one
    /// statement decides, on every instance. Answers whether it was kept.
    pub async fn insert_activity(&self, entry: &NewActivity) -> sqlx::Result<bool> {
        let throttle_key = entry.kind.throttled().then(|| {
            format!(
                "{}|{}|{}",
                entry.kind.as_str(),
                entry.client_prefix.as_deref().unwrap_or_default(),
                entry.at.millis().div_euclid(THROTTLE_MS)
            )
        });
        let activity_id = new_id("act");
        let kept = dispatch!(self.write(), |pool| {
            sqlx::query(INSERT)
                .bind(&entry.share_link_id)
                .bind(entry.at)
                .bind(&activity_id)
                .bind(entry.kind)
                .bind(&entry.client_prefix)
                .bind(&entry.user_agent)
                .bind(&entry.email)
                .bind(&entry.file)
                .bind(&entry.comment_id)
                .bind(&throttle_key)
                .execute(pool)
                .await
                .map(|done| done.rows_affected() > 0)
        })?;
        Ok(kept)
    }

    /// A page of a link's log, newest first, after `after` (from the newest without).
    pub async fn share_link_activity(
        &self,
        share_link_id: &ShareLinkId,
        after: Option<Cursor>,
        limit: u32,
    ) -> sqlx::Result<ActivityPage> {
        let after = after.unwrap_or(Cursor { at: Timestamp(i64::MAX), id: String::new() });
        let mut entries: Vec<ActivityRecord> = dispatch!(self.read(), |pool| {
            sqlx::query_as(PAGE)
                .bind(share_link_id)
                .bind(after.at)
                .bind(&after.id)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        let next = next_page(&mut entries, limit, |e| Cursor { at: e.at, id: e.id.clone() });
        Ok(ActivityPage { entries, next })
    }
}
