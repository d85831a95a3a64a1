//! Comments on share links with `allow_comments` (seed 001: comments require email
//! verification). A viewer who opened the link leaves a name, an email address and
//! a comment; it appears once they click the link mailed to them. The owner sees
//! every comment (with its author's address) and can delete any.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::page;
use super::share::{failure, link_by_token, refuse_guessers};
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{parse_json, read_body, ApiPath, ApiQuery, ClientIp};
use crate::api::Envelope;
use crate::domain::ids;
use crate::domain::text::{bounded, parse_email};
use crate::domain::time::Timestamp;
use crate::state::AppState;
use crate::storage::{NewComment, OutboxEvent, ShareLinkRecord};

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5000;

/// Body of `POST /s/{token}/comments` (JSON, or a browser's form).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCommentRequest {
    /// 1–100 characters, shown with the comment.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Where the verification link is sent; never shown to viewers.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 1–5,000 characters of plain text.
    #[schema(min_length = 1, max_length = 5000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub content: String,
    /// The `grant` of the viewer's shared view.
    pub grant: String,
}

/// A comment waiting for its author to verify it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentPending {
    pub comment_id: String,
    /// `pending_verification`.
    pub status: &'static str,
}

/// Query of the verification link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    pub code: Option<String>,
}

#[derive(Template)]
#[template(path = "comment.html")]
struct CommentPage {
    heading: &'static str,
    message: &'static str,
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// The link a viewer comments on: not revoked, not past its time, allowing
/// comments, and a valid grant from a view of it.
async fn commentable(state: &AppState, token: &str, grant: &str) -> Result<ShareLinkRecord, ApiError> {
    let now = Timestamp::now();
    let link = link_by_token(state, token, None)
        .await?
        .filter(|l| l.revoked_at.is_none() && l.expires_at > now.millis())
        .ok_or(ApiError::ShareUnavailable)?;
    if !state.link_keys().check_grant(&link.share_link_id, grant, now) {
        return Err(ApiError::ViewRequired);
    }
    if !link.allow_comments {
        return Err(ApiError::CommentsNotAllowed);
    }
    Ok(link)
}

/// Leave a comment
///
/// Needs the `grant` of a view of the link, and a link with `allow_comments`. The
/// comment appears once its author clicks the verification link mailed to them.
#[utoipa::path(
    post, path = "/s/{token}/comments", tag = "viewer",
    params(("token" = String, Path, description = "The link's token")),
    request_body(description = "JSON, or the page's form", content(
        (PostCommentRequest = "application/json"),
        (PostCommentRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 202, description = "Waiting for verification (a page for a form post)", content(
            (Envelope<CommentPending> = "application/json"),
            (String = "text/html"),
        )),
        (status = 400, description = "`INVALID_REQUEST`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 401, description = "`VIEW_REQUIRED`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 403, description = "`COMMENTS_NOT_ALLOWED`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: the body is over `--max-body-bytes`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 429, description = "`RATE_LIMITED`: too many lookups of links that do not exist", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        ), headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn post_comment(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Response {
    let form = is_form(request.headers());
    let token = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return failure(err, !form),
    };
    let result = async {
        refuse_guessers(&state, client)?;
        let body = read_body(request, state.settings().max_body_bytes).await?;
        let request: PostCommentRequest = if form {
            serde_urlencoded::from_bytes(&body)
                .map_err(|err| ApiError::InvalidRequest { field: None, issue: err.to_string() })?
        } else {
            parse_json(&body)?
        };
        let link = commentable(&state, &token, &request.grant).await?;
        let comment = NewComment {
            comment_id: ids::new_id("comment"),
            share_link_id: link.share_link_id.clone(),
            name: bounded("name", &request.name, 1, 100, false)?,
            email: parse_email(&request.email).map_err(|issue| ApiError::invalid("email", issue))?,
            content: bounded("content", &request.content, 1, MAX_COMMENT_CHARS, true)?,
            verify_hash: String::new(),
        };
        let code = ids::new_secret::<32>();
        let comment = NewComment { verify_hash: ids::secret_hash(&code), ..comment };
        state.db().insert_comment(&comment).await?;
        let verify_url = format!("{}/s/{token}/comments/verify?code={code}", state.public_url());
        let subject = format!("Confirm your comment on “{}”", link.title);
        let text = format!(
            "Hello {name},\n\nPlease confirm the comment you left on “{title}” by opening this link:\n\n{verify_url}\n\n\
             Until then it is not shown. If you did not write it, ignore this email.\n",
            name = comment.name,
            title = link.title,
        );
        // The viewer does not wait for the mail server; a failure is logged.
        let (mail_state, to) = (state.clone(), comment.email.clone());
        tokio::spawn(async move {
            if let Err(err) = mail_state.mailer().send(&to, &subject, text).await {
                tracing::warn!(error = format!("{err:#}"), "comment verification mail not sent");
            }
        });
        tracing::info!(share_link_id = %link.share_link_id, comment_id = %comment.comment_id, "comment awaits verification");
        Ok::<_, ApiError>(comment.comment_id)
    }
    .await;
    match (result, form) {
        (Ok(comment_id), false) => {
            let body = Envelope {
                success: true,
                data: CommentPending { comment_id, status: "pending_verification" },
            };
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        (Ok(_), true) => page(
            StatusCode::ACCEPTED,
            &CommentPage {
                heading: "Check your email",
                message: "We sent you a link: your comment appears once you open it.",
            },
        ),
        (Err(ApiError::InvalidRequest { .. }), true) => page(
            StatusCode::BAD_REQUEST,
            &CommentPage {
                heading: "Your comment was not sent",
                message: "Please give a name, a valid email address and a comment.",
            },
        ),
        (Err(err), json_or_form) => failure(err, !json_or_form),
    }
}

/// Verify a comment
///
/// The link mailed to a comment's author: publishes the comment.
#[utoipa::path(
    get, path = "/s/{token}/comments/verify", tag = "viewer",
    params(("token" = String, Path, description = "The link's token"), VerifyQuery),
    responses(
        (status = 200, description = "Published (a page)", content_type = "text/html", body = String),
        (status = 404, description = "Unknown or used-up verification link (a page)", content_type = "text/html", body = String),
        (status = 429, description = "Too many lookups of links that do not exist (a page)", content_type = "text/html", body = String, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn verify_comment(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    query: Result<ApiQuery<VerifyQuery>, ApiError>,
) -> Response {
    let token = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return failure(err, false),
    };
    let code = query.ok().and_then(|ApiQuery(q)| q.code).unwrap_or_default();
    let result = async {
        refuse_guessers(&state, client)?;
        let link = link_by_token(&state, &token, None).await?.filter(|l| l.revoked_at.is_none()).ok_or(ApiError::ShareUnavailable)?;
        let (owner_id, task_id) = (link.owner_id.clone(), link.task_id.clone());
        let verified = state
            .db()
            .verify_comment(&link.share_link_id, &ids::secret_hash(&code), |comment| {
                OutboxEvent::new(
                    &owner_id,
                    "comment.created",
                    serde_json::json!({
                        "event": "comment.created",
                        "share_link_id": comment.share_link_id,
                        "task_id": task_id,
                        "timestamp": Timestamp::now(),
                        "comment": {"comment_id": comment.comment_id, "name": comment.name, "content": comment.content},
                    }),
                )
            })
            .await?;
        verified.ok_or(ApiError::ShareUnavailable)
    }
    .await;
    match result {
        Ok(_) => {
            state.webhooks_changed();
            page(
                StatusCode::OK,
                &CommentPage {
                    heading: "Your comment is published",
                    message: "Thank you. You can close this page.",
                },
            )
        }
        Err(ApiError::ShareUnavailable) => {
            state.misses().record_miss(client);
            page(
                StatusCode::NOT_FOUND,
                &CommentPage {
                    heading: "This link does not work",
                    message: "The comment was deleted, or the share link is no longer available.",
                },
            )
        }
        Err(err) => failure(err, false),
    }
}
