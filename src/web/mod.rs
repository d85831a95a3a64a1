//! Web pages over the user actions of [`crate::app`], served by the binary itself
//! (no CDN, no external fonts):
//! - [`share`]: what a share link's holder sees at `/s/{token}` (and [`comments`]);
//! - [`task_view`]: the task page of a share-code viewer (`/code`, `/t/{task_id}`), live;
//! - [`console`]: the owner console (`/console`): tasks, sharing, analytics.
//!
//! Every page gets the headers of [`page`]: a Content-Security-Policy that runs only
//! our own script (by a per-response nonce), `noindex`, `no-referrer`, `no-store`.
//! A refused action answers a page too ([`error`]).

pub mod assets;
pub mod comments;
pub mod console;
pub mod error;
pub mod format;
pub mod markdown;
pub mod page;
pub mod prepared;
pub mod qr;
pub mod render;
pub mod session;
pub mod share;
pub mod task_view;

use axum::Router;

use crate::app::AppState;
use crate::metrics::CacheUse;

/// What the pages' memory caches hold (the process's): prepared pages, rendered
/// markdown and QR codes, for the metrics.
pub fn caches() -> Vec<CacheUse> {
    let sized = |cache, (entries, bytes): (usize, usize)| CacheUse { cache, entries, bytes: Some(bytes) };
    vec![
        sized("pages", prepared::kept_pages()),
        sized("markdown", markdown::kept()),
        sized("qr_codes", qr::kept()),
    ]
}

/// The pages of share-code viewers and of the owner console. (The share link's
/// pages share their URLs with the API and are routed by the service's router.)
pub fn pages() -> Router<AppState> {
    task_view::routes().merge(console::routes())
}
