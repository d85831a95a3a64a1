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
use crate::api::viewer::{
    CommentPending, PostCommentRequest, SharedView, VerificationConfirmation, VerificationPending,
    VerificationRequest, ViewerToken,
};
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
        ("X-Share-Viewer" = Option<String>, Header, description = "A viewer token, for a link with an audience (see `POST /s/{token}/verification`)"),
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
        (status = 401, description = "`VERIFICATION_REQUIRED` (a link with an audience, without a valid `X-Share-Viewer`: nothing is counted), `PASSWORD_REQUIRED` or `INVALID_PASSWORD` (JSON and markdown)", body = ErrorEnvelope),
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

/// Ask for a verification code
///
/// For a link with an audience: mails a 6-digit code to `email` if the audience
/// admits it. The answer is the same whatever the address, so nobody learns who
/// is in the audience. The code works for 10 minutes and 5 tries; a new request
/// replaces it. A page's form gets the code form.
#[utoipa::path(
    post, path = "/s/{token}/verification", tag = "viewer",
    params(("token" = String, Path, description = "The link's token")),
    request_body(description = "JSON, or the page's form", content(
        (VerificationRequest = "application/json"),
        (VerificationRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 202, description = "A code is on its way if the address may open the link", body = Envelope<VerificationPending>),
        (status = 200, description = "The code form (a form post)", content_type = "text/html", body = String),
        (status = 400, description = "`INVALID_REQUEST`: not an e-mail address", body = ErrorEnvelope),
        (status = 403, description = "A form post without its anti-forgery token (a page)", content_type = "text/html", body = String),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`: unknown, expired or revoked, or a link without an audience", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`: the client asked for 20 codes in 10 minutes, or looked up too many links that do not exist", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
async fn request_verification(State(state): State<AppState>, request: Request) -> Response {
    if http::is_form(request.headers()) {
        web::share::request_verification.call(request, state).await
    } else {
        api::viewer::request_verification.call(request, state).await
    }
}

/// Confirm a verification code
///
/// Exchanges the code mailed to an address for a viewer token, good for 12 hours,
/// for this link only: send it as `X-Share-Viewer`. Every try spends one of the
/// code's 5. A page's form gets the token in a session cookie and is sent back to
/// the link's page.
#[utoipa::path(
    post, path = "/s/{token}/verification/confirm", tag = "viewer",
    params(("token" = String, Path, description = "The link's token")),
    request_body(description = "JSON, or the page's form", content(
        (VerificationConfirmation = "application/json"),
        (VerificationConfirmation = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The viewer token", body = Envelope<ViewerToken>),
        (status = 303, description = "A form post: the link's page, with the token in a cookie", headers(
            ("Location" = String, description = "The link's page"),
        )),
        (status = 400, description = "`INVALID_REQUEST`: not an e-mail address, or not 6 digits", body = ErrorEnvelope),
        (status = 401, description = "`VERIFICATION_FAILED`: the code is wrong, expired, used or out of tries", body = ErrorEnvelope),
        (status = 403, description = "A form post without its anti-forgery token (a page)", content_type = "text/html", body = String),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`: unknown, expired or revoked, or a link without an audience", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`: the client sent 20 wrong codes in 10 minutes, or looked up too many links that do not exist", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
async fn confirm_verification(State(state): State<AppState>, request: Request) -> Response {
    if http::is_form(request.headers()) {
        web::share::confirm_verification.call(request, state).await
    } else {
        api::viewer::confirm_verification.call(request, state).await
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
        .routes(routes!(request_verification))
        .routes(routes!(confirm_verification))
        .merge(OpenApiRouter::from(web::pages()))
        .layer(axum::middleware::from_fn(web::page::page_headers))
        .route("/assets/{name}", get(web::assets::asset))
        .route("/favicon.ico", get(web::assets::favicon))
        .layer(web::assets::compression());
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
