//! The HTTP API: JSON over the user actions of [`crate::app`], one module per
//! resource, each exposing its routes and documenting them for OpenAPI. The
//! service's router (`crate::routes`) merges them with the pages.
//!
//! Handlers here only translate: a request into an action's input (with
//! extractors that name what is malformed, [`extract`]), and its result or error
//! into the documented JSON ([`error`]).

pub mod artifacts;
pub mod caller;
pub mod error;
pub mod events;
pub mod extract;
pub mod health;
pub mod link_activity;
pub mod link_comments;
pub mod otlp;
pub mod preview;
pub mod pull_requests;
pub mod schemas;
pub mod settings;
pub mod share_links;
pub mod task_shares;
pub mod tasks;
pub mod viewer;
pub mod webhooks;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use error::ApiError;

/// The success envelope of the task and share-link APIs: `{"success": true, "data": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
}

/// 200 with `data` in the success envelope.
pub fn ok<T: Serialize>(data: T) -> Response {
    (StatusCode::OK, Json(Envelope { success: true, data })).into_response()
}

/// 201 with `data` in the success envelope.
pub fn created<T: Serialize>(data: T) -> Response {
    (StatusCode::CREATED, Json(Envelope { success: true, data })).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "agentshare",
        description = "Share what an AI agent did: tasks, their events and artifacts, share links and share codes.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "tasks", description = "Tasks, their events and artifacts (owner API)"),
        (name = "share-links", description = "Share links of finished tasks (owner API, seed 001)"),
        (name = "settings", description = "The owner's sharing policy (owner API)"),
        (name = "viewer", description = "What a share link's holder sees (no account)"),
        (name = "pull-requests", description = "Pull requests of a task's git repository"),
        (name = "webhooks", description = "Signed notifications to owners' endpoints"),
        (name = "share-codes", description = "Task share codes and viewer sessions (seed 003)"),
        (name = "ingestion", description = "Agent runs sent as OpenTelemetry traces (OTLP/HTTP)"),
        (name = "service", description = "Operational endpoints"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from `agentshare keys create`, as `Authorization: Bearer ask_…`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "viewer_session",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A viewer session from `GET /v1/auth/share`, as `Authorization: Bearer vst_…`: \
                         one task, and what its share code allows",
                    ))
                    .build(),
            ),
        );
    }
}

/// A body a route can go without (`request_body = Option<T>`) is one that may be
/// left out, not one that may be JSON `null`: utoipa writes `oneOf: [null, T]`
/// without `required`; this keeps `T`.
pub struct OptionalBodies;

impl Modify for OptionalBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let is_null = |schema: &RefOr<Schema>| matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
        for item in openapi.paths.paths.values_mut() {
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                let Some(body) = operation.request_body.as_mut() else { continue };
                if body.required == Some(Required::True) {
                    continue;
                }
                for content in body.content.values_mut() {
                    if let Some(RefOr::T(Schema::OneOf(one_of))) = &content.schema {
                        if let [a, b] = one_of.items.as_slice() {
                            let kept = if is_null(a) {
                                b
                            } else if is_null(b) {
                                a
                            } else {
                                continue;
                            };
                            content.schema = Some(kept.clone());
                        }
                    }
                }
            }
        }
    }
}

/// Every route of the owner API and the share-code API (the viewer's JSON routes,
/// which share their URLs with pages, are merged by the service's router).
///
/// Every answer is kept from caches (it is one owner's, or one viewer's) and from
/// content sniffing.
pub fn routes() -> OpenApiRouter<AppState> {
    use axum::http::{header, HeaderValue};
    use tower_http::set_header::SetResponseHeaderLayer;
    OpenApiRouter::new()
        .merge(health::routes())
        .merge(tasks::routes())
        .merge(events::routes())
        .merge(artifacts::routes())
        .merge(share_links::routes())
        .merge(link_activity::routes())
        .merge(link_comments::routes())
        .merge(preview::routes())
        .merge(settings::routes())
        .merge(task_shares::routes())
        .merge(pull_requests::routes())
        .merge(webhooks::routes())
        .merge(otlp::routes())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}

/// What no route matches: 404 `NOT_FOUND` in JSON (in seed 003's shape on its
/// paths).
pub async fn route_not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if task_shares::is_code_path(uri.path()) {
        task_shares::CodeError::RouteNotFound.into_response()
    } else {
        ApiError::RouteNotFound.into_response()
    }
}

/// A route that does not take the method: 405 `METHOD_NOT_ALLOWED` in JSON (in
/// seed 003's shape on its paths).
pub async fn method_not_allowed(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if task_shares::is_code_path(uri.path()) {
        task_shares::CodeError::MethodNotAllowed.into_response()
    } else {
        ApiError::MethodNotAllowed.into_response()
    }
}
