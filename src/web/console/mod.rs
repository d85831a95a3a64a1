//! The owner console at `/console`: sign in with an API key, see tasks, share them
//! in one click, watch who looked, and take access back.
//!
//! Pages are rendered on the server and work without script; forms post back and
//! redirect (so reloading never posts twice). Every form carries the session's
//! anti-forgery token. The console calls the same user actions as the owner API
//! (`crate::app`), so what it allows, checks and records is exactly what the API does.
//!
//! - [`auth`]: signing in and out;
//! - [`tasks`]: the task list, a task's page, creating share links and codes;
//! - [`links`]: a link's page with its analytics, activity log and comments;
//! - [`shares`]: every live share across tasks, to review and revoke;
//! - [`settings`]: the sharing policy, and revoking every share at once.

mod auth;
mod links;
mod settings;
mod share_dialog;
mod shares;
mod tasks;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use axum_extra::extract::cookie::CookieJar;

use super::error::failure;
use super::page::see_other;
use super::session::{check_session_token, Forged, CONSOLE_COOKIE};
use crate::app::{access, AppState};
use crate::storage::{ConsoleSession, Owner};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(auth::login_form).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/tasks", get(tasks::task_list))
        .route("/console/tasks/{task_id}", get(tasks::task_page))
        .route("/console/tasks/{task_id}/links", post(share_dialog::create_link))
        .route("/console/tasks/{task_id}/code", post(tasks::create_code))
        .route("/console/tasks/{task_id}/code/revoke", post(tasks::revoke_code))
        .route("/console/tasks/{task_id}/artifacts/{artifact_id}", get(tasks::download))
        .route("/console/shares", get(shares::share_list))
        .route("/console/shares/revoke-all", get(settings::confirm_revoke_all).post(settings::revoke_all))
        .route("/console/settings/sharing", get(settings::settings_page).post(settings::save_settings))
        .route("/console/links/{share_link_id}", get(links::link_page))
        .route("/console/links/{share_link_id}/activity.csv", get(links::activity_csv))
        .route("/console/links/{share_link_id}/revoke", post(links::revoke))
        .route("/console/links/{share_link_id}/comments/{comment_id}/delete", post(links::delete_comment))
}

/// A signed-in console request: the session, and the token its forms carry.
pub struct Console {
    pub session: ConsoleSession,
    /// The owner the session acts for.
    pub owner: Owner,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let found = match jar.get(CONSOLE_COOKIE) {
            Some(cookie) => access::console_session(state, cookie.value()).await.map_err(failure)?,
            None => None,
        };
        match found {
            Some(session) => {
                let csrf = state.link_keys().csrf_token(session.session_id.as_str());
                let owner = session.owner();
                Ok(Console { session, owner, csrf })
            }
            None => {
                // Back to where the owner was going, once signed in (console pages only).
                let target = parts.uri.path_and_query().map_or("/console/tasks", |p| p.as_str());
                let next = form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
                Err(see_other(&format!("{}/console/login?next={next}", state.urls().path())))
            }
        }
    }
}

impl Console {
    /// Checks the anti-forgery token of a form this session posted.
    pub fn check(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        presented: Option<&str>,
    ) -> Result<(), Forged> {
        check_session_token(state, self.session.session_id.as_str(), headers, presented)
    }

    /// What every console page's header shows.
    pub fn nav(&self, state: &AppState, current: &'static str) -> Nav {
        Nav {
            base: format!("{}/console", state.urls().path()),
            owner: self.session.name.clone(),
            csrf: self.csrf.clone(),
            current,
        }
    }
}

/// The console's header: where it lives, who is signed in, the sign-out form.
pub struct Nav {
    /// `{public path}/console`.
    pub base: String,
    pub owner: String,
    pub csrf: String,
    /// `tasks`, `shares` or `settings`.
    pub current: &'static str,
}

async fn home(state: axum::extract::State<AppState>, _console: Console) -> Response {
    see_other(&format!("{}/console/tasks", state.urls().path()))
}

/// A path inside the console that is safe to send a browser to after signing in.
fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| n.starts_with("/console/") && !n.starts_with("//") && !n.contains(['\\', '\r', '\n']))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/console/tasks/task_1")), Some("/console/tasks/task_1"));
        assert_eq!(safe_next(Some("https://evil.example/console/")), None);
        assert_eq!(safe_next(Some("//evil.example/console/")), None);
        assert_eq!(safe_next(Some("/console/\\evil")), None);
        assert_eq!(safe_next(Some("/s/token")), None);
        assert_eq!(safe_next(None), None);
    }
}
