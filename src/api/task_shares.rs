//! Task share codes (seed 003): the owner creates a code for a cloud-mode task, a
//! viewer exchanges it for a session scoped to that task and the code's permissions.
//!
//! These routes speak the 003 family's shapes: camelCase bodies and errors
//! `{"code", "error", "message"}`.
//!
//! Where the seed is silent (see [`app::share_codes`]):
//! - A second POST **rotates** the code: a new code with the new permissions; the
//!   old code and every session it issued stop working at once.
//! - `expiresAt` (optional) makes a code expire; `DELETE /v1/tasks/{taskId}/share`
//!   revokes it and its sessions at once.
//! - A task with a `machine_id` (local mode) is refused with 409
//!   `TASK_NOT_IN_CLOUD_MODE`.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::ApiError;
use super::extract::{parse_json, read_body, ApiPath, ApiQuery, AuthOwner};
use crate::app::share_codes::{self, LiveCode};
use crate::app::{self, AppState};
use crate::domain::ids::TaskId;
use crate::domain::task_share::{CodePermissions, CodePermissionsRequest};
use crate::domain::time::Timestamp;
use crate::http::ClientIp;
use crate::storage::Owner;

pub fn routes() -> OpenApiRouter<AppState> {
    // Seed 003 splits the verbs between two prefixes; each takes all three.
    OpenApiRouter::new()
        .routes(routes!(create_share_code, get_share_code_agentrix, revoke_share_code_agentrix))
        .routes(routes!(create_share_code_tasks, get_share_code, revoke_share_code))
        .routes(routes!(exchange_share_code))
}

/// An error of the 003 family: `{"code", "error", "message"}`.
#[derive(Debug)]
pub enum CodeError {
    /// 400 `INVALID_REQUEST` / `validation_error`.
    InvalidRequest(String),
    /// 401 `UNAUTHORIZED` / `unauthorized`: no valid API key.
    Unauthorized,
    /// 403 `FORBIDDEN` / `forbidden`: the task exists but belongs to someone else.
    Forbidden,
    /// 404 `TASK_NOT_FOUND` / `not_found`.
    TaskNotFound,
    /// 404 `SHARE_NOT_FOUND` / `not_found`: the task has no live share code.
    ShareNotFound,
    /// 409 `TASK_NOT_IN_CLOUD_MODE` / `conflict`: local-mode tasks can't be shared.
    NotCloudMode,
    /// 401 `INVALID_SHARE_CODE` / `unauthorized`: unknown, revoked or expired code.
    InvalidShareCode,
    /// 413 `PAYLOAD_TOO_LARGE` / `payload_too_large`: the body is over `--max-body-bytes`.
    PayloadTooLarge { limit_bytes: usize },
    /// 429 `RATE_LIMITED` / `rate_limited`, with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// 404 `NOT_FOUND` / `not_found`: no route has this path.
    RouteNotFound,
    /// 405 `METHOD_NOT_ALLOWED` / `method_not_allowed`.
    MethodNotAllowed,
    /// 500 `INTERNAL_ERROR` / `internal_error`; the cause is logged.
    Internal(anyhow::Error),
}

/// The 003 error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeErrorBody {
    #[schema(example = "INVALID_REQUEST")]
    pub code: String,
    #[schema(example = "validation_error")]
    pub error: String,
    #[schema(example = "Invalid request parameters")]
    pub message: String,
}

/// Whether `path` is one of seed 003's (`/v1/agentrix/…`, `/v1/auth/share`,
/// `/v1/tasks/{taskId}/share`), whose errors take the 003 shape.
pub fn is_code_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    path.starts_with("/v1/agentrix/")
        || path == "/v1/agentrix"
        || path == "/v1/auth/share"
        || path
            .strip_prefix("/v1/tasks/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, tail)| tail == "share")
}

/// What a user action refused, in the 003 shape.
impl From<app::Error> for CodeError {
    fn from(err: app::Error) -> CodeError {
        match err {
            app::Error::Invalid(field) => CodeError::InvalidRequest(field.issue),
            app::Error::Unauthenticated | app::Error::ViewerSessionEnded => CodeError::Unauthorized,
            app::Error::NotTaskOwner => CodeError::Forbidden,
            app::Error::TaskNotFound { .. } => CodeError::TaskNotFound,
            app::Error::ShareCodeNotFound => CodeError::ShareNotFound,
            app::Error::NotCloudMode => CodeError::NotCloudMode,
            app::Error::InvalidShareCode => CodeError::InvalidShareCode,
            app::Error::RateLimited { retry_after_secs } => CodeError::RateLimited { retry_after_secs },
            app::Error::Internal(cause) => CodeError::Internal(cause),
            other => CodeError::Internal(anyhow::anyhow!("unexpected on a share-code route: {other:?}")),
        }
    }
}

/// An error of the owner API's extractors, in the 003 shape.
impl From<ApiError> for CodeError {
    fn from(err: ApiError) -> CodeError {
        match err {
            ApiError::App(err) => err.into(),
            ApiError::InvalidRequest { field: Some(field), issue } => {
                CodeError::InvalidRequest(format!("{field}: {issue}"))
            }
            ApiError::InvalidRequest { field: None, issue } => CodeError::InvalidRequest(issue),
            ApiError::PayloadTooLarge { limit_bytes } => CodeError::PayloadTooLarge { limit_bytes },
            other => CodeError::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

impl IntoResponse for CodeError {
    fn into_response(self) -> Response {
        let (status, code, error, message) = match &self {
            CodeError::InvalidRequest(detail) => (
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "validation_error",
                format!("Invalid request parameters: {detail}"),
            ),
            CodeError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "unauthorized",
                "Invalid or missing API key".into(),
            ),
            CodeError::Forbidden => (
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "forbidden",
                "Only task owner can create share links".into(),
            ),
            CodeError::TaskNotFound => {
                (StatusCode::NOT_FOUND, "TASK_NOT_FOUND", "not_found", "Task not found".into())
            }
            CodeError::ShareNotFound => (
                StatusCode::NOT_FOUND,
                "SHARE_NOT_FOUND",
                "not_found",
                "This task has no active share code".into(),
            ),
            CodeError::NotCloudMode => (
                StatusCode::CONFLICT,
                "TASK_NOT_IN_CLOUD_MODE",
                "conflict",
                "Only tasks running in cloud mode (machine_id null) can be shared".into(),
            ),
            CodeError::InvalidShareCode => (
                StatusCode::UNAUTHORIZED,
                "INVALID_SHARE_CODE",
                "unauthorized",
                "Invalid, expired or revoked share code".into(),
            ),
            CodeError::PayloadTooLarge { limit_bytes } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "payload_too_large",
                format!("The request body is larger than {limit_bytes} bytes"),
            ),
            CodeError::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "rate_limited",
                format!("Too many attempts; try again in {retry_after_secs} seconds"),
            ),
            CodeError::RouteNotFound => {
                (StatusCode::NOT_FOUND, "NOT_FOUND", "not_found", "No such route".into())
            }
            CodeError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "method_not_allowed",
                "This route does not take this method".into(),
            ),
            CodeError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL_ERROR",
                    "internal_error",
                    "The server could not complete the request".into(),
                )
            }
        };
        let body = CodeErrorBody { code: code.into(), error: error.into(), message };
        let mut response = (status, Json(body)).into_response();
        if let CodeError::RateLimited { retry_after_secs } = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// Body of `POST /v1/agentrix/tasks/{taskId}/share`; every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateShareCodeRequest {
    /// Omitted permissions take their defaults (view-only).
    pub permissions: Option<CodePermissionsRequest>,
    /// When the code stops working (ISO 8601, in the future; UTC when no zone is given).
    /// Default: never.
    #[schema(format = DateTime, example = "2030-12-31T23:59:59Z")]
    pub expires_at: Option<String>,
}

/// The new code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCodeCreated {
    #[schema(example = "x7Kq2mP9aB4cD8eF1gH3jL5n")]
    pub share_code: String,
}

/// A task's live share code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShareCodeInfo {
    pub share_code: String,
    pub task_id: String,
    pub permissions: CodePermissions,
    pub created_at: Timestamp,
    /// Null when the code does not expire.
    pub expires_at: Option<Timestamp>,
    /// Viewer sessions the code has issued.
    pub sessions_issued: i64,
    /// When a viewer last exchanged the code.
    pub last_used_at: Option<Timestamp>,
}

/// Query of `GET /v1/auth/share`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExchangeQuery {
    /// The share code.
    #[param(required = true, pattern = r"\S")]
    pub code: Option<String>,
}

/// A viewer session: send `token` as `Authorization: Bearer <token>` to the task routes.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ViewerSessionCreated {
    /// `vst_…`; scoped to one task and the code's permissions.
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// 24 hours from now, or the code's expiry if sooner.
    pub expires_at: Timestamp,
    pub task_id: String,
    pub permissions: CodePermissions,
}

/// The owner of a 003 request; 401 in the 003 shape otherwise.
fn owner(auth: Result<AuthOwner, ApiError>) -> Result<Owner, CodeError> {
    match auth {
        Ok(AuthOwner(owner)) => Ok(owner),
        Err(ApiError::App(app::Error::Internal(cause))) => Err(CodeError::Internal(cause)),
        Err(_) => Err(CodeError::Unauthorized),
    }
}

/// The `taskId` of a 003 route; a malformed one answers 400 in the 003 shape.
fn task_id(path: Result<ApiPath<TaskId>, ApiError>) -> Result<TaskId, CodeError> {
    path.map(|ApiPath(task_id)| task_id).map_err(CodeError::from)
}

fn info(live: LiveCode) -> ShareCodeInfo {
    let LiveCode { code, share } = live;
    ShareCodeInfo {
        share_code: code,
        permissions: share.permissions(),
        created_at: share.created_at,
        expires_at: share.expires_at,
        sessions_issued: share.sessions_issued,
        last_used_at: share.last_used_at,
        task_id: share.task_id.into_string(),
    }
}

/// Create a share code
///
/// Creates a code for viewing (and, as permitted, acting on) a cloud-mode task.
/// Only the task's owner can. A second call rotates the code: the old code and
/// every session it issued stop working at once.
#[utoipa::path(
    post, path = "/v1/agentrix/tasks/{taskId}/share", tag = "share-codes",
    params(("taskId" = String, Path, description = "Task identifier")),
    request_body = Option<CreateShareCodeRequest>,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The new code", body = ShareCodeCreated),
        (status = 400, description = "`INVALID_REQUEST` / `validation_error`", body = CodeErrorBody),
        (status = 401, description = "`UNAUTHORIZED` / `unauthorized`", body = CodeErrorBody),
        (status = 403, description = "`FORBIDDEN` / `forbidden`: the task is another owner's", body = CodeErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` / `not_found`", body = CodeErrorBody),
        (status = 409, description = "`TASK_NOT_IN_CLOUD_MODE` / `conflict`: the task has a machine_id", body = CodeErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE` / `payload_too_large`: the body is over `--max-body-bytes`", body = CodeErrorBody),
    )
)]
async fn create_share_code(
    State(state): State<AppState>,
    auth: Result<AuthOwner, ApiError>,
    path: Result<ApiPath<TaskId>, ApiError>,
    request: Request,
) -> Result<Response, CodeError> {
    let owner = owner(auth)?;
    let task_id = task_id(path)?;
    let headers = request.headers().clone();
    let body = read_body(request, state.settings().max_body_bytes).await?;
    let request = parse_body::<CreateShareCodeRequest>(&headers, &body)?;
    let expires_at = match request.expires_at.as_deref() {
        Some(text) => Some(
            Timestamp::parse(text)
                .ok_or_else(|| CodeError::InvalidRequest("expiresAt must be an ISO 8601 timestamp".into()))?,
        ),
        None => None,
    };
    let permissions = request.permissions.unwrap_or_default().resolve();
    let code = share_codes::create(&state, &owner.owner_id, &task_id, permissions, expires_at).await?;
    Ok((StatusCode::CREATED, Json(ShareCodeCreated { share_code: code })).into_response())
}

/// Parses a 003 body: an empty body is `{}`; errors are `validation_error`s.
fn parse_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, CodeError> {
    let json_or_none = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_none_or(|m| m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON));
    if !json_or_none {
        return Err(CodeError::InvalidRequest("send the body as application/json".into()));
    }
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    parse_json(body).map_err(CodeError::from)
}

/// Get share info
///
/// The task's live share code, its permissions, when it was created and last used,
/// and how many viewer sessions it issued.
#[utoipa::path(
    get, path = "/v1/tasks/{taskId}/share", tag = "share-codes",
    params(("taskId" = String, Path, description = "Task identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The live code", body = ShareCodeInfo),
        (status = 401, description = "`UNAUTHORIZED` / `unauthorized`", body = CodeErrorBody),
        (status = 403, description = "`FORBIDDEN` / `forbidden`", body = CodeErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` or `SHARE_NOT_FOUND` / `not_found`", body = CodeErrorBody),
    )
)]
async fn get_share_code(
    State(state): State<AppState>,
    auth: Result<AuthOwner, ApiError>,
    path: Result<ApiPath<TaskId>, ApiError>,
) -> Result<Response, CodeError> {
    let owner = owner(auth)?;
    let task_id = task_id(path)?;
    let live = share_codes::live(&state, &owner.owner_id, &task_id).await?.ok_or(CodeError::ShareNotFound)?;
    Ok(Json(info(live)).into_response())
}

/// Revoke a share code
///
/// The code and every viewer session it issued stop working at once, including
/// open event streams.
#[utoipa::path(
    delete, path = "/v1/tasks/{taskId}/share", tag = "share-codes",
    params(("taskId" = String, Path, description = "Task identifier")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`UNAUTHORIZED` / `unauthorized`", body = CodeErrorBody),
        (status = 403, description = "`FORBIDDEN` / `forbidden`", body = CodeErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` or `SHARE_NOT_FOUND` / `not_found`", body = CodeErrorBody),
    )
)]
async fn revoke_share_code(
    State(state): State<AppState>,
    auth: Result<AuthOwner, ApiError>,
    path: Result<ApiPath<TaskId>, ApiError>,
) -> Result<Response, CodeError> {
    let owner = owner(auth)?;
    let task_id = task_id(path)?;
    share_codes::revoke(&state, &owner.owner_id, &task_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Create a share code (`/v1/tasks` prefix)
///
/// The same as `POST /v1/agentrix/tasks/{taskId}/share`.
#[utoipa::path(
    post, path = "/v1/tasks/{taskId}/share", tag = "share-codes",
    params(("taskId" = String, Path, description = "Task identifier")),
    request_body = Option<CreateShareCodeRequest>,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The new code", body = ShareCodeCreated),
        (status = 400, description = "`INVALID_REQUEST` / `validation_error`", body = CodeErrorBody),
        (status = 401, description = "`UNAUTHORIZED` / `unauthorized`", body = CodeErrorBody),
        (status = 403, description = "`FORBIDDEN` / `forbidden`: the task is another owner's", body = CodeErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` / `not_found`", body = CodeErrorBody),
        (status = 409, description = "`TASK_NOT_IN_CLOUD_MODE` / `conflict`: the task has a machine_id", body = CodeErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE` / `payload_too_large`", body = CodeErrorBody),
    )
)]
async fn create_share_code_tasks(
    state: State<AppState>,
    auth: Result<AuthOwner, ApiError>,
    path: Result<ApiPath<TaskId>, ApiError>,
    request: Request,
) -> Result<Response, CodeError> {
    create_share_code(state, auth, path, request).await
}

/// Get share info (`/v1/agentrix` prefix)
///
/// The same as `GET /v1/tasks/{taskId}/share`.
#[utoipa::path(
    get, path = "/v1/agentrix/tasks/{taskId}/share", tag = "share-codes",
    params(("taskId" = String, Path, description = "Task identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The live code", body = ShareCodeInfo),
        (status = 401, description = "`UNAUTHORIZED` / `unauthorized`", body = CodeErrorBody),
        (status = 403, description = "`FORBIDDEN` / `forbidden`", body = CodeErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` or `SHARE_NOT_FOUND` / `not_found`", body = CodeErrorBody),
    )
)]
async fn get_share_code_agentrix(
    state: State<AppState>,
    auth: Result<AuthOwner, ApiError>,
    path: Result<ApiPath<TaskId>, ApiError>,
) -> Result<Response, CodeError> {
    get_share_code(state, auth, path).await
}

/// Revoke a share code (`/v1/agentrix` prefix)
///
/// The same as `DELETE /v1/tasks/{taskId}/share`.
#[utoipa::path(
    delete, path = "/v1/agentrix/tasks/{taskId}/share", tag = "share-codes",
    params(("taskId" = String, Path, description = "Task identifier")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`UNAUTHORIZED` / `unauthorized`", body = CodeErrorBody),
        (status = 403, description = "`FORBIDDEN` / `forbidden`", body = CodeErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` or `SHARE_NOT_FOUND` / `not_found`", body = CodeErrorBody),
    )
)]
async fn revoke_share_code_agentrix(
    state: State<AppState>,
    auth: Result<AuthOwner, ApiError>,
    path: Result<ApiPath<TaskId>, ApiError>,
) -> Result<Response, CodeError> {
    revoke_share_code(state, auth, path).await
}

/// Authenticate with a share code
///
/// Exchanges a share code for a viewer session: a bearer token that reaches the
/// code's task, with the code's permissions, until it expires or the code is
/// revoked or rotated. Limited to 20 exchanges per client address per minute.
#[utoipa::path(
    get, path = "/v1/auth/share", tag = "share-codes",
    params(ExchangeQuery),
    responses(
        (status = 200, description = "A viewer session", body = ViewerSessionCreated),
        (status = 400, description = "`INVALID_REQUEST` / `validation_error`: no code", body = CodeErrorBody),
        (status = 401, description = "`INVALID_SHARE_CODE` / `unauthorized`", body = CodeErrorBody),
        (status = 429, description = "`RATE_LIMITED` / `rate_limited`, with `Retry-After`", body = CodeErrorBody),
    )
)]
async fn exchange_share_code(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    query: Result<ApiQuery<ExchangeQuery>, ApiError>,
) -> Result<Response, CodeError> {
    let user_agent: Option<String> = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    let code = match query {
        Ok(ApiQuery(ExchangeQuery { code: Some(code) })) if !code.trim().is_empty() => code.trim().to_owned(),
        _ => return Err(CodeError::InvalidRequest("code is required".into())),
    };
    let session = share_codes::exchange(&state, &code, client, user_agent).await?;
    let created = ViewerSessionCreated {
        token: session.token,
        token_type: "Bearer",
        expires_at: session.expires_at,
        task_id: session.task_id.into_string(),
        permissions: session.permissions,
    };
    Ok(Json(created).into_response())
}
