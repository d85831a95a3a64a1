//! `/v1/share-links`: the owner's side of share links, exactly as seed 001 documents
//! them, plus the endpoints it links to (get, list, update, revoke, analytics).

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{
    decode_cursor, page_limit, present, ApiJson, ApiPath, ApiQuery, AuthOwner, WholeNumber,
};
use super::{created, ok, Envelope};
use crate::app::share_links::{self, LinkAnalytics, LinkChanges, LinkRequest, RedactionChanges};
use crate::app::{self, AppState};
use crate::domain::audience::Audience;
use crate::domain::ids::{ShareLinkId, TaskId};
use crate::domain::redaction::Redaction;
use crate::domain::share::{parse_expiry, Permissions, PermissionsPatch, ShareStatus};
use crate::domain::time::Timestamp;
use crate::storage::ShareLinkRecord;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_share_link, list_share_links))
        .routes(routes!(revoke_all_share_links))
        .routes(routes!(get_share_link, update_share_link, revoke_share_link))
        .routes(routes!(share_link_analytics))
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
    /// The same as `redact.secrets` (kept for clients that know only this name).
    pub mask_secrets: bool,
    /// What viewers get hidden, in everything they receive.
    pub redact: Redact,
    /// `live` or `snapshot`.
    pub content: LinkContent,
    /// Who may open the link: anyone holding the URL, or only listed addresses or
    /// domains, each proven by a code mailed to it.
    pub audience: Audience,
    pub updated_at: Timestamp,
    /// When the link was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl ShareLinkView {
    pub fn new(state: &AppState, link: ShareLinkRecord) -> ShareLinkView {
        let urls = share_links::urls(state, &link.share_link_id);
        let redact = Redact::from(link.redaction());
        let content = if link.snapshot_seq.is_some() { LinkContent::Snapshot } else { LinkContent::Live };
        let audience = link.audience();
        ShareLinkView {
            audience,
            url: urls.url,
            short_url: urls.short_url,
            status: link.status(Timestamp::now()),
            permissions: link.permissions(),
            password_protected: link.password_hash.is_some(),
            expires_at: link.expires_at,
            created_at: link.created_at,
            updated_at: link.updated_at,
            revoked_at: link.revoked_at,
            share_link_id: link.share_link_id.into_string(),
            task_id: link.task_id.into_string(),
            title: link.title,
            description: link.description,
            max_views: link.max_views,
            view_count: link.view_count,
            created_by: link.owner_id.into_string(),
            notify_on_view: link.notify_on_view,
            mask_secrets: link.mask_secrets,
            redact,
            content,
        }
    }
}

/// What a link hides from its viewers: in the outputs, metadata, comments shown,
/// text files and the zip of all files.
#[derive(Debug, Serialize, ToSchema)]
pub struct Redact {
    /// API keys, tokens of well-known formats, private keys, passwords in URLs and
    /// labelled secrets: shown as their prefix or label and `••••••••`.
    pub secrets: bool,
    /// E-mail addresses: shown as `[email hidden]`.
    pub emails: bool,
    /// The user names in home-directory paths (`/home/…`, `/Users/…`,
    /// `C:\Users\…`): shown as `[user]`.
    pub paths: bool,
    /// The owner's regular expressions; each match is shown as `[hidden]`.
    pub patterns: Vec<String>,
}

impl From<Redaction> for Redact {
    fn from(r: Redaction) -> Redact {
        Redact { secrets: r.secrets, emails: r.emails, paths: r.paths, patterns: r.patterns }
    }
}

/// `redact` in a request: what to hide; on an update, only the parts given change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactRequest {
    /// Secrets of well-known formats (default true on creation; `mask_secrets` is
    /// the same setting).
    pub secrets: Option<bool>,
    /// E-mail addresses (default false).
    pub emails: Option<bool>,
    /// The user names in home-directory paths (default false).
    pub paths: Option<bool>,
    /// Regular expressions (Rust `regex` syntax), at most 20 of 1–200 characters,
    /// each matching something; every match is hidden. Given, they replace the
    /// link's patterns.
    #[schema(max_items = 20)]
    pub patterns: Option<Vec<String>>,
}

impl RedactRequest {
    /// The changes asked for, with `mask_secrets` as the alias of `secrets`.
    fn changes(self, mask_secrets: Option<bool>) -> Result<RedactionChanges, ApiError> {
        let secrets = match (self.secrets, mask_secrets) {
            (Some(a), Some(b)) if a != b => {
                return Err(crate::app::Error::invalid(
                    "mask_secrets",
                    "mask_secrets is another name for redact.secrets, and the two disagree",
                )
                .into())
            }
            (a, b) => a.or(b),
        };
        Ok(RedactionChanges { secrets, emails: self.emails, paths: self.paths, patterns: self.patterns })
    }

    /// What a new link hides: the defaults, with the changes asked for.
    fn on_creation(self, mask_secrets: Option<bool>) -> Result<Redaction, ApiError> {
        let changes = self.changes(mask_secrets)?;
        Ok(Redaction {
            secrets: changes.secrets.unwrap_or(true),
            emails: changes.emails.unwrap_or(false),
            paths: changes.paths.unwrap_or(false),
            patterns: changes.patterns.unwrap_or_default(),
        })
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
    /// ISO 8601, in the future; a time without a zone (`2027-01-04T01:29:46.339431`) is
    /// UTC. Default: 30 days from now.
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
    /// The same as `redact.secrets` (default true).
    pub mask_secrets: Option<bool>,
    /// What viewers get hidden (default: secrets only).
    pub redact: Option<RedactRequest>,
    /// `live` (default): the task as it is whenever the link is opened;
    /// `snapshot`: as it is now — its outputs, metadata and files — never what it
    /// gains later. Chosen when the link is made.
    pub content: Option<LinkContent>,
    /// Who may open the link (default `{"type": "anyone"}`): at most 100 addresses or
    /// domains, stored in lower case.
    pub audience: Option<Audience>,
}

/// What a link shows of its task over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkContent {
    /// The task as it is whenever the link is opened.
    Live,
    /// The task as it was when the link was made.
    Snapshot,
}

impl CreateShareLinkRequest {
    /// The link asked for, as the application takes it.
    pub(super) fn into_request(self) -> Result<LinkRequest, ApiError> {
        let expires_at = self
            .expires_at
            .as_deref()
            .map(|t| parse_expiry("expires_at", t, Timestamp::now()))
            .transpose()?;
        Ok(LinkRequest {
            task_id: TaskId::from(self.task_id),
            title: self.title,
            description: self.description,
            expires_at,
            password: self.password,
            permissions: self.permissions.unwrap_or_default().apply(Permissions::default()),
            max_views: self.max_views.map(|m| m.0),
            notify_on_view: self.notify_on_view.unwrap_or(false),
            redaction: self.redact.unwrap_or_default().on_creation(self.mask_secrets)?,
            snapshot: self.content == Some(LinkContent::Snapshot),
            audience: self.audience.unwrap_or_default(),
        })
    }
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
    /// A new expiry, in the future (this also revives a link that expired by time);
    /// UTC when no zone is given.
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
    /// The same as `redact.secrets`.
    pub mask_secrets: Option<bool>,
    /// Only the parts given change.
    pub redact: Option<RedactRequest>,
    /// Replaces who may open the link (`{"type": "anyone"}` opens it to anyone
    /// holding the URL again).
    pub audience: Option<Audience>,
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
    /// The addresses viewers proved, for a link with an audience (top 20).
    pub viewers: Vec<ValueViews>,
}

impl From<LinkAnalytics> for ShareLinkAnalytics {
    fn from(a: LinkAnalytics) -> ShareLinkAnalytics {
        let values = |list: Vec<share_links::ValueViews>| {
            list.into_iter().map(|v| ValueViews { value: v.value, views: v.views }).collect()
        };
        ShareLinkAnalytics {
            share_link_id: a.share_link_id.into_string(),
            total_views: a.total_views,
            unique_views: a.unique_views,
            first_viewed_at: a.first_viewed_at,
            last_viewed_at: a.last_viewed_at,
            views_by_day: a
                .views_by_day
                .into_iter()
                .map(|d| DailyViews { date: d.date, views: d.views })
                .collect(),
            countries: values(a.countries),
            referrers: values(a.referrers),
            browsers: values(a.browsers),
            operating_systems: values(a.operating_systems),
            devices: values(a.devices),
            viewers: values(a.viewers),
        }
    }
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
    let request = body.into_request()?;
    let link = share_links::create(&state, &owner, request).await?;
    Ok(created(ShareLinkView::new(&state, link)))
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
    ApiPath(share_link_id): ApiPath<ShareLinkId>,
) -> Result<Response, ApiError> {
    let link = share_links::get(&state, &owner, &share_link_id).await?;
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
    let task_id = query.task_id.map(TaskId::from);
    let page = share_links::list(&state, &owner, task_id.as_ref(), query.status, after, limit).await?;
    Ok(ok(ShareLinkList {
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
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
    ApiPath(share_link_id): ApiPath<ShareLinkId>,
    ApiJson(body): ApiJson<UpdateShareLinkRequest>,
) -> Result<Response, ApiError> {
    let expires_at =
        body.expires_at.as_deref().map(|t| parse_expiry("expires_at", t, Timestamp::now())).transpose()?;
    let changes = LinkChanges {
        title: body.title,
        description: body.description,
        expires_at,
        password: body.password,
        permissions: body.permissions.unwrap_or_default(),
        max_views: body.max_views.map(|m| m.map(|m| m.0)),
        notify_on_view: body.notify_on_view,
        redaction: body.redact.unwrap_or_default().changes(body.mask_secrets)?,
        audience: body.audience,
    };
    let link = share_links::update(&state, &owner, &share_link_id, changes).await?;
    Ok(ok(ShareLinkView::new(&state, link)))
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
    ApiPath(share_link_id): ApiPath<ShareLinkId>,
) -> Result<Response, ApiError> {
    let link = share_links::revoke(&state, &owner, &share_link_id).await?;
    Ok(ok(ShareLinkView::new(&state, link)))
}

/// Body of `POST /v1/share-links/revoke-all`; every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeAllRequest {
    /// Only the links (and code) of this task.
    #[schema(pattern = r"\S")]
    pub task_id: Option<String>,
    /// Also revoke share codes, ending every viewer session they issued (default false).
    pub include_codes: Option<bool>,
}

/// What a revoke-all took back.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedAll {
    /// Active links revoked.
    pub revoked_links: u64,
    /// Live share codes revoked (0 without `include_codes`).
    pub revoked_codes: u64,
}

/// Revoke every share link
///
/// Revokes every active link of the owner (or of one task) at once, each exactly as
/// `DELETE /v1/share-links/{share_link_id}` would: it stops working at once and
/// `share_link.revoked` is sent for it. With `include_codes`, every live share code
/// is revoked too, with its viewer sessions. Other owners' links are never touched.
#[utoipa::path(
    post, path = "/v1/share-links/revoke-all", tag = "share-links",
    request_body = Option<RevokeAllRequest>,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "How many links and codes were revoked", body = Envelope<RevokedAll>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`: no such task, or another owner's", body = ErrorEnvelope),
    )
)]
async fn revoke_all_share_links(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<RevokeAllRequest>,
) -> Result<Response, ApiError> {
    let task_id = body.task_id.map(|t| TaskId::from(t.trim()));
    if task_id.as_ref().is_some_and(|t| t.as_str().is_empty() || t.as_str().contains('\0')) {
        return Err(app::Error::invalid("task_id", "task_id must be a task's id").into());
    }
    let revoked =
        share_links::revoke_all(&state, &owner, task_id.as_ref(), body.include_codes.unwrap_or(false))
            .await?;
    Ok(ok(RevokedAll { revoked_links: revoked.links, revoked_codes: revoked.codes }))
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
    ApiPath(share_link_id): ApiPath<ShareLinkId>,
) -> Result<Response, ApiError> {
    let link = share_links::get(&state, &owner, &share_link_id).await?;
    Ok(ok(ShareLinkAnalytics::from(share_links::analytics(&state, &link).await?)))
}
