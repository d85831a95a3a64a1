//! What an instance counts, for Prometheus: recorded where things happen (the
//! request layer, the view writer, the workers, `app/`), read at each scrape.
//!
//! Every instance has its own [`Metrics`] (no process-wide registry), served in
//! the OpenMetrics text format by the listener `--metrics-listen` opens, never
//! on the public one. Counters and histograms move as things happen; what is a
//! level rather than a count (the webhook outbox, the mail queue, connections
//! in use, open streams) is read when Prometheus scrapes, and handed to
//! [`Metrics::render`] as a [`Levels`].

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Metric, Registry, Unit};

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Seconds a request may take, in buckets from 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 13] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A route's pattern as a label: made once per request, shared by its two label
/// sets.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Route(Arc<str>);

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(&self.0)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route's pattern (`/s/{token}`), never the path: tokens live in paths.
    route: Route,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Route,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

/// What became of a view the writer committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewCount {
    /// Counted: the viewer saw the link.
    Counted,
    /// Refused at the commit: the link was revoked, expired or used up.
    Refused,
    /// Not counted because the owner changed the link meanwhile (tried again).
    Changed,
}

/// What a password check came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    Correct,
    Wrong,
    /// Refused without a check: the client or the link is locked out.
    LockedOut,
}

/// What one webhook delivery attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// The endpoint answered something else (the delivery is retried).
    Refused,
    /// No answer: unreachable, timed out or not allowed (the delivery is retried).
    Failed,
}

/// A connection pool's use when scraped.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolUse {
    /// Connections open now (busy and idle).
    pub open: u32,
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

/// What is read at each scrape: levels rather than counts. A level read from
/// the database is `None` when the database could not tell: it keeps the value
/// it had.
#[derive(Clone, Debug, Default)]
pub struct Levels {
    /// Webhook deliveries not yet delivered nor given up.
    pub outbox_pending: Option<i64>,
    /// How long the oldest of them has waited, in seconds (0 when none waits).
    pub outbox_oldest_seconds: Option<f64>,
    /// Webhook endpoints marked failing (their last deliveries failed in a row).
    pub failing_endpoints: Option<i64>,
    /// Links with views waiting to be mailed to their owner.
    pub mail_pending: Option<i64>,
    /// Password checks and hashes waiting for a place, and running.
    pub hashing_waiting: i64,
    pub hashing_running: i64,
    /// Event streams open on this instance.
    pub streams_open: i64,
    /// Tasks with a live feed on this instance.
    pub feeds: i64,
    /// Each database pool's connections, by role.
    pub pools: Vec<(&'static str, PoolUse)>,
    /// What each of the service's memory caches holds now.
    pub caches: Vec<CacheUse>,
}

/// What one cache holds: its entries and, where it counts them, the bytes of
/// what it keeps (its own bookkeeping aside).
#[derive(Clone, Copy, Debug)]
pub struct CacheUse {
    pub cache: &'static str,
    pub entries: usize,
    pub bytes: Option<usize>,
}

/// This instance's metrics; cheap to clone (every clone records into the same).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    views: Family<Outcome, Counter>,
    view_batch_size: Histogram,
    view_batch_seconds: Histogram,
    view_batch_failures: Counter,
    links_created: Counter,
    links_revoked: Counter,
    password_checks: Family<Outcome, Counter>,
    miss_refusals: Counter,
    deliveries: Family<Outcome, Counter>,
    mails: Family<Outcome, Counter>,
    outbox_pending: Gauge,
    outbox_oldest_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    failing_endpoints: Gauge,
    mail_pending: Gauge,
    hashing: Family<Outcome, Gauge>,
    streams_open: Gauge,
    connections: Family<PoolLabels, Gauge>,
    feeds: Gauge,
    feed_looks: Counter,
    cache_entries: Family<CacheLabels, Gauge>,
    cache_bytes: Family<CacheLabels, Gauge>,
}

fn request_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A new metric of its default kind, registered as `name` (with `unit`, if any).
fn add<M: Metric + Clone + Default>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
) -> M {
    add_as(registry, name, help, unit, M::default())
}

/// `metric`, registered as `name` (with `unit`, if any).
fn add_as<M: Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    metric: M,
) -> M {
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, metric.clone()),
        None => registry.register(name, help, metric.clone()),
    }
    metric
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("agentshare");
        let version = Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]);
        registry.register("build", "The running version", version);
        let r = &mut registry;
        let seconds = Some(Unit::Seconds);
        let inner = Inner {
            requests: add(r, "http_requests", "HTTP requests answered, by route pattern, method and status", None),
            request_seconds: add_as(
                r,
                "http_request_duration",
                "Time from a request's arrival to its response's head, by route pattern and method",
                seconds.clone(),
                Family::new_with_constructor(request_histogram as fn() -> Histogram),
            ),
            views: add(
                r,
                "views",
                "Views of share links committed by the view writer: counted, refused (revoked, expired or used up \
                 when committed), changed (the owner changed the link; tried again)",
                None,
            ),
            view_batch_size: add_as(
                r,
                "view_batch_size",
                "Views committed together in one transaction",
                None,
                Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            ),
            view_batch_seconds: add_as(
                r,
                "view_batch_commit",
                "Time to count and commit one batch of views",
                seconds.clone(),
                Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            ),
            view_batch_failures: add(
                r,
                "view_batch_failures",
                "Batches of views the database refused (every view in them failed, none was counted)",
                None,
            ),
            links_created: add(r, "share_links_created", "Share links created", None),
            links_revoked: add(r, "share_links_revoked", "Share links revoked (one by one or all at once)", None),
            password_checks: add(
                r,
                "password_checks",
                "Passwords of share links checked: correct, wrong, or locked_out (refused unchecked after too \
                 many wrong ones)",
                None,
            ),
            miss_refusals: add(
                r,
                "miss_limiter_refusals",
                "Lookups refused because their client named too many links that do not exist",
                None,
            ),
            deliveries: add(
                r,
                "webhook_deliveries",
                "Webhook delivery attempts: delivered (2xx), refused (another status) or failed (no answer)",
                None,
            ),
            mails: add(r, "view_mails", "Mails to owners about their links' views: sent or failed (retried)", None),
            outbox_pending: add(
                r,
                "webhook_outbox_pending",
                "Webhook deliveries waiting to be delivered (not yet delivered nor given up)",
                None,
            ),
            outbox_oldest_seconds: add(
                r,
                "webhook_outbox_oldest_pending_age",
                "How long the oldest waiting webhook delivery has waited since its event",
                seconds,
            ),
            failing_endpoints: add(
                r,
                "webhook_endpoints_failing",
                "Webhook endpoints whose recent deliveries failed in a row",
                None,
            ),
            mail_pending: add(r, "view_mail_pending", "Links whose views wait to be mailed to their owner", None),
            hashing: add(r, "password_hashing", "Password hashes and checks: waiting for a place, or running", None),
            streams_open: add(r, "event_streams_open", "Live event streams open on this instance", None),
            connections: add(
                r,
                "db_connections",
                "Database connections by pool (read and write on SQLite, all on PostgreSQL) and state (busy, idle, \
                 max)",
                None,
            ),
            feeds: add(r, "live_feeds", "Tasks whose live feed runs on this instance (followed by its streams)", None),
            feed_looks: add(
                r,
                "live_feed_looks",
                "Looks of live feeds at their task (one per change or poll, however many streams follow it)",
                None,
            ),
            cache_entries: add(
                r,
                "cache_entries",
                "Entries of each memory cache, each bounded: links and tasks (this instance's); pages, markdown, \
                 qr_codes and user_agents (the process's)",
                None,
            ),
            cache_bytes: add(
                r,
                "cache",
                "Bytes each memory cache keeps (pages, markdown, qr_codes), each bounded",
                Some(Unit::Bytes),
            ),
            registry,
        };
        Metrics { inner: Arc::new(inner) }
    }

    /// A request answered with `status`, `elapsed` after it came in.
    pub fn request(&self, route: &str, method: &axum::http::Method, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let route = Route(Arc::from(route));
        self.inner
            .request_seconds
            .get_or_create(&RouteLabels { route: route.clone(), method })
            .observe(elapsed.as_secs_f64());
        self.inner.requests.get_or_create(&RequestLabels { route, method, status }).inc();
    }

    /// A batch of views the writer committed, what became of each, and how
    /// long its transaction took.
    pub fn view_batch(&self, outcomes: impl IntoIterator<Item = ViewCount>, elapsed: Duration) {
        let (mut counted, mut refused, mut changed) = (0, 0, 0);
        for outcome in outcomes {
            match outcome {
                ViewCount::Counted => counted += 1,
                ViewCount::Refused => refused += 1,
                ViewCount::Changed => changed += 1,
            }
        }
        for (outcome, n) in [("counted", counted), ("refused", refused), ("changed", changed)] {
            self.inner.views.get_or_create(&Outcome { outcome }).inc_by(n);
        }
        self.inner.view_batch_size.observe((counted + refused + changed) as f64);
        self.inner.view_batch_seconds.observe(elapsed.as_secs_f64());
    }

    /// A batch of views the database refused.
    pub fn view_batch_failed(&self) {
        self.inner.view_batch_failures.inc();
    }

    pub fn link_created(&self) {
        self.inner.links_created.inc();
    }

    pub fn links_revoked(&self, n: u64) {
        self.inner.links_revoked.inc_by(n);
    }

    pub fn password_check(&self, check: PasswordCheck) {
        let outcome = match check {
            PasswordCheck::Correct => "correct",
            PasswordCheck::Wrong => "wrong",
            PasswordCheck::LockedOut => "locked_out",
        };
        self.inner.password_checks.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn miss_refused(&self) {
        self.inner.miss_refusals.inc();
    }

    pub fn delivery(&self, outcome: DeliveryOutcome) {
        let outcome = match outcome {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Refused => "refused",
            DeliveryOutcome::Failed => "failed",
        };
        self.inner.deliveries.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn feed_looked(&self) {
        self.inner.feed_looks.inc();
    }

    pub fn view_mail(&self, sent: bool) {
        let outcome = if sent { "sent" } else { "failed" };
        self.inner.mails.get_or_create(&Outcome { outcome }).inc();
    }

    /// Everything, in the OpenMetrics text format, with `levels` as they are now.
    pub fn render(&self, levels: &Levels) -> String {
        let inner = &self.inner;
        let read = [
            (&inner.outbox_pending, levels.outbox_pending),
            (&inner.failing_endpoints, levels.failing_endpoints),
            (&inner.mail_pending, levels.mail_pending),
        ];
        for (gauge, level) in read {
            if let Some(level) = level {
                gauge.set(level);
            }
        }
        if let Some(seconds) = levels.outbox_oldest_seconds {
            inner.outbox_oldest_seconds.set(seconds);
        }
        inner.hashing.get_or_create(&Outcome { outcome: "waiting" }).set(levels.hashing_waiting);
        inner.hashing.get_or_create(&Outcome { outcome: "running" }).set(levels.hashing_running);
        inner.streams_open.set(levels.streams_open);
        inner.feeds.set(levels.feeds);
        for &(pool, used) in &levels.pools {
            let busy = i64::from(used.open.saturating_sub(used.idle));
            for (state, n) in [("busy", busy), ("idle", i64::from(used.idle)), ("max", i64::from(used.max))] {
                inner.connections.get_or_create(&PoolLabels { pool, state }).set(n);
            }
        }
        for use_ in &levels.caches {
            let labels = CacheLabels { cache: use_.cache };
            inner.cache_entries.get_or_create(&labels).set(use_.entries as i64);
            if let Some(bytes) = use_.bytes {
                inner.cache_bytes.get_or_create(&labels).set(bytes as i64);
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &inner.registry)
            .expect("writing to a String never fails");
        text
    }
}

/// The method as a label: the standard ones by name, any other as `other` (so
/// a client cannot make up label values).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|l| l.starts_with(prefix))
    }

    #[test]
    fn counts_show_in_the_text_with_their_labels() {
        let metrics = Metrics::new();
        metrics.request("/s/{token}", &axum::http::Method::GET, 200, Duration::from_millis(3));
        metrics.request("/s/{token}", &axum::http::Method::GET, 200, Duration::from_millis(30));
        metrics.request("/s/{token}", &axum::http::Method::from_bytes(b"BREW").unwrap(), 404, Duration::ZERO);
        metrics.view_batch(
            [ViewCount::Counted, ViewCount::Counted, ViewCount::Refused],
            Duration::from_millis(2),
        );
        metrics.password_check(PasswordCheck::LockedOut);
        let levels = Levels {
            outbox_pending: Some(7),
            outbox_oldest_seconds: Some(12.5),
            pools: vec![("write", PoolUse { open: 1, idle: 0, max: 1 })],
            ..Levels::default()
        };
        let text = metrics.render(&levels);
        let requests = r#"agentshare_http_requests_total{route="/s/{token}",method="GET",status="200"} 2"#;
        assert!(text.contains(requests), "{text}");
        assert!(text
            .contains(r#"agentshare_http_requests_total{route="/s/{token}",method="other",status="404"} 1"#));
        let le_5ms = r#"agentshare_http_request_duration_seconds_bucket{le="0.005",route="/s/{token}",method="GET"} 1"#;
        assert!(text.contains(le_5ms), "{text}");
        assert!(text.contains(r#"agentshare_views_total{outcome="counted"} 2"#), "{text}");
        assert!(text.contains(r#"agentshare_views_total{outcome="refused"} 1"#), "{text}");
        assert!(line(&text, "agentshare_view_batch_size_count").is_some_and(|l| l.ends_with(" 1")), "{text}");
        assert!(text.contains(r#"agentshare_password_checks_total{outcome="locked_out"} 1"#), "{text}");
        assert!(text.contains("agentshare_webhook_outbox_pending 7\n"), "{text}");
        assert!(text.contains("agentshare_webhook_outbox_oldest_pending_age_seconds 12.5\n"), "{text}");
        assert!(text.contains(r#"agentshare_db_connections{pool="write",state="busy"} 1"#), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // A level the database could not tell keeps the value it had.
        let caches = vec![
            CacheUse { cache: "links", entries: 3, bytes: None },
            CacheUse { cache: "pages", entries: 2, bytes: Some(20_480) },
        ];
        let with_caches = metrics.render(&Levels { caches, ..levels.clone() });
        assert!(with_caches.contains("agentshare_cache_entries{cache=\"links\"} 3\n"), "{with_caches}");
        assert!(with_caches.contains("agentshare_cache_entries{cache=\"pages\"} 2\n"), "{with_caches}");
        assert!(with_caches.contains("agentshare_cache_bytes{cache=\"pages\"} 20480\n"), "{with_caches}");
        assert!(!with_caches.contains("agentshare_cache_bytes{cache=\"links\"}"), "{with_caches}");
        let text = metrics.render(&Levels { outbox_pending: None, ..levels });
        assert!(text.contains("agentshare_webhook_outbox_pending 7\n"), "{text}");
    }

    #[test]
    fn each_instance_counts_alone() {
        let (one, other) = (Metrics::new(), Metrics::new());
        one.link_created();
        assert!(one.render(&Levels::default()).contains("agentshare_share_links_created_total 1\n"));
        assert!(other.render(&Levels::default()).contains("agentshare_share_links_created_total 0\n"));
    }
}
