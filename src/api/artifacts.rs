//! `/v1/tasks/{task_id}/artifacts`: files a task produced, uploaded and downloaded
//! byte for byte.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::caller::Caller;
use super::error::{ApiError, ErrorEnvelope};
use super::extract::{read_body, ApiPath, ApiQuery, AuthOwner};
use super::{created, ok, Envelope};
use crate::app::{artifacts, AppState};
use crate::domain::ids::{ArtifactId, TaskId};
use crate::domain::time::Timestamp;
use crate::http::{file_response, ClientIp, Closer};
use crate::storage::ArtifactRecord;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_artifact, list_artifacts))
        .routes(routes!(download_artifact, delete_artifact))
}

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
            artifact_id: record.artifact_id.into_string(),
            task_id: record.task_id.into_string(),
            name: record.name,
            content_type: record.content_type,
            size_bytes: record.size_bytes,
            sha256: record.sha256,
            created_at: record.created_at,
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
        pattern = r"^[^/\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*[^\s/\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff][^/\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*$"
    )]
    pub name: String,
}

/// The task's artifacts, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactView>,
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
    ApiPath(task_id): ApiPath<TaskId>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let content_type = match request.headers().get(header::CONTENT_TYPE) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::invalid("Content-Type", "Content-Type must be a media type such as text/plain")
        })?),
    };
    let upload = artifacts::begin_upload(&state, &owner, &task_id, &query.name, content_type).await?;
    let content = read_body(request, state.settings().max_artifact_bytes).await?;
    let record = artifacts::finish_upload(&state, upload, &content).await?;
    Ok(created(ArtifactView::new(record, state.urls().public())))
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
    Caller(caller): Caller,
    ApiPath(task_id): ApiPath<TaskId>,
) -> Result<Response, ApiError> {
    let records = artifacts::list(&state, &caller, &task_id).await?;
    let public_url = state.urls().public();
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
        (status = 429, description = "`TOO_MANY_DOWNLOADS`: the client is downloading 8 files at once, or the service 256", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
async fn download_artifact(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientIp(client): ClientIp,
    closer: Closer,
    ApiPath((task_id, artifact_id)): ApiPath<(TaskId, ArtifactId)>,
) -> Result<Response, ApiError> {
    let download = artifacts::download(&state, &caller, &task_id, &artifact_id, client).await?;
    Ok(file_response(download, closer, state.settings()))
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
    ApiPath((task_id, artifact_id)): ApiPath<(TaskId, ArtifactId)>,
) -> Result<Response, ApiError> {
    artifacts::delete(&state, &owner, &task_id, &artifact_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
