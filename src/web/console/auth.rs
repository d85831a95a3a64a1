//! Signing in to the console with an API key, and signing out.
//!
//! The key is checked once and never kept: the browser gets a session cookie of its
//! own (a random secret, stored hashed), good for [`SESSION_LIFETIME`] or until the
//! owner signs out or the key is revoked.

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{safe_next, Console};
use crate::app::{self, access, AppState};
use crate::http::ClientIp;
use crate::web::error::failure;
use crate::web::page::{page, see_other};
use crate::web::session::{check_form_token, cookie, form_token, removal, PostedForm, CONSOLE_COOKIE};

/// How long a console sign-in lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    action: String,
    csrf: String,
    next: String,
    error: Option<String>,
}

#[derive(Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

fn login_page(
    state: &AppState,
    jar: CookieJar,
    status: StatusCode,
    next: Option<&str>,
    error: Option<String>,
) -> Response {
    let action = format!("{}/console/login", state.urls().path());
    let (jar, csrf) = form_token(state, jar, &action);
    let next = safe_next(next).unwrap_or_default().to_owned();
    (jar, page(status, &LoginPage { action, csrf, next, error })).into_response()
}

pub async fn login_form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<LoginQuery>,
) -> Response {
    login_page(&state, jar, StatusCode::OK, query.next.as_deref(), None)
}

#[derive(Default, Deserialize)]
pub struct LoginForm {
    api_key: Option<String>,
    next: Option<String>,
    csrf: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<LoginForm>,
) -> Response {
    if let Err(refused) = check_form_token(&jar, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let next = form.next.as_deref();
    // Keys are unguessable; still, a client that keeps presenting wrong ones is
    // slowed down like one guessing links.
    if let Some(wait) = state.limits().misses.retry_after(client) {
        state.metrics().miss_refused();
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let message = format!(
            "Too many attempts from here. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        let mut response = login_page(&state, jar, StatusCode::TOO_MANY_REQUESTS, next, Some(message));
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let key = form.api_key.unwrap_or_default();
    match access::console_sign_in(&state, &key, SESSION_LIFETIME).await {
        Ok(signed_in) => {
            let base = format!("{}/console", state.urls().path());
            let jar = jar
                .add(cookie(&state, CONSOLE_COOKIE, signed_in.secret, base.clone(), SESSION_LIFETIME))
                .add(removal(&state, crate::web::session::FORM_COOKIE, format!("{base}/login")));
            let target = match safe_next(next) {
                Some(path) => format!("{}{path}", state.urls().path()),
                None => format!("{base}/tasks"),
            };
            (jar, see_other(&target)).into_response()
        }
        Err(app::Error::Unauthenticated) => {
            state.limits().misses.record_miss(client);
            login_page(&state, jar, StatusCode::UNAUTHORIZED, next, Some(not_a_key()))
        }
        Err(err) => failure(err),
    }
}

fn not_a_key() -> String {
    "That is not a valid API key (or it was revoked). Keys start with ask_ and are printed by `agentshare keys create`.".into()
}

#[derive(Default, Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
    jar: CookieJar,
    PostedForm(form): PostedForm<LogoutForm>,
) -> Response {
    let csrf = form.csrf;
    if let Err(refused) = console.check(&state, &headers, csrf.as_deref()) {
        return refused.into_response();
    }
    if let Err(err) = access::console_sign_out(&state, &console.session).await {
        return failure(err);
    }
    let base = format!("{}/console", state.urls().path());
    let jar = jar.add(removal(&state, CONSOLE_COOKIE, base.clone()));
    (jar, see_other(&format!("{base}/login"))).into_response()
}
