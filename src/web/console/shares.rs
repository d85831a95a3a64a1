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
use crate::app::{share_codes, share_links, AppState};
use crate::domain::ids::TaskId;
use crate::domain::page::Cursor;
use crate::domain::share::ShareStatus;
use crate::domain::task_share::CodePermissions;
use crate::web::error::PageError;
use crate::web::format;
use crate::web::page::page_or_error;

/// Links per page.
const LINKS_PER_PAGE: u32 = 50;

/// A live share code, with the task it opens.
struct CodeLine {
    task_id: TaskId,
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
    /// Links and codes just revoked by "Revoke all links".
    revoked: Option<(u64, u64)>,
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
    revoked_links: Option<u64>,
    revoked_codes: Option<u64>,
}

pub async fn share_list(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<SharesQuery>,
) -> Response {
    let owner_id = &console.owner.owner_id;
    let result = async {
        // A cursor that is not one of ours starts from the first page.
        let after = query.cursor.as_deref().and_then(Cursor::decode);
        let later = after.is_some();
        let page =
            share_links::list(&state, &console.owner, None, Some(ShareStatus::Active), after, LINKS_PER_PAGE)
                .await?;
        let titles: HashMap<TaskId, String> =
            share_links::shared_task_titles(&state, &console.owner).await?.into_iter().collect();
        let title_of = |task_id: &TaskId| titles.get(task_id).cloned().unwrap_or_else(|| task_id.to_string());
        let codes = if later { Vec::new() } else { share_codes::live_codes(&state, owner_id).await? };
        Ok::<_, PageError>(SharesPage {
            nav: console.nav(&state, "shares"),
            base: format!("{}/console", state.urls().path()),
            links: page
                .links
                .into_iter()
                .map(|l| {
                    let title = title_of(&l.task_id);
                    (LinkLine::new(&state, l), title)
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
            next: page.next.map(|cursor| cursor.encode()),
            later,
            revoked: query.revoked_links.map(|links| (links, query.revoked_codes.unwrap_or(0))),
        })
    }
    .await;
    page_or_error(StatusCode::OK, result)
}
