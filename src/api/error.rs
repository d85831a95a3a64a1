//! Errors of the task and share-link APIs, in the envelope of seed 001:
//! `{"success": false, "error": {"code", "message", "details"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::domain::task::TaskStatus;
use crate::domain::text::FieldError;

/// Everything an owner-API request can fail with. Each variant names its status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `INVALID_REQUEST`: a field is missing, malformed or out of range;
    /// `details.field` names it (when there is one) and `details.issue` says why.
    #[error("invalid request: {issue}")]
    InvalidRequest { field: Option<String>, issue: String },
    /// 401 `UNAUTHORIZED`: no API key, or one that is unknown or revoked.
    #[error("unauthorized")]
    Unauthorized,
    /// 404 `TASK_NOT_FOUND`: no such task, or a task of another owner.
    #[error("task not found")]
    TaskNotFound { task_id: String },
    /// 404 `ARTIFACT_NOT_FOUND`.
    #[error("artifact not found")]
    ArtifactNotFound { artifact_id: String },
    /// 404 `SHARE_LINK_NOT_FOUND`: no such link of this owner.
    #[error("share link not found")]
    ShareLinkNotFound { share_link_id: String },
    /// 404 `SHARE_LINK_NOT_FOUND` for viewers: the link does not exist, expired or
    /// was revoked. One body for all three, so nobody can probe which tokens exist.
    #[error("share link unavailable")]
    ShareUnavailable,
    /// 403 `TASK_NOT_COMPLETED`: a pending or running task can't be shared by link.
    #[error("task not completed")]
    TaskNotCompleted { task_id: String, status: TaskStatus },
    /// 409 `SHARE_LINK_REVOKED`: revocation is final; a revoked link can't be changed.
    #[error("share link revoked")]
    ShareLinkRevoked { share_link_id: String },
    /// 401 `PASSWORD_REQUIRED`: the link has a password and none was sent.
    #[error("password required")]
    PasswordRequired,
    /// 401 `INVALID_PASSWORD`: the password sent is wrong (no view was spent).
    #[error("invalid password")]
    InvalidPassword,
    /// 429 `TOO_MANY_ATTEMPTS`: too many wrong passwords; `Retry-After` says when to try again.
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    /// 429 `RATE_LIMITED`: too many lookups of links that don't exist from this client.
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// 403 `DOWNLOAD_NOT_ALLOWED`: the link does not allow downloads.
    #[error("download not allowed")]
    DownloadNotAllowed,
    /// 403 `COMMENTS_NOT_ALLOWED`: the link does not allow comments.
    #[error("comments not allowed")]
    CommentsNotAllowed,
    /// 404 `COMMENT_NOT_FOUND`.
    #[error("comment not found")]
    CommentNotFound { comment_id: String },
    /// 401 `VIEW_REQUIRED`: downloads need the grant that opening the link hands out.
    #[error("view required")]
    ViewRequired,
    /// 403 `FORBIDDEN`: the share code behind this viewer session does not allow it.
    #[error("forbidden")]
    Forbidden { permission: &'static str },
    /// 404 `PULL_REQUEST_NOT_FOUND`.
    #[error("pull request not found")]
    PullRequestNotFound { number: i64 },
    /// 409 with a specific code: the request conflicts with the state of things
    /// (`MERGE_CONFLICT`, `APPROVAL_REQUIRED`, `PULL_REQUEST_NOT_OPEN`, `BRANCH_NOT_FOUND`…).
    #[error("conflict")]
    Conflict { code: &'static str, message: String, details: Value },
    /// 404 `WEBHOOK_NOT_FOUND`: no such endpoint of this owner.
    #[error("webhook not found")]
    WebhookNotFound { webhook_id: String },
    /// 404 `NOT_FOUND`: no route has this path.
    #[error("no such route")]
    RouteNotFound,
    /// 405 `METHOD_NOT_ALLOWED`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `INVALID_STATUS_TRANSITION`: the task's status can't move there.
    #[error("invalid status transition")]
    InvalidTransition { task_id: String, from: TaskStatus, to: TaskStatus },
    /// 409 `ARTIFACT_EXISTS`: the task already has an artifact with this name.
    #[error("artifact exists")]
    ArtifactExists { name: String },
    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("payload too large")]
    PayloadTooLarge { limit_bytes: usize },
    /// 415 `UNSUPPORTED_MEDIA_TYPE`: a JSON body without `Content-Type: application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429 `TOO_MANY_STREAMS`: the client already holds its share of event streams.
    #[error("too many open streams")]
    TooManyStreams { limit: usize },
    /// 408 `REQUEST_TIMEOUT`: the request (or its body) took longer than allowed.
    #[error("request timed out")]
    RequestTimeout { limit_secs: f64 },
    /// 500 `INTERNAL_ERROR`: the cause is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, issue: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest { field: Some(field.into()), issue: issue.into() }
    }

    pub fn task_not_found(task_id: &str) -> ApiError {
        ApiError::TaskNotFound { task_id: task_id.to_owned() }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Value) {
        match self {
            ApiError::InvalidRequest { field, issue } => (
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "Invalid request parameters".into(),
                json!({ "field": field, "issue": issue }),
            ),
            ApiError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid or missing API key".into(), json!({}))
            }
            ApiError::TaskNotFound { task_id } => (
                StatusCode::NOT_FOUND,
                "TASK_NOT_FOUND",
                "Task not found or not accessible".into(),
                json!({ "task_id": task_id }),
            ),
            ApiError::ArtifactNotFound { artifact_id } => (
                StatusCode::NOT_FOUND,
                "ARTIFACT_NOT_FOUND",
                "Artifact not found".into(),
                json!({ "artifact_id": artifact_id }),
            ),
            ApiError::ShareLinkNotFound { share_link_id } => (
                StatusCode::NOT_FOUND,
                "SHARE_LINK_NOT_FOUND",
                "Share link not found or not accessible".into(),
                json!({ "share_link_id": share_link_id }),
            ),
            ApiError::ShareUnavailable => (
                StatusCode::NOT_FOUND,
                "SHARE_LINK_NOT_FOUND",
                "This share link does not exist, has expired or was revoked".into(),
                json!({}),
            ),
            ApiError::TaskNotCompleted { task_id, status } => (
                StatusCode::FORBIDDEN,
                "TASK_NOT_COMPLETED",
                "Cannot create share link for incomplete tasks".into(),
                json!({ "task_id": task_id, "status": status }),
            ),
            ApiError::ShareLinkRevoked { share_link_id } => (
                StatusCode::CONFLICT,
                "SHARE_LINK_REVOKED",
                "The share link was revoked; revocation is final".into(),
                json!({ "share_link_id": share_link_id }),
            ),
            ApiError::PasswordRequired => (
                StatusCode::UNAUTHORIZED,
                "PASSWORD_REQUIRED",
                "This share link is password protected; send the password in X-Share-Password".into(),
                json!({}),
            ),
            ApiError::InvalidPassword => (
                StatusCode::UNAUTHORIZED,
                "INVALID_PASSWORD",
                "The password is not correct".into(),
                json!({}),
            ),
            ApiError::TooManyAttempts { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_ATTEMPTS",
                format!("Too many wrong passwords; try again in {retry_after_secs} seconds"),
                json!({ "retry_after_seconds": retry_after_secs }),
            ),
            ApiError::RateLimited { retry_after_secs } => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!(
                    "Too many requests for links that do not exist; try again in {retry_after_secs} seconds"
                ),
                json!({ "retry_after_seconds": retry_after_secs }),
            ),
            ApiError::DownloadNotAllowed => (
                StatusCode::FORBIDDEN,
                "DOWNLOAD_NOT_ALLOWED",
                "This share link does not allow downloads".into(),
                json!({}),
            ),
            ApiError::CommentsNotAllowed => (
                StatusCode::FORBIDDEN,
                "COMMENTS_NOT_ALLOWED",
                "This share link does not allow comments".into(),
                json!({}),
            ),
            ApiError::CommentNotFound { comment_id } => (
                StatusCode::NOT_FOUND,
                "COMMENT_NOT_FOUND",
                "Comment not found".into(),
                json!({ "comment_id": comment_id }),
            ),
            ApiError::ViewRequired => (
                StatusCode::UNAUTHORIZED,
                "VIEW_REQUIRED",
                "Open the share link first: downloads use the grant it hands out".into(),
                json!({}),
            ),
            ApiError::Forbidden { permission } => (
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!("This share code does not allow this ({permission} is off)"),
                json!({ "permission": permission }),
            ),
            ApiError::PullRequestNotFound { number } => (
                StatusCode::NOT_FOUND,
                "PULL_REQUEST_NOT_FOUND",
                "Pull request not found".into(),
                json!({ "number": number }),
            ),
            ApiError::Conflict { code, message, details } => {
                (StatusCode::CONFLICT, *code, message.clone(), details.clone())
            }
            ApiError::WebhookNotFound { webhook_id } => (
                StatusCode::NOT_FOUND,
                "WEBHOOK_NOT_FOUND",
                "Webhook endpoint not found".into(),
                json!({ "webhook_id": webhook_id }),
            ),
            ApiError::RouteNotFound => {
                (StatusCode::NOT_FOUND, "NOT_FOUND", "No route matches this path".into(), json!({}))
            }
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "This route does not accept this method".into(),
                json!({}),
            ),
            ApiError::InvalidTransition { task_id, from, to } => (
                StatusCode::CONFLICT,
                "INVALID_STATUS_TRANSITION",
                format!("A {} task cannot become {}", from.as_str(), to.as_str()),
                json!({ "task_id": task_id, "status": from, "requested_status": to }),
            ),
            ApiError::ArtifactExists { name } => (
                StatusCode::CONFLICT,
                "ARTIFACT_EXISTS",
                "The task already has an artifact with this name".into(),
                json!({ "name": name }),
            ),
            ApiError::PayloadTooLarge { limit_bytes } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("The request body is larger than {limit_bytes} bytes"),
                json!({ "limit_bytes": limit_bytes }),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Send the body as JSON with Content-Type: application/json".into(),
                json!({}),
            ),
            ApiError::TooManyStreams { limit } => (
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_STREAMS",
                format!("This client already has {limit} event streams open; close one first"),
                json!({ "limit": limit }),
            ),
            ApiError::RequestTimeout { limit_secs } => (
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!("The request was not completed within {limit_secs} seconds"),
                json!({ "limit_seconds": limit_secs }),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_ERROR",
                "The server could not complete the request".into(),
                json!({}),
            ),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> ApiError {
        ApiError::InvalidRequest { field: Some(err.field), issue: err.issue }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let (status, code, message, details) = self.parts();
        let body = ErrorEnvelope { success: false, error: ErrorBody { code: code.into(), message, details } };
        let retry_after = match &self {
            ApiError::TooManyAttempts { retry_after_secs } | ApiError::RateLimited { retry_after_secs } => {
                Some(*retry_after_secs)
            }
            _ => None,
        };
        let bearer_challenge = matches!(self, ApiError::Unauthorized);
        let mut response = (status, axum::Json(body)).into_response();
        if bearer_challenge {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The error envelope of the task and share-link APIs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`.
    pub success: bool,
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `INVALID_REQUEST`, `TASK_NOT_FOUND`.
    #[schema(example = "INVALID_REQUEST")]
    pub code: String,
    /// Human-readable summary.
    pub message: String,
    /// Code-specific facts; for `INVALID_REQUEST`, `field` and `issue`.
    #[schema(value_type = Object)]
    pub details: Value,
}
