//! "Download all": a task's artifacts as one zip file, streamed.
//!
//! The archive is written on a blocking thread, a chunk of an artifact at a time,
//! and its bytes flow to the client through a small bounded channel; so an archive
//! of large files holds a few chunks in memory, and a client that goes away stops
//! the work at once. The thread holds a place among archives
//! ([`crate::limits::ARCHIVES`]) for as long as it writes.

use std::io::Write;
use std::sync::Arc;

use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::artifacts::Chunks;
use crate::domain::ids::TaskId;
use crate::domain::redaction::{self, Redactor, TextRedactor};
use crate::limits::ClientSlot;
use crate::storage::{ArtifactRecord, Db};

/// Bytes sent to the client at a time.
const CHUNK: usize = 64 * 1024;

/// A zip of `artifacts` (of `task_id`), written as it is read, while `slot` is held;
/// names and text files redacted by `redactor`.
pub fn zip(
    db: Db,
    task_id: TaskId,
    artifacts: Vec<ArtifactRecord>,
    slot: ClientSlot,
    redactor: Arc<Redactor>,
) -> Chunks {
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let failed = tx.clone();
        if let Err(err) = write_zip(
            &runtime,
            &db,
            &task_id,
            &artifacts,
            &redactor,
            ChannelWriter { tx, buffer: Vec::new() },
        ) {
            tracing::warn!(error = %err, task_id = %task_id, "archive not completed");
            // The client sees a truncated download, never a valid-looking partial zip.
            let _ = failed.blocking_send(Err(std::io::Error::other("archive not completed")));
        }
    });
    Box::pin(futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }))
}

fn write_zip(
    runtime: &tokio::runtime::Handle,
    db: &Db,
    task_id: &TaskId,
    artifacts: &[ArtifactRecord],
    redactor: &Arc<Redactor>,
    out: ChannelWriter,
) -> anyhow::Result<()> {
    let mut zip = zip::ZipWriter::new_stream(out);
    for artifact in artifacts {
        let mut text = (!redactor.hides_nothing() && redaction::is_text(&artifact.content_type))
            .then(|| TextRedactor::new(redactor.clone()));
        let method = if compresses(&artifact.content_type) {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let name = redactor.redact(&artifact.name);
        zip.start_file(name.as_ref(), SimpleFileOptions::default().compression_method(method))?;
        let (mut n, mut offset) = (0, 0);
        while offset < artifact.size_bytes {
            let read = db.artifact_chunk(task_id, &artifact.artifact_id, n);
            let Some(bytes) = runtime.block_on(read)?.filter(|b| !b.is_empty()) else {
                anyhow::bail!("{} was deleted while the archive was written", artifact.artifact_id);
            };
            match &mut text {
                Some(text) => zip.write_all(&text.push(&bytes))?,
                None => zip.write_all(&bytes)?,
            }
            offset += bytes.len() as i64;
            n += 1;
        }
        if let Some(text) = text {
            zip.write_all(&text.finish())?;
        }
    }
    let mut out = zip.finish()?.into_inner();
    out.flush()?;
    Ok(())
}

/// Whether compressing a file of this type is worth it (media and archives are
/// compressed already).
fn compresses(content_type: &str) -> bool {
    let kind = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let already = kind.starts_with("image/") && kind != "image/svg+xml"
        || kind.starts_with("video/")
        || kind.starts_with("audio/")
        || matches!(
            kind.as_str(),
            "application/zip"
                | "application/gzip"
                | "application/x-gzip"
                | "application/x-7z-compressed"
                | "application/x-xz"
                | "application/zstd"
                | "application/pdf"
        );
    !already
}

/// A `Write` that hands its bytes to an async receiver, a chunk at a time; fails
/// once the receiver is gone (the client disconnected).
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Vec<u8>>>,
    buffer: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buffer);
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

#[cfg(test)]
mod tests {
    use super::compresses;

    #[test]
    fn compresses_text_but_not_media_or_archives() {
        assert!(compresses("text/markdown; charset=utf-8"));
        assert!(compresses("application/json"));
        assert!(compresses("image/svg+xml"));
        assert!(!compresses("image/png"));
        assert!(!compresses("application/zip"));
        assert!(!compresses("video/mp4"));
    }
}
