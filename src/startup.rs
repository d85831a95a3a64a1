//! Builds the service from [`Settings`] and runs it until told to stop.
//!
//! Tests call [`Application::build`] with port 0 and a fresh database, read the
//! real port from [`Application::local_addr`], and run it in the background.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, State};
use axum::http::{header, HeaderName, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse as _;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::app::state::Parts;
use crate::app::AppState;
use crate::config::Settings;
use crate::domain::ids;
use crate::domain::share::LinkKeys;
use crate::http::ConnectionCloser;
use crate::limits::{self, ClientSlots};
use crate::metrics::Metrics;
use crate::storage::Db;
use crate::telemetry::ViewedLink;
use crate::workers::mail::ViewMailer;
use crate::workers::retention::Pruner;
use crate::workers::webhooks::Deliverer;
use crate::{api, routes, web};

/// The target of each request's span and of its "response" line: the access
/// log, which `RUST_LOG=info,agentshare::access=off` turns off (and with it the
/// request ids on other lines).
pub const ACCESS: &str = "agentshare::access";

/// How long a stopping service waits for open connections to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Files the process keeps for other things than connections (beside twice its
/// database connections): logs, the SQLite files, artifacts being read, mail.
const RESERVED_FILES: usize = 64;

/// What a refused connection is told before it is closed: the client holds its
/// share of connections, or the service holds all it can.
const REFUSED_CLIENT: &[u8] =
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\
Content-Length: 45\r\nConnection: close\r\n\r\nThis client holds too many open connections.\n";
const REFUSED_FULL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\
Content-Length: 46\r\nConnection: close\r\n\r\nThe service holds all the connections it can.\n";

/// A bound, migrated, ready-to-run service.
pub struct Application {
    listener: TcpListener,
    /// Where Prometheus scrapes, when `--metrics-listen` asks for it.
    metrics: Option<TcpListener>,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects to the database, brings its schema up to date and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = Db::connect(&settings.database).await?;
        db.migrate().await.context("database migration failed")?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let metrics = match settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?,
            ),
            None => None,
        };
        let bound = listener.local_addr()?;
        let public_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{bound}"));
        let link_keys = link_keys(&db, settings.link_key.as_deref()).await?;
        let geo = settings.geoip_db.as_deref().map(crate::geo::GeoIp::open).transpose()?;
        let mailer = crate::mail::Mailer::new(
            settings.smtp_url.as_deref(),
            settings.mail_dir.clone(),
            settings.mail_from.clone(),
        )?;
        let state = AppState::new(Parts { db, settings, public_url, link_keys, geo, mailer });
        let router = app(state.clone());
        Ok(Application { listener, metrics, router, state })
    }

    /// The address metrics are served on, when they are.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    /// The address actually bound (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The base URL the service hands out.
    pub fn public_url(&self) -> &str {
        self.state.urls().public()
    }

    /// The state handlers see (to prepare data before serving, e.g. the demo).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting connections, lets
    /// in-flight requests finish (every acknowledged write is already committed),
    /// ends live event streams (their clients reconnect with `Last-Event-ID`), cuts
    /// connections still busy after [`SHUTDOWN_GRACE`] and closes the database.
    ///
    /// A client must send a request's headers within the request timeout, or its
    /// connection is closed: slow headers, silent sockets and HTTP/2 prefaces
    /// without a request can't hold connections open. Each client holds at most
    /// `--max-connections-per-client` connections, and all of them together fewer
    /// than the process can open files; more are closed as they come.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let workers = self.state.workers();
        let worker =
            workers.spawn("webhook deliveries", crate::workers::webhooks::run(Deliverer::of(&self.state)));
        let mail_worker = workers.spawn("view mails", crate::workers::mail::run(ViewMailer::of(&self.state)));
        let retention_worker =
            workers.spawn("retention", crate::workers::retention::run(Pruner::of(&self.state)));
        // Other instances' task changes reach this one's live streams at once.
        let announcements = (self.state.db().backend() == crate::storage::Backend::Postgres).then(|| {
            workers.spawn("task announcements", crate::app::live::listen(self.state.live().clone()))
        });
        let metrics = self.metrics.map(|listener| {
            let routes = api::health::metrics_routes(self.state.clone(), web::caches);
            tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, routes).await {
                    tracing::error!(error = %err, "the metrics listener stopped");
                }
            })
        });
        let settings = self.state.settings();
        let first_request = settings.request_timeout;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(first_request);
        // A peer that stops answering pings is gone.
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(Duration::from_secs(20)))
            .keep_alive_timeout(Duration::from_secs(20));
        let reserve = 2 * settings.database.max_connections as usize + RESERVED_FILES;
        let total =
            settings.max_connections.unwrap_or_else(|| limits::connections_the_process_can_hold(reserve));
        // One client never holds more than half of all places.
        let per_client = settings.max_connections_per_client.min(total / 2).max(1);
        let slots = ClientSlots::new(per_client, total);
        let proxies = settings.trusted_proxies.clone();
        let connections = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %err, "could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let client = peer.ip().to_canonical();
            let proxy = proxies.iter().any(|net| net.contains(&client));
            let Some(slot) = slots.acquire(client, proxy) else {
                // Told so in one write that never waits, and closed at once: the
                // client holds its share of connections, or every place is taken
                // (descriptors stay for the clients being served).
                let full = slots.open() >= slots.total();
                let _ = stream.try_write(if full { REFUSED_FULL } else { REFUSED_CLIENT });
                tracing::debug!(client = %client, full, "connection refused: too many open");
                continue;
            };
            let _ = stream.set_nodelay(true);
            // Set once a request's head has come in: until then, the connection must
            // bring one within the request timeout, whatever protocol it speaks.
            let requested = Arc::new(AtomicBool::new(false));
            let seen = requested.clone();
            // What a stalled response uses to close its connection.
            let closer = ConnectionCloser::default();
            let handed = closer.clone();
            let service = self.router.clone().map_request(move |mut request: Request<Incoming>| {
                seen.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(handed.clone());
                request
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
                .into_owned();
            let connection = connections.watch(connection);
            tokio::spawn(async move {
                let _slot = slot;
                tokio::pin!(connection);
                let deadline = tokio::time::sleep(first_request);
                tokio::pin!(deadline);
                let mut waiting = true;
                loop {
                    tokio::select! {
                        ended = &mut connection => {
                            if let Err(err) = ended {
                                tracing::debug!(error = %err, "connection ended with an error");
                            }
                            break;
                        }
                        () = closer.closed() => {
                            tracing::debug!(client = %client, "connection closed: a response stalled");
                            break;
                        }
                        () = &mut deadline, if waiting => {
                            if !requested.load(Ordering::Relaxed) {
                                // Nothing, or no complete request (an HTTP/2 preface
                                // alone): the connection is dropped, and so closed.
                                tracing::debug!(client = %client, "connection closed: no request in time");
                                break;
                            }
                            waiting = false;
                        }
                    }
                }
            });
        }
        drop(self.listener);
        self.state.signals().begin_stopping();
        if tokio::time::timeout(SHUTDOWN_GRACE, connections.shutdown()).await.is_err() {
            tracing::warn!("connections still open after the shutdown grace period were closed");
        }
        // Deliveries in flight are recorded or, if cut short, come back when their lease ends.
        worker.abort();
        mail_worker.abort();
        retention_worker.abort();
        if let Some(announcements) = announcements {
            announcements.abort();
        }
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        self.state.db().close().await;
        Ok(())
    }
}

/// The configured link key, or the one kept in the database (made on first start).
async fn link_keys(db: &Db, configured: Option<&str>) -> anyhow::Result<LinkKeys> {
    if let Some(text) = configured {
        return LinkKeys::parse(text).context("the link key must be 64 hex digits (32 bytes)");
    }
    let fresh = hex::encode(ids::random_bytes::<32>());
    let stored = db.service_secret("link_key", &fresh).await?;
    LinkKeys::parse(&stored).context("the stored link key is damaged")
}

/// The whole HTTP application: routes plus the layers every request passes through.
pub fn app(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let timeout = state.settings().request_timeout;
    let metrics = state.metrics().clone();
    routes::router(state)
        .layer(axum::middleware::map_response(close_when_refused))
        .layer(axum::middleware::from_fn(move |request, next| within(timeout, request, next)))
        .layer(CatchPanicLayer::custom(|_| panic_response()))
        .layer(axum::middleware::from_fn_with_state(metrics, measured))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    // The matched route, never the raw path: share tokens live in paths.
                    let route =
                        request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(target: ACCESS, "request", method = %request.method(), route, request_id = id)
                })
                .on_request(())
                .on_response(|response: &Response<Body>, latency: Duration, _: &Span| {
                    // A view logs this one line, which names the link it showed.
                    let viewed = response.extensions().get::<ViewedLink>();
                    tracing::info!(
                        target: ACCESS,
                        status = response.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        share_link_id = viewed.map(|v| v.0.as_str()),
                        "response"
                    );
                }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, RandomRequestId))
}

/// Counts each request by its route's pattern, method and status, with the time
/// until its response's head (an event stream's or a download's body goes on
/// after that).
async fn measured(
    State(metrics): State<Metrics>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.request(route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// A client told to slow down (429) or to come back later (503) gets its
/// connection closed after the answer (HTTP/1), so that what it was refused does
/// not keep a connection of the service's busy meanwhile.
async fn close_when_refused(mut response: Response<Body>) -> Response<Body> {
    if matches!(response.status(), StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Answers 408 `REQUEST_TIMEOUT` when a request, its body upload included, takes
/// longer than `limit` to produce a response. Work cut short is rolled back: every
/// write is one transaction, dropped unfinished. A streamed body (an event stream)
/// is bounded only until its response starts.
async fn within(limit: Duration, request: Request<Body>, next: axum::middleware::Next) -> Response<Body> {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "request timed out");
            api::error::ApiError::RequestTimeout { limit_secs: limit.as_secs_f64() }.into_response()
        }
    }
}

#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = hex::encode(ids::random_bytes::<8>());
        Some(RequestId::new(id.parse().ok()?))
    }
}

fn panic_response() -> Response<Body> {
    tracing::error!("a request handler panicked");
    let body = serde_json::json!({
        "success": false,
        "error": {"code": "INTERNAL_ERROR", "message": "The server could not complete the request", "details": {}}
    });
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_whole_http_answers() {
        for answer in [REFUSED_CLIENT, REFUSED_FULL] {
            let text = std::str::from_utf8(answer).unwrap();
            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length = head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).unwrap();
            assert_eq!(length.parse::<usize>().unwrap(), body.len(), "{text}");
        }
    }
}
