//! The stylesheet and script of every page, built into the binary: no CDN, no
//! external fonts, nothing fetched from anywhere else.
//!
//! Pages refer to them as `/assets/{name}?v={version}`, where the version is a hash
//! of their content: asked for with the current version, an asset may be kept for a
//! year unchanged (a new build changes the URL), so a browser never mixes an old
//! script with a new page and never asks twice. Pages and assets are sent gzipped
//! to browsers that accept it.

use std::sync::LazyLock;

use axum::extract::{Path, RawQuery};
use axum::http::{header, Extensions, HeaderMap, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use tower_http::compression::predicate::{Predicate as _, SizeAbove};
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Every asset: name, media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("agentshare.css", "text/css; charset=utf-8", include_str!("../../assets/agentshare.css")),
    ("agentshare.js", "text/javascript; charset=utf-8", include_str!("../../assets/agentshare.js")),
    ("favicon.svg", "image/svg+xml", include_str!("../../assets/favicon.svg")),
];

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for (name, _, content) in ASSETS {
        hash.update(name.as_bytes());
        hash.update(content.as_bytes());
    }
    hex::encode(&hash.finalize()[..6])
});

/// The content version pages append to asset URLs.
pub fn version() -> &'static str {
    &VERSION
}

/// `GET /assets/{name}`: immutable for a year when asked for with the current
/// version (`?v=`), otherwise to be checked again on every use.
pub async fn asset(Path(name): Path<String>, RawQuery(query): RawQuery) -> Response {
    let current = query.as_deref().and_then(|q| q.strip_prefix("v=")) == Some(version());
    serve(&name, if current { "public, max-age=31536000, immutable" } else { "no-cache" })
}

/// `GET /favicon.ico`, for browsers and tools that ask without reading the page's
/// icon link: the same icon, kept for a day.
pub async fn favicon() -> Response {
    serve("favicon.svg", "public, max-age=86400")
}

fn serve(name: &str, cache_control: &'static str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media_type, content)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, cache_control),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *content,
        )
            .into_response(),
        None => {
            (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], "no such asset").into_response()
        }
    }
}

/// Gzip for what a browser reads (pages, the stylesheet, the script, the icon, the
/// viewer's JSON) when it is over 1 KiB and the client accepts it; never file
/// downloads (`Content-Disposition`) or event streams. The fastest level: pages are
/// made per request, and most of the gain comes at any level.
pub fn compression() -> CompressionLayer<impl tower_http::compression::Predicate> {
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(readable))
}

fn readable(_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions) -> bool {
    const TYPES: [&str; 5] =
        ["text/html", "text/css", "text/javascript", "image/svg+xml", "application/json"];
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    TYPES.iter().any(|t| media_type.starts_with(t)) && !headers.contains_key(header::CONTENT_DISPOSITION)
}
