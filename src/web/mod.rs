//! Public pages: what a viewer without an account meets. Everything here is served
//! with headers that keep it out of search engines, shared caches and `Referer`
//! headers, under a Content-Security-Policy that allows no script at all.

pub mod comments;
pub mod limiter;
pub mod markdown;
pub mod share;

use axum::http::{header, HeaderName, HeaderValue};
use axum::routing::get;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// The stylesheet of every page, served by the binary itself.
const STYLESHEET: &str = include_str!("../../assets/agentshare.css");

/// Content-Security-Policy of public pages: our stylesheet, no script, no remote
/// anything, forms only to ourselves, never framed.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share::open_link, share::submit))
        .routes(routes!(share::download))
        .routes(routes!(comments::post_comment))
        .routes(routes!(comments::verify_comment))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex, nofollow"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(PAGE_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .route("/assets/agentshare.css", get(stylesheet))
}

async fn stylesheet() -> impl axum::response::IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLESHEET,
    )
}
