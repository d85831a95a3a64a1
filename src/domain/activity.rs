//! The activity log of a share link: what viewers did with it, one entry per thing
//! done, and how the log is written out as CSV.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a viewer did with a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A page was shown without spending a view (the password form, the Reveal button).
    Opened,
    /// A view was spent.
    Revealed,
    /// A wrong password was given.
    PasswordFailed,
    /// A verification mail was sent to a viewer's address.
    VerificationSent,
    /// A viewer proved they hold an address.
    VerificationSucceeded,
    /// A file was downloaded (or all of them, as a zip).
    Downloaded,
    /// A comment was left.
    Commented,
    /// The viewer was refused for trying too often (wrong passwords, downloads, comments).
    Refused,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 8] = [
        ActivityKind::Opened,
        ActivityKind::Revealed,
        ActivityKind::PasswordFailed,
        ActivityKind::VerificationSent,
        ActivityKind::VerificationSucceeded,
        ActivityKind::Downloaded,
        ActivityKind::Commented,
        ActivityKind::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Opened => "opened",
            ActivityKind::Revealed => "revealed",
            ActivityKind::PasswordFailed => "password_failed",
            ActivityKind::VerificationSent => "verification_sent",
            ActivityKind::VerificationSucceeded => "verification_succeeded",
            ActivityKind::Downloaded => "downloaded",
            ActivityKind::Commented => "commented",
            ActivityKind::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<ActivityKind> {
        ActivityKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether anyone holding the link (or guessing its password) can make entries of
    /// this kind as fast as they like: these are kept at most once per link, client
    /// prefix and minute ([`THROTTLE_MS`]).
    pub fn throttled(self) -> bool {
        matches!(self, ActivityKind::Opened | ActivityKind::PasswordFailed | ActivityKind::Refused)
    }
}

/// The window in which one client prefix makes at most one entry of a throttled kind.
pub const THROTTLE_MS: i64 = 60_000;

/// What a `downloaded` entry names when every file was downloaded as one zip.
pub const ALL_FILES: &str = "all files (zip)";

/// The header row of the CSV log.
pub const CSV_HEADER: [&str; 8] = ["at", "kind", "client", "agent", "browser", "email", "file", "comment_id"];

/// One cell of a CSV row (RFC 4180): quoted, quotes doubled. A value a spreadsheet
/// would take for a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
/// return) is prefixed with `'`, so opening the file runs nothing a viewer wrote.
pub fn csv_cell(value: &str) -> String {
    let guard = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let mut cell = String::with_capacity(value.len() + 3);
    cell.push('"');
    if guard {
        cell.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            cell.push('"');
        }
        cell.push(c);
    }
    cell.push('"');
    cell
}

/// One CSV row of `cells`, ending with CRLF.
pub fn csv_row<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut row = cells.into_iter().map(csv_cell).collect::<Vec<_>>().join(",");
    row.push_str("\r\n");
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back() {
        for kind in ActivityKind::ALL {
            assert_eq!(ActivityKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(ActivityKind::parse("viewed"), None);
    }

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\", twice\r\n"), "\"say \"\"hi\"\", twice\r\n\"");
        for hostile in ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let cell = csv_cell(hostile);
            assert!(cell.starts_with("\"'"), "{cell}");
        }
        assert_eq!(csv_cell(""), "\"\"");
        assert_eq!(csv_row(["a", "=b"]), "\"a\",\"'=b\"\r\n");
    }
}
