//! Pieces that several pages show the same way: a task's events, a pull request's
//! diff. Content written by agents or viewers is rendered as sanitized markdown.

use askama::Template;

use super::markdown;
use crate::app::access::Caller;
use crate::app::pull_requests::Changes;
use crate::app::{events, AppState};
use crate::domain::secrets;
use crate::storage::{EventRecord, TaskRecord};

/// Events a task page shows at most at once; earlier ones are a click away.
pub const EVENTS_PER_PAGE: i64 = 100;
/// Markdown a task page shows at most at once, in bytes (at least one event,
/// however long, is always shown).
pub const PAGE_MARKDOWN_BYTES: usize = 1024 * 1024;

/// One event of a task, ready for a page.
pub struct RenderedEvent {
    pub seq: i64,
    /// `message`, `progress`, `output` or `log`.
    pub kind: &'static str,
    /// `owner` or `viewer`.
    pub author: &'static str,
    pub name: Option<String>,
    pub time: String,
    pub private: bool,
    /// Sanitized HTML of the event's markdown.
    pub html: String,
}

impl RenderedEvent {
    /// Renders `event` (remembering the HTML of what was rendered lately); with
    /// `mask`, secrets in it are masked first.
    pub fn new(event: EventRecord, mask: bool) -> RenderedEvent {
        let content = if mask { secrets::mask(&event.content).into_owned() } else { event.content };
        RenderedEvent {
            seq: event.seq,
            kind: event.event_type.as_str(),
            author: event.author.as_str(),
            name: event.name,
            time: super::format::time(event.created_at),
            private: event.private,
            html: markdown::render_cached(&content),
        }
    }
}

/// One page of a task's events, newest last, rendered.
pub struct Timeline {
    pub events: Vec<RenderedEvent>,
    /// Where the page of earlier events begins (`?before=`), when there are some.
    pub earlier: Option<i64>,
    /// Whether this is the latest page (where live updates follow).
    pub latest: bool,
    /// The sequence number of the last event this page covers.
    pub last_seq: i64,
}

/// The page of `task`'s events that ends before `before` (the latest page without
/// it), as `caller` may see them: at most [`EVENTS_PER_PAGE`] events and about
/// [`PAGE_MARKDOWN_BYTES`] of markdown. With `mask`, secrets are masked. The
/// markdown is rendered on a blocking thread in its turn, never on the threads
/// that serve requests.
pub async fn timeline(
    state: &AppState,
    caller: &Caller,
    task: &TaskRecord,
    before: Option<i64>,
    mask: bool,
) -> Result<Timeline, crate::app::Error> {
    let newest = task.last_event_seq;
    let end = before.map_or(newest + 1, |before| before.clamp(1, newest + 1));
    let after = (end - 1 - EVENTS_PER_PAGE).max(0);
    let page = events::list(state, caller, &task.task_id, after, None, EVENTS_PER_PAGE as u32).await?;
    let mut shown: Vec<EventRecord> = page.events.into_iter().filter(|e| e.seq < end).collect();
    // Newest first within the budget; the first event that would go over it, and
    // everything before, is on earlier pages.
    let mut budget = PAGE_MARKDOWN_BYTES;
    let mut keep = 0;
    for event in shown.iter().rev() {
        if keep > 0 && event.content.len() > budget {
            break;
        }
        budget = budget.saturating_sub(event.content.len());
        keep += 1;
    }
    let cut = shown.len() - keep;
    shown.drain(..cut);
    // A page of nothing the caller may see still leads further back.
    let first = shown.first().map_or(after + 1, |e| e.seq);
    let events = state
        .limits()
        .rendering
        .run(move || shown.into_iter().map(|e| RenderedEvent::new(e, mask)).collect::<Vec<_>>())
        .await
        .ok_or_else(|| crate::app::Error::internal(anyhow::anyhow!("rendering events panicked")))?;
    Ok(Timeline { events, earlier: (first > 1).then_some(first), latest: end > newest, last_seq: end - 1 })
}

/// One event as the fragment pages append when it arrives live.
#[derive(Template)]
#[template(path = "partials/event_item.html")]
struct EventItem<'a> {
    event: &'a RenderedEvent,
}

/// `event` as the live page's stream carries it (`event: event`, `data: <html>`):
/// a rendered, sanitized fragment, secrets masked.
pub fn live_html(event: EventRecord) -> String {
    let rendered = RenderedEvent::new(event, true);
    EventItem { event: &rendered }.render().unwrap_or_default()
}

/// A file of a task, as the pages list it with its Download button.
pub struct FileLine {
    pub name: String,
    pub url: String,
    /// For people: `1.5 KB`.
    pub size: String,
    pub content_type: String,
}

impl FileLine {
    /// The line of `artifact`, downloaded from `url`.
    pub fn new(artifact: crate::storage::ArtifactRecord, url: String) -> FileLine {
        FileLine {
            size: super::format::size(artifact.size_bytes),
            name: artifact.name,
            content_type: artifact.content_type,
            url,
        }
    }

    /// The lines of a task's `artifacts`, each downloaded from
    /// `{base}/artifacts/{artifact_id}`.
    pub fn of_task(artifacts: Vec<crate::storage::ArtifactRecord>, base: &str) -> Vec<FileLine> {
        artifacts
            .into_iter()
            .map(|a| {
                let url = format!("{base}/artifacts/{}", a.artifact_id);
                FileLine::new(a, url)
            })
            .collect()
    }
}

/// A line of a unified diff, with how to show it.
pub struct DiffLine {
    /// `add`, `del`, `hunk`, `file` or `context`.
    pub kind: &'static str,
    pub text: String,
}

/// The lines of `diff`'s patch, classified for colouring.
pub fn diff_lines(diff: &Changes) -> Vec<DiffLine> {
    diff.patch
        .lines()
        .map(|line| {
            let kind = if line.starts_with("+++") || line.starts_with("---") || line.starts_with("diff --git")
            {
                "file"
            } else if line.starts_with("@@") {
                "hunk"
            } else if line.starts_with('+') {
                "add"
            } else if line.starts_with('-') {
                "del"
            } else {
                "context"
            };
            DiffLine { kind, text: line.to_owned() }
        })
        .collect()
}
