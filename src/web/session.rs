//! Browser sessions: the cookies pages keep, and the checks that stop other sites
//! from posting forms on a viewer's or owner's behalf.
//!
//! Every session cookie is `HttpOnly` (script can't read it), `SameSite=Lax` (other
//! sites' forms don't carry it), scoped to the path it serves, and `Secure` when the
//! service is reached over HTTPS. Cookies hold secrets whose hashes the database
//! keeps, never API keys. Every form of a session also carries an anti-forgery token
//! derived from the session ([`crate::domain::share::LinkKeys::csrf_token`]); forms
//! posted before there is a session (signing in, entering a share code) carry a
//! random token that must match a cookie set with the form (double submit).
//! Posts that a browser marks as coming from another site (`Sec-Fetch-Site:
//! cross-site`) are refused outright.

use std::time::Duration;

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};

use super::page::page;
use crate::app::AppState;
use crate::domain::ids;

/// Cookie of a signed-in console browser.
pub const CONSOLE_COOKIE: &str = "agentshare_console";
/// Cookie of a share-code viewer's session (one per task, scoped to its pages).
pub const VIEWER_COOKIE: &str = "agentshare_viewer";
/// Cookie holding the anti-forgery token of a form posted before any session.
pub const FORM_COOKIE: &str = "agentshare_form";
/// Name of the anti-forgery field in every form.
pub const CSRF_FIELD: &str = "csrf";

/// A posted form; one that can't be read is taken as empty, which then fails its
/// anti-forgery check (so malformed posts change nothing and get the 403 page).
pub struct PostedForm<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for PostedForm<T>
where
    T: serde::de::DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = axum::Form::<T>::from_request(request, state).await;
        Ok(PostedForm(form.map(|axum::Form(form)| form).unwrap_or_default()))
    }
}

/// A cookie for this service: `HttpOnly`, `SameSite=Lax`, `Secure` over HTTPS.
pub fn cookie(
    state: &AppState,
    name: &'static str,
    value: String,
    path: String,
    max_age: Duration,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.urls().is_https())
        .max_age(::cookie::time::Duration::seconds(max_age.as_secs().min(i64::MAX as u64) as i64))
        .build()
}

/// A cookie for this service that lasts as long as the browser session: `HttpOnly`,
/// `SameSite=Lax`, `Secure` over HTTPS, no expiry.
pub fn session_cookie(state: &AppState, name: &'static str, value: String, path: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.urls().is_https())
        .build()
}

/// A cookie that removes `name` at `path`.
pub fn removal(state: &AppState, name: &'static str, path: String) -> Cookie<'static> {
    let mut gone = cookie(state, name, String::new(), path, Duration::ZERO);
    gone.make_removal();
    gone
}

/// True when the browser says the request comes from another site.
pub fn cross_site(headers: &HeaderMap) -> bool {
    headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
}

/// A fresh anti-forgery token for a form posted without a session, and the cookie
/// that must come back with it.
pub fn form_token(state: &AppState, jar: CookieJar, path: &str) -> (CookieJar, String) {
    if let Some(existing) = jar.get(FORM_COOKIE).map(|c| c.value().to_owned()).filter(|v| v.len() == 32) {
        return (jar, existing);
    }
    let token = ids::new_secret::<24>();
    let jar = jar.add(cookie(state, FORM_COOKIE, token.clone(), path.to_owned(), Duration::from_secs(3600)));
    (jar, token)
}

/// Checks a form posted without a session: not from another site, and its token
/// matches the cookie set with the form.
pub fn check_form_token(jar: &CookieJar, headers: &HeaderMap, presented: Option<&str>) -> Result<(), Forged> {
    let expected = jar.get(FORM_COOKIE).map(|c| c.value());
    match (expected, presented) {
        (Some(expected), Some(presented))
            if !cross_site(headers) && ids::same_secret(expected, presented) =>
        {
            Ok(())
        }
        _ => Err(Forged),
    }
}

/// Checks a form posted within session `session_id`.
pub fn check_session_token(
    state: &AppState,
    session_id: &str,
    headers: &HeaderMap,
    presented: Option<&str>,
) -> Result<(), Forged> {
    match presented {
        Some(token) if !cross_site(headers) && state.link_keys().check_csrf(session_id, token) => Ok(()),
        _ => Err(Forged),
    }
}

#[derive(Template)]
#[template(path = "forged.html")]
struct ForgedPage;

/// A form that did not come from one of our pages (or is too old): answered 403.
#[derive(Debug)]
pub struct Forged;

impl axum::response::IntoResponse for Forged {
    fn into_response(self) -> Response {
        tracing::info!("form refused: missing or wrong anti-forgery token");
        page(StatusCode::FORBIDDEN, &ForgedPage)
    }
}
