//! Share pages prepared once per link and task version, then sent to every viewer
//! with only the view's own parts spliced in.
//!
//! The page of an unlimited link without comments is the same for every view of
//! the same link version and task version, except for two strings: the view's
//! grant (in the download links) and the response's script nonce. Rendering it
//! again for every view (the markdown's HTML copied, every text escaped, times
//! formatted, the preview card's summary parsed) costs more than the rest of the
//! answer; so the first view's page is kept with those two strings' places
//! marked, and later views copy it with their own strings in those places.
//!
//! The places are found in the page as rendered for its first view: its grant and
//! its nonce are fresh random strings (a 128-bit MAC, 128 random bits), which no
//! stored text can hold, and neither is changed by escaping (URL-safe base64,
//! digits, dots). A page kept is used only while the link's `version` and the
//! task's facts (status, times, last event, artifacts) are what they were; any
//! change renders it afresh.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use crate::domain::ids::ShareLinkId;
use crate::storage::{ShareLinkRecord, TaskFacts};

/// Most pages kept, one per link (the most recent versions): the links viewed
/// again and again, which are what the pages save work on, are few at a time.
const KEPT: usize = 256;
/// Most bytes of pages kept.
const KEPT_BYTES: usize = 8 * 1024 * 1024;

/// What goes into one of a page's places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Grant,
    Nonce,
}

/// A page with the places of its view's own strings.
#[derive(Debug)]
pub struct Prepared {
    html: String,
    /// Where each place is in `html`, in order: its start, its length, what goes there.
    slots: Vec<(usize, usize, Slot)>,
}

impl Prepared {
    /// Marks the places of `grant` and `nonce` in `html`, the page rendered with
    /// them; `None` when either is too short to be unambiguous.
    fn of(html: String, grant: &str, nonce: &str) -> Option<Prepared> {
        if grant.len() < 16 || nonce.len() < 16 {
            return None;
        }
        let mut slots: Vec<(usize, usize, Slot)> = html
            .match_indices(grant)
            .map(|(at, found)| (at, found.len(), Slot::Grant))
            .chain(html.match_indices(nonce).map(|(at, found)| (at, found.len(), Slot::Nonce)))
            .collect();
        slots.sort_unstable_by_key(|&(at, ..)| at);
        // Two random strings never overlap; if they somehow do, don't keep the page.
        if !slots.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0) {
            return None;
        }
        let page = Prepared { html, slots };
        // Nothing of the view's own strings may be left outside the places (say, a
        // grant written in some other form): that page would show one viewer's
        // view to the next.
        let rest = page.with("", "");
        let mut own = grant.split('.').filter(|part| part.len() >= 16).chain([nonce]);
        own.all(|part| !rest.contains(part)).then_some(page)
    }

    /// The page with `grant` and `nonce` in their places.
    pub fn with(&self, grant: &str, nonce: &str) -> String {
        let mut page = String::with_capacity(self.html.len() + 2 * grant.len());
        let mut from = 0;
        for &(at, len, slot) in &self.slots {
            page.push_str(&self.html[from..at]);
            page.push_str(match slot {
                Slot::Grant => grant,
                Slot::Nonce => nonce,
            });
            from = at + len;
        }
        page.push_str(&self.html[from..]);
        page
    }
}

/// A kept page and what it was rendered from.
struct Kept {
    link_url: String,
    version: i64,
    task: TaskFacts,
    page: Arc<Prepared>,
}

#[derive(Default)]
struct Pages {
    by_link: HashMap<ShareLinkId, Kept>,
    bytes: usize,
}

static PAGES: LazyLock<Mutex<Pages>> = LazyLock::new(Mutex::default);

fn lock() -> MutexGuard<'static, Pages> {
    PAGES.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Pages kept now, and their bytes.
pub fn kept_pages() -> (usize, usize) {
    let pages = lock();
    (pages.by_link.len(), pages.bytes)
}

/// Whether views of `link` all see the same page but for their grant and nonce:
/// no views left to tell, no comments to list.
pub fn applies_to(link: &ShareLinkRecord) -> bool {
    link.max_views.is_none() && !link.allow_comments
}

/// The kept page of `link` at `link_url`, if it was rendered from this link
/// version and these facts of its task.
pub fn kept(link: &ShareLinkRecord, link_url: &str, task: &TaskFacts) -> Option<Arc<Prepared>> {
    let pages = lock();
    let kept = pages.by_link.get(&link.share_link_id)?;
    (kept.version == link.version && kept.link_url == link_url && kept.task == *task)
        .then(|| kept.page.clone())
}

/// Keeps `html`, the page of `link` rendered for a view with `grant` and `nonce`,
/// for later views of the same link and task versions (replacing the link's page
/// of other versions).
pub fn keep(
    link: &ShareLinkRecord,
    link_url: &str,
    task: &TaskFacts,
    html: String,
    grant: &str,
    nonce: &str,
) {
    let Some(page) = Prepared::of(html, grant, nonce) else { return };
    let size = page.html.len();
    if size > KEPT_BYTES / 4 {
        return;
    }
    let mut pages = lock();
    if let Some(old) = pages.by_link.remove(&link.share_link_id) {
        pages.bytes -= old.page.html.len();
    }
    while pages.by_link.len() >= KEPT || pages.bytes + size > KEPT_BYTES {
        let Some(victim) = pages.by_link.keys().next().cloned() else { break };
        if let Some(old) = pages.by_link.remove(&victim) {
            pages.bytes -= old.page.html.len();
        }
    }
    pages.bytes += size;
    let kept = Kept {
        link_url: link_url.to_owned(),
        version: link.version,
        task: task.clone(),
        page: Arc::new(page),
    };
    pages.by_link.insert(link.share_link_id.clone(), kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_s_strings_go_in_their_places_and_nothing_else_changes() {
        let (grant, nonce) = ("view_aaaaaaaaaaaa.1700000000000.Zm9vYmFyYmF6cXV4", "bm9uY2Vub25jZW5vbmNl");
        let html = format!(
            "<script nonce=\"{nonce}\"></script><a href=\"/f?grant={grant}\">f</a><input value=\"{grant}\">end"
        );
        let page = Prepared::of(html.clone(), grant, nonce).unwrap();
        assert_eq!(page.with(grant, nonce), html);
        let (other_grant, other_nonce) =
            ("view_bbbbbbbbbbbb.1700000000001.b3RoZXJvdGhlcm90aGVy", "c2Vjb25kc2Vjb25kc2Vj");
        assert_eq!(
            page.with(other_grant, other_nonce),
            format!(
                "<script nonce=\"{other_nonce}\"></script><a href=\"/f?grant={other_grant}\">f</a>\
                 <input value=\"{other_grant}\">end"
            )
        );
    }

    #[test]
    fn a_page_showing_the_view_s_strings_in_another_form_is_not_kept() {
        let (grant, nonce) = ("view_aaaaaaaaaaaa.1700000000000.Zm9vYmFyYmF6cXV4", "bm9uY2Vub25jZW5vbmNl");
        let html = format!("<a href=\"?grant={grant}\">f</a><p>view view_aaaaaaaaaaaa</p><p>{nonce}</p>");
        assert!(Prepared::of(html, grant, nonce).is_none());
    }

    #[test]
    fn a_page_without_a_request_s_nonce_is_not_kept() {
        assert!(Prepared::of("<p>x</p>".into(), "view_aaaaaaaaaaaa.1.Zm9vYmFyYmF6cXV4", "").is_none());
    }
}
