//! Markdown rendering and sanitizing (`web::markdown::render`): whatever an agent's
//! output holds, the HTML that comes out runs nothing, loads nothing, and stays
//! inside the element the page puts it in.
//!
//! The output is judged the way a browser reads it: parsed by an HTML5 parser
//! (html5ever, through scraper) inside the page's own container, so tricks such as
//! `<scr<script>ipt>`, entity-encoded `javascript:` or unbalanced tags are seen as
//! the elements and attributes they become, not as text that happens to look safe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scraper::{Html, Node};

/// Elements the sanitizer may let through: ammonia's default allow-list, less `img`.
const ALLOWED_ELEMENTS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "ins",
    "kbd",
    "li",
    "map",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Attributes that hold URLs a browser follows or loads.
const URL_ATTRIBUTES: &[&str] =
    &["href", "src", "cite", "action", "formaction", "background", "poster", "xlink:href", "srcset", "data"];

/// What a browser makes of a URL attribute's scheme: leading and trailing C0
/// controls and spaces dropped, tabs and newlines removed anywhere, lower case.
fn scheme(url: &str) -> Option<String> {
    let cleaned: String =
        url.trim_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let colon = cleaned.find(':')?;
    let candidate = &cleaned[..colon];
    let mut chars = candidate.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then(|| candidate.to_ascii_lowercase())
}

fuzz_target!(|data: &[u8]| {
    let markdown = String::from_utf8_lossy(data);
    let html = agentshare::web::markdown::render(&markdown);

    // Where the share page puts it, with a marker after: the output must neither
    // close the container nor swallow what follows.
    let page = format!(r#"<div class="markdown" id="container">{html}</div><p id="after-marker"></p>"#);
    let document = Html::parse_fragment(&page);
    let with_id = |id: &str| {
        document
            .tree
            .nodes()
            .find(|n| n.value().as_element().is_some_and(|e| e.attr("id") == Some(id)))
            .unwrap_or_else(|| panic!("no #{id} in {page}"))
    };
    let (container, marker) = (with_id("container"), with_id("after-marker"));
    assert!(
        marker.parent().map(|p| p.id()) == container.parent().map(|p| p.id()),
        "the output moved what follows it: {html}"
    );
    for node in container.descendants().skip(1) {
        let Node::Element(element) = node.value() else { continue };
        let name = element.name();
        assert!(ALLOWED_ELEMENTS.contains(&name), "<{name}> in the output of {markdown:?}: {html}");
        for (attribute, value) in element.attrs() {
            let attribute = attribute.to_ascii_lowercase();
            assert!(!attribute.starts_with("on"), "event handler {attribute}={value:?}: {html}");
            assert!(attribute != "style", "style attribute {value:?}: {html}");
            assert!(attribute != "srcdoc" && attribute != "formaction", "{attribute}={value:?}: {html}");
            if URL_ATTRIBUTES.contains(&attribute.as_str()) {
                if let Some(scheme) = scheme(value) {
                    assert!(
                        matches!(scheme.as_str(), "http" | "https" | "mailto"),
                        "{attribute} with scheme {scheme:?} ({value:?}) from {markdown:?}: {html}"
                    );
                }
            }
        }
        if name == "a" && element.attr("href").is_some() {
            let rel = element.attr("rel").unwrap_or_default();
            for word in ["noopener", "noreferrer", "nofollow"] {
                assert!(rel.split_ascii_whitespace().any(|w| w == word), "a link without {word}: {html}");
            }
        }
    }
});
