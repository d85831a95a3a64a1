//! The viewer's page of a share link: `{public-url}/s/{token}` for browsers.
//!
//! A password form when the link has one, a "Reveal" interstitial when it has a
//! view limit (so link-preview bots and mail scanners that fetch the URL don't spend
//! a view), and the rendered outputs once revealed; then the page can be reloaded
//! for an hour on the view's grant (kept in a cookie) without spending another.
//! Gone links — unknown, expired or revoked — all answer one identical 404 page.
//! The same URL answers JSON clients in `api::viewer`; what a view shows is decided
//! in [`app::opening`].

use std::net::IpAddr;

use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{bad_path, failure, GonePage};
use super::page::{nonce, page, see_other};
use super::render::FileLine;
use super::session::{check_form_token, cookie, form_token, session_cookie, PostedForm};
use super::{format, markdown, prepared, qr};
use crate::app::cards::{self, Preview, PreviewCard};
use crate::app::opening::{self, following_changes, Gate, Presented, SharedView, Visitor, GRANT_LIFETIME_MS};
use crate::app::{self, audiences, AppState};
use crate::domain::time::Timestamp;
use crate::http::ClientIp;
use crate::storage::{CountedView, ShareLinkRecord};
use crate::telemetry::ViewedLink;

/// Cookie holding the grant of the browser's last reveal of a link (scoped to the
/// link's path): reloading within the grant's hour shows the page again without
/// spending another view.
const GRANT_COOKIE: &str = "agentshare_grant";
/// Cookie set with the password form and the Reveal button: when it comes back,
/// the browser keeps cookies, so a reveal can answer with a redirect to the page
/// (reloadable) instead of the page itself (which would post again on reload).
const PROBE_COOKIE: &str = "agentshare_probe";
/// Cookie holding the viewer token of a link with an audience: proof of the
/// browser's verified address, for the link's path and the browser session.
const AUDIENCE_COOKIE: &str = "agentshare_audience";

/// Form fields a browser posts to `/s/{token}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevealForm {
    /// The link's password, if it has one.
    password: Option<String>,
}

/// A path that could not be read: why, for the 400 page.
pub(super) struct BadPath(String);

impl IntoResponse for BadPath {
    fn into_response(self) -> Response {
        bad_path(&self.0)
    }
}

/// The token of a page's path.
pub(super) fn token(path: Result<Path<String>, PathRejection>) -> Result<String, BadPath> {
    match path {
        Ok(Path(token)) if token.contains('\0') => {
            Err(BadPath("token must not contain NUL characters".into()))
        }
        Ok(Path(token)) => Ok(token),
        Err(rejection) => Err(BadPath(rejection.body_text())),
    }
}

/// What a request tells about its viewer.
fn visitor<'a>(client: IpAddr, headers: &'a HeaderMap, jar: &'a CookieJar) -> Visitor<'a> {
    Visitor {
        client,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()),
        referer: headers.get(header::REFERER).and_then(|v| v.to_str().ok()),
        viewer_token: jar.get(AUDIENCE_COOKIE).map(|c| c.value()),
    }
}

/// The page of a share link (documented, with the JSON it shares its URL with, in
/// the service's router).
pub async fn open_link(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let token = match token(path) {
        Ok(token) => token,
        Err(bad) => return bad.into_response(),
    };
    let visitor = visitor(client, &headers, &jar);
    if visitor.is_link_previewer() {
        return preview(&state, &token, client).await;
    }
    if let Some(grant) = jar.get(GRANT_COOKIE).map(|c| c.value().to_owned()) {
        if let Some(again) = opening::revisit(&state, &token, &grant).await {
            return match again {
                Ok((link, view)) => page(StatusCode::OK, &SharePage::new(&state, &link, &view, &token)),
                Err(err) => failure(err),
            };
        }
    }
    let answer = following_changes(|| open_once(&state, &token, visitor, jar.clone())).await;
    answer.unwrap_or_else(|| failure(app::Error::ShareUnavailable))
}

/// What a link previewer or crawler gets: the link's preview card on a page of its
/// own, which shows nothing else of the link; no view is spent.
async fn preview(state: &AppState, token: &str, client: IpAddr) -> Response {
    match cards::preview(state, token, client).await {
        Ok(Preview::Card(card)) => page(StatusCode::OK, &PreviewPage { card: &card }),
        Ok(Preview::Short(url)) => Redirect::to(&url).into_response(),
        Ok(Preview::Gone) => page(StatusCode::NOT_FOUND, &GonePage),
        Err(err) => failure(err),
    }
}

/// [`open_link`], once: `None` when the link changed before its view counted.
async fn open_once(state: &AppState, token: &str, visitor: Visitor<'_>, jar: CookieJar) -> Option<Response> {
    let link = match opening::lookup(state, token, visitor.client).await {
        Ok(Presented::Link(link)) => link,
        Ok(Presented::Short(url)) => return Some(Redirect::to(&url).into_response()),
        Ok(Presented::Gone) => return Some(page(StatusCode::NOT_FOUND, &GonePage)),
        Err(err) => return Some(failure(err)),
    };
    if audiences::verified_email(state, &link, visitor.viewer_token).is_err() {
        return Some(email_page(state, token, jar, None, StatusCode::OK));
    }
    match opening::gate(state, &link, visitor) {
        Some(Gate::Password) => {
            return Some(with_probe(state, token, jar, page(StatusCode::OK, &PasswordPage::of(&link, None))));
        }
        Some(Gate::Reveal { remaining }) => {
            let title = shown_title(&link);
            let interstitial = page(StatusCode::OK, &RevealPage { title: &title, remaining });
            return Some(with_probe(state, token, jar, interstitial));
        }
        None => {}
    }
    reveal_page(state, &link, token, visitor, jar, false).await
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
    path: Result<Path<String>, PathRejection>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    form: Result<Form<RevealForm>, FormRejection>,
) -> Response {
    let token = match token(path) {
        Ok(token) => token,
        Err(bad) => return bad.into_response(),
    };
    // A malformed form is treated as an empty one: the page then asks again.
    let form = form.map_or(RevealForm { password: None }, |Form(form)| form);
    let redirect = jar.get(PROBE_COOKIE).is_some();
    let password = form.password.as_deref();
    let visitor = visitor(client, &headers, &jar);
    let answer =
        following_changes(|| submit_once(&state, &token, visitor, password, jar.clone(), redirect)).await;
    answer.unwrap_or_else(|| failure(app::Error::ShareUnavailable))
}

/// [`submit`], once: `None` when the link changed before its view counted.
async fn submit_once(
    state: &AppState,
    token: &str,
    visitor: Visitor<'_>,
    password: Option<&str>,
    jar: CookieJar,
    redirect: bool,
) -> Option<Response> {
    let link = match opening::lookup(state, token, visitor.client).await {
        Ok(Presented::Link(link)) => link,
        Ok(_) => return Some(page(StatusCode::NOT_FOUND, &GonePage)),
        Err(err) => return Some(failure(err)),
    };
    if audiences::verified_email(state, &link, visitor.viewer_token).is_err() {
        return Some(email_page(state, token, jar, None, StatusCode::UNAUTHORIZED));
    }
    let asked_again = |error: String| PasswordPage::of(&link, Some(error));
    match opening::check_password(state, &link, password, visitor).await {
        Ok(()) => {}
        Err(app::Error::PasswordRequired) => {
            return Some(page(StatusCode::UNAUTHORIZED, &asked_again("Enter the password.".into())))
        }
        Err(app::Error::InvalidPassword) => {
            let error = "That password is not correct. No view was used.".to_owned();
            return Some(page(StatusCode::UNAUTHORIZED, &asked_again(error)));
        }
        Err(app::Error::TooManyAttempts { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let message = format!(
                "Too many wrong passwords. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            let mut response = page(StatusCode::TOO_MANY_REQUESTS, &asked_again(message));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return Some(response);
        }
        Err(err) => return Some(failure(err)),
    }
    reveal_page(state, &link, token, visitor, jar, redirect).await
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
    visitor: Visitor<'_>,
    jar: CookieJar,
    redirect: bool,
) -> Option<Response> {
    let view = match opening::reveal(state, link, token, visitor).await {
        Ok(Some(view)) => view,
        Ok(None) => return None,
        Err(err) => return Some(failure(err)),
    };
    let grant = opening::grant_of(state, link, &view);
    let lifetime = std::time::Duration::from_millis(GRANT_LIFETIME_MS as u64);
    let jar = jar.add(cookie(state, GRANT_COOKIE, grant.clone(), link_path(state, token), lifetime));
    let mut response = if redirect {
        (jar, see_other(&link_path(state, token))).into_response()
    } else {
        match shown_page(state, link, token, &view, &grant).await {
            Ok(html) => (jar, Html(html)).into_response(),
            Err(err) => return Some(failure(err)),
        }
    };
    // The request's log line names the link it showed.
    response.extensions_mut().insert(ViewedLink(link.share_link_id.to_string()));
    Some(response)
}

/// The page of a counted view whose grant is `grant`: the link's prepared page
/// with the view's own strings, when it has one for this version of the link and
/// its task ([`prepared`]); otherwise rendered (and prepared, when it applies).
async fn shown_page(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    view: &CountedView,
    grant: &str,
) -> Result<String, app::Error> {
    let link_url = format!("{}/s/{token}", state.urls().public());
    let preparable = prepared::applies_to(link);
    if preparable {
        if let Some(kept) = prepared::kept(link, &link_url, &view.task) {
            return Ok(kept.with(grant, &nonce()));
        }
    }
    let shared = opening::shared_view(state, link, token, view).await?;
    let html = SharePage::new(state, link, &shared, token).render().map_err(app::Error::internal)?;
    if preparable {
        prepared::keep(link, &link_url, &view.task, html.clone(), grant, &nonce());
    }
    Ok(html)
}

/// The path of a link's page under the public URL (cookies are scoped to it).
fn link_path(state: &AppState, token: &str) -> String {
    format!("{}/s/{token}", state.urls().path())
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

/// A rendered output for the page.
struct RenderedOutput {
    name: String,
    html: String,
}

#[derive(Template)]
#[template(path = "share.html")]
struct SharePage<'a> {
    view: &'a SharedView,
    /// What a link preview of this link shows (the page's own preview tags).
    preview: PreviewCard,
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
    fn new(state: &AppState, link: &ShareLinkRecord, view: &'a SharedView, token: &str) -> SharePage<'a> {
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
        let link_url = format!("{}/s/{token}", state.urls().public());
        SharePage {
            view,
            preview: cards::preview_card(link, Some(&view.outputs.content), Timestamp::now()),
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
    /// The link's title: what is being opened.
    title: String,
    /// Views left, for a view-limited link (opening it spends one).
    remaining: Option<i64>,
    error: Option<String>,
}

impl PasswordPage {
    fn of(link: &ShareLinkRecord, error: Option<String>) -> PasswordPage {
        let remaining = link.max_views.map(|max| (max - link.view_count).max(0));
        PasswordPage { title: shown_title(link), remaining, error }
    }
}

/// The link's title as its viewers may see it: with its redaction applied.
fn shown_title(link: &ShareLinkRecord) -> String {
    link.redaction().redactor().redact(&link.title).into_owned()
}

#[derive(Template)]
#[template(path = "reveal.html")]
struct RevealPage<'a> {
    title: &'a str,
    remaining: i64,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct PreviewPage<'a> {
    card: &'a PreviewCard,
}

/// Form fields the verification pages post.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct VerificationForm {
    /// The address to prove.
    email: Option<String>,
    /// The code mailed to it (confirming only).
    code: Option<String>,
    /// The form's anti-forgery token.
    csrf: Option<String>,
}

/// The page asking for the viewer's address, for a link with an audience.
fn email_page(
    state: &AppState,
    token: &str,
    jar: CookieJar,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let path = link_path(state, token);
    let (jar, csrf) = form_token(state, jar, &path);
    let action = format!("{path}/verification");
    (jar, page(status, &VerifyEmailPage { action: &action, csrf: &csrf, error })).into_response()
}

/// The page asking for the code mailed to `email`.
fn code_page(
    state: &AppState,
    token: &str,
    jar: CookieJar,
    email: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let path = link_path(state, token);
    let (jar, csrf) = form_token(state, jar, &path);
    let action = format!("{path}/verification/confirm");
    (jar, page(status, &VerifyCodePage { action: &action, csrf: &csrf, email, error, restart: &path }))
        .into_response()
}

/// Asks for a code from the address page (documented with the JSON post in the
/// service's router): the code page, whether or not the address may open the link.
pub async fn request_verification(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<VerificationForm>,
) -> Response {
    let token = match token(path) {
        Ok(token) => token,
        Err(bad) => return bad.into_response(),
    };
    if let Err(forged) = check_form_token(&jar, &headers, form.csrf.as_deref()) {
        return forged.into_response();
    }
    let email = form.email.unwrap_or_default().trim().to_lowercase();
    match audiences::request_code(&state, &token, client, &email).await {
        Ok(()) => code_page(&state, &token, jar, &email, None, StatusCode::OK),
        Err(app::Error::Invalid(_)) => {
            email_page(&state, &token, jar, Some("Enter a valid e-mail address."), StatusCode::BAD_REQUEST)
        }
        Err(app::Error::ShareUnavailable) => page(StatusCode::NOT_FOUND, &GonePage),
        Err(err) => failure(err),
    }
}

/// Confirms the code from the code page (documented with the JSON post in the
/// service's router): a right code keeps the viewer token in a session cookie and
/// goes back to the link's page.
pub async fn confirm_verification(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<VerificationForm>,
) -> Response {
    let token = match token(path) {
        Ok(token) => token,
        Err(bad) => return bad.into_response(),
    };
    if let Err(forged) = check_form_token(&jar, &headers, form.csrf.as_deref()) {
        return forged.into_response();
    }
    let email = form.email.unwrap_or_default().trim().to_lowercase();
    let code = form.code.unwrap_or_default();
    match audiences::confirm(&state, &token, client, &email, &code).await {
        Ok(viewer_token) => {
            let path = link_path(&state, &token);
            let jar = jar.add(session_cookie(&state, AUDIENCE_COOKIE, viewer_token, path.clone()));
            (jar, see_other(&path)).into_response()
        }
        Err(app::Error::VerificationFailed | app::Error::Invalid(_)) => {
            let error = "That code is not correct or no longer works. Ask for a new code if you need one.";
            code_page(&state, &token, jar, &email, Some(error), StatusCode::UNAUTHORIZED)
        }
        Err(app::Error::ShareUnavailable) => page(StatusCode::NOT_FOUND, &GonePage),
        Err(err) => failure(err),
    }
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyEmailPage<'a> {
    action: &'a str,
    csrf: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "verify_code.html")]
struct VerifyCodePage<'a> {
    action: &'a str,
    csrf: &'a str,
    /// As the viewer typed it: escaped like everything else.
    email: &'a str,
    error: Option<&'a str>,
    /// The link's page, to start over.
    restart: &'a str,
}
