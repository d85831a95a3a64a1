//! Link previews: the card a chat app or a social network unfurls from a share
//! link's URL. Only a link anyone may open as often as they like shows what it
//! holds ([`may_show_details`]); every other link shows a card that names nothing.

use std::net::IpAddr;

use super::error::Result;
use super::opening::{content_of, lookup, Presented};
use super::AppState;
use crate::domain::share::ShareStatus;
use crate::domain::text::plain_summary;
use crate::domain::time::Timestamp;
use crate::storage::{ShareLinkRecord, TaskContent};

/// Title of a preview that names nothing.
pub const GENERIC_PREVIEW_TITLE: &str = "A shared agent run — agentshare";
/// Description of a preview that names nothing.
pub const GENERIC_PREVIEW_DESCRIPTION: &str = "Open the link to see it.";
/// Longest description of a preview, in characters.
const PREVIEW_DESCRIPTION_CHARS: usize = 200;

/// What a link preview (the card a chat or a social network unfurls from a URL)
/// shows: plain text, to be escaped wherever it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewCard {
    pub title: String,
    pub description: String,
}

impl PreviewCard {
    /// The card of a link whose preview may show nothing of it.
    pub fn generic() -> PreviewCard {
        PreviewCard { title: GENERIC_PREVIEW_TITLE.into(), description: GENERIC_PREVIEW_DESCRIPTION.into() }
    }
}

/// Whether previews of `link` may show what it holds (its title and a summary of
/// its first output): only when anyone holding the URL may open it as often as
/// they like — an active link with no password, no view limit and no audience.
/// Every rule that narrows who may see a link narrows this too.
pub fn may_show_details(link: &ShareLinkRecord, now: Timestamp) -> bool {
    link.password_hash.is_none()
        && link.max_views.is_none()
        && !link.has_audience()
        && link.status(now) == ShareStatus::Active
}

/// The preview card of `link`: its title and a plain-text summary of its first
/// output (redacted as the link redacts what viewers get) when [`may_show_details`],
/// otherwise the card that names nothing.
pub fn preview_card(link: &ShareLinkRecord, content: Option<&TaskContent>, now: Timestamp) -> PreviewCard {
    if !may_show_details(link, now) {
        return PreviewCard::generic();
    }
    let redactor = link.redaction().redactor();
    // The whole output is redacted before it is cut: a cut could split what the
    // redaction would have recognised.
    let first = content
        .and_then(|c| c.outputs.first())
        .map(|o| plain_summary(&redactor.redact(o.content(link.mask_secrets)), PREVIEW_DESCRIPTION_CHARS))
        .filter(|s| !s.is_empty());
    let described = || {
        link.description
            .as_deref()
            .map(|d| plain_summary(&redactor.redact(d), PREVIEW_DESCRIPTION_CHARS))
            .filter(|s| !s.is_empty())
    };
    PreviewCard {
        title: redactor.redact(&link.title).into_owned(),
        description: first.or_else(described).unwrap_or_else(|| GENERIC_PREVIEW_DESCRIPTION.into()),
    }
}

/// What a link previewer is shown of a link.
pub enum Preview {
    /// The link's card (the generic one unless its details may be shown).
    Card(PreviewCard),
    /// A short code: the link's full URL, to go to.
    Short(String),
    Gone,
}

/// The preview of the link `token` opens, for a link previewer or crawler: no view
/// is spent, nothing is counted and nobody is notified.
pub async fn preview(state: &AppState, token: &str, client: IpAddr) -> Result<Preview> {
    let link = match lookup(state, token, client).await? {
        Presented::Link(link) => link,
        Presented::Short(url) => return Ok(Preview::Short(url)),
        Presented::Gone => return Ok(Preview::Gone),
    };
    let now = Timestamp::now();
    if !may_show_details(&link, now) {
        return Ok(Preview::Card(PreviewCard::generic()));
    }
    let content = match state.db().task_facts(&link.task_id).await? {
        Some(task) => Some(content_of(state, &link, &task).await?),
        None => None,
    };
    Ok(Preview::Card(preview_card(&link, content.as_deref(), now)))
}
