//! What the two HTTP front ends (`api` and `web`) share: who the client is, how
//! a class of error answers, how a stored file is served, and which of the two
//! representations a request asks for.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use tokio::sync::Notify;

use crate::app::artifacts::Download;
use crate::app::{AppState, ErrorKind};
use crate::config::Settings;

/// The client's address: the TCP peer, or what trusted proxies say it is.
pub struct ClientIp(pub std::net::IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |info| info.0.ip());
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        Ok(ClientIp(crate::domain::viewer::client_address(
            peer,
            forwarded,
            &state.settings().trusted_proxies,
        )))
    }
}

/// The status an error of this class answers with.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Limited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Whether a request prefers JSON to HTML (`Accept` names `application/json`
/// before, or without, `text/html`).
pub fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let json = accept.find("application/json");
    let html = accept.find("text/html");
    match (json, html) {
        (Some(_), None) => true,
        (Some(j), Some(h)) => j < h,
        _ => false,
    }
}

/// Whether a request asks for markdown (`Accept: text/markdown`) before JSON or HTML.
pub fn wants_markdown(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(markdown) = accept.find("text/markdown") else {
        return false;
    };
    ["application/json", "text/html"].iter().all(|other| accept.find(other).is_none_or(|at| markdown < at))
}

/// Whether a request's body is a browser's form.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Closes the connection a request came on. The server puts one in every request
/// (`startup`); a response that stalls uses it to free what its client holds.
#[derive(Clone, Debug, Default)]
pub struct ConnectionCloser(Arc<Notify>);

impl ConnectionCloser {
    /// Closes the connection (once the server's task for it next runs).
    pub fn close(&self) {
        self.0.notify_one();
    }

    /// Completes when [`ConnectionCloser::close`] was called.
    pub async fn closed(&self) {
        self.0.notified().await;
    }
}

/// The closer of the request's connection (none for a request that did not come
/// through the server's accept loop, such as one made in a test of the router).
pub struct Closer(pub Option<ConnectionCloser>);

impl<S: Send + Sync> FromRequestParts<S> for Closer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Closer(parts.extensions.get::<ConnectionCloser>().cloned()))
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves a download that a browser will never render in our origin: `attachment`,
/// no sniffing, and a sandboxing CSP should it be opened. Its bytes are sent as
/// they are read; a client that takes them slower than
/// [`Settings::min_download_bytes_per_sec`] on average (after the request timeout)
/// has its connection closed, so a slow reader holds nothing for long.
pub fn file_response(download: Download, closer: Closer, settings: &Settings) -> Response {
    let content_type = HeaderValue::from_str(&download.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&download.name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    let rate = settings.min_download_bytes_per_sec.max(1);
    let allowed = settings.request_timeout + Duration::from_secs(download.expected.div_ceil(rate));
    let watchdog = closer.0.map(|closer| {
        let task = tokio::spawn(async move {
            tokio::time::sleep(allowed).await;
            tracing::info!(
                allowed_secs = allowed.as_secs(),
                "a download took too long; its connection is closed"
            );
            closer.close();
        });
        AbortOnDrop(task.abort_handle())
    });
    // The watchdog is called off when the body is done with (sent, or dropped).
    let bytes = download.bytes.map(move |chunk| {
        let _watching = &watchdog;
        chunk
    });
    let mut response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        axum::body::Body::from_stream(bytes),
    )
        .into_response();
    if let Some(length) = download.length {
        response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    response
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266), with an ASCII fallback.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_quote_and_encode_names() {
        assert_eq!(
            content_disposition("résumé \"v2\".txt"),
            "attachment; filename=\"r_sum_ _v2_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt"
        );
    }

    #[test]
    fn json_is_wanted_when_named_before_html() {
        let accept = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            wants_json(&headers)
        };
        assert!(accept("application/json"));
        assert!(accept("application/json, text/html"));
        assert!(!accept("text/html, application/json"));
        assert!(!accept("*/*"));
        assert!(!wants_json(&HeaderMap::new()));
    }
}
