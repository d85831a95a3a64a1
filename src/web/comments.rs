//! The pages of comments on share links: the form a viewer posts from the share
//! page, and the verification link mailed to them. What a comment is and when it
//! may be left is [`app::comments`]; JSON clients post in `api::viewer`.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::failure;
use super::page::page;
use super::share::token;
use crate::app::comments::{self, CommentInput};
use crate::app::opening::Visitor;
use crate::app::{self, opening, AppState};
use crate::http::ClientIp;

#[derive(Template)]
#[template(path = "comment.html")]
struct CommentPage {
    heading: &'static str,
    message: &'static str,
}

/// The comment form of the share page: every field required, no others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentForm {
    name: String,
    email: String,
    content: String,
    grant: String,
}

/// Leaves a comment from the share page's form (documented with the JSON post in
/// the service's router): a page saying to check one's mail.
pub async fn post_comment(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Response {
    let token = match token(path) {
        Ok(token) => token,
        Err(bad) => return bad.into_response(),
    };
    if let Err(err) = opening::refuse_guessers(&state, client) {
        return failure(err);
    }
    let not_sent = || {
        let message = "Please give a name, a valid email address and a comment.";
        page(StatusCode::BAD_REQUEST, &CommentPage { heading: "Your comment was not sent", message })
    };
    let headers = request.headers().clone();
    let limit = state.settings().max_body_bytes;
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(err) if is_too_large(&err) => {
            let message = "The comment is too long.";
            return page(
                StatusCode::PAYLOAD_TOO_LARGE,
                &CommentPage { heading: "Your comment was not sent", message },
            );
        }
        Err(_) => return not_sent(),
    };
    let Ok(form) = serde_urlencoded::from_bytes::<CommentForm>(&body) else {
        return not_sent();
    };
    let input = CommentInput { name: form.name, email: form.email, content: form.content, grant: form.grant };
    let visitor = Visitor {
        client,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        referer: None,
        // A comment is proven by its view's grant; the audience was checked then.
        viewer_token: None,
    };
    match comments::post(&state, &token, visitor, input).await {
        Ok(_) => page(
            StatusCode::ACCEPTED,
            &CommentPage {
                heading: "Check your email",
                message: "We sent you a link: your comment appears once you open it.",
            },
        ),
        Err(app::Error::Invalid(_)) => not_sent(),
        Err(err) => failure(err),
    }
}

/// Whether a body could not be read because it is over the limit.
fn is_too_large(err: &axum::Error) -> bool {
    std::error::Error::source(err).is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
}

/// Query of the verification link.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    pub code: Option<String>,
}

/// Verify a comment
///
/// The link mailed to a comment's author: publishes the comment.
#[utoipa::path(
    get, path = "/s/{token}/comments/verify", tag = "viewer",
    params(("token" = String, Path, description = "The link's token"), VerifyQuery),
    responses(
        (status = 200, description = "Published (a page); following the link again answers the same", content_type = "text/html", body = String),
        (status = 404, description = "Unknown verification link, one not followed in time, or a deleted comment (a page)", content_type = "text/html", body = String),
        (status = 429, description = "Too many lookups of links that do not exist (a page)", content_type = "text/html", body = String, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn verify_comment(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ClientIp(client): ClientIp,
    query: Result<Query<VerifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = match token(path) {
        Ok(token) => token,
        Err(bad) => return bad.into_response(),
    };
    let code = query.ok().and_then(|Query(q)| q.code).unwrap_or_default();
    match comments::verify(&state, &token, &code, client).await {
        Ok(()) => page(
            StatusCode::OK,
            &CommentPage {
                heading: "Your comment is published",
                message: "Thank you. You can close this page.",
            },
        ),
        Err(app::Error::ShareUnavailable) => page(
            StatusCode::NOT_FOUND,
            &CommentPage {
                heading: "This link does not work",
                message: "The confirmation link is more than a day old, the comment was deleted, or the share link \
                          is no longer available.",
            },
        ),
        Err(err) => failure(err),
    }
}
