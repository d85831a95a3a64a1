//! Every live share of the owner on one page — active links and live share codes,
//! across all tasks — to review and take back.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::tasks::LinkLine;
use super::{Console, Nav};
use crate::api::error::ApiError;
use crate::api::share_links::ShareLinkView;
use crate::api::tasks::{decode_cursor, encode_cursor};
use crate::domain::share::ShareStatus;
use crate::domain::task_share::CodePermissions;
use crate::state::AppState;
use crate::web::format;
use crate::web::page::page_or_error;

/// Links per page.
const LINKS_PER_PAGE: u32 = 50;

/// A live share code, with the task it opens.
struct CodeLine {
    task_id: String,
    task_title: String,
    permissions: Vec<&'static str>,
    sessions_issued: i64,
    created: String,
    expires: Option<String>,
    last_used: Option<String>,
}

#[derive(Template)]
#[template(path = "console/shares.html")]
struct SharesPage {
    nav: Nav,
    base: String,
    links: Vec<(LinkLine, String)>,
    codes: Vec<CodeLine>,
    next: Option<String>,
    /// This is a later page of links (codes are on the first).
    later: bool,
}

/// The permissions of a code, in a few words each.
pub fn permission_words(p: CodePermissions) -> Vec<&'static str> {
    let mut words = vec!["view"];
    for (on, word) in [
        (p.can_send_message, "message"),
        (p.can_view_pr, "see PRs"),
        (p.can_create_pr, "open PRs"),
        (p.can_approve_pr, "approve"),
        (p.can_merge_pr, "merge"),
    ] {
        if on {
            words.push(word);
        }
    }
    words
}

#[derive(Default, Deserialize)]
pub struct SharesQuery {
    cursor: Option<String>,
}

pub async fn share_list(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<SharesQuery>,
) -> Response {
    let owner_id = &console.session.owner_id;
    let result = async {
        let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
        let later = after.is_some();
        let page = state
            .db()
            .list_share_links(owner_id, None, Some(ShareStatus::Active), after, LINKS_PER_PAGE)
            .await?;
        let titles: HashMap<String, String> =
            state.db().titles_of_shared_tasks(owner_id).await?.into_iter().collect();
        let title_of = |task_id: &str| titles.get(task_id).cloned().unwrap_or_else(|| task_id.to_owned());
        let codes = if later { Vec::new() } else { state.db().live_task_shares_of(owner_id).await? };
        Ok::<_, ApiError>(SharesPage {
            nav: console.nav(&state, "shares"),
            base: format!("{}/console", state.public_path()),
            links: page
                .links
                .into_iter()
                .map(|l| {
                    let title = title_of(&l.task_id);
                    (LinkLine::new(ShareLinkView::new(&state, l)), title)
                })
                .collect(),
            codes: codes
                .into_iter()
                .map(|c| CodeLine {
                    task_title: title_of(&c.task_id),
                    permissions: permission_words(c.permissions()),
                    sessions_issued: c.sessions_issued,
                    created: format::time(c.created_at),
                    expires: c.expires_at.map(format::time),
                    last_used: c.last_used_at.map(format::time),
                    task_id: c.task_id,
                })
                .collect(),
            next: page.next.map(|(time, id)| encode_cursor(time, &id)),
            later,
        })
    }
    .await;
    page_or_error(StatusCode::OK, result)
}
