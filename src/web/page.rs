//! What every HTML page shares: a per-response script nonce, the headers that keep
//! pages out of search engines, shared caches and `Referer` headers, and rendering.
//!
//! Pages load their script from `/assets/` with a nonce that changes on every
//! response, and the Content-Security-Policy allows only scripts carrying it. So
//! even if an agent's output slipped past the sanitizer, it could run nothing: it
//! can't know the nonce, inline handlers are refused, and no other origin is
//! allowed for anything.

use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::error::PageError;
use crate::domain::ids;

tokio::task_local! {
    /// The script nonce of the response being produced, made when a page first asks.
    static NONCE: Arc<OnceLock<String>>;
}

/// The current response's script nonce, for templates (`nonce="{{ crate::web::page::nonce() }}"`).
/// Empty outside a page request, which makes any script tag inert.
pub fn nonce() -> String {
    NONCE.try_with(|nonce| nonce.get_or_init(ids::new_secret::<16>).clone()).unwrap_or_default()
}

/// Content-Security-Policy of a page whose scripts carry `nonce`: our stylesheet,
/// our scripts, connections only to ourselves (live updates), images only inline
/// (QR codes, charts), forms only to ourselves, never framed.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The policy of a response that made no nonce (JSON, or a page without script):
/// no script at all.
const SCRIPTLESS_POLICY: &str =
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Middleware of every page route: lets the response make a fresh nonce and sends
/// the headers every public page sends.
pub async fn page_headers(request: Request, next: Next) -> Response {
    let nonce = Arc::new(OnceLock::new());
    let mut response = NONCE.scope(nonce.clone(), next.run(request)).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let value = match nonce.get() {
            Some(nonce) => HeaderValue::from_str(&policy(nonce)).ok(),
            None => Some(HeaderValue::from_static(SCRIPTLESS_POLICY)),
        };
        if let Some(value) = value {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(HeaderName::from_static("x-robots-tag"), HeaderValue::from_static("noindex, nofollow"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Shared views and consoles are private: never kept by a proxy or shared cache.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, private"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// Renders `template` as the page's body with `status`.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be shown").into_response()
        }
    }
}

/// The page of `result`, or the page of its error.
pub fn page_or_error(status: StatusCode, result: Result<impl Template, PageError>) -> Response {
    match result {
        Ok(template) => page(status, &template),
        Err(err) => err.into_response(),
    }
}

/// A 303 to `location` (after a form post, so reloading doesn't post again).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(err) => PageError(crate::app::Error::internal(err)).into_response(),
    }
}
