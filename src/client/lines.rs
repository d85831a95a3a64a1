//! A wrapped command's output on its way to the server: its bytes split into lines,
//! a bounded queue that never makes the command wait (when it is full the oldest
//! lines go, and the next event says how many), and the tail of its standard output.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::Notify;

use super::text;

/// Longest line kept whole, in bytes; a longer one is split.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Output held while the server can't take it, in bytes.
pub const QUEUE_BYTES: usize = 8 * 1024 * 1024;
/// Lines of standard output kept for the final output, and their most bytes.
pub const TAIL_LINES: usize = 100;
pub const TAIL_BYTES: usize = 64 * 1024;

/// Which of the command's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The name of its `log` events.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One line of output, cleaned of colours and control characters.
#[derive(Debug, Clone)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
    pub at: DateTime<Utc>,
}

impl Line {
    fn cost(&self) -> usize {
        self.text.len() + 1
    }
}

#[derive(Default)]
struct Held {
    lines: VecDeque<Line>,
    bytes: usize,
    dropped: u64,
    closed: bool,
}

/// Lines taken from the queue, and how many were dropped before them.
#[derive(Debug, Default)]
pub struct Batch {
    pub lines: Vec<Line>,
    pub dropped: u64,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.dropped == 0
    }
}

/// Lines between the command and the uploader. Pushing never waits.
pub struct Queue {
    held: Mutex<Held>,
    /// Wakes the uploader when a batch is full or the output has ended.
    ready: Notify,
    capacity: usize,
    wake_at: usize,
}

impl Queue {
    /// A queue holding at most `capacity` bytes, waking its reader once `wake_at`
    /// bytes wait.
    pub fn new(capacity: usize, wake_at: usize) -> Arc<Queue> {
        Arc::new(Queue { held: Mutex::default(), ready: Notify::new(), capacity, wake_at })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a line; when the queue is full, the oldest lines make room.
    pub fn push(&self, line: Line) {
        let mut held = self.held();
        held.bytes += line.cost();
        held.lines.push_back(line);
        while held.bytes > self.capacity {
            let Some(old) = held.lines.pop_front() else { break };
            held.bytes -= old.cost();
            held.dropped += 1;
        }
        let wake = held.bytes >= self.wake_at;
        drop(held);
        if wake {
            self.ready.notify_one();
        }
    }

    /// No more lines will come.
    pub fn close(&self) {
        self.held().closed = true;
        self.ready.notify_one();
    }

    /// Takes the oldest lines, up to `max_bytes` (at least one line).
    pub fn take(&self, max_bytes: usize) -> Batch {
        let mut held = self.held();
        let mut batch = Batch { lines: Vec::new(), dropped: std::mem::take(&mut held.dropped) };
        let mut bytes = 0;
        while let Some(line) = held.lines.front() {
            if !batch.lines.is_empty() && bytes + line.cost() > max_bytes {
                break;
            }
            bytes += line.cost();
            let line = held.lines.pop_front().expect("a front line");
            held.bytes -= line.cost();
            batch.lines.push(line);
        }
        batch
    }

    /// Bytes waiting.
    pub fn waiting(&self) -> usize {
        self.held().bytes
    }

    /// Whether the output has ended and everything was taken.
    pub fn is_finished(&self) -> bool {
        let held = self.held();
        held.closed && held.lines.is_empty() && held.dropped == 0
    }

    /// Whether the output has ended.
    pub fn is_closed(&self) -> bool {
        self.held().closed
    }

    /// Waits until a full batch waits or the output ends (or was already).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }
}

/// Splits bytes into lines (without their `\n` or `\r\n`), splitting lines longer
/// than [`MAX_LINE_BYTES`] at a character boundary.
#[derive(Default)]
pub struct Splitter {
    partial: Vec<u8>,
}

impl Splitter {
    pub fn feed(&mut self, mut bytes: &[u8], mut line: impl FnMut(&[u8])) {
        loop {
            let newline = bytes.iter().position(|&b| b == b'\n');
            let segment = &bytes[..newline.unwrap_or(bytes.len())];
            if self.partial.is_empty() && newline.is_some() && segment.len() <= MAX_LINE_BYTES {
                emit(segment, &mut line);
            } else {
                self.partial.extend_from_slice(segment);
                self.split_long(&mut line);
                if newline.is_some() {
                    emit(&std::mem::take(&mut self.partial), &mut line);
                }
            }
            match newline {
                Some(at) => bytes = &bytes[at + 1..],
                None => break,
            }
        }
    }

    fn split_long(&mut self, line: &mut impl FnMut(&[u8])) {
        while self.partial.len() > MAX_LINE_BYTES {
            let mut cut = MAX_LINE_BYTES;
            // Back to the start of a UTF-8 character (at most 3 bytes back).
            while cut > MAX_LINE_BYTES - 4 && (self.partial[cut] & 0b1100_0000) == 0b1000_0000 {
                cut -= 1;
            }
            let rest = self.partial.split_off(cut);
            line(&std::mem::replace(&mut self.partial, rest));
        }
    }

    /// The last line, when the output did not end with a newline.
    pub fn finish(&mut self, mut line: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            emit(&std::mem::take(&mut self.partial), &mut line);
        }
    }
}

fn emit(bytes: &[u8], line: &mut impl FnMut(&[u8])) {
    line(bytes.strip_suffix(b"\r").unwrap_or(bytes));
}

/// The last lines of standard output: what the command said last.
#[derive(Default)]
pub struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    pub fn push(&mut self, line: &str) {
        self.bytes += line.len() + 1;
        self.lines.push_back(line.to_owned());
        while self.lines.len() > TAIL_LINES || self.bytes > TAIL_BYTES {
            let Some(old) = self.lines.pop_front() else { break };
            self.bytes -= old.len() + 1;
        }
    }

    /// The lines, or `None` when there was no output but blank lines.
    pub fn text(&self) -> Option<String> {
        let text = self.lines.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
        let trimmed = text.trim_matches('\n');
        (!trimmed.trim().is_empty()).then(|| trimmed.to_owned())
    }
}

/// Copies a stream of the command to ours as it comes (prompts without a newline
/// too), and queues its lines; for standard output, keeps its tail. Stops copying,
/// but goes on reading, when ours is closed.
pub async fn pump<R, W>(
    mut from: R,
    echo: W,
    stream: Stream,
    queue: Arc<Queue>,
    tail: Option<Arc<Mutex<Tail>>>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut echo = Some(echo);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut splitter = Splitter::default();
    let mut queue_line = |bytes: &[u8]| {
        let line = text::clean(&String::from_utf8_lossy(bytes));
        if let Some(tail) = &tail {
            tail.lock().unwrap_or_else(PoisonError::into_inner).push(&line);
        }
        queue.push(Line { stream, text: line, at: Utc::now() });
    };
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(out) = echo.as_mut() {
            if out.write_all(&buffer[..n]).await.is_err() || out.flush().await.is_err() {
                echo = None;
            }
        }
        splitter.feed(&buffer[..n], &mut queue_line);
    }
    splitter.finish(&mut queue_line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(chunks: &[&[u8]]) -> Vec<String> {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        for chunk in chunks {
            splitter.feed(chunk, |l| out.push(String::from_utf8_lossy(l).into_owned()));
        }
        splitter.finish(|l| out.push(String::from_utf8_lossy(l).into_owned()));
        out
    }

    #[test]
    fn lines_are_split_across_chunks() {
        assert_eq!(lines(&[b"one\ntw", b"o\r\nthree"]), ["one", "two", "three"]);
        assert_eq!(lines(&[b"\n\n"]), ["", ""]);
    }

    #[test]
    fn long_lines_are_cut_on_character_boundaries() {
        let long = "é".repeat(MAX_LINE_BYTES);
        let out = lines(&[long.as_bytes()]);
        assert!(out.len() >= 2);
        assert_eq!(out.concat(), long, "nothing lost, nothing broken");
    }

    fn line(text: &str) -> Line {
        Line { stream: Stream::Stdout, text: text.to_owned(), at: Utc::now() }
    }

    #[test]
    fn a_full_queue_drops_its_oldest_lines_and_counts_them() {
        let queue = Queue::new(10, 5);
        for text in ["aaaa", "bbbb", "cccc"] {
            queue.push(line(text));
        }
        let batch = queue.take(1000);
        assert_eq!(batch.dropped, 1);
        let texts: Vec<_> = batch.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["bbbb", "cccc"]);
        assert!(queue.take(1000).is_empty(), "the count is reported once");
    }

    #[test]
    fn batches_are_bounded_but_never_empty() {
        let queue = Queue::new(1000, 1000);
        for text in ["12345", "12345", "12345"] {
            queue.push(line(text));
        }
        assert_eq!(queue.take(12).lines.len(), 2);
        assert_eq!(queue.take(1).lines.len(), 1, "a line larger than a batch still goes");
        assert_eq!(queue.waiting(), 0);
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let mut tail = Tail::default();
        for i in 0..150 {
            tail.push(&format!("line {i}"));
        }
        let text = tail.text().unwrap();
        assert!(text.starts_with("line 50\n") && text.ends_with("line 149"), "{text}");
        assert_eq!(Tail::default().text(), None);
    }
}
