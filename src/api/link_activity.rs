//! `GET /v1/share-links/{share_link_id}/activity`: what viewers did with a link,
//! in pages or as CSV.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{decode_cursor, page_limit, ApiPath, ApiQuery, AuthOwner};
use super::{ok, Envelope};
use crate::app::activity::{self, Activity, DEFAULT_PAGE, MAX_PAGE};
use crate::app::AppState;
use crate::domain::activity::ActivityKind;
use crate::domain::ids::ShareLinkId;
use crate::domain::time::Timestamp;
use crate::http::{file_response, Closer};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(share_link_activity))
}

/// Query of `GET /v1/share-links/{share_link_id}/activity`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `json` (default): a page; `csv`: the whole log as a file.
    pub format: Option<ActivityFormat>,
}

/// How the activity log is answered.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivityFormat {
    Json,
    Csv,
}

/// One thing a viewer did with a link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityEntry {
    pub kind: ActivityKind,
    pub at: Timestamp,
    /// The client's address truncated to its /24 (IPv4) or /48 (IPv6); never the full address.
    #[schema(example = "203.0.113.0/24")]
    pub client: Option<String>,
    /// `desktop`, `mobile`, `bot` or `other`, from the user agent.
    pub agent: String,
    /// The browser, from the user agent (`unknown` when it can't be told).
    pub browser: String,
    /// A verified address: for `commented`, the commenter's once they verified the
    /// comment; for verifications, the address verified; else null.
    pub email: Option<String>,
    /// For `downloaded`: the artifact's name, or `all files (zip)`.
    pub file: Option<String>,
    /// For `commented`: the comment (see the link's comments).
    pub comment_id: Option<String>,
}

impl From<Activity> for ActivityEntry {
    fn from(a: Activity) -> ActivityEntry {
        ActivityEntry {
            kind: a.kind,
            at: a.at,
            client: a.client,
            agent: a.agent,
            browser: a.browser,
            email: a.email,
            file: a.file,
            comment_id: a.comment_id,
        }
    }
}

/// A page of a link's activity, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityList {
    pub activity: Vec<ActivityEntry>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// Share link activity
///
/// What viewers did with the link, newest first: pages shown before a view
/// (`opened`), views spent (`revealed`), wrong passwords (`password_failed`),
/// downloads (`downloaded`), comments (`commented`), refusals for trying too often
/// (`refused`), and address verifications (`verification_sent`,
/// `verification_succeeded`). `opened`, `password_failed` and `refused` are kept at
/// most once a minute per client prefix. With `format=csv`, the whole log as a CSV
/// file (`limit` and `cursor` then don't apply).
#[utoipa::path(
    get, path = "/v1/share-links/{share_link_id}/activity", tag = "share-links",
    params(("share_link_id" = String, Path, description = "Share link identifier"), ActivityQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A page of the log, or with `format=csv` the whole log as a file (`Content-Disposition: attachment`)",
            content((Envelope<ActivityList> = "application/json"), (String = "text/csv"))),
        (status = 400, description = "`INVALID_REQUEST`: a bad `limit`, `cursor` or `format`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn share_link_activity(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(share_link_id): ApiPath<ShareLinkId>,
    ApiQuery(query): ApiQuery<ActivityQuery>,
    closer: Closer,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    if let Some(ActivityFormat::Csv) = query.format {
        let file = activity::csv(&state, &owner, &share_link_id).await?;
        return Ok(file_response(file, closer, state.settings()));
    }
    let page = activity::page(&state, &owner, &share_link_id, after, limit).await?;
    Ok(ok(ActivityList {
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
        activity: page.entries.into_iter().map(ActivityEntry::from).collect(),
    }))
}
