//! Every route of the service, and the OpenAPI document describing them: the API
//! (`api`), the pages (`web`), and the two URLs both answer, which are decided
//! here by what the request asks for: a share link (`GET /s/{token}`, JSON or
//! the page, by `Accept`) and its comments (`POST /s/{token}/comments`, JSON or a
//! form, by `Content-Type`).

use axum::extract::{Request, State};
use axum::handler::Handler as _;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use utoipa::{Modify as _, OpenApi as _};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::error::ErrorEnvelope;
use crate::api::viewer::{CommentPending, PostCommentRequest, SharedView};
use crate::api::{self, Envelope};
use crate::app::AppState;
use crate::{http, web};

/// Open a share link
///
/// With `Accept: application/json`: spends one view and returns the shared view (a
/// password-protected link needs `X-Share-Password`; a wrong one spends nothing).
/// With `Accept: text/markdown`, or at `/s/{token}.md`: the same view as one
/// markdown document (errors are JSON). Otherwise the HTML page. Unknown, expired
/// and revoked links answer the same 404. Link previewers and crawlers spend no
/// view: they get the preview card's page, or the view of a link without password
/// or view limit, uncounted.
#[utoipa::path(
    get, path = "/s/{token}", tag = "viewer",
    params(
        ("token" = String, Path, description = "The link's token (or its short code, which redirects)"),
        ("X-Share-Password" = Option<String>, Header, description = "The link's password, if it has one"),
    ),
    responses(
        (status = 200, description = "The shared view (JSON); for browsers the page, or first a password form or the Reveal button of a view-limited link", content(
            (Envelope<SharedView> = "application/json"),
            (String = "text/markdown"),
            (String = "text/html"),
        )),
        (status = 303, description = "A short code: redirects to the link's full URL", headers(
            ("Location" = String, description = "The link's full URL"),
        )),
        (status = 401, description = "`PASSWORD_REQUIRED` or `INVALID_PASSWORD` (JSON and markdown)", body = ErrorEnvelope),
        (status = 403, description = "`PREVIEW_ONLY`: a link previewer or crawler asked for a view-limited link (JSON and markdown)", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`: unknown, expired or revoked", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 429, description = "`TOO_MANY_ATTEMPTS` (wrong passwords) or `RATE_LIMITED` (too many lookups of links that do not exist)", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        ), headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
async fn open_link(State(state): State<AppState>, request: Request) -> Response {
    if request.uri().path().ends_with(api::viewer::MARKDOWN_SUFFIX) || http::wants_markdown(request.headers())
    {
        api::viewer::open_markdown.call(request, state).await
    } else if http::wants_json(request.headers()) {
        api::viewer::open_link.call(request, state).await
    } else {
        web::share::open_link.call(request, state).await
    }
}

/// Leave a comment
///
/// Needs the `grant` of a view of the link, and a link with `allow_comments`. The
/// comment appears once its author clicks the verification link mailed to them.
/// Without a valid grant the answer is that of a link that does not exist, and
/// counts against the client like one.
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
        (status = 403, description = "`COMMENTS_NOT_ALLOWED`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`: unknown, expired or revoked, or no valid `grant` (the same answer)", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: the body is over `--max-body-bytes`", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 429, description = "`RATE_LIMITED`: too many lookups of links that do not exist; `TOO_MANY_COMMENTS`: the client left 10 comments this hour, or the link holds 20 awaiting confirmation or took 60 this hour; `CONFIRMATION_MAIL_SENT`: the address was sent a confirmation in the last 10 minutes", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        ), headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
async fn post_comment(State(state): State<AppState>, request: Request) -> Response {
    if http::is_form(request.headers()) {
        web::comments::post_comment.call(request, state).await
    } else {
        api::viewer::post_comment.call(request, state).await
    }
}

/// Every route, and the OpenAPI document describing the API and the viewer's routes.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    // What a share link's holder reaches, JSON and pages alike: every answer gets
    // the headers of public pages (noindex, no-referrer, no-store, a CSP).
    let viewer = OpenApiRouter::new()
        .routes(routes!(open_link, web::share::submit))
        .routes(routes!(api::viewer::download))
        .routes(routes!(api::viewer::download_all))
        .routes(routes!(post_comment))
        .routes(routes!(web::comments::verify_comment))
        .merge(OpenApiRouter::from(web::pages()))
        .layer(axum::middleware::from_fn(web::page::page_headers))
        .route("/assets/{name}", get(web::assets::asset));
    let (router, mut openapi) = OpenApiRouter::with_openapi(api::ApiDoc::openapi())
        .merge(api::routes())
        .merge(viewer)
        .split_for_parts();
    api::OptionalBodies.modify(&mut openapi);
    (router, openapi)
}

/// The whole router with `/openapi.json`, fallbacks that answer in JSON, and state.
pub fn router(state: AppState) -> Router {
    let (routes, openapi) = routes();
    let document = serde_json::to_string_pretty(&openapi).unwrap_or_else(|_| "{}".into());
    routes
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .fallback(api::route_not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(state)
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_json() -> String {
    serde_json::to_string_pretty(&routes().1).unwrap_or_else(|_| "{}".into())
}
