//! The activity log of a share link: what viewers did with it, entry by entry, for
//! its owner (newest first, in pages, or the whole log as CSV).
//!
//! Entries are recorded where things happen (`opening`, `comments`) by [`record`],
//! which never makes a viewer wait nor fail: the entry is written in the background
//! and a failure is logged. Spent views are not recorded here: the view counter
//! stores each one already, and the log reads them from there as `revealed`.

use futures_util::stream::{self, StreamExt as _};

use super::artifacts::{Chunks, Download};
use super::error::Result;
use super::opening::Visitor;
use super::share_links;
use super::AppState;
use crate::domain::activity::{csv_row, ActivityKind, CSV_HEADER};
use crate::domain::ids::{CommentId, ShareLinkId};
use crate::domain::page::Cursor;
use crate::domain::time::Timestamp;
use crate::domain::viewer;
use crate::storage::{ActivityRecord, Db, NewActivity, Owner};

/// Most entries in one page of the log.
pub const MAX_PAGE: u32 = 200;
/// Entries in a page unless asked otherwise.
pub const DEFAULT_PAGE: u32 = 50;
/// Entries read at a time while the CSV is written.
const CSV_BATCH: u32 = 500;
/// Longest user agent kept with an entry (as with a view).
const LONGEST_AGENT: usize = 512;

/// What an entry says beyond its kind, time and client.
#[derive(Debug, Clone, Default)]
pub struct Details {
    /// A verified address (verifications).
    pub email: Option<String>,
    /// What was downloaded: an artifact's name, or [`ALL_FILES`](crate::domain::activity::ALL_FILES).
    pub file: Option<String>,
    /// The comment left.
    pub comment_id: Option<CommentId>,
}

/// Adds an entry of `kind` to the log of `share_link_id`, by the viewer `visitor`,
/// timed now. Written in the background: the viewer's answer neither waits for it
/// nor depends on it; a failure is logged.
pub fn record(
    state: &AppState,
    share_link_id: &ShareLinkId,
    kind: ActivityKind,
    visitor: Visitor<'_>,
    details: Details,
) {
    let entry = NewActivity {
        share_link_id: share_link_id.clone(),
        kind,
        at: Timestamp::now(),
        client_prefix: Some(viewer::truncated_prefix(visitor.client)),
        user_agent: visitor
            .user_agent
            .filter(|ua| !ua.is_empty())
            .map(|ua| ua.chars().take(LONGEST_AGENT).collect()),
        email: details.email,
        file: details.file,
        comment_id: details.comment_id,
    };
    let db = state.db().clone();
    tokio::spawn(async move {
        if let Err(err) = db.insert_activity(&entry).await {
            tracing::warn!(
                share_link_id = %entry.share_link_id,
                kind = entry.kind.as_str(),
                error = format!("{err:#}"),
                "activity entry not recorded"
            );
        }
    });
}

/// An entry of the log as its owner sees it.
#[derive(Debug, Clone)]
pub struct Activity {
    pub kind: ActivityKind,
    pub at: Timestamp,
    /// The truncated client address (IPv4 /24, IPv6 /48).
    pub client: Option<String>,
    /// `desktop`, `mobile`, `bot` or `other`.
    pub agent: String,
    pub browser: String,
    /// A verified address: a comment's, once its author verified it.
    pub email: Option<String>,
    pub file: Option<String>,
    pub comment_id: Option<String>,
}

impl From<ActivityRecord> for Activity {
    fn from(r: ActivityRecord) -> Activity {
        let agent = viewer::classify_user_agent(r.user_agent.as_deref().unwrap_or_default());
        Activity {
            kind: r.kind,
            at: r.at,
            client: r.client_prefix,
            agent: agent.device,
            browser: agent.browser,
            email: r.email,
            file: r.file,
            comment_id: r.comment_id,
        }
    }
}

/// A page of a link's log, newest first.
#[derive(Debug)]
pub struct ActivityPage {
    pub entries: Vec<Activity>,
    pub next: Option<Cursor>,
}

/// A page of the log of one of `owner`'s links, newest first, after `after`.
pub async fn page(
    state: &AppState,
    owner: &Owner,
    share_link_id: &ShareLinkId,
    after: Option<Cursor>,
    limit: u32,
) -> Result<ActivityPage> {
    let link = share_links::get(state, owner, share_link_id).await?;
    let page = state.db().share_link_activity(&link.share_link_id, after, limit.clamp(1, MAX_PAGE)).await?;
    Ok(ActivityPage { entries: page.entries.into_iter().map(Activity::from).collect(), next: page.next })
}

/// The whole log of one of `owner`'s links as CSV (a header row, then the entries
/// newest first), written as it is sent, a batch of entries at a time.
pub async fn csv(state: &AppState, owner: &Owner, share_link_id: &ShareLinkId) -> Result<Download> {
    let link = share_links::get(state, owner, share_link_id).await?;
    let header = csv_row(CSV_HEADER).into_bytes();
    let rows = csv_rows(state.db().clone(), link.share_link_id.clone());
    let bytes: Chunks = Box::pin(stream::once(async move { Ok(header) }).chain(rows));
    Ok(Download {
        name: format!("share-link-{}-activity.csv", link.share_link_id),
        content_type: "text/csv; charset=utf-8".into(),
        length: None,
        // Views make most of a log; a row is about a hundred bytes.
        expected: u64::try_from(link.view_count).unwrap_or(0).saturating_mul(100),
        bytes,
    })
}

/// The rows of a link's log, a batch at a time; an error ends them.
fn csv_rows(db: Db, share_link_id: ShareLinkId) -> Chunks {
    // `None` once the last batch was read.
    let start = Some((db, share_link_id, None::<Cursor>));
    Box::pin(stream::try_unfold(start, |at| async move {
        let Some((db, share_link_id, after)) = at else {
            return Ok(None);
        };
        let page = db.share_link_activity(&share_link_id, after, CSV_BATCH).await.map_err(|err| {
            tracing::warn!(%share_link_id, error = format!("{err:#}"), "activity log not read");
            std::io::Error::other("the activity log could not be read")
        })?;
        let mut text = String::new();
        for entry in page.entries.into_iter().map(Activity::from) {
            text.push_str(&csv_line(&entry));
        }
        let next = page.next.map(|cursor| (db, share_link_id, Some(cursor)));
        Ok(Some((text.into_bytes(), next)))
    }))
}

/// The CSV row of an entry, in the order of [`CSV_HEADER`].
fn csv_line(entry: &Activity) -> String {
    let at = entry.at.to_rfc3339();
    csv_row([
        at.as_str(),
        entry.kind.as_str(),
        entry.client.as_deref().unwrap_or_default(),
        entry.agent.as_str(),
        entry.browser.as_str(),
        entry.email.as_deref().unwrap_or_default(),
        entry.file.as_deref().unwrap_or_default(),
        entry.comment_id.as_deref().unwrap_or_default(),
    ])
}
