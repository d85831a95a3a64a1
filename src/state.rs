//! What every request handler can reach.

use std::sync::Arc;

use crate::config::Settings;
use crate::storage::Db;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Settings,
    public_url: String,
}

impl AppState {
    pub fn new(db: Db, settings: Settings, public_url: String) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                db,
                settings,
                public_url,
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Base of every URL handed out, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }
}
