//! `/v1/tasks/{task_id}/events`: what a task emits, in order.

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{page_limit, ApiJson, ApiPath, ApiQuery, AuthOwner};
use super::{created, ok, Envelope};
use crate::app::events::{self, EventInput, Live};
use crate::app::live::{Form, Sent};
use crate::app::AppState;
use crate::domain::ids::TaskId;
use crate::domain::task::EventType;
use crate::domain::time::Timestamp;
use crate::http::ClientIp;
use crate::storage::{Appended, EventRecord};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(append_event, list_events))
        .routes(routes!(stream_events))
        .routes(routes!(send_message))
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
    /// `owner` (sent with the owner's API key) or `viewer` (sent by someone holding a share code).
    #[schema(example = "owner")]
    pub author: String,
    /// When it happened: when it was appended, or the time it was appended with.
    pub created_at: Timestamp,
    /// The key it was appended with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<EventRecord> for EventView {
    fn from(e: EventRecord) -> EventView {
        EventView {
            seq: e.seq,
            event_type: e.event_type,
            name: e.name,
            content: e.content,
            private: e.private,
            author: e.author.as_str().to_owned(),
            created_at: e.created_at,
            key: e.event_key,
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
    #[schema(min_length = 1, max_length = 1_000_000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub content: String,
    /// Required for `output` events (it heads the output on share pages); up to 200 characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// Keep this event from everyone the task is shared with (default false).
    #[serde(default)]
    pub private: bool,
    /// Up to 200 characters, unique within the task: appending an event with a key
    /// already used appends nothing and answers the stored event with 200 (so a
    /// retried request, or a transcript imported again, adds nothing twice).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub key: Option<String>,
    /// When it happened (ISO 8601; UTC when no zone is given), if not now: for imports
    /// and replays; not in the future.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<String>,
}

/// Query of `GET /v1/tasks/{task_id}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEventsQuery {
    /// Only events with a sequence number above this (default 0: from the start).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// Only events of this type.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<EventType>,
    /// 1–1000, default 100.
    #[param(minimum = 1, maximum = 1000)]
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
        (status = 200, description = "An event with this `key` was appended before: the stored one", body = Envelope<EventView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorEnvelope),
    )
)]
async fn append_event(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(body): ApiJson<AppendEventRequest>,
) -> Result<Response, ApiError> {
    let at = body
        .created_at
        .as_deref()
        .map(|text| {
            Timestamp::parse(text).ok_or(ApiError::invalid("created_at", "not an ISO 8601 timestamp"))
        })
        .transpose()?;
    let input = EventInput {
        event_type: body.event_type,
        content: body.content,
        name: body.name,
        private: body.private,
        key: body.key,
        at,
    };
    Ok(match events::append(&state, &owner, &task_id, input).await? {
        Appended::New(event) => created(EventView::from(event)),
        Appended::Existing(event) => ok(EventView::from(event)),
    })
}

/// List events
///
/// The task's events in sequence order, `limit` at a time, starting after `after`.
/// Poll with the last `next_after` to follow a running task, or use the stream.
/// Works with the owner's API key or a viewer session (which sees no private events).
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/events", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier"), ListEventsQuery),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "Events in order", body = Envelope<EventList>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn list_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> Result<Response, ApiError> {
    let after = query.after.unwrap_or(0);
    let limit = page_limit(query.limit, 100, 1000)?;
    let page = events::list(&state, &caller, &task_id, after, query.event_type, limit).await?;
    Ok(ok(EventList {
        has_more: page.has_more,
        next_after: page.events.last().map_or(after, |e| e.seq),
        events: page.events.into_iter().map(EventView::from).collect(),
    }))
}

/// Body of `POST /v1/tasks/{task_id}/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessageRequest {
    /// Markdown text: 1 to 100,000 characters from the owner, 1 to 4,000 from a
    /// viewer.
    #[schema(min_length = 1, max_length = 100_000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub content: String,
}

/// Send a message to the task
///
/// Appends a `message` event, which the agent reads through the events API. The
/// event's `author` says who sent it. Viewers need `canSendMessage`, and send at
/// most 20 messages per 10 minutes (per client address).
#[utoipa::path(
    post, path = "/v1/tasks/{task_id}/messages", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier")),
    request_body = SendMessageRequest,
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 201, description = "The message event", body = Envelope<EventView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`FORBIDDEN`: the share code does not allow messages", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 429, description = "`TOO_MANY_MESSAGES`: the viewer sent 20 messages in the last 10 minutes", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
async fn send_message(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientIp(client): ClientIp,
    ApiPath(task_id): ApiPath<TaskId>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<Response, ApiError> {
    let event = events::post_message(&state, &caller, client, &task_id, &body.content).await?;
    Ok(created(EventView::from(event)))
}

/// Query of the event stream.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Start after this sequence number (default 0). `Last-Event-ID` takes precedence.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// One message of the event stream, by its Server-Sent Events fields.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct StreamMessage {
    /// The event's `seq` (absent on `end` and `revoked`); send the last one received as
    /// `Last-Event-ID` to resume.
    #[schema(nullable = false, pattern = "^[0-9]+$")]
    id: Option<String>,
    event: StreamMessageKind,
    /// The event as JSON (an `EventView`); `{}` for `end` and `revoked`.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// What a stream message is: one of the task's events (by its type), `end` (the task
/// has finished and every event was sent) or `revoked` (the share code stopped
/// working).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum StreamMessageKind {
    Message,
    Progress,
    Output,
    Log,
    End,
    Revoked,
}

/// Follow events live
///
/// A Server-Sent Events stream of the task's events from `after` on: each as
/// `id: <seq>`, `event: <type>`, `data: <event JSON>`. When the task has finished and
/// every event was sent, an `end` event closes the stream. A viewer's stream closes
/// with a `revoked` event as soon as the share code is revoked, rotated or expires.
///
/// One client address may hold a limited number of streams open at once
/// (`--max-streams-per-client`, 8); more answer 429 `TOO_MANY_STREAMS`.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/events/stream", tag = "tasks",
    params(
        ("task_id" = String, Path, description = "Task identifier"),
        StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, minimum = 0, description = "Resume after this sequence number: the `id` of the last message received"),
    ),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "A stream of the task's events (Server-Sent Events); the schema is that of one message", content_type = "text/event-stream", body = StreamMessage),
        (status = 400, description = "`INVALID_REQUEST`: `after` or `Last-Event-ID` is not a sequence number", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 429, description = "`TOO_MANY_STREAMS`", body = ErrorEnvelope),
    )
)]
async fn stream_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientIp(client): ClientIp,
    ApiPath(task_id): ApiPath<TaskId>,
    headers: axum::http::HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    let last_event_id = match headers.get("last-event-id") {
        None => None,
        Some(value) => {
            Some(value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
                ApiError::invalid("Last-Event-ID", "Last-Event-ID must be the id of a message of this stream")
            })?)
        }
    };
    if query.after.is_some_and(|after| after < 0) {
        return Err(ApiError::invalid("after", "after must be 0 or more"));
    }
    if last_event_id.is_some_and(|id| id < 0) {
        return Err(ApiError::invalid("Last-Event-ID", "Last-Event-ID must be 0 or more"));
    }
    let after = last_event_id.or(query.after).unwrap_or(0);
    let live = events::follow(&state, &caller, client, &task_id, after).await?;
    let messages = live.then(|item| async move {
        Ok::<_, std::convert::Infallible>(match item {
            Live::Event(sent) => json_message(&sent).await,
            Live::End => SseEvent::default().event("end").data("{}"),
            Live::Revoked => SseEvent::default().event("revoked").data("{}"),
        })
    });
    Ok(Sse::new(messages).keep_alive(KeepAlive::default()).into_response())
}

/// An event as the API's stream sends it: `id: <seq>`, `event: <type>`, `data: <EventView JSON>`
/// (the JSON made once per event for all streams of an instance).
async fn json_message(sent: &Sent) -> SseEvent {
    let event = sent.event();
    let data = sent
        .sent_as(Form::Json, |event| async move {
            serde_json::to_string(&EventView::from(event)).unwrap_or_default()
        })
        .await;
    SseEvent::default().id(event.seq.to_string()).event(event.event_type.as_str()).data(&*data)
}
