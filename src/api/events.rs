//! `/v1/tasks/{task_id}/events`: what a task emits, in order.

use axum::extract::{Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiQuery, AuthOwner};
use super::tasks::{owned_task, page_limit};
use super::{created, ok, Envelope};
use crate::domain::task::{self, EventType};
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::state::AppState;
use crate::storage::{EventRecord, NewEvent};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(append_event, list_events))
}

/// An event as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// 1, 2, 3… in the order events were appended to the task.
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The output's name (always set on `output` events).
    pub name: Option<String>,
    /// Markdown text.
    pub content: String,
    /// Private events are never shown to anyone the task is shared with.
    pub private: bool,
    pub created_at: Timestamp,
}

impl From<EventRecord> for EventView {
    fn from(e: EventRecord) -> EventView {
        EventView {
            seq: e.seq,
            event_type: e.event_type,
            name: e.name,
            content: e.content,
            private: e.private,
            created_at: Timestamp(e.created_at),
        }
    }
}

/// Body of `POST /v1/tasks/{task_id}/events`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppendEventRequest {
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Markdown text, 1 to 1,000,000 characters.
    pub content: String,
    /// Required for `output` events (it heads the output on share pages); up to 200 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Keep this event from everyone the task is shared with (default false).
    #[serde(default)]
    pub private: bool,
}

/// Query of `GET /v1/tasks/{task_id}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events with a sequence number above this (default 0: from the start).
    pub after: Option<i64>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<EventType>,
    /// 1–1000, default 100.
    pub limit: Option<u32>,
}

/// Events in sequence order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    pub events: Vec<EventView>,
    /// True when more events follow; ask again with `after` = `next_after`.
    pub has_more: bool,
    /// Sequence number of the last event returned (or the `after` asked for).
    pub next_after: i64,
}

/// Checks an event body; shared by every route that appends events.
pub fn validate_event(body: AppendEventRequest) -> Result<NewEvent, ApiError> {
    let name =
        body.name.as_deref().map(|n| bounded("name", n, 1, task::MAX_LABEL_CHARS, false)).transpose()?;
    if body.event_type == EventType::Output && name.is_none() {
        return Err(ApiError::invalid("name", "name is required for output events"));
    }
    Ok(NewEvent {
        event_type: body.event_type,
        name,
        content: bounded("content", &body.content, 1, task::MAX_EVENT_CHARS, true)?,
        private: body.private,
    })
}

/// Append an event
///
/// Adds a `message`, `progress`, `output` or `log` event to the task and returns it
/// with its sequence number. `output` events (a `name` and markdown `content`) are
/// what share links show.
#[utoipa::path(
    post, path = "/v1/tasks/{task_id}/events", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier")),
    request_body = AppendEventRequest,
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The stored event", body = Envelope<EventView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorEnvelope),
    )
)]
async fn append_event(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    Path(task_id): Path<String>,
    ApiJson(body): ApiJson<AppendEventRequest>,
) -> Result<Response, ApiError> {
    owned_task(&state, &owner.owner_id, &task_id).await?;
    let event = validate_event(body)?;
    let record =
        state.db().append_event(&task_id, &event).await?.ok_or_else(|| ApiError::task_not_found(&task_id))?;
    Ok(created(EventView::from(record)))
}

/// List events
///
/// The task's events in sequence order, `limit` at a time, starting after `after`.
/// Poll with the last `next_after` to follow a running task.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/events", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier"), ListEventsQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Events in order", body = Envelope<EventList>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn list_events(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    Path(task_id): Path<String>,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> Result<Response, ApiError> {
    owned_task(&state, &owner.owner_id, &task_id).await?;
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "after must be 0 or more"));
    }
    let limit = page_limit(query.limit, 100, 1000)?;
    let page = state.db().list_events(&task_id, after, query.event_type, true, limit).await?;
    Ok(ok(EventList {
        has_more: page.has_more,
        next_after: page.events.last().map_or(after, |e| e.seq),
        events: page.events.into_iter().map(EventView::from).collect(),
    }))
}
