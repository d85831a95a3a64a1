//! `/v1/tasks/{task_id}/artifacts`: files a task produced, uploaded and downloaded
//! byte for byte.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{read_body, ApiPath, ApiQuery, AuthOwner};
use super::tasks::owned_task;
use super::{created, ok, Envelope};
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::state::AppState;
use crate::storage::{ArtifactContent, ArtifactRecord, NewArtifact};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_artifact, list_artifacts))
        .routes(routes!(download_artifact, delete_artifact))
}

/// Longest artifact name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// An artifact's description.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactView {
    #[schema(example = "artifact_0123456789abcdef")]
    pub artifact_id: String,
    pub task_id: String,
    #[schema(example = "report.pdf")]
    pub name: String,
    #[schema(example = "application/pdf")]
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    pub created_at: Timestamp,
    /// Where the owner API serves the bytes.
    pub download_url: String,
}

impl ArtifactView {
    fn new(record: ArtifactRecord, public_url: &str) -> ArtifactView {
        ArtifactView {
            download_url: format!(
                "{public_url}/v1/tasks/{}/artifacts/{}",
                record.task_id, record.artifact_id
            ),
            artifact_id: record.artifact_id,
            task_id: record.task_id,
            name: record.name,
            content_type: record.content_type,
            size_bytes: record.size_bytes,
            sha256: record.sha256,
            created_at: Timestamp(record.created_at),
        }
    }
}

/// Query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// File name, 1–255 characters, no `/`, `\` or control characters, not `.` or `..`;
    /// unique per task.
    #[param(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^/\\\x00-\x1f\x7f-\x9f]*[^\s/\\\x00-\x1f\x7f-\x9f][^/\\\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

/// The task's artifacts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactView>,
}

/// Checks an artifact file name.
fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = bounded("name", name, 1, MAX_NAME_CHARS, false)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(ApiError::invalid("name", "name must be a file name, not a path"));
    }
    Ok(name)
}

/// Checks the upload's `Content-Type` (default `application/octet-stream`).
fn content_type(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(mime::APPLICATION_OCTET_STREAM.to_string());
    };
    let invalid =
        || ApiError::invalid("Content-Type", "Content-Type must be a media type such as text/plain");
    let text = value.to_str().map_err(|_| invalid())?;
    let parsed: mime::Mime = text.parse().map_err(|_| invalid())?;
    if text.len() > 255 {
        return Err(invalid());
    }
    Ok(parsed.to_string())
}

/// Upload an artifact
///
/// The request body is the file, byte for byte; `Content-Type` is stored and sent
/// back on download (default `application/octet-stream`). Uploads are limited in
/// size (`--max-artifact-bytes`, 25 MiB by default).
#[utoipa::path(
    post, path = "/v1/tasks/{task_id}/artifacts", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier"), UploadQuery),
    request_body(content = Option<Vec<u8>>, content_type = "application/octet-stream", description = "The file's bytes (none for an empty file)"),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "The stored artifact", body = Envelope<ArtifactView>),
        (status = 400, description = "`INVALID_REQUEST`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 409, description = "`ARTIFACT_EXISTS`", body = ErrorEnvelope),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`", body = ErrorEnvelope),
    )
)]
async fn upload_artifact(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath(task_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    owned_task(&state, &owner.owner_id, &task_id).await?;
    let name = validate_name(&query.name)?;
    let content_type = content_type(request.headers())?;
    let content = read_body(request, state.settings().max_artifact_bytes).await?;
    let artifact = NewArtifact { name: &name, content_type: &content_type, content: &content };
    let record =
        state.db().insert_artifact(&task_id, &artifact).await?.ok_or(ApiError::ArtifactExists { name })?;
    tracing::info!(task_id = %task_id, artifact_id = %record.artifact_id, size = record.size_bytes, "artifact stored");
    Ok(created(ArtifactView::new(record, state.public_url())))
}

/// List artifacts
///
/// Works with the owner's API key or a viewer session of the task's share code.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/artifacts", tag = "tasks",
    params(("task_id" = String, Path, description = "Task identifier")),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The task's artifacts", body = Envelope<ArtifactList>),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn list_artifacts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(task_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    caller.task(&state, &task_id).await?;
    let records = state.db().list_artifacts(&task_id).await?;
    let public_url = state.public_url();
    Ok(ok(ArtifactList {
        artifacts: records.into_iter().map(|r| ArtifactView::new(r, public_url)).collect(),
    }))
}

/// Download an artifact
///
/// The file's bytes with its stored `Content-Type`, as an attachment. Works with
/// the owner's API key or a viewer session of the task's share code.
#[utoipa::path(
    get, path = "/v1/tasks/{task_id}/artifacts/{artifact_id}", tag = "tasks",
    params(
        ("task_id" = String, Path, description = "Task identifier"),
        ("artifact_id" = String, Path, description = "Artifact identifier"),
    ),
    security(("api_key" = []), ("viewer_session" = [])),
    responses(
        (status = 200, description = "The file, with the media type it was uploaded with", content_type = "*/*", body = Vec<u8>, headers(
            ("Content-Disposition" = String, description = "`attachment`, with the file's name"),
        )),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND` or `ARTIFACT_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn download_artifact(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((task_id, artifact_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    download(&state, &caller, &task_id, &artifact_id).await
}

/// An artifact of a task `caller` may see, as a download.
pub async fn download(
    state: &AppState,
    caller: &Caller,
    task_id: &str,
    artifact_id: &str,
) -> Result<Response, ApiError> {
    caller.task(state, task_id).await?;
    let artifact = state
        .db()
        .artifact_content(task_id, artifact_id)
        .await?
        .ok_or_else(|| ApiError::ArtifactNotFound { artifact_id: artifact_id.to_owned() })?;
    Ok(file_response(artifact))
}

/// Serves stored bytes as a download that a browser will never render in our
/// origin: `attachment`, no sniffing, and a sandboxing CSP should it be opened.
pub fn file_response(artifact: ArtifactContent) -> Response {
    let content_type = HeaderValue::from_str(&artifact.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(&artifact.name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'")),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        artifact.content,
    )
        .into_response()
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266), with an ASCII fallback.
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Delete an artifact
#[utoipa::path(
    delete, path = "/v1/tasks/{task_id}/artifacts/{artifact_id}", tag = "tasks",
    params(
        ("task_id" = String, Path, description = "Task identifier"),
        ("artifact_id" = String, Path, description = "Artifact identifier"),
    ),
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND` or `ARTIFACT_NOT_FOUND`", body = ErrorEnvelope),
    )
)]
async fn delete_artifact(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiPath((task_id, artifact_id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    owned_task(&state, &owner.owner_id, &task_id).await?;
    if state.db().delete_artifact(&task_id, &artifact_id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::ArtifactNotFound { artifact_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_file_names() {
        assert!(validate_name("report.pdf").is_ok());
        for bad in ["", "../etc/passwd", "a/b", "a\\b", "..", "a\nb"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dispositions_quote_and_encode_names() {
        assert_eq!(
            content_disposition("résumé \"v2\".txt"),
            "attachment; filename=\"r_sum_ _v2_.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt"
        );
    }
}
