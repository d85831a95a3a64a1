//! `/v1/tasks/{task_id}/events`: what a task emits, in order.

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthOwner, ClientIp};
use super::tasks::{owned_task, page_limit};
use super::{created, ok, Envelope};
use crate::domain::task::{self, EventType};
use crate::domain::task_share::Action;
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::state::AppState;
use crate::storage::{EventRecord, NewEvent};
use crate::web::limiter::StreamSlot;

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
            author: e.author,
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
        author: "owner",
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
    ApiPath(task_id): ApiPath<String>,
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
    caller: Caller,
    ApiPath(task_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListEventsQuery>,
) -> Result<Response, ApiError> {
    caller.task(&state, &task_id).await?;
    let after = query.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid("after", "after must be 0 or more"));
    }
    let limit = page_limit(query.limit, 100, 1000)?;
    // Viewers never see private events.
    let page = state.db().list_events(&task_id, after, query.event_type, caller.is_owner(), limit).await?;
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
    /// Markdown text, 1 to 100,000 characters.
    #[schema(min_length = 1, max_length = 100_000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub content: String,
}

/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 100_000;

/// Send a message to the task
///
/// Appends a `message` event, which the agent reads through the events API. The
/// event's `author` says who sent it. Viewers need `canSendMessage`.
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
    )
)]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(task_id): ApiPath<String>,
    ApiJson(body): ApiJson<SendMessageRequest>,
) -> Result<Response, ApiError> {
    Ok(created(EventView::from(post_message(&state, &caller, &task_id, &body.content).await?)))
}

/// Appends a `message` event from `caller` (who needs `canSendMessage` if a viewer).
pub async fn post_message(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    content: &str,
) -> Result<EventRecord, ApiError> {
    caller.task(state, task_id).await?;
    caller.require(Action::SendMessage)?;
    let event = NewEvent {
        event_type: EventType::Message,
        name: None,
        content: bounded("content", content, 1, MAX_MESSAGE_CHARS, true)?,
        private: false,
        author: caller.author(),
    };
    let record =
        state.db().append_event(task_id, &event).await?.ok_or_else(|| ApiError::task_not_found(task_id))?;
    state.events_changed();
    tracing::info!(task_id = %task_id, author = caller.author(), "message sent");
    Ok(record)
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

/// How often a stream looks for news when nothing woke it (other instances'
/// events and revocations reach it this way).
const STREAM_POLL: std::time::Duration = std::time::Duration::from_millis(1000);

/// Turns one of the task's events into a message of a stream.
pub type EventFormat = fn(EventRecord) -> SseEvent;

struct StreamState {
    state: AppState,
    format: EventFormat,
    task_id: String,
    after: i64,
    include_private: bool,
    /// The viewer session to re-check before every batch; `None` for the owner.
    session_id: Option<String>,
    pending: std::collections::VecDeque<EventRecord>,
    done: bool,
    /// This stream's place among its client's open streams; given back as soon as
    /// the stream has nothing more to send, before its last message goes out.
    slot: Option<StreamSlot>,
}

impl StreamState {
    fn finish(&mut self) {
        self.done = true;
        self.slot = None;
    }
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
    caller: Caller,
    ClientIp(client): ClientIp,
    ApiPath(task_id): ApiPath<String>,
    headers: axum::http::HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    caller.task(&state, &task_id).await?;
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
    live_events(state, &caller, client, task_id, after, json_message)
}

/// An event as the API's stream sends it: `id: <seq>`, `event: <type>`, `data: <EventView JSON>`.
fn json_message(event: EventRecord) -> SseEvent {
    SseEvent::default()
        .id(event.seq.to_string())
        .event(event.event_type.as_str())
        .json_data(EventView::from(event))
        .unwrap_or_default()
}

/// A live stream of the task's events after `after` for `caller` (who may see the
/// task), each made a message by `format`; `end` when the task has finished and
/// everything was sent, `revoked` when a viewer's access ends. Counts against the
/// client's open streams.
pub fn live_events(
    state: AppState,
    caller: &Caller,
    client: std::net::IpAddr,
    task_id: String,
    after: i64,
    format: EventFormat,
) -> Result<Response, ApiError> {
    let slot =
        state.streams().acquire(client).ok_or(ApiError::TooManyStreams { limit: state.streams().limit() })?;
    let start = StreamState {
        slot: Some(slot),
        include_private: caller.is_owner(),
        session_id: match caller {
            Caller::Viewer(session) => Some(session.session_id.clone()),
            Caller::Owner(_) => None,
        },
        state,
        format,
        task_id,
        after,
        pending: Default::default(),
        done: false,
    };
    let stream = futures_util::stream::unfold(start, next_stream_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

/// Produces the next message of an event stream, waiting for news when there is none.
async fn next_stream_event(
    mut s: StreamState,
) -> Option<(Result<SseEvent, std::convert::Infallible>, StreamState)> {
    loop {
        if let Some(event) = s.pending.pop_front() {
            s.after = event.seq;
            let message = (s.format)(event);
            return Some((Ok(message), s));
        }
        if s.done {
            return None;
        }
        // Arm the wake-up before looking, so news between the look and the wait is not missed.
        let state = s.state.clone();
        let notified = state.events_notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if state.is_stopping() {
            // No `end`: the task goes on; the client reconnects and resumes.
            return None;
        }
        if let Some(session_id) = &s.session_id {
            if !s.state.db().viewer_session_is_live(session_id).await.unwrap_or(false) {
                s.finish();
                return Some((Ok(SseEvent::default().event("revoked").data("{}")), s));
            }
        }
        let Ok(page) = s.state.db().list_events(&s.task_id, s.after, None, s.include_private, 100).await
        else {
            s.finish();
            continue;
        };
        if !page.events.is_empty() {
            s.pending.extend(page.events);
            continue;
        }
        let finished =
            s.state.db().get_task(&s.task_id).await.ok().flatten().is_none_or(|t| t.status.is_final());
        if finished {
            s.finish();
            return Some((Ok(SseEvent::default().event("end").data("{}")), s));
        }
        let _ = tokio::time::timeout(STREAM_POLL, notified).await;
    }
}
