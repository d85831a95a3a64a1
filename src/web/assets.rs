//! The stylesheet and script of every page, built into the binary: no CDN, no
//! external fonts, nothing fetched from anywhere else.
//!
//! Pages refer to them as `/assets/{name}?v={version}`, where the version is a hash
//! of their content, so a browser may keep them (for a day) and still never mixes an
//! old script with a new page.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

/// Every asset: name, media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("agentshare.css", "text/css; charset=utf-8", include_str!("../../assets/agentshare.css")),
    ("agentshare.js", "text/javascript; charset=utf-8", include_str!("../../assets/agentshare.js")),
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

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media_type, content)) => (
            [
                (header::CONTENT_TYPE, *media_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
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
