//! `/v1/webhooks`: owners register endpoints that are told when things happen to
//! their shares, signed the Standard Webhooks way and delivered at least once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{page_limit, present, ApiJson, ApiPath, ApiQuery, AuthOwner};
use super::{created, ok, schemas, Envelope};
use crate::app::webhooks::{self, Endpoint, EndpointChanges, EndpointInput};
use crate::app::AppState;
use crate::domain::ids::WebhookId;
use crate::domain::time::Timestamp;
use crate::storage::{AttemptRecord, WebhookRecord};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(get_webhook, update_webhook, delete_webhook))
        .routes(routes!(send_test_event))
        .routes(routes!(list_deliveries))
}

/// An endpoint as the owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(example = "wh_0123456789abcdef")]
    pub webhook_id: String,
    pub url: String,
    pub description: Option<String>,
    /// The event types sent to this endpoint.
    pub events: Vec<String>,
    /// `active`, `failing` (deliveries keep failing; still retried) or `disabled`.
    pub status: String,
    /// Failed attempts in a row.
    pub consecutive_failures: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The signing secret (`whsec_…`): only in the answer that creates the endpoint
    /// or rotates its secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl WebhookView {
    fn new(record: WebhookRecord, secret: Option<String>) -> WebhookView {
        WebhookView {
            webhook_id: record.webhook_id.into_string(),
            url: record.url,
            description: record.description,
            events: record.event_types.split(',').map(str::to_owned).collect(),
            status: record.status.as_str().to_owned(),
            consecutive_failures: record.consecutive_failures,
            created_at: record.created_at,
            updated_at: record.updated_at,
            secret,
        }
    }
}

impl From<Endpoint> for WebhookView {
    fn from(endpoint: Endpoint) -> WebhookView {
        WebhookView::new(endpoint.record, endpoint.secret)
    }
}

/// Body of `POST /v1/webhooks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to send events: an absolute http(s) URL.
    #[schema(schema_with = schemas::required_endpoint_url)]
    pub url: String,
    /// Any of `share_link.viewed`, `share_link.created`, `share_link.revoked`,
    /// `share_link.expired`, `comment.created`, `task_share.accessed`.
    #[schema(schema_with = schemas::required_webhook_events)]
    pub events: Vec<String>,
    /// Up to 500 characters.
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<String>,
}

/// Body of `PATCH /v1/webhooks/{webhook_id}`; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[schema(schema_with = schemas::optional_endpoint_url)]
    pub url: Option<String>,
    #[schema(schema_with = schemas::optional_webhook_events)]
    pub events: Option<Vec<String>>,
    /// Up to 500 characters; null removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 500, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub description: Option<Option<String>>,
    /// `active` (also clears `failing`) or `disabled`.
    #[schema(schema_with = schemas::optional_webhook_status)]
    pub status: Option<String>,
    /// Issue a new signing secret (returned once); the old one stops at once.
    #[serde(default)]
    pub rotate_secret: bool,
}

/// The owner's endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt_id: String,
    /// The event's `webhook-id`.
    pub event_id: String,
    pub event_type: String,
    pub attempted_at: Timestamp,
    /// The endpoint's HTTP status; null when no answer came.
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// The delivery's status now: `pending` (will be retried), `delivered` or `failed`.
    pub delivery_status: String,
    /// Attempts made for this delivery so far.
    pub attempts: i64,
}

impl From<AttemptRecord> for AttemptView {
    fn from(a: AttemptRecord) -> AttemptView {
        AttemptView {
            attempt_id: a.attempt_id,
            event_id: a.event_id.into_string(),
            event_type: a.event_type,
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
            delivery_status: a.delivery_status.as_str().to_owned(),
            attempts: a.attempts,
        }
    }
}

/// Newest attempts first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptList {
    pub deliveries: Vec<AttemptView>,
}

/// Query of `GET /v1/webhooks/{webhook_id}/deliveries`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The test event's `webhook-id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventQueued {
    pub event_id: String,
}

/// Register a webhook endpoint
///
/// The answer carries the endpoint's signing secret, once. Requests to the endpoint
/// carry `webhook-id`, `webhook-timestamp` and `webhook-signature` (Standard
/// Webhooks, HMAC-SHA256).
#[utoipa::path(
    post, path = "/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhookRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The endpoint, with its secret", body = Envelope<WebhookView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn create_webhook(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<Response, ApiError> {
    let input = EndpointInput { url: body.url, events: body.events, description: body.description };
    Ok(created(WebhookView::from(webhooks::create(&state, &owner, input).await?)))
}

/// List webhook endpoints
#[utoipa::path(
    get, path = "/v1/webhooks", tag = "webhooks",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The owner's endpoints", body = Envelope<WebhookList>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
    )
)]
async fn list_webhooks(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
) -> Result<Response, ApiError> {
    let records = webhooks::list(&state, &owner).await?;
    Ok(ok(WebhookList { webhooks: records.into_iter().map(|r| WebhookView::new(r, None)).collect() }))
}

/// Get a webhook endpoint
#[utoipa::path(
    get, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Endpoint identifier")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The endpoint", body = Envelope<WebhookView>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn get_webhook(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(webhook_id): ApiPath<WebhookId>,
) -> Result<Response, ApiError> {
    Ok(ok(WebhookView::new(webhooks::get(&state, &owner, &webhook_id).await?, None)))
}

/// Update a webhook endpoint
///
/// Change the URL, events, description or status, or rotate the signing secret
/// (the new one is in the answer, once).
#[utoipa::path(
    patch, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Endpoint identifier")),
    request_body = Option<UpdateWebhookRequest>,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The endpoint", body = Envelope<WebhookView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn update_webhook(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(webhook_id): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> Result<Response, ApiError> {
    let changes = EndpointChanges {
        url: body.url,
        events: body.events,
        description: body.description,
        status: body.status,
        rotate_secret: body.rotate_secret,
    };
    Ok(ok(WebhookView::from(webhooks::update(&state, &owner, &webhook_id, changes).await?)))
}

/// Delete a webhook endpoint
///
/// Its pending deliveries are dropped.
#[utoipa::path(
    delete, path = "/v1/webhooks/{webhook_id}", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Endpoint identifier")),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn delete_webhook(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(webhook_id): ApiPath<WebhookId>,
) -> Result<Response, ApiError> {
    webhooks::delete(&state, &owner, &webhook_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Send a test event
///
/// Queues a `webhook.test` event for this endpoint alone; follow it in the
/// deliveries.
#[utoipa::path(
    post, path = "/v1/webhooks/{webhook_id}/test", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Endpoint identifier")),
    security(("api_key" = [])),
    responses(
        (status = 202, description = "Queued", body = Envelope<TestEventQueued>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn send_test_event(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(webhook_id): ApiPath<WebhookId>,
) -> Result<Response, ApiError> {
    let event_id = webhooks::send_test(&state, &owner, &webhook_id).await?;
    let body = Envelope { success: true, data: TestEventQueued { event_id: event_id.into_string() } };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// List delivery attempts
///
/// Every attempt to deliver to this endpoint, newest first: when, the status code,
/// how long it took, and the error if it failed.
#[utoipa::path(
    get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "webhooks",
    params(("webhook_id" = String, Path, description = "Endpoint identifier"), DeliveriesQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Attempts, newest first", body = Envelope<AttemptList>),
        (status = 400, description = "`INVALID_REQUEST`: `limit` out of range", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn list_deliveries(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(webhook_id): ApiPath<WebhookId>,
    ApiQuery(query): ApiQuery<DeliveriesQuery>,
) -> Result<Response, ApiError> {
    let limit = page_limit(query.limit, 50, 200)?;
    let attempts = webhooks::deliveries(&state, &owner, &webhook_id, limit).await?;
    Ok(ok(AttemptList { deliveries: attempts.into_iter().map(AttemptView::from).collect() }))
}
