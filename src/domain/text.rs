//! Checks for free-text fields, and the error that names the field that failed.

/// Why one field of a request was refused: becomes `details.field` / `details.issue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub issue: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, issue: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), issue: issue.into() }
    }
}

/// Checks that `value` holds at most `max` characters and no control characters
/// (other than newlines and tabs when `multiline`), and that at least `min`
/// characters remain once single-line text is trimmed; returns what is kept.
///
/// The limits apply to the text as sent, so that a JSON Schema (`maxLength` and a
/// pattern) describes them exactly.
pub fn bounded(
    field: &str,
    value: &str,
    min: usize,
    max: usize,
    multiline: bool,
) -> Result<String, FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(field, format!("{} must be at most {max} characters", label(field))));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !value.chars().all(allowed) {
        return Err(FieldError::new(field, format!("{} must not contain control characters", label(field))));
    }
    let kept = if multiline { value } else { value.trim() };
    if kept.chars().count() < min {
        return Err(FieldError::new(
            field,
            if min == 1 {
                format!("{} must not be empty", label(field))
            } else {
                format!("{} must be at least {min} characters", label(field))
            },
        ));
    }
    Ok(kept.to_owned())
}

/// Characters that show nothing or change the direction of what follows: zero-width
/// spaces and joiners, directional marks, embeddings, overrides and isolates, the
/// word joiner and invisible operators, and the byte-order mark. In a name they hide
/// or disguise what it is (`invoice\u{202e}fdp.exe` shows as `invoiceexe.pdf`).
pub fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A minimal check of an email address: one `@`, something on each side, a dot in
/// the domain, no spaces, at most 254 characters.
pub fn parse_email(text: &str) -> Result<String, String> {
    let text = text.trim();
    let valid = text.len() <= 254
        && !text.contains(char::is_whitespace)
        && !text.chars().any(char::is_control)
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!("{text:?} is not an email address"))
    }
}

/// `machine_id` → `Machine ID`-ish label for messages: first letter capitalised,
/// underscores as spaces.
fn label(field: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field).replace('_', " ");
    let mut chars = last.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Most markdown read to make a summary: a summary is short, whatever the output.
const SUMMARY_SOURCE_BYTES: usize = 16 * 1024;

/// A plain-text summary of `markdown`: its words without markup (no emphasis,
/// links, headings' `#` or HTML), on one line, cut to at most `max` characters
/// (ending with `…` when cut). Reads only the start of a long text.
pub fn plain_summary(markdown: &str, max: usize) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut end = markdown.len().min(SUMMARY_SOURCE_BYTES);
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let mut text = String::new();
    for event in Parser::new(&markdown[..end]) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock)
            | Event::End(TagEnd::TableCell | TagEnd::BlockQuote(_)) => text.push(' '),
            _ => {}
        }
        if text.len() > max * 8 {
            break;
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    let line: String = line.chars().filter(|c| !c.is_control()).collect();
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds_single_line_text() {
        assert_eq!(bounded("title", "  Fix login  ", 1, 13, false).unwrap(), "Fix login");
        let err = bounded("title", "   ", 1, 10, false).unwrap_err();
        assert_eq!(err, FieldError::new("title", "Title must not be empty"));
        let err = bounded("machine_id", "abcdefghijk", 1, 10, false).unwrap_err();
        assert_eq!(err.issue, "Machine id must be at most 10 characters");
        assert!(bounded("title", "a\u{0}b", 1, 10, false).is_err());
    }

    #[test]
    fn limits_apply_to_the_text_as_sent() {
        // Trimming never makes an overlong value fit, nor hides a control character.
        assert!(bounded("title", " abcdefghij", 1, 10, false).is_err());
        assert!(bounded("title", "\tabc", 1, 10, false).is_err());
        assert_eq!(bounded("content", "\tabc\n", 1, 10, true).unwrap(), "\tabc\n");
    }

    #[test]
    fn emails_are_checked() {
        assert!(parse_email("alice@example.com").is_ok());
        for bad in ["alice", "@example.com", "alice@example", "a b@example.com", "a@b@c.com"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn multiline_text_keeps_newlines_and_counts_characters_not_bytes() {
        assert_eq!(bounded("content", "a\nb\t", 0, 4, true).unwrap(), "a\nb\t");
        assert!(bounded("content", "ééééé", 0, 5, true).is_ok());
        assert!(bounded("content", "éééééé", 0, 5, true).is_err());
    }

    #[test]
    fn summaries_are_plain_text_on_one_line() {
        let markdown =
            "# Fixed\n\nThe **bug** is [gone](https://example.com).\n\n- one\n- `two`\n\nSome <b>html</b>";
        assert_eq!(plain_summary(markdown, 200), "Fixed The bug is gone. one two Some html");
        assert_eq!(plain_summary("", 200), "");
    }

    #[test]
    fn long_summaries_are_cut() {
        let long = "word ".repeat(1000);
        let summary = plain_summary(&long, 200);
        assert_eq!(summary.chars().count(), 200, "{summary}");
        assert!(summary.ends_with('…'));
        let wide = "é".repeat(100_000);
        assert_eq!(plain_summary(&wide, 10).chars().count(), 10);
    }
}
