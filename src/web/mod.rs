//! Web pages, served by the binary itself (no CDN, no external fonts):
//! - [`share`]: what a share link's holder sees at `/s/{token}` (and [`comments`]);
//! - [`task_view`]: the task page of a share-code viewer (`/code`, `/t/{task_id}`), live;
//! - [`console`]: the owner console (`/console`): tasks, sharing, analytics.
//!
//! Every page gets the headers of [`page`]: a Content-Security-Policy that runs only
//! our own script (by a per-response nonce), `noindex`, `no-referrer`, `no-store`.

pub mod archive;
pub mod assets;
pub mod comments;
pub mod console;
pub mod format;
pub mod limiter;
pub mod markdown;
pub mod page;
pub mod qr;
pub mod render;
pub mod session;
pub mod share;
pub mod task_view;

use axum::routing::get;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// The viewer routes of share links (documented in the OpenAPI document), the
/// pages of share-code viewers and of the owner console, and the assets.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share::open_link, share::submit))
        .routes(routes!(share::download))
        .routes(routes!(share::download_all))
        .routes(routes!(comments::post_comment))
        .routes(routes!(comments::verify_comment))
        .merge(OpenApiRouter::from(task_view::routes()))
        .merge(OpenApiRouter::from(console::routes()))
        .layer(axum::middleware::from_fn(page::page_headers))
        .route("/assets/{name}", get(assets::asset))
}
