//! Files a task produced: uploaded by its owner, kept byte for byte, downloaded by
//! the owner and by viewers who may see the task.

use super::access::{owned_task, Caller};
use super::error::{Error, Result};
use super::AppState;
use crate::domain::ids::{ArtifactId, TaskId};
use crate::domain::text::bounded;
use crate::storage::{ArtifactContent, ArtifactRecord, NewArtifact, Owner};

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

/// A file's bytes, for a caller who may see its task.
pub async fn download(
    state: &AppState,
    caller: &Caller,
    task_id: &TaskId,
    artifact_id: &ArtifactId,
) -> Result<ArtifactContent> {
    caller.task(state, task_id).await?;
    state
        .db()
        .artifact_content(task_id, artifact_id)
        .await?
        .ok_or_else(|| Error::ArtifactNotFound { artifact_id: artifact_id.clone() })
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
        for bad in ["", "../etc/passwd", "a/b", "a\\b", "..", "a\nb"] {
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
