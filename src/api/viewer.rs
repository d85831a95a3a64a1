//! What a share link's holder gets as JSON (no account): the shared view at
//! `{public-url}/s/{token}` with `Accept: application/json` (the password in
//! `X-Share-Password`), the task's files with the grant a view hands out, and
//! comments. Browsers get pages for the same URL (`web::share`); the service's
//! router picks one by `Accept`.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorEnvelope};
use super::extract::{parse_json, read_body, ApiPath, ApiQuery};
use super::Envelope;
use crate::app::audiences;
use crate::app::comments::{self, CommentInput};
use crate::app::downloads;
use crate::app::opening::{self, Opened, Visitor};
use crate::app::AppState;
use crate::domain::ids::ArtifactId;
use crate::domain::share::Permissions;
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::http::{file_response, ClientIp, Closer};
use crate::telemetry::ViewedLink;

/// Header that carries a link's password for JSON clients.
pub const PASSWORD_HEADER: &str = "x-share-password";
/// Header that carries a viewer token (proof of an address of the link's audience).
pub const VIEWER_HEADER: &str = "x-share-viewer";

/// The shared view of a task, as a viewer sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedView {
    pub share_link_id: String,
    pub title: String,
    pub description: Option<String>,
    /// The task's outputs, in order; nothing else of the task.
    #[schema(value_type = Vec<SharedOutput>)]
    pub outputs: SharedOutputs,
    /// Timings, agent and status; null unless the link has `show_metadata`.
    pub metadata: Option<SharedMetadata>,
    /// Null unless the link has `allow_download`.
    pub artifacts: Option<Vec<SharedArtifact>>,
    pub permissions: Permissions,
    pub expires_at: Timestamp,
    /// Views so far, including this one.
    pub view_count: i64,
    pub max_views: Option<i64>,
    /// Views left before the link expires; null when unlimited.
    pub views_remaining: Option<i64>,
    /// Proof of this view, good for an hour: downloads and comments need it.
    pub grant: String,
    /// Verified comments, oldest first; null unless the link has `allow_comments`.
    pub comments: Option<Vec<SharedComment>>,
}

/// A comment viewers see (never its author's email).
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedComment {
    pub comment_id: String,
    pub name: String,
    pub content: String,
    pub created_at: Timestamp,
}

/// One output of the task.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedOutput<'a> {
    pub name: &'a str,
    /// Markdown.
    pub content: &'a str,
    pub created_at: Timestamp,
}

/// The outputs a view shows, serialized once per task version and link setting,
/// then sent as is.
#[derive(Debug)]
pub struct SharedOutputs(opening::SharedOutputs);

impl Serialize for SharedOutputs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let outputs = &self.0;
        let list = || -> Vec<SharedOutput<'_>> {
            outputs
                .iter()
                .map(|o| SharedOutput { name: o.name, content: o.content, created_at: o.created_at })
                .collect()
        };
        if !outputs.as_cached() {
            return list().serialize(serializer);
        }
        let json = outputs.content.outputs_json(outputs.mask, || serde_json::value::to_raw_value(&list()));
        json.map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

/// What a link with `show_metadata` tells about the task.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedMetadata {
    pub status: TaskStatus,
    pub agent: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// From start (or creation) to finish, when finished.
    pub duration_seconds: Option<f64>,
}

/// An artifact a viewer may download.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedArtifact {
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// Works for an hour after the view, without spending another view.
    pub download_url: String,
}

impl From<opening::SharedView> for SharedView {
    fn from(view: opening::SharedView) -> SharedView {
        SharedView {
            share_link_id: view.share_link_id.into_string(),
            title: view.title,
            description: view.description,
            outputs: SharedOutputs(view.outputs),
            metadata: view.metadata.map(|m| SharedMetadata {
                status: m.status,
                agent: m.agent,
                created_at: m.created_at,
                started_at: m.started_at,
                finished_at: m.finished_at,
                duration_seconds: m.duration_seconds,
            }),
            artifacts: view.artifacts.map(|list| {
                list.into_iter()
                    .map(|a| SharedArtifact {
                        name: a.name,
                        content_type: a.content_type,
                        size_bytes: a.size_bytes,
                        sha256: a.sha256,
                        download_url: a.download_url,
                    })
                    .collect()
            }),
            permissions: view.permissions,
            expires_at: view.expires_at,
            view_count: view.view_count,
            max_views: view.max_views,
            views_remaining: view.views_remaining,
            grant: view.grant,
            comments: view.comments.map(|list| {
                list.into_iter()
                    .map(|c| SharedComment {
                        comment_id: c.comment_id.into_string(),
                        name: c.name,
                        content: c.content,
                        created_at: c.created_at,
                    })
                    .collect()
            }),
        }
    }
}

/// Query of a download.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    grant: Option<String>,
}

/// What a request tells about its viewer.
fn visitor(client: IpAddr, headers: &HeaderMap) -> Visitor<'_> {
    Visitor {
        client,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        referer: headers.get(header::REFERER).and_then(|v| v.to_str().ok()),
        viewer_token: headers.get(VIEWER_HEADER).and_then(|v| v.to_str().ok()),
    }
}

/// Opens a share link for a JSON client: spends one view and answers the shared
/// view (a short code redirects to the full URL). Documented with the page it
/// shares its URL with, in the service's router.
pub async fn open_link(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> Response {
    let token = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return err.into_response(),
    };
    let password = headers.get(PASSWORD_HEADER).and_then(|v| v.to_str().ok());
    match opening::open(&state, &token, visitor(client, &headers), password).await {
        Ok(Opened::View(view)) => {
            let shown = ViewedLink(view.share_link_id.to_string());
            let mut response =
                axum::Json(Envelope { success: true, data: SharedView::from(*view) }).into_response();
            // The request's log line names the link it showed.
            response.extensions_mut().insert(shown);
            response
        }
        Ok(Opened::Short(url)) => Redirect::to(&url).into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// What a share link's URL ends with to ask for the markdown view.
pub const MARKDOWN_SUFFIX: &str = ".md";

/// Opens a share link for a program that reads markdown (`Accept: text/markdown`, or
/// `/s/{token}.md`): the same view as [`open_link`], spending a view the same way,
/// as one markdown document. Errors answer the JSON error envelope. Documented with
/// the page it shares its URL with, in the service's router.
pub async fn open_markdown(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
) -> Response {
    let asked = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return err.into_response(),
    };
    let suffixed = asked.strip_suffix(MARKDOWN_SUFFIX);
    let token = suffixed.unwrap_or(&asked);
    let password = headers.get(PASSWORD_HEADER).and_then(|v| v.to_str().ok());
    match opening::open(&state, token, visitor(client, &headers), password).await {
        Ok(Opened::View(view)) => {
            let shown = ViewedLink(view.share_link_id.to_string());
            let body = markdown_view(&view);
            let mut response =
                ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], body).into_response();
            response.extensions_mut().insert(shown);
            response
        }
        Ok(Opened::Short(url)) if suffixed.is_some() => {
            Redirect::to(&format!("{url}{MARKDOWN_SUFFIX}")).into_response()
        }
        Ok(Opened::Short(url)) => Redirect::to(&url).into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Text on one line: line breaks become spaces.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

/// A file name as the text of a markdown link.
fn link_text(name: &str) -> String {
    let mut out = String::new();
    for c in one_line(name).chars() {
        if matches!(c, '[' | ']' | '\\' | '`' | '*' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The shared view as one markdown document: the title, the description, what the
/// link tells about the task and its views, each output under its name (as written,
/// secrets masked as the link says), and the files with their download URLs.
fn markdown_view(view: &opening::SharedView) -> String {
    use std::fmt::Write as _;
    let mut doc = String::new();
    let _ = writeln!(doc, "# {}\n", one_line(&view.title));
    if let Some(description) = view.description.as_deref().filter(|d| !d.trim().is_empty()) {
        let _ = writeln!(doc, "{}\n", description.trim());
    }
    if let Some(m) = &view.metadata {
        let _ = writeln!(doc, "- Status: {}", m.status.as_str());
        if let Some(agent) = &m.agent {
            let _ = writeln!(doc, "- Agent: {}", one_line(agent));
        }
        let _ = writeln!(doc, "- Created: {}", m.created_at.to_rfc3339());
        if let Some(started) = m.started_at {
            let _ = writeln!(doc, "- Started: {}", started.to_rfc3339());
        }
        if let Some(finished) = m.finished_at {
            let _ = writeln!(doc, "- Finished: {}", finished.to_rfc3339());
        }
        if let Some(secs) = m.duration_seconds {
            let _ = writeln!(doc, "- Duration: {secs} s");
        }
    }
    match view.max_views {
        Some(max) => {
            let _ = writeln!(doc, "- Views: {} of {max}", view.view_count);
        }
        None => {
            let _ = writeln!(doc, "- Views: {}", view.view_count);
        }
    }
    let _ = writeln!(doc, "- Available until: {}\n", view.expires_at.to_rfc3339());
    for output in view.outputs.iter() {
        let _ = writeln!(doc, "## {}\n", one_line(output.name));
        let _ = writeln!(doc, "{}\n", output.content.trim_end());
    }
    if let Some(artifacts) = &view.artifacts {
        doc.push_str("## Files\n\n");
        if artifacts.is_empty() {
            doc.push_str("No files.\n");
        }
        for a in artifacts {
            let _ = writeln!(
                doc,
                "- [{}]({}) ({} bytes, {})",
                link_text(&a.name),
                a.download_url,
                a.size_bytes,
                one_line(&a.content_type)
            );
        }
    }
    doc
}

/// Download an artifact of a shared task
///
/// Needs the `grant` from a view of the link (in each `download_url`), and a link
/// that allows downloads; spends no view.
#[utoipa::path(
    get, path = "/s/{token}/artifacts/{artifact_id}", tag = "viewer",
    params(
        ("token" = String, Path, description = "The link's token"),
        ("artifact_id" = String, Path, description = "Artifact identifier"),
        ("grant" = String, Query, description = "From the shared view's `download_url`"),
    ),
    responses(
        (status = 200, description = "The file, with the media type it was uploaded with", content_type = "*/*", body = Vec<u8>, headers(
            ("Content-Disposition" = String, description = "`attachment`, with the file's name"),
        )),
        (status = 401, description = "`VIEW_REQUIRED`: no valid grant", body = ErrorEnvelope),
        (status = 403, description = "`DOWNLOAD_NOT_ALLOWED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`, or `ARTIFACT_NOT_FOUND`", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`: too many lookups of links that do not exist; `TOO_MANY_DOWNLOADS`: the client is downloading 8 files at once, or the service 256", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    ApiPath((token, artifact_id)): ApiPath<(String, ArtifactId)>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    closer: Closer,
    query: Result<ApiQuery<DownloadQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let grant = query.ok().and_then(|ApiQuery(q)| q.grant);
    let file = downloads::download(&state, &token, &artifact_id, grant.as_deref(), visitor(client, &headers))
        .await?;
    Ok(file_response(file, closer, state.settings()))
}

/// Download all artifacts of a shared task
///
/// Every artifact as one zip file. Needs the `grant` from a view of the link and a
/// link that allows downloads, like a single download; spends no view.
#[utoipa::path(
    get, path = "/s/{token}/artifacts.zip", tag = "viewer",
    params(
        ("token" = String, Path, description = "The link's token"),
        ("grant" = String, Query, description = "The shared view's `grant`"),
    ),
    responses(
        (status = 200, description = "A zip of every artifact", content_type = "application/zip", body = Vec<u8>, headers(
            ("Content-Disposition" = String, description = "`attachment`, named after the link's title"),
        )),
        (status = 401, description = "`VIEW_REQUIRED`: no valid grant", body = ErrorEnvelope),
        (status = 403, description = "`DOWNLOAD_NOT_ALLOWED`", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`", body = ErrorEnvelope),
        (status = 429, description = "`RATE_LIMITED`: too many lookups of links that do not exist; `TOO_MANY_DOWNLOADS`: the client is downloading 2 archives at once, or the service 16", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn download_all(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    closer: Closer,
    query: Result<ApiQuery<DownloadQuery>, ApiError>,
) -> Result<Response, ApiError> {
    let grant = query.ok().and_then(|ApiQuery(q)| q.grant);
    let archive =
        downloads::download_all(&state, &token, grant.as_deref(), visitor(client, &headers)).await?;
    Ok(file_response(archive, closer, state.settings()))
}

/// Body of `POST /s/{token}/comments` (JSON, or a browser's form).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCommentRequest {
    /// 1–100 characters, shown with the comment.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// Where the verification link is sent; never shown to viewers.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 1–5,000 characters of plain text.
    #[schema(min_length = 1, max_length = 5000, pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$")]
    pub content: String,
    /// The `grant` of the viewer's shared view.
    pub grant: String,
}

impl From<PostCommentRequest> for CommentInput {
    fn from(r: PostCommentRequest) -> CommentInput {
        CommentInput { name: r.name, email: r.email, content: r.content, grant: r.grant }
    }
}

/// A comment waiting for its author to verify it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentPending {
    pub comment_id: String,
    /// `pending_verification`.
    pub status: &'static str,
}

/// Leaves a comment as a JSON client (documented with the form post, in the
/// service's router): 202 with the pending comment.
pub async fn post_comment(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Result<Response, ApiError> {
    let ApiPath(token) = path?;
    opening::refuse_guessers(&state, client)?;
    let headers = request.headers().clone();
    let body = read_body(request, state.settings().max_body_bytes).await?;
    let input: PostCommentRequest = parse_json(&body)?;
    let comment_id = comments::post(&state, &token, visitor(client, &headers), input.into()).await?;
    let body = Envelope {
        success: true,
        data: CommentPending { comment_id: comment_id.into_string(), status: "pending_verification" },
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// Body of `POST /s/{token}/verification` (JSON, or the page's form).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationRequest {
    /// The address to prove; a code is mailed to it if the link's audience admits it.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

/// Body of `POST /s/{token}/verification/confirm` (JSON, or the page's form).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationConfirmation {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// The 6 digits mailed to the address.
    #[schema(min_length = 6, max_length = 6, pattern = "^[0-9]+$")]
    pub code: String,
}

/// The answer to a code request: the same whoever asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationPending {
    /// `pending`: if the address may open the link, a code is on its way.
    pub status: &'static str,
}

/// Proof of an address for one link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewerToken {
    /// Send it as `X-Share-Viewer` when opening the link.
    pub viewer_token: String,
    /// Good for 12 hours.
    pub expires_in_seconds: i64,
}

/// Asks for a verification code as a JSON client (documented with the form post,
/// in the service's router): 202 whatever the address.
pub async fn request_verification(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Result<Response, ApiError> {
    let ApiPath(token) = path?;
    opening::refuse_guessers(&state, client)?;
    let body = read_body(request, state.settings().max_body_bytes).await?;
    let input: VerificationRequest = parse_json(&body)?;
    audiences::request_code(&state, &token, client, &input.email).await?;
    let body = Envelope { success: true, data: VerificationPending { status: "pending" } };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// Confirms a verification code as a JSON client (documented with the form post,
/// in the service's router): the viewer token.
pub async fn confirm_verification(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    request: Request,
) -> Result<Response, ApiError> {
    let ApiPath(token) = path?;
    opening::refuse_guessers(&state, client)?;
    let body = read_body(request, state.settings().max_body_bytes).await?;
    let input: VerificationConfirmation = parse_json(&body)?;
    let viewer_token = audiences::confirm(&state, &token, client, &input.email, &input.code).await?;
    let data = ViewerToken { viewer_token, expires_in_seconds: audiences::VIEWER_TOKEN_LIFETIME_MS / 1000 };
    Ok(axum::Json(Envelope { success: true, data }).into_response())
}
