//! Share links, their views and analytics, and password attempts.

use std::sync::LazyLock;

use super::webhooks::{enqueue, OutboxEvent};
use super::{dispatch, next_page, Conn, Db};
use crate::domain::ids;
use crate::domain::share::{Permissions, PermissionsPatch, ShareStatus};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::domain::webhook::link_event;

const LINK_COLUMNS: &str = "share_link_id, task_id, owner_id, title, description, password_hash, \
     expires_at, max_views, view_count, unique_views, first_viewed_at, last_viewed_at, \
     allow_download, allow_comments, show_metadata, notify_on_view, mask_secrets, revoked_at, created_at, \
     updated_at, version";

/// Stores a new link and answers it, or answers nothing when its id, token or short
/// code is taken. Values: id, task, owner, token hash, short-code hash, title,
/// description, password hash, expiry, `max_views`, the three permissions,
/// `notify_on_view`, the time, `mask_secrets`.
pub(super) static INSERT_LINK: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO share_links (share_link_id, task_id, owner_id, token_hash, short_code_hash, title, \
         description, password_hash, expires_at, max_views, allow_download, allow_comments, show_metadata, \
         notify_on_view, mask_secrets, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $16, $15, $15) \
         ON CONFLICT DO NOTHING RETURNING {LINK_COLUMNS}"
    )
});

/// The `share_link.created` event of `link`, made at `now`.
pub(super) fn link_created(link: &NewShareLink, now: Timestamp) -> OutboxEvent {
    OutboxEvent::new(
        &link.owner_id,
        "share_link.created",
        link_event("share_link.created", &link.share_link_id, &link.task_id, now),
    )
}

/// A share link as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareLinkRecord {
    pub share_link_id: String,
    pub task_id: String,
    pub owner_id: String,
    pub title: String,
    pub description: Option<String>,
    pub password_hash: Option<String>,
    pub expires_at: i64,
    pub max_views: Option<i64>,
    pub view_count: i64,
    pub unique_views: i64,
    pub first_viewed_at: Option<i64>,
    pub last_viewed_at: Option<i64>,
    pub allow_download: bool,
    pub allow_comments: bool,
    pub show_metadata: bool,
    pub notify_on_view: bool,
    /// Whether secrets in outputs are masked for viewers.
    pub mask_secrets: bool,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Moves with every change the owner makes (not with views): what a view was
    /// prepared from must still be this version when the view is counted.
    pub version: i64,
}

impl ShareLinkRecord {
    pub fn status(&self, now: Timestamp) -> ShareStatus {
        ShareStatus::of(self.revoked_at.is_some(), self.expires_at, self.max_views, self.view_count, now)
    }

    pub fn permissions(&self) -> Permissions {
        Permissions {
            allow_download: self.allow_download,
            allow_comments: self.allow_comments,
            show_metadata: self.show_metadata,
        }
    }
}

/// A validated link to store. Hashes of its token and short code come from the
/// link key; see `domain::share`.
#[derive(Debug, Clone)]
pub struct NewShareLink {
    pub share_link_id: String,
    pub task_id: String,
    pub owner_id: String,
    pub token_hash: String,
    pub short_code_hash: String,
    pub title: String,
    pub description: Option<String>,
    pub password_hash: Option<String>,
    pub expires_at: Timestamp,
    pub max_views: Option<i64>,
    pub permissions: Permissions,
    pub notify_on_view: bool,
    pub mask_secrets: bool,
}

/// A validated change to a link; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ShareLinkPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub expires_at: Option<Timestamp>,
    /// `Some(None)` removes the password.
    pub password_hash: Option<Option<String>>,
    pub permissions: PermissionsPatch,
    pub max_views: Option<Option<i64>>,
    pub notify_on_view: Option<bool>,
    pub mask_secrets: Option<bool>,
}

/// What became of a change to a link.
#[derive(Debug)]
pub enum LinkChange {
    Done(Box<ShareLinkRecord>),
    NotFound,
    /// The link was revoked; revocation is final.
    Revoked,
}

/// A page of links, newest first.
#[derive(Debug)]
pub struct LinkPage {
    pub links: Vec<ShareLinkRecord>,
    pub next: Option<(i64, String)>,
}

/// What analytics keep of one view.
#[derive(Debug, Clone)]
pub struct NewView {
    /// The full client address: sent in `share_link.viewed` notifications, never stored.
    pub ip_address: String,
    pub client_prefix: Option<String>,
    pub visitor_hash: String,
    pub country: Option<String>,
    pub city: Option<String>,
    pub user_agent: Option<String>,
    pub referrer_host: Option<String>,
    pub browser: String,
    pub os: String,
    pub device: String,
}

/// A view that was counted.
#[derive(Debug, Clone)]
pub struct CountedView {
    pub view_id: String,
    /// The link's `view_count` including this view.
    pub view_count: i64,
    pub max_views: Option<i64>,
    pub viewed_at: Timestamp,
    /// The link's task, as it was when the view was counted.
    pub task: TaskFacts,
}

/// What a view shows of a link's task, read in the transaction that counted it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TaskFacts {
    #[sqlx(try_from = "String")]
    pub status: TaskStatus,
    pub agent: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Which outputs exist: events are only appended.
    pub last_event_seq: i64,
    /// Which artifacts exist: moves with every one added or deleted.
    pub artifacts_version: i64,
}

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

/// Aggregated views of a link, read from rollups.
#[derive(Debug, Clone)]
pub struct Analytics {
    pub total_views: i64,
    pub unique_views: i64,
    pub first_viewed_at: Option<i64>,
    pub last_viewed_at: Option<i64>,
    /// `(YYYY-MM-DD, views)`, oldest first.
    pub daily: Vec<(String, i64)>,
    /// `(dimension, value, views)`, the top values of each dimension, most viewed first.
    pub breakdown: Vec<(String, String, i64)>,
}

/// Dimensions of the analytics breakdown.
pub const DIMENSIONS: [&str; 5] = ["country", "referrer", "browser", "os", "device"];
/// Values kept per dimension in an analytics answer.
pub const TOP_VALUES: i64 = 20;

impl Db {
    /// Stores a new link. `Ok(None)` when its token or short code collides with an
    /// existing link (the caller picks a new id and tries again). On SQLite the
    /// service creates links through [`ViewWriter::insert_link`](super::ViewWriter::insert_link),
    /// which commits many at once; this is its one-at-a-time form.
    pub async fn insert_share_link(&self, link: &NewShareLink) -> sqlx::Result<Option<ShareLinkRecord>> {
        let now = Timestamp::now();
        let created = link_created(link, now);
        dispatch!(self.write(), |pool| async {
            let mut tx = pool.begin().await?;
            let record: Option<ShareLinkRecord> = sqlx::query_as(&INSERT_LINK)
                .bind(&link.share_link_id)
                .bind(&link.task_id)
                .bind(&link.owner_id)
                .bind(&link.token_hash)
                .bind(&link.short_code_hash)
                .bind(&link.title)
                .bind(&link.description)
                .bind(&link.password_hash)
                .bind(link.expires_at.millis())
                .bind(link.max_views)
                .bind(link.permissions.allow_download)
                .bind(link.permissions.allow_comments)
                .bind(link.permissions.show_metadata)
                .bind(link.notify_on_view)
                .bind(now.millis())
                .bind(link.mask_secrets)
                .fetch_optional(&mut *tx)
                .await?;
            // A taken id, token or short code inserts nothing: nothing to announce.
            if record.is_some() {
                enqueue!(tx, &created, now.millis());
                tx.commit().await?;
            }
            Ok::<_, sqlx::Error>(record)
        }
        .await)
    }

    /// The link `share_link_id` if `owner_id` owns it.
    pub async fn get_share_link(
        &self,
        owner_id: &str,
        share_link_id: &str,
    ) -> sqlx::Result<Option<ShareLinkRecord>> {
        let sql =
            format!("SELECT {LINK_COLUMNS} FROM share_links WHERE share_link_id = $1 AND owner_id = $2");
        dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql).bind(share_link_id).bind(owner_id).fetch_optional(pool).await
        })
    }

    /// What a view shows of task `task_id`, read now (for a page shown again under an
    /// earlier view's grant, which counts nothing).
    pub async fn task_facts(&self, task_id: &str) -> sqlx::Result<Option<TaskFacts>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT status, agent, created_at, started_at, finished_at, last_event_seq, artifacts_version \
                 FROM tasks WHERE task_id = $1",
            )
            .bind(task_id)
            .fetch_optional(pool)
            .await
        })
    }

    /// The link whose URL token hashes to `token_hash`: in any status, or with
    /// `active_at`, only if it is active then (so that a gone link costs the same
    /// to look up as an unknown one).
    pub async fn share_link_by_token(
        &self,
        token_hash: &str,
        active_at: Option<Timestamp>,
    ) -> sqlx::Result<Option<ShareLinkRecord>> {
        let sql = match active_at {
            None => format!("SELECT {LINK_COLUMNS} FROM share_links WHERE token_hash = $1"),
            Some(_) => format!(
                "SELECT {LINK_COLUMNS} FROM share_links WHERE token_hash = $1 AND revoked_at IS NULL \
                 AND expires_at > $2 AND (max_views IS NULL OR view_count < max_views)"
            ),
        };
        dispatch!(self.read(), |pool| {
            let mut query = sqlx::query_as(&sql).bind(token_hash);
            if let Some(now) = active_at {
                query = query.bind(now.millis());
            }
            query.fetch_optional(pool).await
        })
    }

    /// The id of the active link (at `now`) whose short code hashes to
    /// `short_code_hash`. Expired and revoked links are not found, exactly like
    /// unknown ones.
    pub async fn share_link_by_short_code(
        &self,
        short_code_hash: &str,
        now: Timestamp,
    ) -> sqlx::Result<Option<String>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar(
                "SELECT share_link_id FROM share_links WHERE short_code_hash = $1 AND revoked_at IS NULL \
                 AND expires_at > $2 AND (max_views IS NULL OR view_count < max_views)",
            )
            .bind(short_code_hash)
            .bind(now.millis())
            .fetch_optional(pool)
            .await
        })
    }

    /// A page of `owner_id`'s links, newest first, optionally of one task and/or in one status.
    pub async fn list_share_links(
        &self,
        owner_id: &str,
        task_id: Option<&str>,
        status: Option<ShareStatus>,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> sqlx::Result<LinkPage> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM share_links \
             WHERE owner_id = $1 AND ($2 IS NULL OR task_id = $2) \
               AND ($3 IS NULL \
                 OR ($3 = 'revoked' AND revoked_at IS NOT NULL) \
                 OR ($3 = 'expired' AND revoked_at IS NULL \
                     AND (expires_at <= $4 OR (max_views IS NOT NULL AND view_count >= max_views))) \
                 OR ($3 = 'active' AND revoked_at IS NULL AND expires_at > $4 \
                     AND (max_views IS NULL OR view_count < max_views))) \
               AND (created_at < $5 OR (created_at = $5 AND share_link_id < $6)) \
             ORDER BY created_at DESC, share_link_id DESC LIMIT $7"
        );
        let (before_time, before_id) = after.unwrap_or((i64::MAX, String::new()));
        let mut links: Vec<ShareLinkRecord> = dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql)
                .bind(owner_id)
                .bind(task_id)
                .bind(status.map(ShareStatus::as_str))
                .bind(Timestamp::now().millis())
                .bind(before_time)
                .bind(&before_id)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        let next = next_page(&mut links, limit, |l| (l.created_at, l.share_link_id.clone()));
        Ok(LinkPage { links, next })
    }

    /// Applies `patch` to an unrevoked link of `owner_id`, in one conditional UPDATE.
    pub async fn update_share_link(
        &self,
        owner_id: &str,
        share_link_id: &str,
        patch: &ShareLinkPatch,
    ) -> sqlx::Result<LinkChange> {
        let permissions = patch.permissions;
        let sql = format!(
            "UPDATE share_links SET \
                 title = COALESCE($3, title), \
                 description = CASE WHEN $4 THEN $5 ELSE description END, \
                 expires_at = COALESCE($6, expires_at), \
                 password_hash = CASE WHEN $7 THEN $8 ELSE password_hash END, \
                 allow_download = COALESCE($9, allow_download), \
                 allow_comments = COALESCE($10, allow_comments), \
                 show_metadata = COALESCE($11, show_metadata), \
                 max_views = CASE WHEN $12 THEN $13 ELSE max_views END, \
                 notify_on_view = COALESCE($14, notify_on_view), \
                 mask_secrets = COALESCE($16, mask_secrets), \
                 expiry_notified_at = CASE WHEN $6 IS NOT NULL OR $12 THEN NULL ELSE expiry_notified_at END, \
                 updated_at = $15, version = version + 1 \
             WHERE share_link_id = $1 AND owner_id = $2 AND revoked_at IS NULL RETURNING {LINK_COLUMNS}"
        );
        let updated: Option<ShareLinkRecord> = dispatch!(self.write(), |pool| {
            sqlx::query_as(&sql)
                .bind(share_link_id)
                .bind(owner_id)
                .bind(&patch.title)
                .bind(patch.description.is_some())
                .bind(patch.description.clone().flatten())
                .bind(patch.expires_at.map(Timestamp::millis))
                .bind(patch.password_hash.is_some())
                .bind(patch.password_hash.clone().flatten())
                .bind(permissions.allow_download)
                .bind(permissions.allow_comments)
                .bind(permissions.show_metadata)
                .bind(patch.max_views.is_some())
                .bind(patch.max_views.flatten())
                .bind(patch.notify_on_view)
                .bind(Timestamp::now().millis())
                .bind(patch.mask_secrets)
                .fetch_optional(pool)
                .await
        })?;
        match updated {
            Some(link) => Ok(LinkChange::Done(Box::new(link))),
            None => self.why_unchanged(owner_id, share_link_id).await,
        }
    }

    /// Revokes a link of `owner_id` (idempotent: revoking a revoked link returns it
    /// as it is). A first revocation puts `share_link.revoked` in the outbox.
    pub async fn revoke_share_link(&self, owner_id: &str, share_link_id: &str) -> sqlx::Result<LinkChange> {
        let now = Timestamp::now().millis();
        let sql = format!(
            "UPDATE share_links SET revoked_at = COALESCE(revoked_at, $3), updated_at = $3, version = version + 1 \
             WHERE share_link_id = $1 AND owner_id = $2 RETURNING {LINK_COLUMNS}"
        );
        let revoked: Option<ShareLinkRecord> = dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let revoked: Option<ShareLinkRecord> = sqlx::query_as(&sql)
                .bind(share_link_id)
                .bind(owner_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(link) = revoked.as_ref().filter(|l| l.revoked_at == Some(now)) {
                let event = OutboxEvent::new(
                    owner_id,
                    "share_link.revoked",
                    link_event("share_link.revoked", share_link_id, &link.task_id, Timestamp(now)),
                );
                enqueue!(tx, &event, now);
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(revoked)
        })?;
        Ok(revoked.map_or(LinkChange::NotFound, |link| LinkChange::Done(Box::new(link))))
    }

    async fn why_unchanged(&self, owner_id: &str, share_link_id: &str) -> sqlx::Result<LinkChange> {
        Ok(match self.get_share_link(owner_id, share_link_id).await? {
            Some(_) => LinkChange::Revoked,
            None => LinkChange::NotFound,
        })
    }

    /// Records a password attempt on a link from `client_key` unless the link is
    /// locked for that client (`per_client` recent failures) or for everyone
    /// (`per_link`). The link's row is locked for the check, so concurrent guesses
    /// are counted one by one, on every instance.
    pub async fn reserve_password_attempt(
        &self,
        share_link_id: &str,
        client_key: &str,
        limits: AttemptLimits,
    ) -> sqlx::Result<Attempt> {
        let now = Timestamp::now().millis();
        let since = now - limits.window_ms;
        let attempt_id = ids::new_id("attempt");
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

    /// Analytics of a link from its rollups: a handful of indexed reads, whatever
    /// the number of views.
    pub async fn share_link_analytics(&self, link: &ShareLinkRecord) -> sqlx::Result<Analytics> {
        let conn = self.read();
        let daily: Vec<(String, i64)> = dispatch!(conn, |pool| {
            sqlx::query_as(
                "SELECT day, views FROM share_link_daily_views WHERE share_link_id = $1 ORDER BY day",
            )
            .bind(&link.share_link_id)
            .fetch_all(pool)
            .await
        })?;
        let breakdown = top_values(conn, &link.share_link_id).await?;
        Ok(Analytics {
            total_views: link.view_count,
            unique_views: link.unique_views,
            first_viewed_at: link.first_viewed_at,
            last_viewed_at: link.last_viewed_at,
            daily,
            breakdown,
        })
    }
}

async fn top_values(conn: Conn<'_>, share_link_id: &str) -> sqlx::Result<Vec<(String, String, i64)>> {
    dispatch!(conn, |pool| {
        sqlx::query_as(
            "SELECT dimension, value, views FROM ( \
                 SELECT dimension, value, views, \
                        ROW_NUMBER() OVER (PARTITION BY dimension ORDER BY views DESC, value) AS rank \
                 FROM share_link_breakdown WHERE share_link_id = $1) ranked \
             WHERE rank <= $2 ORDER BY dimension, views DESC, value",
        )
        .bind(share_link_id)
        .bind(TOP_VALUES)
        .fetch_all(pool)
        .await
    })
}

/// `YYYY-MM-DD` (UTC) of a timestamp.
pub(super) fn day_of(t: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t.millis())
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// Views of a link waiting to be mailed to its owner.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingViewMail {
    pub share_link_id: String,
    pub pending_views: i64,
    pub last_sent_at: Option<i64>,
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
        let expired: Vec<(String, String, String)> = dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT share_link_id, task_id, owner_id FROM share_links \
                 WHERE expires_at <= $1 AND expiry_notified_at IS NULL AND revoked_at IS NULL LIMIT $2",
            )
            .bind(now.millis())
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        let mut noticed = 0;
        for (share_link_id, task_id, owner_id) in expired {
            let event = OutboxEvent::new(
                &owner_id,
                "share_link.expired",
                link_event("share_link.expired", &share_link_id, &task_id, now),
            );
            noticed += dispatch!(self.write(), |pool| {
                let mut tx = pool.begin().await?;
                // Only the instance that flips the mark sends the event.
                let marked = sqlx::query(
                    "UPDATE share_links SET expiry_notified_at = $2 WHERE share_link_id = $1 \
                     AND expiry_notified_at IS NULL AND revoked_at IS NULL AND expires_at <= $2",
                )
                .bind(&share_link_id)
                .bind(now.millis())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if marked == 1 {
                    enqueue!(tx, &event, now.millis());
                }
                tx.commit().await?;
                Ok::<_, sqlx::Error>(marked as usize)
            })?;
        }
        Ok(noticed)
    }

    /// Links with views to mail whose last mail was sent before `cutoff` (or never).
    pub async fn pending_view_mail(&self, cutoff: i64) -> sqlx::Result<Vec<PendingViewMail>> {
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

    /// Takes `pending.pending_views` views off the link's queue for one mail, if no
    /// other worker took them first: a compare-and-swap on the row.
    pub async fn take_view_mail(&self, pending: &PendingViewMail, now: i64) -> sqlx::Result<bool> {
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
