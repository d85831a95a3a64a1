//! Share links: creating, reading, changing and revoking them. Beside this:
//! [`attempts`] (password guesses), [`analytics`] (who looked), [`activity`] (what
//! viewers did, entry by entry) and [`notices`] (view mail and expiry). Views
//! themselves are counted in `storage::views`.

mod activity;
mod analytics;
mod attempts;
mod notices;
mod verifications;

use std::sync::LazyLock;

pub use activity::{ActivityPage, ActivityRecord, NewActivity};
pub(crate) use analytics::day_of;
pub use analytics::{Analytics, DIMENSIONS, VIEWER_DIMENSION};
pub use attempts::{Attempt, AttemptLimits};
pub use notices::PendingViewMail;
pub use verifications::{MailBounds, NewVerification};

use super::dialect::{dispatch, dispatch_tx, Tx};
use super::outbox::{self, OutboxEvent};
use super::sql::{Statements, Value};
use super::{next_page, Db};
use crate::domain::audience::Audience;
use crate::domain::ids::{OwnerId, ShareLinkId, TaskId, ViewId};
use crate::domain::page::Cursor;
use crate::domain::redaction::Redaction;
use crate::domain::share::{Permissions, PermissionsPatch, ShareStatus};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{LinkFacts, WebhookEvent};

/// The columns of a link as [`ShareLinkRecord`] reads them.
const LINK_COLUMNS: &str = "share_link_id, task_id, owner_id, title, description, password_hash, \
     expires_at, max_views, view_count, unique_views, first_viewed_at, last_viewed_at, \
     allow_download, allow_comments, show_metadata, notify_on_view, mask_secrets, redaction, snapshot_seq, \
     audience, revoked_at, created_at, updated_at, version";

/// The columns a new link is stored with, in the order of [`NewShareLink::values`].
const NEW_LINK_COLUMNS: &str = "share_link_id, task_id, owner_id, token_hash, short_code_hash, title, \
     description, password_hash, expires_at, max_views, allow_download, allow_comments, show_metadata, \
     notify_on_view, mask_secrets, redaction, snapshot_seq, audience, view_count, unique_views, version, \
     created_at, updated_at";

/// Stores a new link; stores nothing when its id, token or short code is taken.
static INSERT_LINK: LazyLock<String> = LazyLock::new(|| {
    let count = NEW_LINK_COLUMNS.split(',').count();
    let values: Vec<String> = (1..=count).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO share_links ({NEW_LINK_COLUMNS}) VALUES ({}) ON CONFLICT DO NOTHING",
        values.join(", ")
    )
});

/// A share link as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShareLinkRecord {
    pub share_link_id: ShareLinkId,
    pub task_id: TaskId,
    pub owner_id: OwnerId,
    pub title: String,
    pub description: Option<String>,
    pub password_hash: Option<String>,
    pub expires_at: Timestamp,
    pub max_views: Option<i64>,
    pub view_count: i64,
    pub unique_views: i64,
    pub first_viewed_at: Option<Timestamp>,
    pub last_viewed_at: Option<Timestamp>,
    pub allow_download: bool,
    pub allow_comments: bool,
    pub show_metadata: bool,
    pub notify_on_view: bool,
    /// Whether secrets are masked for viewers.
    pub mask_secrets: bool,
    /// What else is hidden from viewers (see [`Redaction::beyond_secrets`]).
    pub redaction: Option<String>,
    /// For a snapshot link, the task's last event when the link was made: later
    /// events, and files added after `created_at`, never show through it.
    pub snapshot_seq: Option<i64>,
    /// Who may open the link (see [`Audience::stored`]); `None` for anyone.
    pub audience: Option<String>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
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

    /// What the link hides from viewers.
    pub fn redaction(&self) -> Redaction {
        Redaction::stored(self.mask_secrets, self.redaction.as_deref())
    }

    /// Who may open the link.
    pub fn audience(&self) -> Audience {
        Audience::stored(self.audience.as_deref())
    }

    /// Whether only the link's audience may open it (cheaper than reading it).
    pub fn has_audience(&self) -> bool {
        self.audience.is_some()
    }

    /// Not revoked and not past its time (its views may be used up).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A validated link to store. Hashes of its token and short code come from the
/// link key; see `domain::share`.
#[derive(Debug, Clone)]
pub struct NewShareLink {
    pub share_link_id: ShareLinkId,
    pub task_id: TaskId,
    pub owner_id: OwnerId,
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
    /// What is hidden beyond secrets ([`Redaction::beyond_secrets`]).
    pub redaction: Option<String>,
    /// For a snapshot link, the task's last event now.
    pub snapshot_seq: Option<i64>,
    /// Who may open the link ([`Audience::column`]).
    pub audience: Option<String>,
}

impl NewShareLink {
    /// The values of [`NEW_LINK_COLUMNS`] for this link, stored at `now`.
    fn values(&self, now: &Timestamp) -> [Value<'_>; 23] {
        [
            Value::Text(self.share_link_id.as_str()),
            Value::Text(self.task_id.as_str()),
            Value::Text(self.owner_id.as_str()),
            Value::Text(&self.token_hash),
            Value::Text(&self.short_code_hash),
            Value::Text(&self.title),
            self.description.as_deref().into(),
            self.password_hash.as_deref().into(),
            Value::Int(self.expires_at.millis()),
            self.max_views.into(),
            Value::Bool(self.permissions.allow_download),
            Value::Bool(self.permissions.allow_comments),
            Value::Bool(self.permissions.show_metadata),
            Value::Bool(self.notify_on_view),
            Value::Bool(self.mask_secrets),
            self.redaction.as_deref().into(),
            self.snapshot_seq.into(),
            self.audience.as_deref().into(),
            Value::Int(0),
            Value::Int(0),
            Value::Int(0),
            Value::Int(now.millis()),
            Value::Int(now.millis()),
        ]
    }

    /// The record of this link as [`NewShareLink::values`] store it at `now`.
    fn stored(&self, now: Timestamp) -> ShareLinkRecord {
        ShareLinkRecord {
            share_link_id: self.share_link_id.clone(),
            task_id: self.task_id.clone(),
            owner_id: self.owner_id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            password_hash: self.password_hash.clone(),
            expires_at: self.expires_at,
            max_views: self.max_views,
            view_count: 0,
            unique_views: 0,
            first_viewed_at: None,
            last_viewed_at: None,
            allow_download: self.permissions.allow_download,
            allow_comments: self.permissions.allow_comments,
            show_metadata: self.permissions.show_metadata,
            notify_on_view: self.notify_on_view,
            mask_secrets: self.mask_secrets,
            redaction: self.redaction.clone(),
            snapshot_seq: self.snapshot_seq,
            audience: self.audience.clone(),
            revoked_at: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

/// Stores `link` with its `share_link.created` event within `tx`, at `now`;
/// `None` when its id, token or short code is taken (nothing is stored then).
/// Every way of creating links comes here: one at a time through sqlx, and in
/// batches on the SQLite writer's own connection.
pub(crate) async fn insert_link<S: Statements>(
    tx: &mut S,
    link: &NewShareLink,
    now: Timestamp,
) -> Result<Option<ShareLinkRecord>, S::Error> {
    if tx.execute(&INSERT_LINK, &link.values(&now)).await? == 0 {
        return Ok(None);
    }
    let created = WebhookEvent::ShareLinkCreated(LinkFacts {
        share_link_id: link.share_link_id.clone(),
        task_id: link.task_id.clone(),
        timestamp: now,
    });
    outbox::write(tx, &OutboxEvent::new(&link.owner_id, created), now).await?;
    Ok(Some(link.stored(now)))
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
    /// `Some(None)` hides nothing beyond secrets.
    pub redaction: Option<Option<String>>,
    /// `Some(None)` lets anyone holding the URL open the link.
    pub audience: Option<Option<String>>,
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
    pub next: Option<Cursor>,
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
    /// The address the viewer proved, for a link with an audience.
    pub viewer_email: Option<String>,
}

/// A view that was counted.
#[derive(Debug, Clone)]
pub struct CountedView {
    pub view_id: ViewId,
    /// The link's `view_count` including this view.
    pub view_count: i64,
    pub max_views: Option<i64>,
    pub viewed_at: Timestamp,
    /// The link's task, as it was when the view was counted.
    pub task: TaskFacts,
}

/// What a view shows of a link's task, read in the transaction that counted it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TaskFacts {
    pub status: TaskStatus,
    pub agent: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Which outputs exist: events are only appended.
    pub last_event_seq: i64,
    /// Which artifacts exist: moves with every one added or deleted.
    pub artifacts_version: i64,
}

impl Db {
    /// Stores a new link, one at a time. `Ok(None)` when its token or short code
    /// collides with an existing link (the caller picks a new id and tries again).
    /// The service creates links through [`Store::insert_share_link`](super::Store::insert_share_link),
    /// which on SQLite commits many at once.
    pub async fn insert_share_link(&self, link: &NewShareLink) -> sqlx::Result<Option<ShareLinkRecord>> {
        let now = Timestamp::now();
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let record = insert_link(&mut Tx::from(&mut tx), link, now).await?;
            // A taken id, token or short code inserts nothing: nothing to commit.
            if record.is_some() {
                tx.commit().await?;
            }
            Ok(record)
        })
    }

    /// The link `share_link_id` if `owner_id` owns it.
    pub async fn get_share_link(
        &self,
        owner_id: &OwnerId,
        share_link_id: &ShareLinkId,
    ) -> sqlx::Result<Option<ShareLinkRecord>> {
        let sql =
            format!("SELECT {LINK_COLUMNS} FROM share_links WHERE share_link_id = $1 AND owner_id = $2");
        dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql).bind(share_link_id).bind(owner_id).fetch_optional(pool).await
        })
    }

    /// What a view shows of task `task_id`, read now (for a page shown again under an
    /// earlier view's grant, which counts nothing).
    pub async fn task_facts(&self, task_id: &TaskId) -> sqlx::Result<Option<TaskFacts>> {
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
                query = query.bind(now);
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
    ) -> sqlx::Result<Option<ShareLinkId>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar(
                "SELECT share_link_id FROM share_links WHERE short_code_hash = $1 AND revoked_at IS NULL \
                 AND expires_at > $2 AND (max_views IS NULL OR view_count < max_views)",
            )
            .bind(short_code_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
        })
    }

    /// The id of the link, in any status, whose short code hashes to
    /// `short_code_hash`.
    pub async fn share_link_by_short_code_any(
        &self,
        short_code_hash: &str,
    ) -> sqlx::Result<Option<ShareLinkId>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar("SELECT share_link_id FROM share_links WHERE short_code_hash = $1")
                .bind(short_code_hash)
                .fetch_optional(pool)
                .await
        })
    }

    /// A page of `owner_id`'s links, newest first, optionally of one task and/or in one status.
    pub async fn list_share_links(
        &self,
        owner_id: &OwnerId,
        task_id: Option<&TaskId>,
        status: Option<ShareStatus>,
        after: Option<Cursor>,
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
        let after = after.unwrap_or(Cursor { at: Timestamp(i64::MAX), id: String::new() });
        let mut links: Vec<ShareLinkRecord> = dispatch!(self.read(), |pool| {
            sqlx::query_as(&sql)
                .bind(owner_id)
                .bind(task_id)
                .bind(status.map(ShareStatus::as_str))
                .bind(Timestamp::now())
                .bind(after.at)
                .bind(&after.id)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        let next =
            next_page(&mut links, limit, |l| Cursor { at: l.created_at, id: l.share_link_id.to_string() });
        Ok(LinkPage { links, next })
    }

    /// Applies `patch` to an unrevoked link of `owner_id`, in one conditional UPDATE.
    pub async fn update_share_link(
        &self,
        owner_id: &OwnerId,
        share_link_id: &ShareLinkId,
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
                 redaction = CASE WHEN $17 THEN $18 ELSE redaction END, \
                 audience = CASE WHEN $19 THEN $20 ELSE audience END, \
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
                .bind(patch.expires_at)
                .bind(patch.password_hash.is_some())
                .bind(patch.password_hash.clone().flatten())
                .bind(permissions.allow_download)
                .bind(permissions.allow_comments)
                .bind(permissions.show_metadata)
                .bind(patch.max_views.is_some())
                .bind(patch.max_views.flatten())
                .bind(patch.notify_on_view)
                .bind(Timestamp::now())
                .bind(patch.mask_secrets)
                .bind(patch.redaction.is_some())
                .bind(patch.redaction.clone().flatten())
                .bind(patch.audience.is_some())
                .bind(patch.audience.clone().flatten())
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
    pub async fn revoke_share_link(
        &self,
        owner_id: &OwnerId,
        share_link_id: &ShareLinkId,
    ) -> sqlx::Result<LinkChange> {
        let now = Timestamp::now();
        let already =
            format!("SELECT {LINK_COLUMNS} FROM share_links WHERE share_link_id = $1 AND owner_id = $2");
        let which = Revocation { share_link_id: Some(share_link_id), task_id: None, limit: 1 };
        let revoked: Option<ShareLinkRecord> = dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let newly = revoke_links(&mut Tx::from(&mut tx), owner_id, &which, now).await?;
            // Revoked before (or no such link): nothing changes, not even `updated_at`.
            let revoked = match newly.into_iter().next() {
                Some(link) => Some(link),
                None => {
                    sqlx::query_as(&already)
                        .bind(share_link_id)
                        .bind(owner_id)
                        .fetch_optional(&mut *tx)
                        .await?
                }
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(revoked)
        })?;
        Ok(revoked.map_or(LinkChange::NotFound, |link| LinkChange::Done(Box::new(link))))
    }

    /// Revokes up to `limit` unrevoked links of `owner_id` (only those of `task_id`,
    /// when given) in one transaction, each exactly as [`Db::revoke_share_link`]
    /// revokes one; answers the links revoked (none when there were none left).
    pub async fn revoke_share_links_batch(
        &self,
        owner_id: &OwnerId,
        task_id: Option<&TaskId>,
        limit: i64,
    ) -> sqlx::Result<Vec<ShareLinkRecord>> {
        let now = Timestamp::now();
        let which = Revocation { share_link_id: None, task_id, limit };
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let revoked = revoke_links(&mut Tx::from(&mut tx), owner_id, &which, now).await?;
            tx.commit().await?;
            Ok(revoked)
        })
    }

    async fn why_unchanged(
        &self,
        owner_id: &OwnerId,
        share_link_id: &ShareLinkId,
    ) -> sqlx::Result<LinkChange> {
        Ok(match self.get_share_link(owner_id, share_link_id).await? {
            Some(_) => LinkChange::Revoked,
            None => LinkChange::NotFound,
        })
    }
}

/// Which of an owner's unrevoked links a revocation takes.
struct Revocation<'a> {
    /// This link only.
    share_link_id: Option<&'a ShareLinkId>,
    /// Only links of this task.
    task_id: Option<&'a TaskId>,
    /// At most this many.
    limit: i64,
}

/// The one way links are revoked: within `tx`, at `now`, the unrevoked links of
/// `owner_id` that `which` picks stop working (their version moves, so cached
/// copies are refused on the next view), each with a `share_link.revoked` event.
async fn revoke_links(
    tx: &mut Tx<'_, '_>,
    owner_id: &OwnerId,
    which: &Revocation<'_>,
    now: Timestamp,
) -> sqlx::Result<Vec<ShareLinkRecord>> {
    let sql = format!(
        "UPDATE share_links SET revoked_at = $2, updated_at = $2, version = version + 1 \
         WHERE owner_id = $1 AND revoked_at IS NULL AND share_link_id IN (\
           SELECT share_link_id FROM share_links WHERE owner_id = $1 AND revoked_at IS NULL \
             AND ($3 IS NULL OR share_link_id = $3) AND ($4 IS NULL OR task_id = $4) \
           ORDER BY share_link_id LIMIT $5) \
         RETURNING {LINK_COLUMNS}"
    );
    let revoked: Vec<ShareLinkRecord> = dispatch_tx!(tx, |inner| {
        sqlx::query_as(&sql)
            .bind(owner_id)
            .bind(now)
            .bind(which.share_link_id)
            .bind(which.task_id)
            .bind(which.limit)
            .fetch_all(&mut ***inner)
            .await
    })?;
    for link in &revoked {
        let event = WebhookEvent::ShareLinkRevoked(LinkFacts {
            share_link_id: link.share_link_id.clone(),
            task_id: link.task_id.clone(),
            timestamp: now,
        });
        outbox::write(tx, &OutboxEvent::new(owner_id, event), now).await?;
    }
    Ok(revoked)
}
