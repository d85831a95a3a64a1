//! Share links, as their owner makes and manages them (seed 001): create, read,
//! list, change, revoke; who looked; comments to moderate. What a viewer does with a
//! link is in [`opening`](super::opening).

use super::access::owned_task;
use super::error::{Error, Result};
use super::policy::{self, LinkTerms};
use super::AppState;
use crate::domain::audience::Audience;
use crate::domain::ids::{CommentId, ShareLinkId, TaskId};
use crate::domain::page::Cursor;
use crate::domain::redaction::Redaction;
use crate::domain::share::{
    self, check_max_views, Permissions, PermissionsPatch, SharePassword, ShareStatus,
};
use crate::domain::task::TaskStatus;
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::storage::{
    Analytics, CommentRecord, LinkChange, LinkPage, NewShareLink, Owner, ShareLinkPatch, ShareLinkRecord,
    TaskRecord, DIMENSIONS, VIEWER_DIMENSION,
};

/// A link to create.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// The task to share; it must be finished.
    pub task_id: TaskId,
    /// Default: the task's title. 1–200 characters, not blank.
    pub title: Option<String>,
    /// Up to 2,000 characters.
    pub description: Option<String>,
    /// In the future. Default: 30 days from now.
    pub expires_at: Option<Timestamp>,
    /// 8–32 characters; stored only as an Argon2id hash.
    pub password: Option<String>,
    pub permissions: Permissions,
    /// Views before the link expires (1 to 1,000,000,000); `None` for unlimited.
    pub max_views: Option<i64>,
    /// Tell the owner about views (webhooks and mail).
    pub notify_on_view: bool,
    /// What viewers get hidden; checked on creation.
    pub redaction: Redaction,
    /// Show the task as it is now, never what it gains later.
    pub snapshot: bool,
    /// Who may open the link; checked on creation.
    pub audience: Audience,
}

impl LinkRequest {
    /// Whether the link restricts who may open it to an audience (e-mail addresses
    /// or domains), as a policy with `require_audience` needs.
    pub fn restricted_audience(&self) -> bool {
        self.audience.is_restricted()
    }
}

/// Changes to a link; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct LinkChanges {
    pub title: Option<String>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// A new expiry, in the future (this also revives a link that expired by time).
    pub expires_at: Option<Timestamp>,
    /// `Some(None)` removes the password.
    pub password: Option<Option<String>>,
    /// Only the permissions given change.
    pub permissions: PermissionsPatch,
    /// `Some(None)` makes the link unlimited.
    pub max_views: Option<Option<i64>>,
    pub notify_on_view: Option<bool>,
    /// Only the parts of the redaction given change.
    pub redaction: RedactionChanges,
    /// A new audience, replacing the link's.
    pub audience: Option<Audience>,
}

/// Changes to what a link hides; `None` leaves a part as it is.
#[derive(Debug, Clone, Default)]
pub struct RedactionChanges {
    pub secrets: Option<bool>,
    pub emails: Option<bool>,
    pub paths: Option<bool>,
    /// Replaces every pattern.
    pub patterns: Option<Vec<String>>,
}

impl RedactionChanges {
    fn is_empty(&self) -> bool {
        self.secrets.is_none() && self.emails.is_none() && self.paths.is_none() && self.patterns.is_none()
    }

    /// `current` with these changes.
    fn applied_to(self, current: Redaction) -> Redaction {
        Redaction {
            secrets: self.secrets.unwrap_or(current.secrets),
            emails: self.emails.unwrap_or(current.emails),
            paths: self.paths.unwrap_or(current.paths),
            patterns: self.patterns.unwrap_or(current.patterns),
        }
    }
}

/// `redaction` with its patterns checked; errors name `redact.patterns[i]`.
pub fn checked_redaction(redaction: Redaction) -> Result<Redaction> {
    redaction.check("redact.patterns").map_err(|err| Error::invalid(&err.field, err.message))
}

/// `audience` with its entries checked and normalised; errors name
/// `audience.emails[i]` or `audience.domains[i]`.
pub fn checked_audience(audience: Audience) -> Result<Audience> {
    audience.checked("audience").map_err(|err| Error::invalid(&err.field, err.message))
}

/// Where a link is reached.
pub struct LinkUrls {
    /// `{public-url}/s/{token}`: the token is the capability.
    pub url: String,
    /// A shorter link to the same share.
    pub short_url: String,
}

/// The URLs of a link (derived from its id under the link key, so they can be
/// shown again at any time).
pub fn urls(state: &AppState, share_link_id: &ShareLinkId) -> LinkUrls {
    let keys = state.link_keys();
    LinkUrls {
        url: format!("{}/s/{}", state.urls().public(), keys.token(share_link_id.as_str())),
        short_url: format!("{}/{}", state.urls().short(), keys.short_code(share_link_id.as_str())),
    }
}

fn checked_title(title: Option<&str>) -> Result<Option<String>> {
    Ok(title.map(|t| bounded("title", t, 1, share::MAX_TITLE_CHARS, false)).transpose()?)
}

fn checked_description(value: Option<&str>) -> Result<Option<String>> {
    Ok(value
        .map(|d| bounded("description", d, 0, share::MAX_DESCRIPTION_CHARS, true))
        .transpose()?
        .filter(|d| !d.trim().is_empty()))
}

fn checked_expiry(at: Timestamp, now: Timestamp) -> Result<Timestamp> {
    if at <= now {
        return Err(Error::invalid("expires_at", "expires_at must be in the future"));
    }
    Ok(at)
}

/// Hashes a password off the async executor (Argon2 is slow on purpose).
async fn hash_password(state: &AppState, password: SharePassword) -> Result<String> {
    state.password_work(move || password.hash()).await
}

/// A link request, checked: what a link made of it would be, its password not yet
/// hashed.
pub struct CheckedLink {
    /// The task, the owner's and finished.
    pub task: TaskRecord,
    pub title: String,
    pub description: Option<String>,
    pub expires_at: Timestamp,
    pub password: Option<SharePassword>,
    pub max_views: Option<i64>,
    pub permissions: Permissions,
    pub notify_on_view: bool,
    pub redaction: Redaction,
    /// For a snapshot link, the task's last event now.
    pub snapshot_seq: Option<i64>,
    pub audience: Audience,
}

/// Checks `request` as creating a link does at `now`, answering the same errors.
pub async fn checked(
    state: &AppState,
    owner: &Owner,
    request: LinkRequest,
    now: Timestamp,
) -> Result<CheckedLink> {
    let task_id = TaskId::from(request.task_id.as_str().trim());
    if task_id.as_str().is_empty() {
        return Err(Error::invalid("task_id", "Task ID is required"));
    }
    if task_id.as_str().contains('\0') {
        return Err(Error::invalid("task_id", "task_id must not contain NUL characters"));
    }
    let title = checked_title(request.title.as_deref())?;
    let description = checked_description(request.description.as_deref())?;
    let password = request.password.as_deref().map(|p| SharePassword::parse("password", p)).transpose()?;
    let max_views = request.max_views.map(|m| check_max_views("max_views", m)).transpose()?;
    let restricted_audience = request.restricted_audience();
    let redaction = checked_redaction(request.redaction)?;
    let audience = checked_audience(request.audience)?;
    let sharing_policy = policy::get(state, owner).await?;
    let expires_at = match request.expires_at {
        Some(at) => checked_expiry(at, now)?,
        None => policy::default_expiry(&sharing_policy, now),
    };
    let terms = LinkTerms { expires_at, has_password: password.is_some(), restricted_audience };
    policy::check_link(&sharing_policy, &terms, now)?;

    let task = owned_task(state, owner, &task_id).await?;
    if matches!(task.status, TaskStatus::Pending | TaskStatus::Running) {
        return Err(Error::TaskNotCompleted { task_id, status: task.status });
    }
    Ok(CheckedLink {
        snapshot_seq: request.snapshot.then_some(task.last_event_seq),
        title: title.unwrap_or_else(|| task.title.clone()),
        task,
        description,
        expires_at,
        password,
        max_views,
        permissions: request.permissions,
        notify_on_view: request.notify_on_view,
        redaction,
        audience,
    })
}

/// Creates a link to one of `owner`'s finished tasks.
pub async fn create(state: &AppState, owner: &Owner, request: LinkRequest) -> Result<ShareLinkRecord> {
    let link = checked(state, owner, request, Timestamp::now()).await?;
    let password_hash = match link.password {
        Some(p) => Some(hash_password(state, p).await?),
        None => None,
    };
    let (task_id, title, description, expires_at, max_views, redaction) =
        (link.task.task_id, link.title, link.description, link.expires_at, link.max_views, link.redaction);
    let keys = state.link_keys();
    // Token and short code derive from the id; a (very unlikely) collision of a
    // short code with an existing link's is answered with a fresh id.
    for _ in 0..8 {
        let share_link_id = ShareLinkId::generate();
        let link = NewShareLink {
            token_hash: crate::domain::ids::secret_hash(&keys.token(share_link_id.as_str())),
            short_code_hash: crate::domain::ids::secret_hash(&keys.short_code(share_link_id.as_str())),
            share_link_id,
            task_id: task_id.clone(),
            owner_id: owner.owner_id.clone(),
            title: title.clone(),
            description: description.clone(),
            password_hash: password_hash.clone(),
            expires_at,
            max_views,
            permissions: link.permissions,
            notify_on_view: link.notify_on_view,
            mask_secrets: redaction.secrets,
            redaction: redaction.beyond_secrets(),
            snapshot_seq: link.snapshot_seq,
            audience: link.audience.column(),
        };
        if let Some(record) = state.store().insert_share_link(link).await? {
            state.signals().webhooks_changed();
            state.metrics().link_created();
            tracing::info!(share_link_id = %record.share_link_id, task_id = %record.task_id, "share link created");
            return Ok(record);
        }
    }
    Err(Error::internal(anyhow::anyhow!("could not find a free short code")))
}

/// The link if `owner` owns it, else [`Error::ShareLinkNotFound`].
pub async fn get(state: &AppState, owner: &Owner, share_link_id: &ShareLinkId) -> Result<ShareLinkRecord> {
    state
        .db()
        .get_share_link(&owner.owner_id, share_link_id)
        .await?
        .ok_or_else(|| Error::ShareLinkNotFound { share_link_id: share_link_id.clone() })
}

/// A page of `owner`'s links, newest first; only those of `task_id` and in
/// `status`, when given.
pub async fn list(
    state: &AppState,
    owner: &Owner,
    task_id: Option<&TaskId>,
    status: Option<ShareStatus>,
    after: Option<Cursor>,
    limit: u32,
) -> Result<LinkPage> {
    Ok(state.db().list_share_links(&owner.owner_id, task_id, status, after, limit).await?)
}

/// The titles of `owner`'s tasks that are shared now (by an active link or a live
/// code), by task.
pub async fn shared_task_titles(state: &AppState, owner: &Owner) -> Result<Vec<(TaskId, String)>> {
    Ok(state.db().titles_of_shared_tasks(&owner.owner_id).await?)
}

/// Changes any of a link's title, description, expiry, password, permissions,
/// view limit and notification. A revoked link can't be changed.
pub async fn update(
    state: &AppState,
    owner: &Owner,
    share_link_id: &ShareLinkId,
    changes: LinkChanges,
) -> Result<ShareLinkRecord> {
    let now = Timestamp::now();
    let title = checked_title(changes.title.as_deref())?;
    let description = changes.description.map(|d| checked_description(d.as_deref())).transpose()?;
    let expires_at = changes.expires_at.map(|at| checked_expiry(at, now)).transpose()?;
    let password = match changes.password {
        Some(Some(p)) => Some(Some(SharePassword::parse("password", &p)?)),
        Some(None) => Some(None),
        None => None,
    };
    let max_views = match changes.max_views {
        Some(Some(m)) => Some(Some(check_max_views("max_views", m)?)),
        Some(None) => Some(None),
        None => None,
    };
    let audience = changes.audience.map(checked_audience).transpose()?;
    // Refuse early (and without hashing) when the link is not the owner's.
    let current = get(state, owner, share_link_id).await?;
    let redaction = if changes.redaction.is_empty() {
        None
    } else {
        Some(checked_redaction(changes.redaction.applied_to(current.redaction()))?)
    };
    // The link as it will be must meet the owner's policy (a revoked link is
    // refused as such below).
    let restricted_audience =
        audience.as_ref().map_or_else(|| current.audience().is_restricted(), Audience::is_restricted);
    if current.revoked_at.is_none() {
        let terms = LinkTerms {
            expires_at: expires_at.unwrap_or(current.expires_at),
            has_password: match &password {
                Some(new) => new.is_some(),
                None => current.password_hash.is_some(),
            },
            restricted_audience,
        };
        policy::check_link(&policy::get(state, owner).await?, &terms, now)?;
    }
    let password_hash = match password {
        Some(Some(p)) => Some(Some(hash_password(state, p).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let patch = ShareLinkPatch {
        title,
        description,
        expires_at,
        password_hash,
        permissions: changes.permissions,
        max_views,
        notify_on_view: changes.notify_on_view,
        mask_secrets: redaction.as_ref().map(|r| r.secrets),
        redaction: redaction.map(|r| r.beyond_secrets()),
        audience: audience.map(|a| a.column()),
    };
    match state.db().update_share_link(&owner.owner_id, share_link_id, &patch).await? {
        LinkChange::Done(link) => Ok(*link),
        LinkChange::NotFound => Err(Error::ShareLinkNotFound { share_link_id: share_link_id.clone() }),
        LinkChange::Revoked => Err(Error::ShareLinkRevoked { share_link_id: share_link_id.clone() }),
    }
}

/// Revokes one of `owner`'s links: it stops working at once, everywhere; final.
/// Revoking it again changes nothing.
pub async fn revoke(state: &AppState, owner: &Owner, share_link_id: &ShareLinkId) -> Result<ShareLinkRecord> {
    let revoked = state.db().revoke_share_link(&owner.owner_id, share_link_id).await?;
    state.signals().webhooks_changed();
    match revoked {
        LinkChange::Done(link) => {
            state.metrics().links_revoked(1);
            tracing::info!(share_link_id = %link.share_link_id, "share link revoked");
            Ok(*link)
        }
        _ => Err(Error::ShareLinkNotFound { share_link_id: share_link_id.clone() }),
    }
}

/// Links revoked per transaction by [`revoke_all`]: thousands of links are revoked
/// in many short transactions rather than one long one.
pub const REVOKE_BATCH: i64 = 500;

/// What [`revoke_all`] took back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedAll {
    pub links: u64,
    pub codes: u64,
}

/// Revokes every active link of `owner` (only those of `task_id`, when given),
/// each exactly as [`revoke`] revokes one, and with `include_codes` every live
/// share code too, with the viewer sessions it issued. An unknown task, or
/// another owner's, is [`Error::TaskNotFound`] and nothing is revoked.
pub async fn revoke_all(
    state: &AppState,
    owner: &Owner,
    task_id: Option<&TaskId>,
    include_codes: bool,
) -> Result<RevokedAll> {
    if let Some(task_id) = task_id {
        owned_task(state, owner, task_id).await?;
    }
    let mut links = 0;
    loop {
        let batch = state.db().revoke_share_links_batch(&owner.owner_id, task_id, REVOKE_BATCH).await?;
        links += batch.len() as u64;
        if !batch.is_empty() {
            state.metrics().links_revoked(batch.len() as u64);
            state.signals().webhooks_changed();
        }
        if (batch.len() as i64) < REVOKE_BATCH {
            break;
        }
    }
    let mut codes = 0;
    if include_codes {
        loop {
            let revoked = state.db().revoke_task_shares_batch(&owner.owner_id, task_id, REVOKE_BATCH).await?;
            codes += revoked;
            if revoked > 0 {
                state.live().changed(task_id).await;
            }
            if (revoked as i64) < REVOKE_BATCH {
                break;
            }
        }
    }
    tracing::info!(owner_id = %owner.owner_id, links, codes, "every share revoked");
    Ok(RevokedAll { links, codes })
}

/// Views of one value of a dimension (a country, a referrer host, a browser…).
#[derive(Debug, Clone)]
pub struct ValueViews {
    /// `unknown` when it could not be told; for referrers, `direct` when there was none.
    pub value: String,
    pub views: i64,
}

/// Views of one day.
#[derive(Debug, Clone)]
pub struct DailyViews {
    /// `YYYY-MM-DD`, UTC.
    pub date: String,
    pub views: i64,
}

/// Who looked at a link, and when.
#[derive(Debug, Clone)]
pub struct LinkAnalytics {
    pub share_link_id: ShareLinkId,
    pub total_views: i64,
    /// Distinct viewers (address and browser), told apart by a keyed hash.
    pub unique_views: i64,
    pub first_viewed_at: Option<Timestamp>,
    pub last_viewed_at: Option<Timestamp>,
    /// Every day with views, oldest first.
    pub views_by_day: Vec<DailyViews>,
    /// The top 20 of each dimension, most views first.
    pub countries: Vec<ValueViews>,
    pub referrers: Vec<ValueViews>,
    pub browsers: Vec<ValueViews>,
    pub operating_systems: Vec<ValueViews>,
    /// `desktop`, `mobile`, `bot` or `other`.
    pub devices: Vec<ValueViews>,
    /// The addresses viewers proved, for a link with an audience.
    pub viewers: Vec<ValueViews>,
}

/// Who looked at `link` (one of the asking owner's).
pub async fn analytics(state: &AppState, link: &ShareLinkRecord) -> Result<LinkAnalytics> {
    let Analytics { total_views, unique_views, first_viewed_at, last_viewed_at, daily, breakdown } =
        state.db().share_link_analytics(link).await?;
    let of = |dimension: &str| -> Vec<ValueViews> {
        breakdown
            .iter()
            .filter(|(d, _, _)| d == dimension)
            .map(|(_, value, views)| ValueViews { value: value.clone(), views: *views })
            .collect()
    };
    let [country, referrer, browser, os, device] = DIMENSIONS;
    Ok(LinkAnalytics {
        share_link_id: link.share_link_id.clone(),
        total_views,
        unique_views,
        first_viewed_at,
        last_viewed_at,
        views_by_day: daily.into_iter().map(|(date, views)| DailyViews { date, views }).collect(),
        countries: of(country),
        referrers: of(referrer),
        browsers: of(browser),
        operating_systems: of(os),
        devices: of(device),
        viewers: of(VIEWER_DIMENSION),
    })
}

/// Every comment on one of `owner`'s links (with its author's address), oldest first.
pub async fn comments(
    state: &AppState,
    owner: &Owner,
    share_link_id: &ShareLinkId,
) -> Result<Vec<CommentRecord>> {
    get(state, owner, share_link_id).await?;
    Ok(state.db().list_comments(share_link_id, true).await?)
}

/// Deletes (hides from everyone) a comment on one of `owner`'s links.
pub async fn delete_comment(
    state: &AppState,
    owner: &Owner,
    share_link_id: &ShareLinkId,
    comment_id: &CommentId,
) -> Result<()> {
    get(state, owner, share_link_id).await?;
    if state.db().delete_comment(share_link_id, comment_id).await? {
        Ok(())
    } else {
        Err(Error::CommentNotFound { comment_id: comment_id.clone() })
    }
}
