//! Files a task produced: uploaded by its owner, kept byte for byte, downloaded by
//! the owner and by viewers who may see the task.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::{Stream, StreamExt as _};

use super::access::{owned_task, Caller};
use super::error::{Error, Result};
use super::AppState;
use crate::domain::ids::{ArtifactId, TaskId};
use crate::domain::redaction::{self, Redactor, TextRedactor};
use crate::domain::text::{bounded, is_invisible_or_bidi};
use crate::domain::time::Timestamp;
use crate::limits::ClientSlot;
use crate::storage::{ArtifactRecord, Db, NewArtifact, Owner};

/// Bytes as they are read; an error (and nothing after it) when the rest could not
/// be, so that a client never takes a cut file for a whole one.
pub type Chunks = Pin<Box<dyn Stream<Item = std::io::Result<Vec<u8>>> + Send>>;

/// A file being served: its name and media type, its size, and its bytes, read a
/// chunk at a time while the client takes them (a slow client holds a chunk, not
/// the file). Holds the client's place among downloads until it is done or dropped.
pub struct Download {
    pub name: String,
    pub content_type: String,
    /// The exact number of bytes, when it is known before they are sent.
    pub length: Option<u64>,
    /// About how many bytes are sent (what a slow client is timed by).
    pub expected: u64,
    pub bytes: Chunks,
}

/// The bytes of an artifact of `size` bytes, read a stored chunk
/// ([`ARTIFACT_CHUNK_BYTES`](crate::storage::ARTIFACT_CHUNK_BYTES)) at a time while
/// `slot` is held.
pub(crate) fn chunks(
    db: Db,
    task_id: TaskId,
    artifact_id: ArtifactId,
    size: i64,
    slot: ClientSlot,
) -> Chunks {
    let start = (db, task_id, artifact_id, 0i64, 0i64, slot);
    Box::pin(futures_util::stream::unfold(Some(start), move |next| async move {
        let (db, task_id, artifact_id, n, offset, slot) = next?;
        if offset >= size {
            return None;
        }
        match db.artifact_chunk(&task_id, &artifact_id, n).await {
            Ok(Some(bytes)) if !bytes.is_empty() => {
                let offset = offset + bytes.len() as i64;
                Some((Ok(bytes), Some((db, task_id, artifact_id, n + 1, offset, slot))))
            }
            Ok(_) => Some((Err(std::io::Error::other("the file was deleted while it was sent")), None)),
            Err(err) => Some((Err(std::io::Error::other(err)), None)),
        }
    }))
}

/// Serves artifact `artifact_id` of `task_id` to `client`, within the client's share
/// of downloads; with `made_until`, only a file made by then (a snapshot's).
pub(crate) async fn serve(
    state: &AppState,
    task_id: &TaskId,
    artifact_id: &ArtifactId,
    made_until: Option<Timestamp>,
    client: IpAddr,
) -> Result<Download> {
    let downloads = &state.limits().downloads;
    let slot =
        downloads.acquire(client, false).ok_or(Error::TooManyDownloads { limit: downloads.per_client() })?;
    let file = state
        .db()
        .artifact_file(task_id, artifact_id)
        .await?
        .filter(|file| made_until.is_none_or(|until| file.created_at <= until))
        .ok_or_else(|| Error::ArtifactNotFound { artifact_id: artifact_id.clone() })?;
    let bytes = chunks(state.db().clone(), task_id.clone(), artifact_id.clone(), file.size_bytes, slot);
    let size = file.size_bytes.max(0) as u64;
    Ok(Download {
        name: file.name,
        content_type: file.content_type,
        length: Some(size),
        expected: size,
        bytes,
    })
}

/// `download` as a viewer of a link that hides what `redactor` hides receives it:
/// a text file redacted as it is sent (its length is then known only at the end),
/// its name redacted; other files as they are.
pub(crate) fn redacted(download: Download, redactor: Arc<Redactor>) -> Download {
    if redactor.hides_nothing() {
        return download;
    }
    let name = redactor.redact(&download.name).into_owned();
    if !redaction::is_text(&download.content_type) {
        return Download { name, ..download };
    }
    let start = (download.bytes, Some(TextRedactor::new(redactor)));
    let bytes = futures_util::stream::unfold(start, |(mut bytes, text)| async move {
        let mut text = text?;
        match bytes.next().await {
            Some(Ok(chunk)) => {
                let out = text.push(&chunk);
                Some((Ok(out), (bytes, Some(text))))
            }
            Some(Err(err)) => Some((Err(err), (bytes, None))),
            None => Some((Ok(text.finish()), (bytes, None))),
        }
    });
    Download { name, length: None, bytes: Box::pin(bytes), ..download }
}

/// Longest artifact name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest media type, in bytes (a header value is ASCII).
const MAX_CONTENT_TYPE_CHARS: usize = 255;

/// A file to store, checked before its bytes are read (so nothing is read for an
/// upload that would be refused).
pub struct Upload {
    task_id: TaskId,
    name: String,
    content_type: String,
}

/// Checks an artifact file name.
pub fn checked_name(name: &str) -> Result<String> {
    let name = bounded("name", name, 1, MAX_NAME_CHARS, false)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Error::invalid("name", "name must be a file name, not a path"));
    }
    if name.chars().any(is_invisible_or_bidi) {
        return Err(Error::invalid(
            "name",
            "name must not contain invisible or direction-changing characters",
        ));
    }
    Ok(name)
}

/// Checks a media type (default `application/octet-stream`), as stored and sent back.
pub fn checked_content_type(content_type: Option<&str>) -> Result<String> {
    let Some(text) = content_type else {
        return Ok(mime::APPLICATION_OCTET_STREAM.to_string());
    };
    let invalid = || Error::invalid("Content-Type", "Content-Type must be a media type such as text/plain");
    let parsed: mime::Mime = text.parse().map_err(|_| invalid())?;
    if text.len() > MAX_CONTENT_TYPE_CHARS {
        return Err(invalid());
    }
    Ok(parsed.to_string())
}

/// Checks an upload to `owner`'s task: its file name, and its media type (default
/// `application/octet-stream`).
pub async fn begin_upload(
    state: &AppState,
    owner: &Owner,
    task_id: &TaskId,
    name: &str,
    content_type: Option<&str>,
) -> Result<Upload> {
    owned_task(state, owner, task_id).await?;
    let name = checked_name(name)?;
    let content_type = checked_content_type(content_type)?;
    Ok(Upload { task_id: task_id.clone(), name, content_type })
}

/// Stores the bytes of a checked upload; [`Error::ArtifactExists`] when the task
/// already has a file of that name.
pub async fn finish_upload(state: &AppState, upload: Upload, content: &[u8]) -> Result<ArtifactRecord> {
    let Upload { task_id, name, content_type } = upload;
    let artifact = NewArtifact { name: &name, content_type: &content_type, content };
    let record =
        state.db().insert_artifact(&task_id, &artifact).await?.ok_or(Error::ArtifactExists { name })?;
    tracing::info!(task_id = %task_id, artifact_id = %record.artifact_id, size = record.size_bytes, "artifact stored");
    Ok(record)
}

/// The task's files, oldest first, for a caller who may see it.
pub async fn list(state: &AppState, caller: &Caller, task_id: &TaskId) -> Result<Vec<ArtifactRecord>> {
    caller.task(state, task_id).await?;
    Ok(state.db().list_artifacts(task_id).await?)
}

/// A file, for a caller who may see its task, served to `client`.
pub async fn download(
    state: &AppState,
    caller: &Caller,
    task_id: &TaskId,
    artifact_id: &ArtifactId,
    client: IpAddr,
) -> Result<Download> {
    caller.task(state, task_id).await?;
    serve(state, task_id, artifact_id, None, client).await
}

/// Deletes a file of `owner`'s task.
pub async fn delete(
    state: &AppState,
    owner: &Owner,
    task_id: &TaskId,
    artifact_id: &ArtifactId,
) -> Result<()> {
    owned_task(state, owner, task_id).await?;
    if state.db().delete_artifact(task_id, artifact_id).await? {
        Ok(())
    } else {
        Err(Error::ArtifactNotFound { artifact_id: artifact_id.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_file_names() {
        assert!(checked_name("report.pdf").is_ok());
        for bad in
            ["", "../etc/passwd", "a/b", "a\\b", "..", "a\nb", "invoice\u{202e}fdp.exe", "re\u{200b}port.pdf"]
        {
            assert!(checked_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn media_types_are_checked_and_default_to_bytes() {
        assert_eq!(checked_content_type(None).unwrap(), "application/octet-stream");
        assert_eq!(
            checked_content_type(Some("text/plain; charset=utf-8")).unwrap(),
            "text/plain; charset=utf-8"
        );
        assert!(checked_content_type(Some("not a type")).is_err());
        assert!(checked_content_type(Some(&format!("text/{}", "x".repeat(300)))).is_err());
    }
}
