//! Pieces that several pages show the same way: a task's events, a pull request's
//! diff. Content written by agents or viewers is rendered as sanitized markdown.

use askama::Template;
use axum::response::sse::Event as SseEvent;

use super::markdown;
use crate::app::pull_requests::Changes;
use crate::domain::secrets;
use crate::storage::EventRecord;

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
    /// Renders `event`; with `mask`, secrets in it are masked first.
    pub fn new(event: EventRecord, mask: bool) -> RenderedEvent {
        let content = if mask { secrets::mask(&event.content).into_owned() } else { event.content };
        RenderedEvent {
            seq: event.seq,
            kind: event.event_type.as_str(),
            author: event.author.as_str(),
            name: event.name,
            time: super::format::time(event.created_at),
            private: event.private,
            html: markdown::render(&content),
        }
    }
}

/// One event as the fragment pages append when it arrives live.
#[derive(Template)]
#[template(path = "partials/event_item.html")]
struct EventItem<'a> {
    event: &'a RenderedEvent,
}

/// A live-stream message carrying `event` as a rendered, sanitized fragment:
/// `id: <seq>`, `event: event`, `data: <html>`. Secrets are masked.
pub fn live_message(event: EventRecord) -> SseEvent {
    let rendered = RenderedEvent::new(event, true);
    let html = EventItem { event: &rendered }.render().unwrap_or_default();
    SseEvent::default().id(rendered.seq.to_string()).event("event").data(html)
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
