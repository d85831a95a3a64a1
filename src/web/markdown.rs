//! Markdown to safe HTML. An agent's output is untrusted: whatever it contains, the
//! HTML that comes out runs no script, loads nothing remote, and cannot break the
//! page around it.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock, Mutex};

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Renders `markdown` and sanitizes the result with an allow-list (ammonia):
/// no scripts, event handlers, styles, frames or forms; links only to http(s) and
/// mailto, opened with `noopener noreferrer nofollow`; images removed (they would
/// load remote content and tell a third party that the page was opened).
///
/// Headings go below the page's own ([`Outline`]; `# Title` is an `h3`, and an `h1`
/// or `h2` written as HTML is kept as text only). Code blocks and tables scroll
/// sideways rather than break words, and take the keyboard focus so they can be
/// scrolled without a pointer.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    let mut outline = Outline::default();
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Start(Tag::Heading { level, id, classes, attrs }) => {
            Event::Start(Tag::Heading { level: outline.open(level), id, classes, attrs })
        }
        Event::End(TagEnd::Heading(_)) => Event::End(TagEnd::Heading(outline.close())),
        other => other,
    });
    pulldown_cmark::html::push_html(&mut html, events);
    let clean = ammonia::Builder::default()
        .rm_tags(&["img", "h1", "h2"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&html)
        .to_string();
    // After sanitizing, these tags are exactly as written here: any `<pre>` or
    // `<table>` the markdown held as text is escaped by now.
    clean
        .replace("<pre>", r#"<pre tabindex="0" role="group" aria-label="Code">"#)
        .replace(
            "<table>",
            r#"<div class="table-scroll" tabindex="0" role="group" aria-label="Table"><table>"#,
        )
        .replace("</table>", "</table></div>")
}

/// The headings of one output, placed under the page's own: an output's first
/// heading is an `h3` (below the page's `h1` and the output's `h2`), and each is at
/// most one level deeper than the one it sits under, so the page's outline has no
/// gaps whatever levels the markdown skips (`#` then `###` is `h3` then `h4`).
#[derive(Default)]
struct Outline {
    /// The open sections: the level written in the markdown, and the one shown.
    sections: Vec<(HeadingLevel, HeadingLevel)>,
    /// The level of the heading being written.
    current: Option<HeadingLevel>,
}

impl Outline {
    fn open(&mut self, written: HeadingLevel) -> HeadingLevel {
        while self.sections.last().is_some_and(|(w, _)| *w >= written) {
            self.sections.pop();
        }
        let shown = match self.sections.last().map(|(_, shown)| *shown) {
            None => HeadingLevel::H3,
            Some(HeadingLevel::H3) => HeadingLevel::H4,
            Some(HeadingLevel::H4) => HeadingLevel::H5,
            Some(_) => HeadingLevel::H6,
        };
        self.sections.push((written, shown));
        self.current = Some(shown);
        shown
    }

    fn close(&mut self) -> HeadingLevel {
        self.current.take().unwrap_or(HeadingLevel::H3)
    }
}

/// Rendered markdown kept by [`render_cached`]: what it was rendered from, and the HTML.
struct Rendered {
    /// Entries by a keyed hash of their markdown.
    entries: HashMap<u64, (Arc<str>, Arc<str>)>,
    /// Bytes of markdown and HTML kept.
    bytes: usize,
}

/// Most bytes of markdown and HTML [`render_cached`] keeps.
const RENDERED_BYTES: usize = 4 * 1024 * 1024;

static RENDERED: LazyLock<(RandomState, Mutex<Rendered>)> =
    LazyLock::new(|| (RandomState::new(), Mutex::new(Rendered { entries: HashMap::new(), bytes: 0 })));

/// Entries and bytes (markdown and HTML) [`render_cached`] keeps now.
pub fn kept() -> (usize, usize) {
    let kept = RENDERED.1.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    (kept.entries.len(), kept.bytes)
}

/// [`render`], remembering what it rendered lately: the same markdown gives the
/// same HTML, so a page viewed again is not rendered again. Bounded: when full, it
/// starts over.
pub fn render_cached(markdown: &str) -> String {
    let (hasher, rendered) = &*RENDERED;
    let key = hasher.hash_one(markdown);
    let lock = || rendered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((source, html)) = lock().entries.get(&key) {
        if &**source == markdown {
            return html.to_string();
        }
    }
    let html = render(markdown);
    let size = markdown.len() + html.len();
    if size <= RENDERED_BYTES / 64 {
        let mut kept = lock();
        if kept.bytes + size > RENDERED_BYTES {
            kept.entries.clear();
            kept.bytes = 0;
        }
        if let Some((source, old)) = kept.entries.insert(key, (markdown.into(), html.as_str().into())) {
            kept.bytes -= source.len() + old.len();
        }
        kept.bytes += size;
    }
    html
}

#[cfg(test)]
mod tests {
    use super::{render, render_cached};

    #[test]
    fn rendering_again_gives_the_same_html() {
        for markdown in ["# One", "# Two\n\n<script>x</script>", "# One"] {
            assert_eq!(render_cached(markdown), render(markdown));
            assert_eq!(render_cached(markdown), render(markdown), "from what was kept");
        }
    }

    #[test]
    fn renders_ordinary_markdown() {
        let html = render("# Title\n\nSome **bold** text.\n\n```rust\nfn main() {}\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h3>Title</h3>"), "below the page's own headings: {html}");
        let outline = render("## A\n\n#### B\n\n###### C\n\n### D\n\n# E\n\n## F\n");
        let levels: Vec<&str> = outline.match_indices("<h").map(|(i, _)| &outline[i + 1..i + 3]).collect();
        assert_eq!(levels, ["h3", "h4", "h5", "h4", "h3", "h4"], "no level skipped: {outline}");
        let written = render("<h1>Raw</h1>\n\n<h2>Also raw</h2>\n");
        assert!(!written.contains("<h1") && !written.contains("<h2") && written.contains("Raw"), "{written}");
        assert!(html.contains("<strong>bold</strong>"));
        assert!(
            html.contains(r#"<pre tabindex="0" role="group" aria-label="Code"><code>fn main() {}"#),
            "{html}"
        );
        assert!(html
            .contains(r#"<div class="table-scroll" tabindex="0" role="group" aria-label="Table"><table>"#));
        assert_eq!(html.matches("<div").count(), html.matches("</div>").count(), "{html}");
    }

    #[test]
    fn strips_everything_that_could_run_or_load() {
        for hostile in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "![x](https://tracker.example/pixel.png)",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg onload=alert(1)>",
            "<div style=\"background:url(https://evil.example)\">x</div>",
            "<form action=\"https://evil.example\"><input></form>",
            "<object data=\"x\"></object>",
            "<link rel=stylesheet href=https://evil.example/x.css>",
            "<meta http-equiv=refresh content=\"0;url=https://evil.example\">",
        ] {
            let html = render(hostile).to_lowercase();
            for banned in [
                "<script",
                "onerror",
                "onload",
                "javascript:",
                "<iframe",
                "<img",
                "style=",
                "<form",
                "<object",
                "<link",
                "<meta",
                "<svg",
            ] {
                assert!(!html.contains(banned), "{hostile:?} -> {html}");
            }
        }
    }

    #[test]
    fn links_do_not_leak_the_page() {
        let html = render("[site](https://example.com)");
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""), "{html}");
    }

    #[test]
    fn unbalanced_html_cannot_break_the_page() {
        let html = render("</div></main><div>");
        assert!(!html.contains("</main>"), "{html}");
    }
}
