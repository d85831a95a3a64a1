//! Text as the server takes it: event contents without control characters (other
//! than newlines and tabs), single-line labels within their limits, terminal output
//! without its colour codes, and logs kept verbatim inside markdown code fences.

/// `text` without ANSI escape sequences (colours, cursor moves, window titles) and
/// without the control characters the server refuses (all but newlines and tabs).
/// A line redrawn in place with carriage returns (a progress bar) keeps what it
/// showed last.
pub fn clean(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // A C1 control sequence introducer, the one-character form of `ESC [`.
            '\u{9b}' => skip_csi(&mut chars),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    continue;
                }
                // A progress line redrawn in place: keep what it shows last.
                let start = out.rfind('\n').map_or(0, |at| at + 1);
                if chars.peek().is_some() {
                    out.truncate(start);
                }
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => skip_csi(chars),
        // OSC (window titles, hyperlinks): up to BEL or ESC \.
        Some(']') | Some('P') | Some('_') | Some('^') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    chars.next_if_eq(&'\\');
                    break;
                }
            }
        }
        // Two-character sequences (`ESC (`, `ESC )` take one more).
        Some('(') | Some(')') | Some('#') => {
            chars.next();
        }
        _ => {}
    }
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameters and intermediates, then one final byte in `@`..`~`.
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

/// `text` on one line, cleaned, its runs of white space one space, at most `max`
/// characters (an ellipsis marks a cut); `None` when nothing is left.
pub fn label(text: &str, max: usize) -> Option<String> {
    let cleaned = clean(text);
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let one_line = words.join(" ");
    if one_line.is_empty() {
        return None;
    }
    Some(cut(&one_line, max))
}

/// At most `max` characters of `text`, with `…` as the last one when it was cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut kept: String = text.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// At most `max_bytes` bytes of `text` (cut at a character boundary), with a note of
/// how much was left out.
pub fn truncate_bytes(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_owned();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n… ({} more bytes not shown)", &text[..end], text.len() - end)
}

/// `text` as a markdown code block that shows it verbatim: the fence is longer than
/// any run of backticks inside, so nothing in the text can close it.
pub fn fenced(text: &str, language: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{language}\n{text}{newline}{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_control_characters_are_removed() {
        assert_eq!(clean("\u{1b}[1;31merror\u{1b}[0m: bad"), "error: bad");
        assert_eq!(clean("a\u{7}b\u{0}c\u{85}d"), "abcd");
        assert_eq!(clean("title\u{1b}]0;window\u{7}rest"), "titlerest");
        assert_eq!(clean("keep\ttabs\nand lines\r\n"), "keep\ttabs\nand lines\n");
        assert_eq!(clean("10%\r50%\r100%\ndone"), "100%\ndone");
    }

    #[test]
    fn labels_are_one_bounded_line() {
        assert_eq!(label("  fix\nthe   bug ", 200).as_deref(), Some("fix the bug"));
        assert_eq!(label("abcdef", 4).as_deref(), Some("abc…"));
        assert_eq!(label(" \n\t", 10), None);
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(fenced("plain", "text"), "```text\nplain\n```");
        let tricky = "before\n````\nafter";
        let block = fenced(tricky, "");
        assert!(block.starts_with("`````\n") && block.ends_with("\n`````"), "{block}");
    }

    #[test]
    fn truncation_stays_on_character_boundaries() {
        let text = "é".repeat(10);
        let cut = truncate_bytes(&text, 5);
        assert!(cut.starts_with("éé\n"), "{cut}");
        assert!(cut.contains("16 more bytes"), "{cut}");
    }
}
