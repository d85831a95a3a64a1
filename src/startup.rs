//! Builds the service from [`Settings`] and runs it until told to stop.
//!
//! Tests call [`Application::build`] with port 0 and a fresh database, read the
//! real port from [`Application::local_addr`], and run it in the background.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{HeaderName, Request, Response, StatusCode};
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
use crate::storage::Db;
use crate::telemetry::ViewedLink;
use crate::workers::mail::ViewMailer;
use crate::workers::webhooks::Deliverer;
use crate::{api, routes};

/// How long a stopping service waits for open connections to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A bound, migrated, ready-to-run service.
pub struct Application {
    listener: TcpListener,
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
        Ok(Application { listener, router, state })
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
    /// connection is closed: slow headers can't hold connections open.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let worker = tokio::spawn(crate::workers::webhooks::run(Deliverer::of(&self.state)));
        let mail_worker = tokio::spawn(crate::workers::mail::run(ViewMailer::of(&self.state)));
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.state.settings().request_timeout);
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
            let _ = stream.set_nodelay(true);
            let service = self.router.clone().map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
                .into_owned();
            let connection = connections.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "connection ended with an error");
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
    routes::router(state)
        .layer(axum::middleware::from_fn(move |request, next| within(timeout, request, next)))
        .layer(CatchPanicLayer::custom(|_| panic_response()))
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
                    tracing::info_span!("request", method = %request.method(), route, request_id = id)
                })
                .on_request(())
                .on_response(|response: &Response<Body>, latency: Duration, _: &Span| {
                    // A view logs this one line, which names the link it showed.
                    let viewed = response.extensions().get::<ViewedLink>();
                    tracing::info!(
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
