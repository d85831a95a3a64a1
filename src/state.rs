//! What every request handler can reach.

use std::sync::Arc;

use crate::api::pull_requests::Forges;
use crate::config::Settings;
use crate::domain::share::LinkKeys;
use crate::forge::{GitCli, Repositories};
use crate::geo::{GeoIp, Location};
use crate::mail::Mailer;
use crate::storage::cache::{ContentCache, LinkCache};
use crate::storage::{Db, ViewWriter};
use crate::web::limiter::{MissLimiter, StreamSlots};

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// Counts share-link views in group commits (and on SQLite stores new links the same way).
    views: ViewWriter,
    /// Links viewers opened lately, checked against their version when a view counts.
    links: LinkCache,
    /// What tasks show viewers, by version.
    content: ContentCache,
    /// Places for password hashing (Argon2), one per two cores.
    password_work: tokio::sync::Semaphore,
    settings: Settings,
    public_url: String,
    /// The path part of `public_url` (empty at the root): where pages link and
    /// cookies are scoped.
    public_path: String,
    short_url_base: String,
    link_keys: LinkKeys,
    /// Woken whenever this instance appends an event or revokes access, so live
    /// streams look again at once (they also look on a timer, for other instances).
    events: tokio::sync::Notify,
    forges: Option<Forges>,
    misses: MissLimiter,
    streams: Arc<StreamSlots>,
    /// Set when the service begins to stop: live streams end so their clients
    /// reconnect (to another instance, or this one once restarted).
    stopping: std::sync::atomic::AtomicBool,
    /// Woken when this instance puts webhook deliveries in the outbox.
    webhooks: tokio::sync::Notify,
    geo: Option<GeoIp>,
    mailer: Mailer,
}

impl AppState {
    pub fn new(
        db: Db,
        settings: Settings,
        public_url: String,
        link_keys: LinkKeys,
        geo: Option<GeoIp>,
        mailer: Mailer,
    ) -> AppState {
        let forges = settings
            .repositories_dir
            .as_ref()
            .map(|dir| Forges { repositories: Repositories::new(dir.clone()), forge: Arc::new(GitCli) });
        let streams = StreamSlots::new(settings.max_streams_per_client);
        let short_url_base = settings.short_url_base.clone().unwrap_or_else(|| format!("{public_url}/s"));
        let public_path = url::Url::parse(&public_url)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        AppState {
            inner: Arc::new(Inner {
                views: ViewWriter::start(db.clone()),
                links: LinkCache::new(crate::storage::cache::LINKS_CACHED),
                password_work: tokio::sync::Semaphore::new(
                    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
                ),
                content: ContentCache::new(
                    crate::storage::cache::TASKS_CACHED,
                    crate::storage::cache::LARGEST_CONTENT_CACHED,
                ),
                db,
                settings,
                public_url,
                public_path,
                short_url_base,
                link_keys,
                events: tokio::sync::Notify::new(),
                forges,
                misses: MissLimiter::default(),
                streams,
                stopping: std::sync::atomic::AtomicBool::new(false),
                webhooks: tokio::sync::Notify::new(),
                geo,
                mailer,
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// Runs `work` (hashing or checking a password) on a blocking thread, with at
    /// most one such job per two cores at a time: Argon2 takes tens of milliseconds
    /// and about 19 MB each, so a burst of password-protected requests waits its turn
    /// instead of taking every core (and the memory) from everything else.
    pub async fn password_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, crate::api::error::ApiError> {
        use crate::api::error::ApiError;
        let _place =
            self.inner.password_work.acquire().await.map_err(|err| ApiError::Internal(err.into()))?;
        tokio::task::spawn_blocking(work).await.map_err(|err| ApiError::Internal(err.into()))
    }

    /// Where share-link views are counted.
    pub fn views(&self) -> &ViewWriter {
        &self.inner.views
    }

    /// Links viewers opened lately.
    pub fn links(&self) -> &LinkCache {
        &self.inner.links
    }

    /// What tasks show viewers.
    pub fn content(&self) -> &ContentCache {
        &self.inner.content
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Base of every URL handed out, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The path of the public URL, without a trailing slash (empty at the root).
    pub fn public_path(&self) -> &str {
        &self.inner.public_path
    }

    /// Base of short URLs, without a trailing slash.
    pub fn short_url_base(&self) -> &str {
        &self.inner.short_url_base
    }

    /// The repositories and forge for pull requests, when configured.
    pub fn forges(&self) -> Option<&Forges> {
        self.inner.forges.as_ref()
    }

    /// Counts clients' lookups of links that don't exist.
    pub fn misses(&self) -> &MissLimiter {
        &self.inner.misses
    }

    /// Places for clients' open event streams.
    pub fn streams(&self) -> &Arc<StreamSlots> {
        &self.inner.streams
    }

    /// Where `ip` is, when a GeoIP database is configured.
    pub fn locate(&self, ip: std::net::IpAddr) -> Location {
        self.inner.geo.as_ref().map(|geo| geo.locate(ip)).unwrap_or_default()
    }

    /// Outgoing mail.
    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    /// Wakes the webhook worker: there may be deliveries due now.
    pub fn webhooks_changed(&self) {
        self.inner.webhooks.notify_one();
    }

    /// Completes at the next [`AppState::webhooks_changed`].
    pub fn webhooks_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.webhooks.notified()
    }

    /// Wakes every live event stream of this instance.
    pub fn events_changed(&self) {
        self.inner.events.notify_waiters();
    }

    /// Tells live streams the service is stopping.
    pub fn begin_stopping(&self) {
        self.inner.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        self.events_changed();
    }

    /// True once [`AppState::begin_stopping`] was called.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Completes at the next [`AppState::events_changed`].
    pub fn events_notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.events.notified()
    }

    /// The key share-link tokens, short codes and view grants derive from.
    pub fn link_keys(&self) -> &LinkKeys {
        &self.inner.link_keys
    }
}
