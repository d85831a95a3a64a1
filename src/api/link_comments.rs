//! `/v1/share-links/{share_link_id}/comments`: the comments viewers left on a link,
//! as its owner moderates them.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiPath, AuthOwner};
use super::{ok, Envelope};
use crate::app::share_links;
use crate::app::AppState;
use crate::domain::ids::{CommentId, ShareLinkId};
use crate::domain::time::Timestamp;
use crate::storage::CommentStatus;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_comments)).routes(routes!(delete_comment))
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
    ApiPath(share_link_id): ApiPath<ShareLinkId>,
) -> Result<Response, ApiError> {
    let comments = share_links::comments(&state, &owner, &share_link_id).await?;
    Ok(ok(CommentList {
        comments: comments
            .into_iter()
            .map(|c| CommentView {
                status: match c.status() {
                    CommentStatus::Deleted => "deleted",
                    CommentStatus::Published => "published",
                    CommentStatus::PendingVerification => "pending_verification",
                },
                comment_id: c.comment_id.into_string(),
                name: c.name,
                email: c.email,
                content: c.content,
                created_at: c.created_at,
                verified_at: c.verified_at,
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
    ApiPath((share_link_id, comment_id)): ApiPath<(ShareLinkId, CommentId)>,
) -> Result<Response, ApiError> {
    share_links::delete_comment(&state, &owner, &share_link_id, &comment_id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
