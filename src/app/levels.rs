//! What metrics read at each scrape: levels of this instance and of the
//! database, rather than counts (those move where things happen; see
//! [`crate::metrics`]).

use super::AppState;
use crate::domain::time::Timestamp;
use crate::domain::viewer;
use crate::metrics::{CacheUse, Levels, CONTENT_TYPE};

/// This instance's metrics in the OpenMetrics text format, with its content type,
/// with `more` caches besides the service's own (the pages' caches, which the
/// front end keeps). A level the database cannot tell right now keeps its last
/// value (the failure is logged): a scrape always answers.
pub async fn render(state: &AppState, more: Vec<CacheUse>) -> (&'static str, String) {
    let db = state.db();
    let (hashing_waiting, hashing_running) = state.limits().passwords.load();
    let mut levels = Levels {
        hashing_waiting: hashing_waiting as i64,
        hashing_running: hashing_running as i64,
        streams_open: state.limits().streams.open() as i64,
        feeds: state.live().followed() as i64,
        pools: db.pool_use(),
        caches: caches(state).into_iter().chain(more).collect(),
        ..Levels::default()
    };
    let (outbox, mail) = tokio::join!(db.outbox_level(), db.view_mail_waiting());
    match outbox {
        Ok(outbox) => {
            levels.outbox_pending = Some(outbox.pending);
            levels.failing_endpoints = Some(outbox.failing_endpoints);
            levels.outbox_oldest_seconds =
                Some(outbox.oldest.map_or(0.0, |oldest| {
                    (Timestamp::now().millis() - oldest.millis()).max(0) as f64 / 1000.0
                }));
        }
        Err(err) => tracing::warn!(error = %err, "metrics: cannot read the webhook outbox"),
    }
    match mail {
        Ok(waiting) => levels.mail_pending = Some(waiting),
        Err(err) => tracing::warn!(error = %err, "metrics: cannot read the view-mail queue"),
    }
    (CONTENT_TYPE, state.metrics().render(&levels))
}

/// What the service's own memory caches hold: the links and tasks of this
/// instance, and the process's user agents.
fn caches(state: &AppState) -> Vec<CacheUse> {
    vec![
        CacheUse { cache: "links", entries: state.store().links().kept(), bytes: None },
        CacheUse { cache: "tasks", entries: state.store().content().kept(), bytes: None },
        CacheUse { cache: "user_agents", entries: viewer::agents_kept(), bytes: None },
    ]
}
