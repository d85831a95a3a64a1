//! `/v1/settings/sharing`: the owner's sharing policy, which every new or changed
//! share link and every new share code of theirs must meet.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, AuthOwner, WholeNumber};
use super::{ok, Envelope};
use crate::app::{policy, AppState};
use crate::domain::policy::SharingPolicy;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_sharing_policy, put_sharing_policy))
}

/// The owner's sharing policy.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharingPolicyView {
    /// Days a share link may last at most (1–3650), counted from when it is made
    /// or changed; null for no maximum. A link made without `expires_at` lasts the
    /// shorter of 30 days and this.
    #[schema(minimum = 1, maximum = 3650)]
    pub max_link_lifetime_days: Option<i64>,
    /// Every share link must have a password.
    pub require_password: bool,
    /// Every share link must be restricted to an audience (email addresses or
    /// domains) rather than open to anyone holding it.
    pub require_audience: bool,
    /// Share codes may grant write permissions (`canSendMessage`, `canCreatePr`,
    /// `canApprovePr`, `canMergePr`); when false, only view-only codes can be made.
    pub allow_share_code_write: bool,
}

impl From<SharingPolicy> for SharingPolicyView {
    fn from(p: SharingPolicy) -> SharingPolicyView {
        SharingPolicyView {
            max_link_lifetime_days: p.max_link_lifetime_days,
            require_password: p.require_password,
            require_audience: p.require_audience,
            allow_share_code_write: p.allow_share_code_write,
        }
    }
}

/// Body of `PUT /v1/settings/sharing`: the whole policy; a field left out takes
/// its default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingPolicyRequest {
    /// 1–3650 days, or null (default) for no maximum.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub max_link_lifetime_days: Option<WholeNumber>,
    /// Default false.
    pub require_password: Option<bool>,
    /// Default false.
    pub require_audience: Option<bool>,
    /// Default true.
    pub allow_share_code_write: Option<bool>,
}

/// Get the sharing policy
///
/// The rules the owner's share links and share codes must meet. An owner who never
/// set one has the default: no maximum lifetime, no password or audience required,
/// and share codes may grant write permissions.
#[utoipa::path(
    get, path = "/v1/settings/sharing", tag = "settings",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The policy", body = Envelope<SharingPolicyView>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn get_sharing_policy(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
) -> Result<Response, ApiError> {
    Ok(ok(SharingPolicyView::from(policy::get(&state, &owner).await?)))
}

/// Set the sharing policy
///
/// Replaces the whole policy (fields left out take their defaults). It applies from
/// now on to every link made or changed and every code made; links and codes that
/// exist are not changed. A link made or changed against it answers 400
/// `INVALID_REQUEST` naming `expires_at`, `password` or `audience`; a share code with
/// write permissions when they are not allowed answers 400 `validation_error`
/// naming the permission.
#[utoipa::path(
    put, path = "/v1/settings/sharing", tag = "settings",
    request_body = SharingPolicyRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The policy as stored", body = Envelope<SharingPolicyView>),
        (status = 400, description = "`INVALID_REQUEST` with `details.field` and `details.issue`; nothing is stored", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn put_sharing_policy(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<SharingPolicyRequest>,
) -> Result<Response, ApiError> {
    let defaults = SharingPolicy::default();
    let wanted = SharingPolicy {
        max_link_lifetime_days: body.max_link_lifetime_days.map(|d| d.0),
        require_password: body.require_password.unwrap_or(defaults.require_password),
        require_audience: body.require_audience.unwrap_or(defaults.require_audience),
        allow_share_code_write: body.allow_share_code_write.unwrap_or(defaults.allow_share_code_write),
    };
    Ok(ok(SharingPolicyView::from(policy::save(&state, &owner, wanted).await?)))
}
