//! `POST /v1/share-links/preview`: what a link would show, and what its content
//! holds, before it is made.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{ApiJson, AuthOwner};
use super::share_links::CreateShareLinkRequest;
use super::viewer::SharedView;
use super::{ok, Envelope};
use crate::app::preview::{self, Finding, Found, Place};
use crate::app::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview_share_link))
}

/// A link's preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkPreview {
    /// Exactly what the first viewer would receive as JSON (`GET /s/{token}`), the
    /// link's redaction applied; its id, URLs and grant are those of a link that is
    /// never made.
    pub view: SharedView,
    /// What the shared content holds, by kind and place.
    pub findings: Vec<PreviewFinding>,
}

/// Things of one kind found in one place of the shared content.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewFinding {
    /// `secret`, `email`, `path` (a home-directory path), `ip_address`, `pattern`
    /// (a match of one of the owner's patterns), or `not_scanned` (a file whose
    /// content was not read; see `reason`).
    #[schema(example = "email")]
    pub kind: String,
    pub location: FindingLocation,
    /// The owner pattern that matched, for `pattern`.
    pub pattern: Option<String>,
    /// How many were found there.
    pub count: usize,
    /// Up to three of them; a secret only by its first characters.
    pub samples: Vec<String>,
    /// Whether viewers get them hidden.
    pub redacted: bool,
    /// For `not_scanned`: `binary` (served as it is) or `too_large` (over 8 MiB, or
    /// past the 32 MiB of files one preview reads: redacted when served, but not read
    /// for the preview).
    pub reason: Option<String>,
}

/// Where something was found.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingLocation {
    /// `title`, `description`, `output`, `metadata`, `artifact_name` or `artifact`
    /// (a file's content).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The output's or file's name, or the metadata field.
    pub name: Option<String>,
}

impl From<Finding> for PreviewFinding {
    fn from(finding: Finding) -> PreviewFinding {
        let (kind, reason) = match finding.found {
            Found::Kind(kind) => {
                (serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_owned)), None)
            }
            Found::NotScanned(reason) => (Some("not_scanned".to_owned()), Some(reason.to_owned())),
        };
        let (place, name) = match finding.place {
            Place::Title => ("title", None),
            Place::Description => ("description", None),
            Place::Output(name) => ("output", Some(name)),
            Place::Metadata(field) => ("metadata", Some(field.to_owned())),
            Place::ArtifactName(name) => ("artifact_name", Some(name)),
            Place::Artifact(name) => ("artifact", Some(name)),
        };
        PreviewFinding {
            kind: kind.unwrap_or_default(),
            location: FindingLocation { kind: place, name },
            pattern: finding.pattern,
            count: finding.count,
            samples: finding.samples,
            redacted: finding.redacted,
            reason,
        }
    }
}

/// Preview a share link
///
/// Takes the same body as creating a link, checks it the same way (the same
/// errors), and creates nothing: answers what the first viewer would receive and
/// what the shared content holds — secrets, e-mail addresses, home-directory
/// paths, IP addresses, matches of the owner's patterns — each said to be hidden
/// from viewers (`redacted`) or not. Files that are not text are listed as not
/// scanned.
#[utoipa::path(
    post, path = "/v1/share-links/preview", tag = "share-links",
    request_body = CreateShareLinkRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "What the link would show", body = Envelope<LinkPreview>),
        (status = 400, description = "`INVALID_REQUEST` with `details.field` and `details.issue`", body = ErrorEnvelope),
        (status = 401, description = "`UNAUTHORIZED`", body = ErrorEnvelope),
        (status = 403, description = "`TASK_NOT_COMPLETED`: the task is pending or running (`details.status`)", body = ErrorEnvelope),
        (status = 404, description = "`TASK_NOT_FOUND`: no such task, or another owner's", body = ErrorEnvelope),
    )
)]
async fn preview_share_link(
    State(state): State<AppState>,
    AuthOwner(owner): AuthOwner,
    ApiJson(body): ApiJson<CreateShareLinkRequest>,
) -> Result<Response, ApiError> {
    let request = body.into_request()?;
    let preview = preview::preview(&state, &owner, request).await?;
    Ok(ok(LinkPreview {
        view: SharedView::from(preview.view),
        findings: preview.findings.into_iter().map(PreviewFinding::from).collect(),
    }))
}
