//! `GET /healthz` (liveness) and `GET /readyz` (readiness): for load balancers and
//! orchestrators; and `GET /metrics` for Prometheus, served only on the metrics
//! listener (`--metrics-listen`), never beside the API.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::{levels, readiness, AppState};
use crate::metrics::CacheUse;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// The metrics listener's routes: `GET /metrics` alone, with the caches `pages`
/// tells of besides the service's own (the web pages' caches).
pub fn metrics_routes(state: AppState, pages: fn() -> Vec<CacheUse>) -> axum::Router {
    let metrics = move |State(state): State<AppState>| async move {
        let (content_type, text) = levels::render(&state, pages()).await;
        ([(axum::http::header::CONTENT_TYPE, content_type)], text)
    };
    axum::Router::new().route("/metrics", axum::routing::get(metrics)).with_state(state)
}

/// Whether the service can serve.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Health check
///
/// 200 when the service and its database can serve requests, 503 otherwise.
#[utoipa::path(
    get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "Serving", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let database = state.db().backend().name();
    if state.db().ping().await {
        (StatusCode::OK, Json(Health { status: "ok", database }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable", database }))
    }
}

/// Whether this instance should be sent traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// `ready`, or `not_ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
    pub checks: ReadyChecks,
    /// Why the instance is not ready, in words; empty when it is.
    #[schema(example = json!([]))]
    pub reasons: Vec<String>,
}

/// Each check `/readyz` makes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyChecks {
    /// The database answers a query.
    pub database: bool,
    /// Every migration of this build is applied, none failed, and the database has
    /// none this build does not know.
    pub migrations: bool,
    /// The writer that commits views is running.
    pub view_writer: bool,
    /// The background workers (webhook deliveries, view mails, retention) are running.
    pub workers: bool,
}

/// Readiness check
///
/// 200 when this instance can serve: its database answers, the schema is the one
/// this build expects, and its view writer and background workers run. 503 with
/// the reasons otherwise. `/healthz` stays the liveness check.
#[utoipa::path(
    get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "Not ready, with the reasons", body = Ready),
    )
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Ready>) {
    let found = readiness::check(&state).await;
    let status = if found.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let ready = Ready {
        status: if found.is_ready() { "ready" } else { "not_ready" },
        database: state.db().backend().name(),
        checks: ReadyChecks {
            database: found.database,
            migrations: found.migrations,
            view_writer: found.view_writer,
            workers: found.workers,
        },
        reasons: found.reasons,
    };
    (status, Json(ready))
}
