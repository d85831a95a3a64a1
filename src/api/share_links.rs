//! `/v1/share-links`: the owner's side of share links, exactly as seed 001 documents
//! them, plus the endpoints it links to (get, list, update, revoke, analytics).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthOwner, WholeNumber};
use super::tasks::{decode_cursor, encode_cursor, owned_task, page_limit, present};
use super::{created, ok, Envelope};
use crate::domain::ids;
use crate::domain::share::{
    self, check_max_views, parse_expiry, Permissions, PermissionsPatch, SharePassword, ShareStatus,
};
use crate::domain::task::TaskStatus;
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::state::AppState;
use crate::storage::{LinkChange, NewShareLink, ShareLinkPatch, ShareLinkRecord, DIMENSIONS};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_share_link, list_share_links))
        .routes(routes!(get_share_link, update_share_link, revoke_share_link))
        .routes(routes!(share_link_analytics))
        .routes(routes!(list_comments))
        .routes(routes!(delete_comment))
}

/// A share link as its owner sees it (seed 001 response fields, plus a few more).
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLinkView {
    #[schema(example = "share_9876543210fedcba")]
    pub share_link_id: String,
    #[schema(example = "task_1234567890abcdef")]
    pub task_id: String,
    pub title: String,
    pub description: Option<String>,
    /// The full link: `{public-url}/s/{token}`; the token is the capability.
    pub url: String,
    /// A shorter link to the same share.
    pub short_url: String,
    pub password_protected: bool,
    pub expires_at: Timestamp,
    /// Null when unlimited.
    pub max_views: Option<i64>,
    pub view_count: i64,
    pub permissions: Permissions,
    pub created_at: Timestamp,
    /// The owner's user id.
    #[schema(example = "user_abc123")]
    pub created_by: String,
    pub status: ShareStatus,
    pub notify_on_view: bool,
    /// Whether API keys, tokens, private keys and passwords in URLs that the task's
    /// outputs contain are masked for viewers (default true).
    pub mask_secrets: bool,
    pub updated_at: Timestamp,
    /// When the link was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl ShareLinkView {
    pub fn new(state: &AppState, link: ShareLinkRecord) -> ShareLinkView {
        let keys = state.link_keys();
        let now = Timestamp::now();
        ShareLinkView {
            url: format!("{}/s/{}", state.public_url(), keys.token(&link.share_link_id)),
            short_url: format!("{}/{}", state.short_url_base(), keys.short_code(&link.share_link_id)),
            status: link.status(now),
            permissions: link.permissions(),
            password_protected: link.password_hash.is_some(),
            expires_at: Timestamp(link.expires_at),
            created_at: Timestamp(link.created_at),
            updated_at: Timestamp(link.updated_at),
            revoked_at: link.revoked_at.map(Timestamp),
            share_link_id: link.share_link_id,
            task_id: link.task_id,
            title: link.title,
            description: link.description,
            max_views: link.max_views,
            view_count: link.view_count,
            created_by: link.owner_id,
            notify_on_view: link.notify_on_view,
            mask_secrets: link.mask_secrets,
        }
    }
}

/// Body of `POST /v1/share-links` (seed 001).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShareLinkRequest {
    /// The task to share; it must be finished (`completed`, `failed` or `cancelled`).
    #[schema(pattern = r"\S")]
    pub task_id: String,
    /// Default: the task's title. 1–200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: Option<String>,
    /// Up to 2,000 characters.
    #[schema(max_length = 2000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
    /// ISO 8601 with a time zone, in the future. Default: 30 days from now.
    #[schema(format = DateTime, example = "2030-12-31T23:59:59Z")]
    pub expires_at: Option<String>,
    /// 8–32 characters. Stored only as an Argon2id hash.
    #[schema(min_length = 8, max_length = 32, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub password: Option<String>,
    pub permissions: Option<PermissionsPatch>,
    /// Views before the link expires (1 to 1,000,000,000); null (default) for unlimited.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000_000)]
    pub max_views: Option<WholeNumber>,
    /// Notify the owner when the link is viewed (default false).
    pub notify_on_view: Option<bool>,
    /// Mask secrets that the outputs contain (API keys and tokens of well-known
    /// formats, private keys, passwords in URLs) for viewers (default true).
    pub mask_secrets: Option<bool>,
}

/// Body of `PATCH /v1/share-links/{share_link_id}`; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateShareLinkRequest {
    /// 1–200 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub title: Option<String>,
    /// A string (up to 2,000 characters) replaces the description; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 2000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
    /// A new expiry, in the future (this also revives a link that expired by time).
    #[schema(format = DateTime, example = "2030-12-31T23:59:59Z")]
    pub expires_at: Option<String>,
    /// A string (8–32 characters) sets a new password; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(min_length = 8, max_length = 32, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub password: Option<Option<String>>,
    /// Only the permissions given change.
    pub permissions: Option<PermissionsPatch>,
    /// A positive integer up to 1,000,000,000, or null for unlimited.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1_000_000_000)]
    pub max_views: Option<Option<WholeNumber>>,
    pub notify_on_view: Option<bool>,
    /// Mask secrets in the outputs for viewers, or show them as written.
    pub mask_secrets: Option<bool>,
}

/// Query of `GET /v1/share-links`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListShareLinksQuery {
    /// Only links of this task.
    pub task_id: Option<String>,
    /// Only links in this status.
    pub status: Option<ShareStatus>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of share links, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLinkList {
    pub share_links: Vec<ShareLinkView>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// Views of one day.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyViews {
    #[schema(example = "2024-01-15")]
    pub date: String,
    pub views: i64,
}

/// Views from one value of a dimension (a country, a referrer host, a browser…).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValueViews {
    /// `unknown` when it could not be told; for referrers, `direct` when there was none.
    pub value: String,
    pub views: i64,
}

/// Who looked at a link, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareLinkAnalytics {
    pub share_link_id: String,
    pub total_views: i64,
    /// Distinct viewers (address and browser), told apart by a keyed hash.
    pub unique_views: i64,
    pub first_viewed_at: Option<Timestamp>,
    pub last_viewed_at: Option<Timestamp>,
    /// Every day with views, oldest first (UTC days).
    pub views_by_day: Vec<DailyViews>,
    /// Top 20 each, most views first.
    pub countries: Vec<ValueViews>,
    pub referrers: Vec<ValueViews>,
    pub browsers: Vec<ValueViews>,
    pub operating_systems: Vec<ValueViews>,
    /// `desktop`, `mobile`, `bot` or `other`.
    pub devices: Vec<ValueViews>,
}

/// Hashes a password off the async executor (Argon2 is slow on purpose).
async fn hash_password(state: &AppState, password: SharePassword) -> Result<String, ApiError> {
    state.password_work(move || password.hash()).await
}

fn optional_description(value: Option<&str>) -> Result<Option<String>, ApiError> {
    Ok(value
        .map(|d| bounded("description", d, 0, share::MAX_DESCRIPTION_CHARS, true))
        .transpose()?
        .filter(|d| !d.trim().is_empty()))
}

/// Create a share link
///
/// Creates a link to a finished task's results that anyone holding it can open,
/// within the limits set here (expiry, password, view limit, permissions).
#[utoipa::path(
    post, path = "/v1/share-links", tag = "share-links",
    request_body = CreateShareLinkRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The new link", body = Envelope<ShareLinkView>),
        (status = 400, description = "`INVALID_REQUEST` with `details.field` and `details.issue`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`TASK_NOT_COMPLETED`: the task is pending or running (`details.status`)", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`: no such task, or another owner's", body = ErrorEnvelope),
    )
)]
async fn create_share_link(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<CreateShareLinkRequest>,
) -> Result<Response, ApiError> {
    let record = create_link(&state, &owner.owner_id, body).await?;
    Ok(created(ShareLinkView::new(&state, record)))
}

/// Creates a share link of one of the owner's finished tasks.
pub async fn create_link(
    state: &AppState,
    owner_id: &str,
    body: CreateShareLinkRequest,
) -> Result<ShareLinkRecord, ApiError> {
    let now = Timestamp::now();
    let task_id = body.task_id.trim().to_owned();
    if task_id.is_empty() {
        return Err(ApiError::invalid("task_id", "Task ID is required"));
    }
    if task_id.contains('\0') {
        return Err(super::extract::no_nul("task_id"));
    }
    let title =
        body.title.as_deref().map(|t| bounded("title", t, 1, share::MAX_TITLE_CHARS, false)).transpose()?;
    let description = optional_description(body.description.as_deref())?;
    let expires_at = match body.expires_at.as_deref() {
        Some(text) => parse_expiry("expires_at", text, now)?,
        None => now.plus_days(share::DEFAULT_LIFETIME_DAYS),
    };
    let password = body.password.as_deref().map(|p| SharePassword::parse("password", p)).transpose()?;
    let permissions = body.permissions.unwrap_or_default().apply(Permissions::default());
    let max_views = body.max_views.map(|m| check_max_views("max_views", m.0)).transpose()?;

    let task = owned_task(state, owner_id, &task_id).await?;
    if matches!(task.status, TaskStatus::Pending | TaskStatus::Running) {
        return Err(ApiError::TaskNotCompleted { task_id, status: task.status });
    }
    let password_hash = match password {
        Some(p) => Some(hash_password(state, p).await?),
        None => None,
    };
    let keys = state.link_keys();
    // Token and short code derive from the id; a (very unlikely) collision of a
    // short code with an existing link's is answered with a fresh id.
    for _ in 0..8 {
        let share_link_id = ids::new_id("share");
        let link = NewShareLink {
            token_hash: ids::secret_hash(&keys.token(&share_link_id)),
            short_code_hash: ids::secret_hash(&keys.short_code(&share_link_id)),
            share_link_id,
            task_id: task_id.clone(),
            owner_id: owner_id.to_owned(),
            title: title.clone().unwrap_or_else(|| task.title.clone()),
            description: description.clone(),
            password_hash: password_hash.clone(),
            expires_at,
            max_views,
            permissions,
            notify_on_view: body.notify_on_view.unwrap_or(false),
            mask_secrets: body.mask_secrets.unwrap_or(true),
        };
        if let Some(record) = state.views().insert_link(state.db(), link).await? {
            state.webhooks_changed();
            tracing::info!(share_link_id = %record.share_link_id, task_id = %record.task_id, "share link created");
            return Ok(record);
        }
    }
    Err(ApiError::Internal(anyhow::anyhow!("could not find a free short code")))
}

/// The link `share_link_id` if the owner owns it, else 404 `SHARE_LINK_NOT_FOUND`.
pub async fn owned_link(
    state: &AppState,
    owner_id: &str,
    share_link_id: &str,
) -> Result<ShareLinkRecord, ApiError> {
    state
        .db()
        .get_share_link(owner_id, share_link_id)
        .await?
        .ok_or_else(|| ApiError::ShareLinkNotFound { share_link_id: share_link_id.to_owned() })
}

/// Get a share link
#[utoipa::path(
    get, path = "/v1/share-links/{share_link_id}", tag = "share-links",
    params(("share_link_id" = String, Path, description = "Share link identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The link", body = Envelope<ShareLinkView>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn get_share_link(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(share_link_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let link = owned_link(&state, &owner.owner_id, &share_link_id).await?;
    Ok(ok(ShareLinkView::new(&state, link)))
}

/// List share links
///
/// The owner's links, newest first; filter by `task_id` and `status`.
#[utoipa::path(
    get, path = "/v1/share-links", tag = "share-links",
    params(ListShareLinksQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of links", body = Envelope<ShareLinkList>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn list_share_links(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiQuery(query): ApiQuery<ListShareLinksQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, 20, 100)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let page = state
        .db()
        .list_share_links(&owner.owner_id, query.task_id.as_deref(), query.status, after, limit)
        .await?;
    Ok(ok(ShareLinkList {
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|(time, id)| encode_cursor(time, &id)),
        share_links: page.links.into_iter().map(|l| ShareLinkView::new(&state, l)).collect(),
    }))
}

/// Update a share link
///
/// Changes any of title, description, expiry, password (set or remove),
/// permissions, view limit and notification. A revoked link can't be changed.
#[utoipa::path(
    patch, path = "/v1/share-links/{share_link_id}", tag = "share-links",
    params(("share_link_id" = String, Path, description = "Share link identifier")),
    request_body = Option<UpdateShareLinkRequest>,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The updated link", body = Envelope<ShareLinkView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`SHARE_LINK_REVOKED`", body = ErrorEnvelope),
    )
)]
async fn update_share_link(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(share_link_id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateShareLinkRequest>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now();
    let title =
        body.title.as_deref().map(|t| bounded("title", t, 1, share::MAX_TITLE_CHARS, false)).transpose()?;
    let description = body.description.map(|d| optional_description(d.as_deref())).transpose()?;
    let expires_at = body.expires_at.as_deref().map(|t| parse_expiry("expires_at", t, now)).transpose()?;
    let password = match body.password {
        Some(Some(p)) => Some(Some(SharePassword::parse("password", &p)?)),
        Some(None) => Some(None),
        None => None,
    };
    let max_views = match body.max_views {
        Some(Some(m)) => Some(Some(check_max_views("max_views", m.0)?)),
        Some(None) => Some(None),
        None => None,
    };
    // Refuse early (and without hashing) when the link is not the owner's.
    owned_link(&state, &owner.owner_id, &share_link_id).await?;
    let password_hash = match password {
        Some(Some(p)) => Some(Some(hash_password(&state, p).await?)),
        Some(None) => Some(None),
        None => None,
    };
    let patch = ShareLinkPatch {
        title,
        description,
        expires_at,
        password_hash,
        permissions: body.permissions.unwrap_or_default(),
        max_views,
        notify_on_view: body.notify_on_view,
        mask_secrets: body.mask_secrets,
    };
    match state.db().update_share_link(&owner.owner_id, &share_link_id, &patch).await? {
        LinkChange::Done(link) => Ok(ok(ShareLinkView::new(&state, *link))),
        LinkChange::NotFound => Err(ApiError::ShareLinkNotFound { share_link_id }),
        LinkChange::Revoked => Err(ApiError::ShareLinkRevoked { share_link_id }),
    }
}

/// Revoke a share link
///
/// Makes the link stop working at once, everywhere; final. Revoking a revoked link
/// changes nothing and answers the same.
#[utoipa::path(
    delete, path = "/v1/share-links/{share_link_id}", tag = "share-links",
    params(("share_link_id" = String, Path, description = "Share link identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The revoked link (`status: revoked`)", body = Envelope<ShareLinkView>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn revoke_share_link(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(share_link_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let link = revoke_link(&state, &owner.owner_id, &share_link_id).await?;
    Ok(ok(ShareLinkView::new(&state, link)))
}

/// Revokes one of the owner's links (again is fine: it stays revoked).
pub async fn revoke_link(
    state: &AppState,
    owner_id: &str,
    share_link_id: &str,
) -> Result<ShareLinkRecord, ApiError> {
    let revoked = state.db().revoke_share_link(owner_id, share_link_id).await?;
    state.webhooks_changed();
    match revoked {
        LinkChange::Done(link) => {
            tracing::info!(share_link_id = %link.share_link_id, "share link revoked");
            Ok(*link)
        }
        _ => Err(ApiError::ShareLinkNotFound { share_link_id: share_link_id.to_owned() }),
    }
}

/// Share link analytics
///
/// Total and unique views, views per day, and views by country, referrer host,
/// browser, operating system and device; first and last view.
#[utoipa::path(
    get, path = "/v1/share-links/{share_link_id}/analytics", tag = "share-links",
    params(("share_link_id" = String, Path, description = "Share link identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The link's analytics", body = Envelope<ShareLinkAnalytics>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn share_link_analytics(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(share_link_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let link = owned_link(&state, &owner.owner_id, &share_link_id).await?;
    Ok(ok(analytics_of(&state, &link).await?))
}

/// The analytics of a link (whose owner is asking).
pub async fn analytics_of(state: &AppState, link: &ShareLinkRecord) -> Result<ShareLinkAnalytics, ApiError> {
    let analytics = state.db().share_link_analytics(link).await?;
    let of = |dimension: &str| -> Vec<ValueViews> {
        analytics
            .breakdown
            .iter()
            .filter(|(d, _, _)| d == dimension)
            .map(|(_, value, views)| ValueViews { value: value.clone(), views: *views })
            .collect()
    };
    let [country, referrer, browser, os, device] = DIMENSIONS;
    Ok(ShareLinkAnalytics {
        share_link_id: link.share_link_id.clone(),
        total_views: analytics.total_views,
        unique_views: analytics.unique_views,
        first_viewed_at: analytics.first_viewed_at.map(Timestamp),
        last_viewed_at: analytics.last_viewed_at.map(Timestamp),
        views_by_day: analytics
            .daily
            .iter()
            .map(|(date, views)| DailyViews { date: date.clone(), views: *views })
            .collect(),
        countries: of(country),
        referrers: of(referrer),
        browsers: of(browser),
        operating_systems: of(os),
        devices: of(device),
    })
}

/// A comment as the link's owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub comment_id: String,
    pub name: String,
    /// The author's address (verified when `status` is `published`).
    pub email: String,
    pub content: String,
    /// `pending_verification`, `published` or `deleted`.
    pub status: &'static str,
    pub created_at: Timestamp,
    pub verified_at: Option<Timestamp>,
}

/// A link's comments, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    pub comments: Vec<CommentView>,
}

/// List a link's comments
///
/// Every comment, with its author's email address and status.
#[utoipa::path(
    get, path = "/v1/share-links/{share_link_id}/comments", tag = "share-links",
    params(("share_link_id" = String, Path, description = "Share link identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The comments", body = Envelope<CommentList>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn list_comments(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(share_link_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    owned_link(&state, &owner.owner_id, &share_link_id).await?;
    let comments = state.db().list_comments(&share_link_id, true).await?;
    Ok(ok(CommentList {
        comments: comments
            .into_iter()
            .map(|c| CommentView {
                status: match (c.deleted_at, c.verified_at) {
                    (Some(_), _) => "deleted",
                    (None, Some(_)) => "published",
                    (None, None) => "pending_verification",
                },
                comment_id: c.comment_id,
                name: c.name,
                email: c.email,
                content: c.content,
                created_at: Timestamp(c.created_at),
                verified_at: c.verified_at.map(Timestamp),
            })
            .collect(),
    }))
}

/// Delete a comment
///
/// The comment is no longer shown to anyone.
#[utoipa::path(
    delete, path = "/v1/share-links/{share_link_id}/comments/{comment_id}", tag = "share-links",
    params(
        ("share_link_id" = String, Path, description = "Share link identifier"),
        ("comment_id" = String, Path, description = "Comment identifier"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND` or `COMMENT_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn delete_comment(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath((share_link_id, comment_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    owned_link(&state, &owner.owner_id, &share_link_id).await?;
    if state.db().delete_comment(&share_link_id, &comment_id).await? {
        Ok(axum::http::StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::CommentNotFound { comment_id })
    }
}
