//! What a task emits, in order: progress, messages, logs and outputs, appended by
//! its owner (or, for messages, a viewer whose code allows it), read page by page or
//! followed live.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;

use super::access::{owned_task, Caller};
use super::error::{Error, Result};
use super::live::{self, Sent, Shown, Subscription};
use super::AppState;
use crate::domain::ids::{TaskId, ViewerSessionId};
use crate::domain::secrets;
use crate::domain::task::{self, Author, EventType};
use crate::domain::task_share::Action;
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::limits::StreamSlot;
use crate::storage::{Appended, EventPage, EventRecord, NewEvent, Owner};

/// Longest message of an owner, in characters.
pub const MAX_MESSAGE_CHARS: usize = 100_000;
/// Longest message of a viewer, in characters: a chat message, not a document.
pub const MAX_VIEWER_MESSAGE_CHARS: usize = 4_000;
/// Messages one viewer client (an IPv4 address or IPv6 /64) may send per
/// [`VIEWER_MESSAGE_WINDOW`], to all tasks together.
pub const VIEWER_MESSAGES: u32 = 20;
pub const VIEWER_MESSAGE_WINDOW: Duration = Duration::from_secs(10 * 60);
/// An event to append.
#[derive(Debug, Clone)]
pub struct EventInput {
    pub event_type: EventType,
    /// Markdown text, 1 to 1,000,000 characters.
    pub content: String,
    /// Required for `output` events (it heads the output on share pages).
    pub name: Option<String>,
    /// Keep this event from everyone the task is shared with.
    pub private: bool,
    /// Unique within the task: appending an event with a key already used appends
    /// nothing and answers the stored event (a retried request, a re-import).
    pub key: Option<String>,
    /// When it happened, if not now (up to a minute ahead of the server's clock).
    pub at: Option<Timestamp>,
}

impl EventInput {
    /// A shared event happening now, without a key.
    pub fn new(event_type: EventType, name: Option<String>, content: String) -> EventInput {
        EventInput { event_type, content, name, private: false, key: None, at: None }
    }
}

/// Checks an event to append, written by `author`.
pub fn checked_event(input: EventInput, author: Author) -> Result<NewEvent> {
    let name =
        input.name.as_deref().map(|n| bounded("name", n, 1, task::MAX_LABEL_CHARS, false)).transpose()?;
    if input.event_type == EventType::Output && name.is_none() {
        return Err(Error::invalid("name", "name is required for output events"));
    }
    if input.at.is_some_and(|at| at.millis() > Timestamp::now().millis() + 60_000) {
        return Err(Error::invalid("created_at", "created_at must not be in the future"));
    }
    Ok(NewEvent {
        event_type: input.event_type,
        name,
        content: bounded("content", &input.content, 1, task::MAX_EVENT_CHARS, true)?,
        private: input.private,
        author,
        key: input
            .key
            .as_deref()
            .map(|k| bounded("key", k, 1, task::MAX_EXTERNAL_ID_CHARS, false))
            .transpose()?,
        at: input.at,
    })
}

/// Appends an event to `owner`'s task; it gets the task's next sequence number
/// (unless its key was used before: see [`Appended`]).
pub async fn append(
    state: &AppState,
    owner: &Owner,
    task_id: &TaskId,
    input: EventInput,
) -> Result<Appended> {
    owned_task(state, owner, task_id).await?;
    let event = checked_event(input, Author::Owner)?;
    let appended =
        state.db().append_event(task_id, &event).await?.ok_or_else(|| Error::task_not_found(task_id))?;
    if matches!(appended, Appended::New(_)) {
        state.live().changed(Some(task_id)).await;
    }
    Ok(appended)
}

/// An event as `caller` is shown it: viewers see secrets masked (API keys, tokens,
/// private keys, passwords in URLs), on every route; owners see what was written.
pub(super) fn shown_to(caller_is_owner: bool, mut event: EventRecord) -> EventRecord {
    if !caller_is_owner {
        if let std::borrow::Cow::Owned(masked) = secrets::mask(&event.content) {
            event.content = masked;
        }
    }
    event
}

/// Up to `limit` events of the task after sequence number `after`, for a caller
/// who may see it (viewers never see private events, and see secrets masked).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    task_id: &TaskId,
    after: i64,
    event_type: Option<EventType>,
    limit: u32,
) -> Result<EventPage> {
    caller.task(state, task_id).await?;
    if after < 0 {
        return Err(Error::invalid("after", "after must be 0 or more"));
    }
    let owner = caller.is_owner();
    let mut page = state.db().list_events(task_id, after, event_type, owner, limit).await?;
    page.events = page.events.into_iter().map(|e| shown_to(owner, e)).collect();
    Ok(page)
}

/// Appends a `message` event from `caller` (who needs `canSendMessage` if a viewer)
/// at `client`. A viewer's message is at most [`MAX_VIEWER_MESSAGE_CHARS`] long,
/// and a viewer client sends at most [`VIEWER_MESSAGES`] per
/// [`VIEWER_MESSAGE_WINDOW`] ([`Error::TooManyMessages`]).
pub async fn post_message(
    state: &AppState,
    caller: &Caller,
    client: IpAddr,
    task_id: &TaskId,
    content: &str,
) -> Result<EventRecord> {
    caller.task(state, task_id).await?;
    caller.require(Action::SendMessage)?;
    let longest = if caller.is_owner() { MAX_MESSAGE_CHARS } else { MAX_VIEWER_MESSAGE_CHARS };
    let event = NewEvent {
        event_type: EventType::Message,
        name: None,
        content: bounded("content", content, 1, longest, true)?,
        private: false,
        author: caller.author(),
        key: None,
        at: None,
    };
    if !caller.is_owner() {
        if let Err(wait) = state.limits().messages.take(client) {
            return Err(Error::TooManyMessages { retry_after_secs: wait.as_secs().max(1) });
        }
    }
    let record =
        state.db().append_event(task_id, &event).await?.ok_or_else(|| Error::task_not_found(task_id))?;
    state.live().changed(Some(task_id)).await;
    tracing::info!(task_id = %task_id, author = caller.author().as_str(), "message sent");
    Ok(shown_to(caller.is_owner(), record.record()))
}

/// One item of a live stream of a task's events.
#[derive(Debug)]
pub enum Live {
    /// The next event.
    Event(Sent),
    /// The task has finished and every event was sent; nothing follows.
    End,
    /// The viewer's access ended (the code was revoked, rotated or expired);
    /// nothing follows.
    Revoked,
}

/// The task's events after `after`, live, for `caller` (who may see the task):
/// each event as it is appended, then [`Live::End`] once the task has finished and
/// everything was sent, or [`Live::Revoked`] as soon as a viewer's access ends.
/// When the service begins to stop, the stream just ends (its client resumes).
/// Counts against `client`'s open streams while it lives.
///
/// Streams of one task on this instance share its feed ([`super::live`]): the
/// database is read once per change, not once per stream.
pub async fn follow(
    state: &AppState,
    caller: &Caller,
    client: IpAddr,
    task_id: &TaskId,
    after: i64,
) -> Result<impl Stream<Item = Live> + Send + 'static> {
    caller.task(state, task_id).await?;
    let streams = &state.limits().streams;
    let slot = streams.acquire(client).ok_or(Error::TooManyStreams { limit: streams.limit() })?;
    let start = Following {
        state: state.clone(),
        feed: state.live().subscribe(task_id),
        after,
        owner: caller.is_owner(),
        session_id: match caller {
            Caller::Viewer(session) => Some(session.session_id.clone()),
            Caller::Owner(_) => None,
        },
        pending: VecDeque::new(),
        done: false,
        slot: Some(slot),
    };
    Ok(futures_util::stream::unfold(start, Following::next))
}

/// Where a live stream is.
struct Following {
    state: AppState,
    feed: Subscription,
    after: i64,
    /// The owner's stream: private events included, nothing masked.
    owner: bool,
    /// The viewer session that must stay live; `None` for the owner.
    session_id: Option<ViewerSessionId>,
    pending: VecDeque<Arc<Shown>>,
    done: bool,
    /// This stream's place among its client's open streams; given back as soon as
    /// the stream has nothing more to send, before its last item goes out.
    slot: Option<StreamSlot>,
}

impl Following {
    fn finish(&mut self) {
        self.done = true;
        self.slot = None;
    }

    /// The next item, waiting for news when there is none.
    async fn next(mut self) -> Option<(Live, Following)> {
        loop {
            if let Some(shown) = self.pending.pop_front() {
                self.after = shown.seq();
                match Sent::of(shown, self.owner) {
                    Some(sent) => return Some((Live::Event(sent), self)),
                    None => continue,
                }
            }
            if self.done {
                return None;
            }
            // Arm the wake-up before looking, so a stop between the look and the wait is not missed.
            let state = self.state.clone();
            let signals = state.signals();
            let stopping = signals.stopping();
            tokio::pin!(stopping);
            stopping.as_mut().enable();
            if signals.is_stopping() {
                // No end: the task goes on; the client reconnects and resumes.
                return None;
            }
            let news = self.feed.news.borrow_and_update().clone();
            if !news.looked {
                tokio::select! {
                    changed = self.feed.news.changed() => if changed.is_err() { return None },
                    () = stopping => {}
                }
                continue;
            }
            if news.failed {
                // The client reconnects and resumes where it was.
                self.finish();
                continue;
            }
            if let Some(session_id) = &self.session_id {
                if news.gone || self.feed.revoked(&news, session_id) {
                    self.finish();
                    return Some((Live::Revoked, self));
                }
            }
            if news.gone {
                self.finish();
                return Some((Live::End, self));
            }
            if self.after < news.last_seq {
                match self.feed.feed.since(self.after, news.last_seq) {
                    Some(events) => self.pending.extend(events),
                    // Behind the feed's memory: what was missed, from the database.
                    None => match state
                        .db()
                        .list_events(self.feed.feed.task_id(), self.after, None, true, live::PAGE)
                        .await
                    {
                        Ok(page) => {
                            self.pending.extend(page.events.into_iter().map(|e| Arc::new(Shown::of(e))))
                        }
                        Err(_) => self.finish(),
                    },
                }
                continue;
            }
            if news.finished {
                self.finish();
                return Some((Live::End, self));
            }
            tokio::select! {
                changed = self.feed.news.changed() => if changed.is_err() { return None },
                () = stopping => {}
            }
        }
    }
}
