//! Structured logs through `tracing`; `RUST_LOG` picks what is logged.

use std::io::BufWriter;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// On a response that showed a counted view: the link, which the request's
/// "response" log line names.
#[derive(Clone, Debug)]
pub struct ViewedLink(pub String);

/// How much the log thread gathers into one write to stderr.
const WRITE_BYTES: usize = 64 * 1024;

/// Installs the global subscriber: human-readable or JSON lines, on stderr, in
/// colour only when stderr is a terminal (a log file or journal gets plain text).
///
/// Lines are written by a thread of their own, so a request never waits on a
/// write to stderr; none is dropped (a request waits only if 128k lines are
/// pending). That thread writes the lines pending together, up to 64 KB at a
/// time (stderr alone would make a write of each), and flushes before it waits
/// for the next one, so no line is held back. The returned guard writes what is
/// pending when dropped: hold it until the process ends.
pub fn init(format: &str) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let stderr = BufWriter::with_capacity(WRITE_BYTES, std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(stderr);
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
    guard
}
