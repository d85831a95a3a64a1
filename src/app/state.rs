//! What every user action can reach, in parts with one owner each: the store
//! (storage), where the service is reached, the link keys, in-memory limits, the
//! wake-ups between parts of the instance, and the optional services (forges, GeoIP,
//! mail).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::error::{Error, Result};
use super::live::Live;
use crate::config::Settings;
use crate::domain::share::LinkKeys;
use crate::forge::Forges;
use crate::geo::{GeoIp, Location};
use crate::limits::{self, BlockingWork, ClientSlots, StreamSlots, WindowLimiter};
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::storage::{Db, Store};

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    urls: Urls,
    link_keys: LinkKeys,
    limits: Limits,
    signals: Signals,
    forges: Option<Forges>,
    geo: Option<GeoIp>,
    mailer: Mailer,
    settings: Settings,
    workers: Workers,
    metrics: Metrics,
    live: Arc<Live>,
}

/// The background workers this instance started, each running until its guard is
/// dropped: when it ends, panics or is cancelled.
#[derive(Default)]
pub struct Workers {
    started: std::sync::Mutex<Vec<(&'static str, Arc<AtomicBool>)>>,
}

/// Held by a running worker; the worker counts as stopped once it is dropped.
struct WorkerRunning(Arc<AtomicBool>);

impl Drop for WorkerRunning {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Workers {
    /// Runs `work` as the background worker `name` on the current runtime; it counts
    /// as stopped once `work` ends, panics or is aborted.
    pub fn spawn(
        &self,
        name: &'static str,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let running = Arc::new(AtomicBool::new(true));
        self.lock().push((name, running.clone()));
        let running = WorkerRunning(running);
        tokio::spawn(async move {
            let _running = running;
            work.await;
        })
    }

    /// How many workers started, and the names of those no longer running.
    pub fn stopped(&self) -> (usize, Vec<&'static str>) {
        let started = self.lock();
        let stopped =
            started.iter().filter(|(_, running)| !running.load(Ordering::Acquire)).map(|(name, _)| *name);
        (started.len(), stopped.collect())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(&'static str, Arc<AtomicBool>)>> {
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where the service is reached: the bases of the URLs it hands out.
pub struct Urls {
    public: String,
    path: String,
    short: String,
}

impl Urls {
    /// `public_url` (no trailing slash), and the base of short URLs (default `{public_url}/s`).
    pub fn new(public_url: String, short_url_base: Option<String>) -> Urls {
        let path = url::Url::parse(&public_url)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Urls { short: short_url_base.unwrap_or_else(|| format!("{public_url}/s")), public: public_url, path }
    }

    /// Base of every URL handed out, without a trailing slash.
    pub fn public(&self) -> &str {
        &self.public
    }

    /// The path of the public URL, without a trailing slash (empty at the root):
    /// where pages link and cookies are scoped.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Base of short URLs, without a trailing slash.
    pub fn short(&self) -> &str {
        &self.short
    }

    /// Whether the service is reached over HTTPS (cookies are then `Secure`).
    pub fn is_https(&self) -> bool {
        self.public.starts_with("https://")
    }
}

/// What this instance limits, in memory.
pub struct Limits {
    /// Clients' lookups of links that don't exist.
    pub misses: WindowLimiter,
    /// Clients' comments.
    pub comments: WindowLimiter,
    /// Clients' requests for verification codes.
    pub verification_requests: WindowLimiter,
    /// Clients' wrong verification codes.
    pub wrong_codes: WindowLimiter,
    /// Places for clients' open event streams.
    pub streams: Arc<StreamSlots>,
    /// Places for password hashing.
    pub passwords: BlockingWork,
    /// Places for rendering task pages.
    pub rendering: BlockingWork,
    /// Viewers' messages.
    pub messages: WindowLimiter,
    /// Places for files being downloaded.
    pub downloads: Arc<ClientSlots>,
    /// Places for archives being written.
    pub archives: Arc<ClientSlots>,
    /// Places for OTLP exports being stored.
    pub ingests: tokio::sync::Semaphore,
}

/// Wake-ups between the parts of an instance; cheap to clone.
#[derive(Clone, Default)]
pub struct Signals {
    inner: Arc<SignalsInner>,
}

#[derive(Default)]
struct SignalsInner {
    /// Woken when the service begins to stop.
    stop: Notify,
    /// Woken when this instance puts webhook deliveries in the outbox.
    webhooks: Notify,
    /// Set when the service begins to stop: live streams end so their clients
    /// reconnect (to another instance, or this one once restarted).
    stopping: AtomicBool,
}

impl Signals {
    /// Completes when the service begins to stop (after [`Signals::begin_stopping`];
    /// enable it before checking [`Signals::is_stopping`]).
    pub fn stopping(&self) -> Notified<'_> {
        self.inner.stop.notified()
    }

    /// Wakes the webhook worker: there may be deliveries due now.
    pub fn webhooks_changed(&self) {
        self.inner.webhooks.notify_one();
    }

    /// Completes at the next [`Signals::webhooks_changed`].
    pub fn webhooks_notified(&self) -> Notified<'_> {
        self.inner.webhooks.notified()
    }

    /// Tells live streams the service is stopping.
    pub fn begin_stopping(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        self.inner.stop.notify_waiters();
    }

    /// True once [`Signals::begin_stopping`] was called.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Ordering::SeqCst)
    }
}

/// The parts [`AppState`] is made of.
pub struct Parts {
    pub db: Db,
    pub settings: Settings,
    /// Base of every URL handed out, without a trailing slash.
    pub public_url: String,
    pub link_keys: LinkKeys,
    pub geo: Option<GeoIp>,
    pub mailer: Mailer,
}

impl AppState {
    /// The state of a service made of `parts`; starts the store's writer on the
    /// current runtime.
    pub fn new(parts: Parts) -> AppState {
        let Parts { db, settings, public_url, link_keys, geo, mailer } = parts;
        let limits = Limits {
            misses: WindowLimiter::misses(),
            comments: WindowLimiter::new(
                super::comments::COMMENTS_PER_CLIENT,
                super::comments::CLIENT_WINDOW,
            ),
            verification_requests: WindowLimiter::new(
                super::audiences::REQUESTS_PER_CLIENT,
                super::audiences::CLIENT_WINDOW,
            ),
            wrong_codes: WindowLimiter::new(
                super::audiences::WRONG_CODES_PER_CLIENT,
                super::audiences::CLIENT_WINDOW,
            ),
            streams: StreamSlots::new(settings.max_streams_per_client),
            passwords: BlockingWork::passwords(),
            rendering: BlockingWork::rendering(),
            messages: WindowLimiter::new(
                super::events::VIEWER_MESSAGES,
                super::events::VIEWER_MESSAGE_WINDOW,
            ),
            downloads: ClientSlots::new(limits::DOWNLOADS_PER_CLIENT, limits::DOWNLOADS),
            archives: ClientSlots::new(limits::ARCHIVES_PER_CLIENT, limits::ARCHIVES),
            ingests: tokio::sync::Semaphore::new(limits::INGESTS),
        };
        let metrics = Metrics::new();
        let live = Arc::new(Live::new(db.clone(), settings.live_poll, metrics.clone()));
        AppState {
            inner: Arc::new(Inner {
                store: Store::new(db, metrics.clone()),
                urls: Urls::new(public_url, settings.short_url_base.clone()),
                link_keys,
                limits,
                signals: Signals::default(),
                forges: settings.repositories_dir.clone().map(Forges::git),
                geo,
                mailer,
                settings,
                workers: Workers::default(),
                metrics,
                live,
            }),
        }
    }

    /// The database with this instance's writer and caches.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The database.
    pub fn db(&self) -> &Db {
        self.inner.store.db()
    }

    pub fn urls(&self) -> &Urls {
        &self.inner.urls
    }

    /// The key share-link tokens, short codes, share codes and grants derive from.
    pub fn link_keys(&self) -> &LinkKeys {
        &self.inner.link_keys
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub fn signals(&self) -> &Signals {
        &self.inner.signals
    }

    /// The background workers of this instance.
    pub fn workers(&self) -> &Workers {
        &self.inner.workers
    }

    /// The live feeds of tasks that streams on this instance follow.
    pub fn live(&self) -> &Arc<Live> {
        &self.inner.live
    }

    /// What this instance counts, for Prometheus.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The repositories and forge for pull requests, when configured.
    pub fn forges(&self) -> Option<&Forges> {
        self.inner.forges.as_ref()
    }

    /// Where `ip` is, when a GeoIP database is configured.
    pub fn locate(&self, ip: std::net::IpAddr) -> Location {
        self.inner.geo.as_ref().map(|geo| geo.locate(ip)).unwrap_or_default()
    }

    /// Outgoing mail.
    pub fn mailer(&self) -> &Mailer {
        &self.inner.mailer
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Runs `work` (hashing or checking a password) in its turn, off the executor.
    pub(crate) async fn password_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        self.inner
            .limits
            .passwords
            .run(work)
            .await
            .ok_or_else(|| Error::internal(anyhow::anyhow!("password hashing failed")))
    }
}
