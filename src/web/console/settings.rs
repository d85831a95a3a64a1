//! The console's "Sharing policy" page (the rules every new or changed link and
//! every new code must meet), and revoking every share at once from the shares page.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Console, Nav};
use crate::app::{self, policy, share_links, AppState};
use crate::domain::policy::{SharingPolicy, MAX_LINK_LIFETIME_DAYS};
use crate::domain::share::ShareStatus;
use crate::web::error::{failure, PageError};
use crate::web::page::{page, page_or_error, see_other};
use crate::web::session::PostedForm;

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    nav: Nav,
    /// The lifetime field as shown (empty: no maximum).
    max_link_lifetime_days: String,
    require_password: bool,
    require_audience: bool,
    allow_share_code_write: bool,
    /// The field that was refused, and why.
    error: Option<(String, String)>,
    /// The policy was just saved.
    saved: bool,
    largest: i64,
}

impl SettingsPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error.as_ref().filter(|(f, _)| f == field).map(|(_, issue)| issue.as_str())
    }
}

#[derive(Default, Deserialize)]
pub struct SettingsQuery {
    saved: Option<String>,
}

pub async fn settings_page(
    State(state): State<AppState>,
    console: Console,
    axum::extract::Query(query): axum::extract::Query<SettingsQuery>,
) -> Response {
    let result = async {
        let p = policy::get(&state, &console.owner).await?;
        Ok::<_, PageError>(SettingsPage {
            nav: console.nav(&state, "settings"),
            max_link_lifetime_days: p.max_link_lifetime_days.map(|d| d.to_string()).unwrap_or_default(),
            require_password: p.require_password,
            require_audience: p.require_audience,
            allow_share_code_write: p.allow_share_code_write,
            error: None,
            saved: query.saved.is_some(),
            largest: MAX_LINK_LIFETIME_DAYS,
        })
    }
    .await;
    page_or_error(StatusCode::OK, result)
}

/// The settings form as posted; a checkbox left unticked is not sent.
#[derive(Default, Deserialize)]
pub struct SettingsForm {
    max_link_lifetime_days: Option<String>,
    require_password: Option<String>,
    require_audience: Option<String>,
    allow_share_code_write: Option<String>,
    csrf: Option<String>,
}

pub async fn save_settings(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
    PostedForm(form): PostedForm<SettingsForm>,
) -> Response {
    if let Err(refused) = console.check(&state, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let days_text = form.max_link_lifetime_days.as_deref().unwrap_or_default().trim().to_owned();
    let refused = |field: &str, issue: String| {
        page(
            StatusCode::BAD_REQUEST,
            &SettingsPage {
                nav: console.nav(&state, "settings"),
                max_link_lifetime_days: days_text.clone(),
                require_password: form.require_password.is_some(),
                require_audience: form.require_audience.is_some(),
                allow_share_code_write: form.allow_share_code_write.is_some(),
                error: Some((field.to_owned(), issue)),
                saved: false,
                largest: MAX_LINK_LIFETIME_DAYS,
            },
        )
    };
    let max_link_lifetime_days = if days_text.is_empty() {
        None
    } else {
        match days_text.parse::<i64>() {
            Ok(days) => Some(days),
            Err(_) => {
                return refused(
                    "max_link_lifetime_days",
                    format!(
                        "Enter a whole number of days from 1 to {MAX_LINK_LIFETIME_DAYS}, or leave it empty"
                    ),
                )
            }
        }
    };
    let wanted = SharingPolicy {
        max_link_lifetime_days,
        require_password: form.require_password.is_some(),
        require_audience: form.require_audience.is_some(),
        allow_share_code_write: form.allow_share_code_write.is_some(),
    };
    match policy::save(&state, &console.owner, wanted).await {
        Ok(_) => see_other(&format!("{}/console/settings/sharing?saved=1", state.urls().path())),
        Err(app::Error::Invalid(field)) => refused(&field.field, field.issue),
        Err(err) => failure(err),
    }
}

#[derive(Template)]
#[template(path = "console/revoke_all.html")]
struct RevokeAllPage {
    nav: Nav,
    base: String,
    /// Active links (at most a page's worth is counted; `more` says there are more).
    links: usize,
    more: bool,
    codes: usize,
}

/// Links counted on the confirmation page.
const COUNTED: u32 = 100;

/// The confirmation step before every link is revoked.
pub async fn confirm_revoke_all(State(state): State<AppState>, console: Console) -> Response {
    let result = async {
        let page =
            share_links::list(&state, &console.owner, None, Some(ShareStatus::Active), None, COUNTED).await?;
        let codes = app::share_codes::live_codes(&state, &console.owner.owner_id).await?;
        Ok::<_, PageError>(RevokeAllPage {
            nav: console.nav(&state, "shares"),
            base: format!("{}/console", state.urls().path()),
            links: page.links.len(),
            more: page.next.is_some(),
            codes: codes.len(),
        })
    }
    .await;
    page_or_error(StatusCode::OK, result)
}

/// The confirmation form: its token, and whether codes go too.
#[derive(Default, Deserialize)]
pub struct RevokeAllForm {
    csrf: Option<String>,
    include_codes: Option<String>,
}

pub async fn revoke_all(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
    PostedForm(form): PostedForm<RevokeAllForm>,
) -> Response {
    if let Err(refused) = console.check(&state, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    match share_links::revoke_all(&state, &console.owner, None, form.include_codes.is_some()).await {
        Ok(revoked) => see_other(&format!(
            "{}/console/shares?revoked_links={}&revoked_codes={}",
            state.urls().path(),
            revoked.links,
            revoked.codes
        )),
        Err(err) => failure(err),
    }
}
