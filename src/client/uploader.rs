//! The background uploader of a wrapped command's output: every second (or as soon
//! as a batch is full) it sends the lines waiting as `log` events, one per stream,
//! each with a key of its own (`run/<run id>/<n>`), so that a batch resent after a
//! timeout or an outage is stored once. While the server can't be reached it keeps
//! retrying, the queue holding what comes meanwhile.

use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use reqwest::Method;
use serde_json::json;

use super::connection::{with_retries, Body, Connection, Error, Patience};
use super::lines::{Batch, Queue, Stream};
use super::text;

/// Most bytes of lines in one event.
pub const BATCH_BYTES: usize = 256 * 1024;
/// How often waiting lines are sent.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How long one event may take to send.
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);

/// What became of the output.
#[derive(Debug, Default)]
pub struct Report {
    /// Lines stored by the server.
    pub sent: u64,
    /// Lines that never reached it (dropped from a full queue, refused, or left
    /// when time ran out).
    pub lost: u64,
}

pub struct Uploader {
    connection: Connection,
    task_id: String,
    run_id: String,
    queue: Arc<Queue>,
    patience: Arc<Patience>,
    next: u64,
    report: Report,
    /// Set when the server can't take any more (time ran out, the key was refused):
    /// the rest is counted, not sent.
    stopped: bool,
    /// Whether the user was told the server can't be reached (and not yet that it
    /// can again).
    said_unreachable: bool,
}

impl Uploader {
    pub fn new(
        connection: Connection,
        task_id: String,
        run_id: String,
        queue: Arc<Queue>,
        patience: Arc<Patience>,
    ) -> Uploader {
        Uploader {
            connection,
            task_id,
            run_id,
            queue,
            patience,
            next: 1,
            report: Report::default(),
            stopped: false,
            said_unreachable: false,
        }
    }

    /// Sends lines until the queue is closed and empty.
    pub async fn run(mut self) -> Report {
        let mut ticks = tokio::time::interval(FLUSH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                () = self.queue.ready() => {}
            }
            loop {
                let batch = self.queue.take(BATCH_BYTES);
                if batch.is_empty() {
                    break;
                }
                self.send(batch).await;
                // A partial batch waits for the next tick, unless the output ended.
                if self.queue.waiting() < BATCH_BYTES && !self.queue.is_closed() {
                    break;
                }
            }
            if self.queue.is_finished() {
                break;
            }
        }
        self.report
    }

    async fn send(&mut self, batch: Batch) {
        let total = batch.lines.len() as u64;
        self.report.lost += batch.dropped;
        if self.stopped {
            self.report.lost += total;
            return;
        }
        for (stream, count, body) in self.events(batch) {
            if self.stopped {
                self.report.lost += count;
                continue;
            }
            match self.post(body).await {
                Ok(()) => self.report.sent += count,
                Err(err) => {
                    self.report.lost += count;
                    if matches!(err, Error::KeyRefused { .. }) || err.is_transient() {
                        // Nothing more will get through: say so once, count the rest.
                        self.stopped = true;
                        eprintln!("agentshare: warning: stopped sending the output: {err}");
                    } else {
                        eprintln!(
                            "agentshare: warning: {count} lines of {} were refused: {err}",
                            stream.name()
                        );
                    }
                }
            }
        }
    }

    /// The batch as events: one per stream, in the order the streams first appear,
    /// the first saying how many lines were dropped before it.
    fn events(&mut self, batch: Batch) -> Vec<(Stream, u64, serde_json::Value)> {
        let mut streams: Vec<(Stream, Vec<&str>, chrono::DateTime<chrono::Utc>)> = Vec::new();
        for line in &batch.lines {
            match streams.iter_mut().find(|(s, _, _)| *s == line.stream) {
                Some((_, lines, _)) => lines.push(&line.text),
                None => streams.push((line.stream, vec![&line.text], line.at)),
            }
        }
        let mut note = (batch.dropped > 0).then(|| {
            format!(
                "*agentshare: {} earlier lines were dropped: the server could not take them in time.*\n\n",
                batch.dropped
            )
        });
        // (A batch always has lines: the newest line is never dropped.)
        let mut events = Vec::new();
        for (stream, lines, at) in streams {
            let count = lines.len() as u64;
            let block = text::fenced(&lines.join("\n"), "text");
            let content = match note.take() {
                Some(note) => note + &block,
                None => block,
            };
            let key = self.next_key();
            events.push((stream, count, self.body(stream, content, &key, at)));
        }
        events
    }

    fn next_key(&mut self) -> String {
        let key = format!("run/{}/{}", self.run_id, self.next);
        self.next += 1;
        key
    }

    fn body(
        &self,
        stream: Stream,
        content: String,
        key: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> serde_json::Value {
        json!({
            "type": "log",
            "name": stream.name(),
            "content": content,
            "key": key,
            "created_at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        })
    }

    async fn post(&mut self, body: serde_json::Value) -> Result<(), Error> {
        let path = format!("/v1/tasks/{}/events", self.task_id);
        let connection = self.connection.clone();
        let mut said = self.said_unreachable;
        let sent = with_retries(
            &self.patience,
            || connection.send(Method::POST, &path, Body::Json(body.clone()), EVENT_TIMEOUT),
            |err| {
                if !said {
                    eprintln!("agentshare: warning: {err}; keeping the output and retrying");
                    said = true;
                }
            },
        )
        .await;
        if said && sent.is_ok() {
            eprintln!("agentshare: reached {} again; sending the output kept meanwhile", connection.base());
            said = false;
        }
        self.said_unreachable = said;
        sent.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::lines::Line;

    #[test]
    fn a_batch_is_one_keyed_event_per_stream_and_says_what_was_dropped() {
        let connection = Connection::new("http://127.0.0.1:9", "ask_test").unwrap();
        let queue = Queue::new(1024, 1024);
        let patience = Arc::new(Patience::unbounded());
        let mut uploader = Uploader::new(connection, "task_1".into(), "run-id".into(), queue, patience);
        let line = |stream, text: &str| Line { stream, text: text.into(), at: chrono::Utc::now() };
        let batch = Batch {
            lines: vec![line(Stream::Stderr, "e1"), line(Stream::Stdout, "o1"), line(Stream::Stderr, "e2")],
            dropped: 3,
        };
        let events = uploader.events(batch);
        let summary: Vec<(&str, u64, &str, &str)> = events
            .iter()
            .map(|(stream, count, body)| {
                (stream.name(), *count, body["key"].as_str().unwrap(), body["content"].as_str().unwrap())
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "stderr",
                    2,
                    "run/run-id/1",
                    "*agentshare: 3 earlier lines were dropped: the server could not take them in time.*\n\n\
                     ```text\ne1\ne2\n```"
                ),
                ("stdout", 1, "run/run-id/2", "```text\no1\n```"),
            ]
        );
        assert_eq!(events[0].2["name"], "stderr");
        assert_eq!(events[0].2["type"], "log");
        let next = uploader.events(Batch { lines: vec![line(Stream::Stdout, "o2")], dropped: 0 });
        assert_eq!(next[0].2["key"], "run/run-id/3", "keys never repeat within a run");
    }
}
