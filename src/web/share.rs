//! The viewer's side of a share link: `{public-url}/s/{token}`.
//!
//! One URL, two representations. With `Accept: application/json` it answers the
//! shared view as JSON (the password in `X-Share-Password`). Browsers get HTML: a
//! password form when the link has one, a "Reveal" interstitial when it has a view
//! limit (so link-preview bots and mail scanners that fetch the URL don't spend a
//! view), and the rendered outputs once revealed. Gone links — unknown, expired or
//! revoked — all answer 404 with one identical body.
//!
//! Only the task's `output` events are ever shown (never prompts, messages, logs or
//! private events), metadata only with `show_metadata`, artifacts only with
//! `allow_download`.

use std::net::IpAddr;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{page, see_other};
use super::render::FileLine;
use super::session::cookie;
use super::{archive, format, markdown, qr};
use crate::api::artifacts::file_response;
use crate::api::error::{ApiError, ErrorEnvelope};
use crate::api::extract::{ApiPath, ApiQuery, ClientIp};
use crate::api::Envelope;
use crate::domain::ids;
use crate::domain::share::{Permissions, ShareStatus, SHORT_CODE_LEN};
use crate::domain::time::Timestamp;
use crate::domain::viewer;
use crate::state::AppState;
use crate::storage::cache::TaskContent;
use crate::storage::{Attempt, AttemptLimits, CountedView, NewView, ShareLinkRecord, ViewOutcome};
use crate::telemetry::ViewedLink;

/// Header that carries a link's password for JSON clients.
pub const PASSWORD_HEADER: &str = "x-share-password";
/// How long a reveal lets the viewer download artifacts without spending a view.
pub const GRANT_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// Brute-force limits: 5 failures per client per link and 20 per link, in 10 minutes.
pub const ATTEMPT_LIMITS: AttemptLimits =
    AttemptLimits { window_ms: 10 * 60 * 1000, per_client: 5, per_link: 20 };
/// Length of a URL token (256 bits, URL-safe base64).
const TOKEN_LEN: usize = 43;
/// Cookie holding the grant of the browser's last reveal of a link (scoped to the
/// link's path): reloading within the grant's hour shows the page again without
/// spending another view.
const GRANT_COOKIE: &str = "agentshare_grant";
/// Cookie set with the password form and the Reveal button: when it comes back,
/// the browser keeps cookies, so a reveal can answer with a redirect to the page
/// (reloadable) instead of the page itself (which would post again on reload).
const PROBE_COOKIE: &str = "agentshare_probe";
/// Most outputs a shared view shows.
const MAX_OUTPUTS: u32 = 1000;

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

/// The outputs a view shows: the task's content as cached, with secrets masked or
/// not. Serialized once per task version and link setting, then sent as is.
#[derive(Debug)]
pub struct SharedOutputs {
    content: Arc<TaskContent>,
    mask: bool,
}

impl SharedOutputs {
    /// Each output's name, content (masked as the link says) and time.
    pub fn iter(&self) -> impl Iterator<Item = SharedOutput<'_>> {
        self.content.outputs.iter().map(|o| SharedOutput {
            name: &o.name,
            content: o.content(self.mask),
            created_at: Timestamp(o.created_at),
        })
    }
}

impl Serialize for SharedOutputs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let json = self
            .content
            .outputs_json(self.mask, || serde_json::value::to_raw_value(&self.iter().collect::<Vec<_>>()));
        json.map_err(serde::ser::Error::custom)?.serialize(serializer)
    }
}

/// What a link with `show_metadata` tells about the task.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedMetadata {
    pub status: crate::domain::task::TaskStatus,
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

/// Form fields a browser posts to `/s/{token}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealForm {
    /// The link's password, if it has one.
    password: Option<String>,
}

/// Query of an artifact download.
#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    grant: Option<String>,
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let json = accept.find("application/json");
    let html = accept.find("text/html");
    match (json, html) {
        (Some(_), None) => true,
        (Some(j), Some(h)) => j < h,
        _ => false,
    }
}

/// What a path segment under `/s/` names.
enum Presented {
    /// An active link.
    Link(Arc<ShareLinkRecord>),
    /// A short code of a link: redirect to its full URL.
    Short(String),
    Gone,
}

/// Looks `token` up for `client`, refusing clients that keep missing and counting
/// this lookup if it misses.
async fn lookup(state: &AppState, token: &str, client: IpAddr) -> Result<Presented, ApiError> {
    refuse_guessers(state, client)?;
    let found = find(state, token).await?;
    if matches!(found, Presented::Gone) {
        state.misses().record_miss(client);
    }
    Ok(found)
}

/// 429 for a client that missed too often lately.
pub(super) fn refuse_guessers(state: &AppState, client: IpAddr) -> Result<(), ApiError> {
    match state.misses().retry_after(client) {
        Some(wait) => Err(ApiError::RateLimited { retry_after_secs: wait.as_secs().max(1) }),
        None => Ok(()),
    }
}

async fn find(state: &AppState, token: &str) -> Result<Presented, ApiError> {
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if token.len() == SHORT_CODE_LEN && valid(token) {
        let id = state.db().share_link_by_short_code(&ids::secret_hash(token), Timestamp::now()).await?;
        let keys = state.link_keys();
        // The same work whether or not a link was found, so timing tells nothing.
        let expected = keys.short_code(id.as_deref().unwrap_or(NO_LINK));
        return Ok(match id {
            Some(id) if ids::same_secret(&expected, token) => {
                Presented::Short(format!("{}/s/{}", state.public_url(), keys.token(&id)))
            }
            _ => Presented::Gone,
        });
    }
    if token.len() != TOKEN_LEN || !valid(token) {
        return Ok(Presented::Gone);
    }
    let now = Timestamp::now();
    let token_hash = ids::secret_hash(token);
    // A cached link is checked against the stored one when its view is counted.
    if let Some(link) = state.links().get(&token_hash).filter(|l| l.status(now) == ShareStatus::Active) {
        return Ok(Presented::Link(link));
    }
    Ok(match link_by_token(state, token, Some(now)).await? {
        Some(link) if link.status(now) == ShareStatus::Active => {
            state.links().remember(&token_hash, &link);
            Presented::Link(Arc::new(link))
        }
        _ => Presented::Gone,
    })
}

/// The link a URL token opens, in any status (or, with `active_at`, only an active
/// one). The token must be the one the current link key derives: links made under a
/// retired key stay closed.
pub(super) async fn link_by_token(
    state: &AppState,
    token: &str,
    active_at: Option<Timestamp>,
) -> Result<Option<ShareLinkRecord>, ApiError> {
    let link = state.db().share_link_by_token(&ids::secret_hash(token), active_at).await?;
    // The same work whether or not a link was found, so timing tells nothing.
    let expected = state.link_keys().token(link.as_ref().map_or(NO_LINK, |l| l.share_link_id.as_str()));
    Ok(link.filter(|_| ids::same_secret(&expected, token)))
}

/// Stands in for a link id when a lookup found nothing.
const NO_LINK: &str = "share_0000000000000000";

/// Checks `password` for a protected link, counting failures per client and per
/// link; a wrong password spends no view.
async fn check_password(
    state: &AppState,
    link: &ShareLinkRecord,
    password: Option<&str>,
    client: IpAddr,
) -> Result<(), ApiError> {
    let Some(stored) = link.password_hash.clone() else {
        return Ok(());
    };
    let Some(password) = password.filter(|p| !p.is_empty()).map(str::to_owned) else {
        return Err(ApiError::PasswordRequired);
    };
    let client_key = state.link_keys().visitor_hash(&link.share_link_id, &client.to_string(), "password");
    let attempt =
        match state.db().reserve_password_attempt(&link.share_link_id, &client_key, ATTEMPT_LIMITS).await? {
            Attempt::Reserved(id) => id,
            Attempt::Locked { retry_after_ms } => {
                let retry_after_secs = (retry_after_ms.max(1000) as u64).div_ceil(1000);
                return Err(ApiError::TooManyAttempts { retry_after_secs });
            }
        };
    let right =
        state.password_work(move || crate::domain::share::verify_password(&stored, &password)).await?;
    if right {
        state.db().clear_password_attempt(&attempt).await?;
        Ok(())
    } else {
        tracing::info!(share_link_id = %link.share_link_id, "wrong share link password");
        Err(ApiError::InvalidPassword)
    }
}

/// Spends one view of `link`: counted atomically against `max_views`, recorded for
/// analytics, committed before anything is shown. `Ok(None)` when the link was
/// revoked, expired, used up or changed by its owner since it was read: nothing was
/// counted, and the request starts over from the link as it is now.
async fn reveal(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    client: IpAddr,
    headers: &HeaderMap,
) -> Result<Option<CountedView>, ApiError> {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let user_agent = user_agent.chars().take(512).collect::<String>();
    let agent = viewer::classify_user_agent(&user_agent);
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let location = state.locate(client);
    let ip_address = client.to_string();
    let view = NewView {
        client_prefix: Some(viewer::truncated_prefix(client)),
        visitor_hash: state.link_keys().visitor_hash(&link.share_link_id, &ip_address, &user_agent),
        ip_address,
        country: location.country,
        city: location.city,
        user_agent: (!user_agent.is_empty()).then_some(user_agent),
        referrer_host: viewer::referrer_host(referer),
        browser: agent.browser,
        os: agent.os,
        device: agent.device,
    };
    let outcome = state.views().record(link, view).await?;
    if link.notify_on_view || link.max_views.is_some() {
        state.webhooks_changed();
    }
    let counted = match outcome {
        ViewOutcome::Counted(counted) => counted,
        // Looked up again, the link is gone (and counted as a miss) or as it is now.
        ViewOutcome::Refused | ViewOutcome::Changed => {
            state.links().forget(&ids::secret_hash(token));
            return Ok(None);
        }
    };
    Ok(Some(counted))
}

/// How many times in a row a request starts over because the link changed.
const CHANGES_FOLLOWED: usize = 3;

/// Everything the viewer may see, after a counted view.
async fn shared_view(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    view: &CountedView,
) -> Result<SharedView, ApiError> {
    let db = state.db();
    let task = &view.task;
    let shown = state.content().shown(db, &link.task_id, task, MAX_OUTPUTS).await?;
    let metadata = if link.show_metadata {
        Some(SharedMetadata {
            status: task.status,
            agent: task.agent.clone(),
            created_at: Timestamp(task.created_at),
            started_at: task.started_at.map(Timestamp),
            finished_at: task.finished_at.map(Timestamp),
            duration_seconds: task
                .finished_at
                .map(|end| (end - task.started_at.unwrap_or(task.created_at)) as f64 / 1000.0),
        })
    } else {
        None
    };
    let grant = state.link_keys().grant(
        &link.share_link_id,
        &view.view_id,
        Timestamp(view.viewed_at.millis() + GRANT_LIFETIME_MS),
    );
    let comments = if link.allow_comments {
        let list = db.list_comments(&link.share_link_id, false).await?;
        Some(
            list.into_iter()
                .map(|c| SharedComment {
                    comment_id: c.comment_id,
                    name: c.name,
                    content: c.content,
                    created_at: Timestamp(c.created_at),
                })
                .collect(),
        )
    } else {
        None
    };
    let artifacts = if link.allow_download {
        let base = format!("{}/s/{token}/artifacts", state.public_url());
        Some(
            shown
                .artifacts
                .iter()
                .map(|a| SharedArtifact {
                    download_url: format!("{base}/{}?grant={grant}", a.artifact_id),
                    name: a.name.clone(),
                    content_type: a.content_type.clone(),
                    size_bytes: a.size_bytes,
                    sha256: a.sha256.clone(),
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(SharedView {
        share_link_id: link.share_link_id.clone(),
        title: link.title.clone(),
        description: link.description.clone(),
        outputs: SharedOutputs { content: shown, mask: link.mask_secrets },
        metadata,
        artifacts,
        permissions: link.permissions(),
        expires_at: Timestamp(link.expires_at),
        view_count: view.view_count,
        max_views: view.max_views,
        views_remaining: view.max_views.map(|max| (max - view.view_count).max(0)),
        grant,
        comments,
    })
}

/// Open a share link
///
/// With `Accept: application/json`: spends one view and returns the shared view (a
/// password-protected link needs `X-Share-Password`; a wrong one spends nothing).
/// Otherwise the HTML page. Unknown, expired and revoked links answer the same 404.
#[utoipa::path(
    get, path = "/s/{token}", tag = "viewer",
    params(
        ("token" = String, Path, description = "The link's token (or its short code, which redirects)"),
        ("X-Share-Password" = Option<String>, Header, description = "The link's password, if it has one"),
    ),
    responses(
        (status = 200, description = "The shared view (JSON); for browsers the page, or first a password form or the Reveal button of a view-limited link", content(
            (Envelope<SharedView> = "application/json"),
            (String = "text/html"),
        )),
        (status = 303, description = "A short code: redirects to the link's full URL", headers(
            ("Location" = String, description = "The link's full URL"),
        )),
        (status = 401, description = "`PASSWORD_REQUIRED` or `INVALID_PASSWORD` (JSON only)", body = ErrorEnvelope),
        (status = 404, description = "`SHARE_LINK_NOT_FOUND`: unknown, expired or revoked", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        )),
        (status = 429, description = "`TOO_MANY_ATTEMPTS` (wrong passwords) or `RATE_LIMITED` (too many lookups of links that do not exist)", content(
            (ErrorEnvelope = "application/json"),
            (String = "text/html"),
        ), headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn open_link(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let json = wants_json(&headers);
    let token = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return failure(err, json),
    };
    if !json {
        if let Some(again) = revisit(&state, &token, &jar).await {
            return again;
        }
    }
    following_changes(json, || open_once(&state, &token, client, &headers, json, jar.clone())).await
}

/// Runs `attempt` until it answers: it starts over (a few times at most) when the
/// link changed under it.
async fn following_changes<F: std::future::Future<Output = Option<Response>>>(
    json: bool,
    mut attempt: impl FnMut() -> F,
) -> Response {
    for _ in 0..CHANGES_FOLLOWED {
        if let Some(response) = attempt().await {
            return response;
        }
    }
    failure(ApiError::ShareUnavailable, json)
}

/// [`open_link`], once: `None` when the link changed before its view counted.
async fn open_once(
    state: &AppState,
    token: &str,
    client: IpAddr,
    headers: &HeaderMap,
    json: bool,
    jar: CookieJar,
) -> Option<Response> {
    let link = match lookup(state, token, client).await {
        Ok(Presented::Link(link)) => link,
        Ok(Presented::Short(url)) => return Some(Redirect::to(&url).into_response()),
        Ok(Presented::Gone) => return Some(gone(json)),
        Err(err) => return Some(failure(err, json)),
    };
    if json {
        let password = headers.get(PASSWORD_HEADER).and_then(|v| v.to_str().ok());
        return match open_json(state, &link, token, password, client, headers).await {
            Ok(Some(view)) => {
                Some(shown(&link, axum::Json(Envelope { success: true, data: view }).into_response()))
            }
            Ok(None) => None,
            Err(err) => Some(failure(err, true)),
        };
    }
    if link.password_hash.is_some() {
        return Some(with_probe(state, token, jar, page(StatusCode::OK, &PasswordPage { error: None })));
    }
    if let Some(max) = link.max_views {
        let remaining = (max - link.view_count).max(0);
        let interstitial = page(StatusCode::OK, &RevealPage { title: &link.title, remaining });
        return Some(with_probe(state, token, jar, interstitial));
    }
    reveal_page(state, &link, token, client, headers, jar, false).await
}

/// The page again for a browser holding the grant of an earlier reveal of this
/// link: no view is spent. `None` when there is no such grant (or it ran out, or
/// the link was revoked or is past its time), and the link opens as usual.
async fn revisit(state: &AppState, token: &str, jar: &CookieJar) -> Option<Response> {
    let grant = jar.get(GRANT_COOKIE)?.value().to_owned();
    if token.len() != TOKEN_LEN {
        return None;
    }
    let now = Timestamp::now();
    let link = link_by_token(state, token, None).await.ok()??;
    if link.revoked_at.is_some() || link.expires_at <= now.millis() {
        return None;
    }
    let (view_id, grant_expires) = state.link_keys().granted_view(&link.share_link_id, &grant, now)?;
    let task = state.db().task_facts(&link.task_id).await.ok()??;
    let view = CountedView {
        view_id,
        view_count: link.view_count,
        max_views: link.max_views,
        viewed_at: Timestamp(grant_expires.millis() - GRANT_LIFETIME_MS),
        task,
    };
    Some(match shared_view(state, &link, token, &view).await {
        Ok(shared) => page(StatusCode::OK, &SharePage::new(state, &shared, token)),
        Err(err) => failure(err, false),
    })
}

/// The path of a link's page under the public URL (cookies are scoped to it).
fn link_path(state: &AppState, token: &str) -> String {
    format!("{}/s/{token}", state.public_path())
}

/// `response` with the probe cookie that tells a later reveal the browser keeps cookies.
fn with_probe(state: &AppState, token: &str, jar: CookieJar, response: Response) -> Response {
    let probe = cookie(
        state,
        PROBE_COOKIE,
        "1".into(),
        link_path(state, token),
        std::time::Duration::from_secs(3600),
    );
    (jar.add(probe), response).into_response()
}

async fn open_json(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    password: Option<&str>,
    client: IpAddr,
    headers: &HeaderMap,
) -> Result<Option<SharedView>, ApiError> {
    check_password(state, link, password, client).await?;
    match reveal(state, link, token, client, headers).await? {
        Some(view) => shared_view(state, link, token, &view).await.map(Some),
        None => Ok(None),
    }
}

/// Reveal a share link (browsers)
///
/// What the page's password form and Reveal button post: spends one view and
/// answers the page of the shared view, or the password form again (401) when the
/// password is missing or wrong (which spends nothing).
#[utoipa::path(
    post, path = "/s/{token}", tag = "viewer",
    params(("token" = String, Path, description = "The link's token")),
    request_body(content = Option<RevealForm>, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The page of the shared view", content_type = "text/html", body = String),
        (status = 401, description = "The password form, asking again", content_type = "text/html", body = String),
        (status = 404, description = "The link is unknown, expired or revoked", content_type = "text/html", body = String),
        (status = 429, description = "Too many wrong passwords, or too many lookups of links that do not exist", content_type = "text/html", body = String, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<RevealForm>, FormRejection>,
) -> Response {
    let token = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return failure(err, false),
    };
    // A malformed form is treated as an empty one: the page then asks again.
    let form = form.map_or(RevealForm { password: None }, |Form(form)| form);
    let redirect = jar.get(PROBE_COOKIE).is_some();
    let password = form.password.as_deref();
    following_changes(false, || {
        submit_once(&state, &token, client, &headers, password, jar.clone(), redirect)
    })
    .await
}

/// [`submit`], once: `None` when the link changed before its view counted.
async fn submit_once(
    state: &AppState,
    token: &str,
    client: IpAddr,
    headers: &HeaderMap,
    password: Option<&str>,
    jar: CookieJar,
    redirect: bool,
) -> Option<Response> {
    let link = match lookup(state, token, client).await {
        Ok(Presented::Link(link)) => link,
        Ok(_) => return Some(gone(false)),
        Err(err) => return Some(failure(err, false)),
    };
    match check_password(state, &link, password, client).await {
        Ok(()) => {}
        Err(ApiError::PasswordRequired) => {
            return Some(page(
                StatusCode::UNAUTHORIZED,
                &PasswordPage { error: Some("Enter the password.".into()) },
            ))
        }
        Err(ApiError::InvalidPassword) => {
            return Some(page(
                StatusCode::UNAUTHORIZED,
                &PasswordPage { error: Some("That password is not correct. No view was used.".into()) },
            ))
        }
        Err(ApiError::TooManyAttempts { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let message = format!(
                "Too many wrong passwords. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut response = page(StatusCode::TOO_MANY_REQUESTS, &PasswordPage { error: Some(message) });
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return Some(response);
        }
        Err(err) => return Some(failure(err, false)),
    }
    reveal_page(state, &link, token, client, headers, jar, redirect).await
}

/// Spends a view and answers the page, keeping the view's grant in a cookie so
/// the page can be reloaded (and files downloaded) for an hour without spending
/// another. With `redirect`, answers a redirect to the page instead (after a form
/// post, so that reloading does not post again). `None` when the link changed
/// before its view counted.
async fn reveal_page(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    client: IpAddr,
    headers: &HeaderMap,
    jar: CookieJar,
    redirect: bool,
) -> Option<Response> {
    let view = match reveal(state, link, token, client, headers).await {
        Ok(Some(view)) => view,
        Ok(None) => return None,
        Err(err) => return Some(failure(err, false)),
    };
    let shared = match shared_view(state, link, token, &view).await {
        Ok(shared) => shared,
        Err(err) => return Some(failure(err, false)),
    };
    let lifetime = std::time::Duration::from_millis(GRANT_LIFETIME_MS as u64);
    let grant = cookie(state, GRANT_COOKIE, shared.grant.clone(), link_path(state, token), lifetime);
    let jar = jar.add(grant);
    Some(shown(
        link,
        if redirect {
            (jar, see_other(&link_path(state, token))).into_response()
        } else {
            (jar, page(StatusCode::OK, &SharePage::new(state, &shared, token))).into_response()
        },
    ))
}

/// `response`, marked as showing a counted view of `link`: its "response" log
/// line names the link.
fn shown(link: &ShareLinkRecord, mut response: Response) -> Response {
    response.extensions_mut().insert(ViewedLink(link.share_link_id.clone()));
    response
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
        (status = 429, description = "`RATE_LIMITED`: too many lookups of links that do not exist", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    path: Result<ApiPath<(String, String)>, ApiError>,
    ClientIp(client): ClientIp,
    query: Result<ApiQuery<DownloadQuery>, ApiError>,
) -> Response {
    let (token, artifact_id) = match path {
        Ok(ApiPath(path)) => path,
        Err(err) => return failure(err, true),
    };
    let grant = query.ok().and_then(|ApiQuery(q)| q.grant);
    guarded(&state, client, download_inner(&state, &token, &artifact_id, grant.as_deref())).await
}

/// Answers a download with `work`, unless the client keeps guessing links; a
/// download of a gone link counts as a miss.
async fn guarded(
    state: &AppState,
    client: IpAddr,
    work: impl std::future::Future<Output = Result<Response, ApiError>>,
) -> Response {
    if let Err(err) = refuse_guessers(state, client) {
        return failure(err, true);
    }
    match work.await {
        Ok(response) => response,
        Err(ApiError::ShareUnavailable) => {
            state.misses().record_miss(client);
            failure(ApiError::ShareUnavailable, true)
        }
        Err(err) => failure(err, true),
    }
}

/// The link a download is for, when `grant` proves a recent view of it and the link
/// allows downloads. A link that reached its view limit still serves the viewers
/// who revealed it (for the grant's hour); revocation and expiry by time stop
/// everything.
async fn downloadable(
    state: &AppState,
    token: &str,
    grant: Option<&str>,
) -> Result<ShareLinkRecord, ApiError> {
    if token.len() != TOKEN_LEN {
        return Err(ApiError::ShareUnavailable);
    }
    let now = Timestamp::now();
    let link = link_by_token(state, token, None)
        .await?
        .filter(|l| l.revoked_at.is_none() && l.expires_at > now.millis())
        .ok_or(ApiError::ShareUnavailable)?;
    if !grant.is_some_and(|g| state.link_keys().check_grant(&link.share_link_id, g, now)) {
        return Err(ApiError::ViewRequired);
    }
    if !link.allow_download {
        return Err(ApiError::DownloadNotAllowed);
    }
    Ok(link)
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
        (status = 429, description = "`RATE_LIMITED`: too many lookups of links that do not exist", body = ErrorEnvelope, headers(
            ("Retry-After" = u64, description = "Seconds until the client may try again"),
        )),
    )
)]
pub async fn download_all(
    State(state): State<AppState>,
    path: Result<ApiPath<String>, ApiError>,
    ClientIp(client): ClientIp,
    query: Result<ApiQuery<DownloadQuery>, ApiError>,
) -> Response {
    let token = match path {
        Ok(ApiPath(token)) => token,
        Err(err) => return failure(err, true),
    };
    let grant = query.ok().and_then(|ApiQuery(q)| q.grant);
    let zip = async {
        let link = downloadable(&state, &token, grant.as_deref()).await?;
        let artifacts = state.db().list_artifacts(&link.task_id).await?;
        let name = file_stem(&link.title);
        Ok(archive::zip_response(state.db().clone(), link.task_id, artifacts, &name))
    };
    guarded(&state, client, zip).await
}

/// A file name made of a title: letters, digits, `-` and `_`, at most 80 characters.
fn file_stem(title: &str) -> String {
    let mut stem = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() || c == '_' {
            stem.push(c);
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
        if stem.chars().count() >= 80 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "artifacts".to_owned()
    } else {
        stem.to_owned()
    }
}

async fn download_inner(
    state: &AppState,
    token: &str,
    artifact_id: &str,
    grant: Option<&str>,
) -> Result<Response, ApiError> {
    let link = downloadable(state, token, grant).await?;
    let artifact = state
        .db()
        .artifact_content(&link.task_id, artifact_id)
        .await?
        .ok_or(ApiError::ArtifactNotFound { artifact_id: artifact_id.to_owned() })?;
    Ok(file_response(artifact))
}

/// The one answer for unknown, expired and revoked links.
fn gone(json: bool) -> Response {
    if json {
        ApiError::ShareUnavailable.into_response()
    } else {
        page(StatusCode::NOT_FOUND, &GonePage)
    }
}

pub(super) fn failure(err: ApiError, json: bool) -> Response {
    match err {
        ApiError::ShareUnavailable => gone(json),
        err if json => err.into_response(),
        err => {
            // The page in place of the JSON body, with the same status and `Retry-After`.
            let json = err.into_response();
            let mut response = page(json.status(), &ErrorPage);
            if let Some(retry_after) = json.headers().get(header::RETRY_AFTER) {
                response.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
            }
            response
        }
    }
}

/// A rendered output for the page.
struct RenderedOutput {
    name: String,
    html: String,
}

#[derive(Template)]
#[template(path = "share.html")]
struct SharePage<'a> {
    view: &'a SharedView,
    outputs: Vec<RenderedOutput>,
    /// `(label, value, is a time)`; empty without `show_metadata`.
    metadata: Vec<(&'static str, String, bool)>,
    artifacts: Option<Vec<FileLine>>,
    /// "Download all": a zip of every artifact, when there are any to download.
    archive_url: Option<String>,
    /// Where the comment form posts, when comments are allowed.
    comment_action: String,
    /// The link itself, to copy or scan.
    link_url: String,
    qr: Option<std::sync::Arc<str>>,
}

impl<'a> SharePage<'a> {
    fn new(state: &AppState, view: &'a SharedView, token: &str) -> SharePage<'a> {
        let outputs = view
            .outputs
            .iter()
            .map(|o| RenderedOutput { name: o.name.to_owned(), html: markdown::render_cached(o.content) })
            .collect();
        let mut metadata = Vec::new();
        if let Some(m) = &view.metadata {
            metadata.push(("Status", m.status.as_str().to_owned(), false));
            if let Some(agent) = &m.agent {
                metadata.push(("Agent", agent.clone(), false));
            }
            metadata.push(("Created", m.created_at.to_rfc3339(), true));
            if let Some(finished) = m.finished_at {
                metadata.push(("Finished", finished.to_rfc3339(), true));
            }
            if let Some(secs) = m.duration_seconds {
                metadata.push(("Duration", format::duration(secs), false));
            }
        }
        let artifacts: Option<Vec<FileLine>> = view.artifacts.as_ref().map(|list| {
            list.iter()
                .map(|a| FileLine {
                    name: a.name.clone(),
                    url: a.download_url.clone(),
                    size: format::size(a.size_bytes),
                    content_type: a.content_type.clone(),
                })
                .collect()
        });
        let path = link_path(state, token);
        let archive_url = artifacts
            .as_ref()
            .filter(|list| !list.is_empty())
            .map(|_| format!("{path}/artifacts.zip?grant={}", view.grant));
        let link_url = format!("{}/s/{token}", state.public_url());
        SharePage {
            view,
            outputs,
            metadata,
            artifacts,
            archive_url,
            comment_action: format!("{path}/comments"),
            qr: qr::data_url(&link_url),
            link_url,
        }
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reveal.html")]
struct RevealPage<'a> {
    title: &'a str,
    remaining: i64,
}

#[derive(Template)]
#[template(path = "gone.html")]
struct GonePage;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage;
