//! Errors of the task and share-link APIs, in the envelope of seed 001:
//! `{"success": false, "error": {"code", "message", "details"}}`. What a user
//! action refused keeps its kind's status ([`crate::http::status_of`]) and gets
//! its code here.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::app;
use crate::domain::text::FieldError;

/// Everything an owner-API request can fail with: what the user action refused
/// ([`app::Error`]), or what was wrong with the request before it reached one.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// What a user action refused; its status and code are in [`app_parts`].
    #[error(transparent)]
    App(#[from] app::Error),
    /// 400 `INVALID_REQUEST`: a field is missing, malformed or out of range;
    /// `details.field` names it (when there is one) and `details.issue` says why.
    #[error("invalid request: {issue}")]
    InvalidRequest { field: Option<String>, issue: String },
    /// 404 `NOT_FOUND`: no route has this path.
    #[error("no such route")]
    RouteNotFound,
    /// 405 `METHOD_NOT_ALLOWED`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("payload too large")]
    PayloadTooLarge { limit_bytes: usize },
    /// 415 `UNSUPPORTED_MEDIA_TYPE`: a JSON body without `Content-Type: application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 408 `REQUEST_TIMEOUT`: the request (or its body) took longer than allowed.
    #[error("request timed out")]
    RequestTimeout { limit_secs: f64 },
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, issue: impl Into<String>) -> ApiError {
        ApiError::InvalidRequest { field: Some(field.into()), issue: issue.into() }
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Value) {
        match self {
            ApiError::App(err) => app_parts(err),
            ApiError::InvalidRequest { field, issue } => invalid(field.as_deref(), issue),
            ApiError::RouteNotFound => {
                (StatusCode::NOT_FOUND, "NOT_FOUND", "No route matches this path".into(), json!({}))
            }
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "This route does not accept this method".into(),
                json!({}),
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
            ApiError::RequestTimeout { limit_secs } => (
                StatusCode::REQUEST_TIMEOUT,
                "REQUEST_TIMEOUT",
                format!("The request was not completed within {limit_secs} seconds"),
                json!({ "limit_seconds": limit_secs }),
            ),
        }
    }
}

fn invalid(field: Option<&str>, issue: &str) -> (StatusCode, &'static str, String, Value) {
    (
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
        "Invalid request parameters".into(),
        json!({ "field": field, "issue": issue }),
    )
}

/// The status (by the error's kind), code, message and details of what a user
/// action refused.
fn app_parts(err: &app::Error) -> (StatusCode, &'static str, String, Value) {
    use app::Error::*;
    let (code, message, details): (&'static str, String, Value) = match err {
        Invalid(field) => return invalid(Some(&field.field), &field.issue),
        Unauthenticated => ("UNAUTHORIZED", "Invalid or missing API key".into(), json!({})),
        ViewerSessionEnded => (
            "UNAUTHORIZED",
            "The viewer session has ended: the share code was revoked, replaced or has expired; ask the owner for a new one"
                .into(),
            json!({}),
        ),
        TaskNotFound { task_id } => {
            ("TASK_NOT_FOUND", "Task not found or not accessible".into(), json!({ "task_id": task_id }))
        }
        ArtifactNotFound { artifact_id } => {
            ("ARTIFACT_NOT_FOUND", "Artifact not found".into(), json!({ "artifact_id": artifact_id }))
        }
        ShareLinkNotFound { share_link_id } => (
            "SHARE_LINK_NOT_FOUND",
            "Share link not found or not accessible".into(),
            json!({ "share_link_id": share_link_id }),
        ),
        ShareUnavailable => (
            "SHARE_LINK_NOT_FOUND",
            "This share link does not exist, has expired or was revoked".into(),
            json!({}),
        ),
        TaskNotCompleted { task_id, status } => (
            "TASK_NOT_COMPLETED",
            "Cannot create share link for incomplete tasks".into(),
            json!({ "task_id": task_id, "status": status }),
        ),
        ShareLinkRevoked { share_link_id } => (
            "SHARE_LINK_REVOKED",
            "The share link was revoked; revocation is final".into(),
            json!({ "share_link_id": share_link_id }),
        ),
        PasswordRequired => (
            "PASSWORD_REQUIRED",
            "This share link is password protected; send the password in X-Share-Password".into(),
            json!({}),
        ),
        InvalidPassword => ("INVALID_PASSWORD", "The password is not correct".into(), json!({})),
        TooManyAttempts { retry_after_secs } => (
            "TOO_MANY_ATTEMPTS",
            format!("Too many wrong passwords; try again in {retry_after_secs} seconds"),
            json!({ "retry_after_seconds": retry_after_secs }),
        ),
        RateLimited { retry_after_secs } => (
            "RATE_LIMITED",
            format!("Too many requests for links that do not exist; try again in {retry_after_secs} seconds"),
            json!({ "retry_after_seconds": retry_after_secs }),
        ),
        DownloadNotAllowed => {
            ("DOWNLOAD_NOT_ALLOWED", "This share link does not allow downloads".into(), json!({}))
        }
        CommentsNotAllowed => {
            ("COMMENTS_NOT_ALLOWED", "This share link does not allow comments".into(), json!({}))
        }
        CommentNotFound { comment_id } => {
            ("COMMENT_NOT_FOUND", "Comment not found".into(), json!({ "comment_id": comment_id }))
        }
        VerificationRequired => (
            "VERIFICATION_REQUIRED",
            "Only the link's audience may open it: verify your e-mail address (POST /s/{token}/verification) and send the viewer token in X-Share-Viewer".into(),
            json!({}),
        ),
        VerificationFailed => (
            "VERIFICATION_FAILED",
            "The code is not correct, has expired or has no tries left; ask for a new one".into(),
            json!({}),
        ),
        ViewRequired => (
            "VIEW_REQUIRED",
            "Open the share link first: downloads use the grant it hands out".into(),
            json!({}),
        ),
        PreviewOnly => (
            "PREVIEW_ONLY",
            "Link previewers and crawlers do not open links with a view limit: opening one spends a view".into(),
            json!({}),
        ),
        Forbidden { action } => {
            let permission = action.permission();
            (
                "FORBIDDEN",
                format!("This share code does not allow this ({permission} is off)"),
                json!({ "permission": permission }),
            )
        }
        PullRequestNotFound { number } => {
            ("PULL_REQUEST_NOT_FOUND", "Pull request not found".into(), json!({ "number": number }))
        }
        TaskExists { task_id } => ("TASK_EXISTS", err.to_string(), json!({ "task_id": task_id })),
        NoRepository { task_id } => ("NO_REPOSITORY", err.to_string(), json!({ "task_id": task_id })),
        RepositoryNotGranted { task_id } => {
            ("REPOSITORY_NOT_GRANTED", err.to_string(), json!({ "task_id": task_id }))
        }
        BranchNotFound { branch } => ("BRANCH_NOT_FOUND", err.to_string(), json!({ "branch": branch })),
        UnrelatedHistories { base, head } => {
            ("UNRELATED_HISTORIES", err.to_string(), json!({ "base_branch": base, "head_branch": head }))
        }
        PullRequestExists { number, .. } => {
            ("PULL_REQUEST_EXISTS", err.to_string(), json!({ "number": number }))
        }
        PullRequestNotOpen { number, status } => {
            ("PULL_REQUEST_NOT_OPEN", err.to_string(), json!({ "number": number, "status": status }))
        }
        ApprovalRequired { number } => ("APPROVAL_REQUIRED", err.to_string(), json!({ "number": number })),
        MergeConflict { number, paths, .. } => {
            ("MERGE_CONFLICT", err.to_string(), json!({ "number": number, "paths": paths }))
        }
        BaseMoved { number, .. } => ("BASE_MOVED", err.to_string(), json!({ "number": number })),
        WebhookNotFound { webhook_id } => {
            ("WEBHOOK_NOT_FOUND", "Webhook endpoint not found".into(), json!({ "webhook_id": webhook_id }))
        }
        InvalidTransition { task_id, from, to } => (
            "INVALID_STATUS_TRANSITION",
            err.to_string(),
            json!({ "task_id": task_id, "status": from, "requested_status": to }),
        ),
        ArtifactExists { name } => (
            "ARTIFACT_EXISTS",
            "The task already has an artifact with this name".into(),
            json!({ "name": name }),
        ),
        TooManyStreams { limit } => ("TOO_MANY_STREAMS", err.to_string(), json!({ "limit": limit })),
        TooManyDownloads { limit } => ("TOO_MANY_DOWNLOADS", err.to_string(), json!({ "limit": limit })),
        TooManyComments { retry_after_secs } => {
            ("TOO_MANY_COMMENTS", err.to_string(), json!({ "retry_after_seconds": retry_after_secs }))
        }
        TooManyMessages { retry_after_secs } => {
            ("TOO_MANY_MESSAGES", err.to_string(), json!({ "retry_after_seconds": retry_after_secs }))
        }
        ConfirmationMailSent { retry_after_secs } => {
            ("CONFIRMATION_MAIL_SENT", err.to_string(), json!({ "retry_after_seconds": retry_after_secs }))
        }
        NotTaskOwner => ("FORBIDDEN", err.to_string(), json!({})),
        ShareCodeNotFound => ("SHARE_NOT_FOUND", err.to_string(), json!({})),
        NotCloudMode => ("TASK_NOT_IN_CLOUD_MODE", err.to_string(), json!({})),
        InvalidShareCode => ("INVALID_SHARE_CODE", err.to_string(), json!({})),
        Internal(_) => ("INTERNAL_ERROR", "The server could not complete the request".into(), json!({})),
    };
    (crate::http::status_of(err.kind()), code, message, details)
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> ApiError {
        ApiError::InvalidRequest { field: Some(err.field), issue: err.issue }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> ApiError {
        ApiError::App(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::App(app::Error::Internal(cause)) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let (status, code, message, details) = self.parts();
        let body = ErrorEnvelope { success: false, error: ErrorBody { code: code.into(), message, details } };
        let retry_after = match &self {
            ApiError::App(err) => err.retry_after_secs(),
            _ => None,
        };
        let bearer_challenge = matches!(self, ApiError::App(app::Error::Unauthenticated));
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
