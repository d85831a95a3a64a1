//! What a share link hides from its viewers, and what its owner is told is there
//! before sharing.
//!
//! A link's [`Redaction`] says what to hide: secrets (on by default; see
//! [`secrets`]), e-mail addresses, the user names in local paths (`/home/…`,
//! `/Users/…`, `C:\Users\…`) and whatever the owner's own regular expressions match.
//! [`Redactor::redact`] applies it to any text a viewer receives;
//! [`Redactor::scan`] finds what is there — those kinds, and IP addresses, which are
//! reported but only hidden by an owner pattern — for the preview of a link.
//!
//! What replaces what:
//!
//! | found | shown as |
//! | --- | --- |
//! | a secret | its public prefix or label, then `••••••••` (see [`secrets`]) |
//! | an e-mail address | `[email hidden]` |
//! | a local path | the path with its user name as `[user]`: `/home/[user]/src` |
//! | an owner pattern's match | `[hidden]` |
//!
//! Every step is linear in the length of the text (the `regex` crate never
//! backtracks), and owner patterns are bounded in number, length and compiled size.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::secrets;

/// Most patterns one link may have.
pub const MAX_PATTERNS: usize = 20;
/// Longest pattern, in characters.
pub const MAX_PATTERN_CHARS: usize = 200;
/// Most memory one compiled pattern may take.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// What replaces an e-mail address.
pub const EMAIL_MARK: &str = "[email hidden]";
/// What replaces the user name in a local path.
pub const USER_MARK: &str = "[user]";
/// What replaces an owner pattern's match.
pub const PATTERN_MARK: &str = "[hidden]";

/// What a link hides from viewers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Redaction {
    /// API keys, tokens, private keys and passwords (see [`secrets`]).
    pub secrets: bool,
    pub emails: bool,
    /// The user names in home-directory paths.
    pub paths: bool,
    /// The owner's regular expressions; each match is hidden.
    pub patterns: Vec<String>,
}

impl Default for Redaction {
    fn default() -> Redaction {
        Redaction { secrets: true, emails: false, paths: false, patterns: Vec::new() }
    }
}

/// What is stored beside the `mask_secrets` flag, when a link hides more than
/// secrets.
#[derive(Debug, Serialize, Deserialize)]
struct Beyond {
    #[serde(default)]
    emails: bool,
    #[serde(default)]
    paths: bool,
    #[serde(default)]
    patterns: Vec<String>,
}

/// Why an owner's redaction can't be used: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRedaction {
    pub field: String,
    pub message: String,
}

impl Redaction {
    /// The redaction stored as the `mask_secrets` flag and the `redaction` column.
    pub fn stored(mask_secrets: bool, beyond: Option<&str>) -> Redaction {
        // Only what [`Redaction::beyond_secrets`] wrote is ever stored there.
        let beyond = beyond.and_then(|json| serde_json::from_str::<Beyond>(json).ok());
        match beyond {
            Some(b) => {
                Redaction { secrets: mask_secrets, emails: b.emails, paths: b.paths, patterns: b.patterns }
            }
            None => Redaction { secrets: mask_secrets, ..Redaction::none() },
        }
    }

    /// Hides nothing.
    pub fn none() -> Redaction {
        Redaction { secrets: false, emails: false, paths: false, patterns: Vec::new() }
    }

    /// The `redaction` column: what is hidden beyond secrets, or `None`.
    pub fn beyond_secrets(&self) -> Option<String> {
        self.hides_more_than_secrets().then(|| {
            serde_json::to_string(&Beyond {
                emails: self.emails,
                paths: self.paths,
                patterns: self.patterns.clone(),
            })
            .expect("plain values serialize")
        })
    }

    /// Whether anything beyond secrets is hidden.
    pub fn hides_more_than_secrets(&self) -> bool {
        self.emails || self.paths || !self.patterns.is_empty()
    }

    /// Checks the owner's patterns (at most [`MAX_PATTERNS`], each 1 to
    /// [`MAX_PATTERN_CHARS`] characters, a valid regular expression that matches
    /// something, within the compiled size limit); `field` names the patterns in
    /// errors (e.g. `redact.patterns`).
    pub fn check(self, field: &str) -> Result<Redaction, InvalidRedaction> {
        let invalid = |at: Option<usize>, message: String| InvalidRedaction {
            field: at.map_or_else(|| field.to_owned(), |i| format!("{field}[{i}]")),
            message,
        };
        if self.patterns.len() > MAX_PATTERNS {
            return Err(invalid(None, format!("at most {MAX_PATTERNS} patterns")));
        }
        for (i, pattern) in self.patterns.iter().enumerate() {
            let chars = pattern.chars().count();
            if chars == 0 || chars > MAX_PATTERN_CHARS {
                return Err(invalid(Some(i), format!("a pattern is 1 to {MAX_PATTERN_CHARS} characters")));
            }
            let regex = compile(pattern).map_err(|err| invalid(Some(i), err))?;
            if regex.is_match("") {
                return Err(invalid(
                    Some(i),
                    format!("{pattern:?} matches empty text; it must match something"),
                ));
            }
        }
        Ok(self)
    }

    /// The redactor for this redaction, compiled once and then shared. The two that
    /// most links have (secrets only, or nothing) are taken without a lock.
    pub fn redactor(&self) -> Arc<Redactor> {
        static SECRETS: LazyLock<Arc<Redactor>> =
            LazyLock::new(|| Arc::new(Redactor::new(&Redaction::default())));
        static NOTHING: LazyLock<Arc<Redactor>> =
            LazyLock::new(|| Arc::new(Redactor::new(&Redaction::none())));
        if !self.hides_more_than_secrets() {
            return if self.secrets { SECRETS.clone() } else { NOTHING.clone() };
        }
        static COMPILED: LazyLock<Mutex<HashMap<Redaction, Arc<Redactor>>>> = LazyLock::new(Default::default);
        /// Redactions whose compiled form is kept, at most.
        const KEPT: usize = 256;
        let kept = || COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(redactor) = kept().get(self) {
            return redactor.clone();
        }
        let redactor = Arc::new(Redactor::new(self));
        let mut kept = kept();
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(self.clone(), redactor.clone());
        redactor
    }
}

/// Compiles an owner's pattern, bounded in size.
fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .dfa_size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|err| match err {
            regex::Error::CompiledTooBig(_) => "the pattern is too complex".to_owned(),
            regex::Error::Syntax(message) => {
                format!(
                    "not a valid regular expression: {}",
                    message.lines().last().unwrap_or_default().trim()
                )
            }
            other => other.to_string(),
        })
}

/// E-mail addresses (ASCII, as agents print them).
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u:\b[a-z0-9][a-z0-9._%+\-]*@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,24}\b)")
        .expect("valid")
});

/// Home-directory paths: the directory of homes, then the user's name (group 1).
static LOCAL_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i-u:(?:/home/|/Users/|\b[A-Z]:\\{1,2}Users\\{1,2}|\b[A-Z]:/Users/))([^/\\\s"'`<>|:*?\[\]]+)"#,
    )
    .expect("valid")
});

/// Candidates for IP addresses; each is checked by parsing it.
static IP_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})")
        .expect("valid")
});

/// Whether `text[range]` is an IP address standing on its own: not part of a
/// version number (`1.2.3.4.5`), a word or a path of code (`Vec::new`); an IPv6
/// address has at least two groups with a digit (`fe80::1`, not `ec::e`).
fn is_ip_address(text: &str, range: std::ops::Range<usize>) -> bool {
    let candidate = &text[range.clone()];
    let before = text[..range.start].chars().next_back();
    let mut after = text[range.end..].chars();
    let next = after.next();
    let glued = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.');
    if before.is_some_and(glued) || next.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':'))
    {
        return false;
    }
    if next == Some('.') && after.next().is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    match candidate.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => true,
        Ok(std::net::IpAddr::V6(_)) => {
            candidate.split(':').filter(|group| group.bytes().any(|b| b.is_ascii_digit())).count() >= 2
        }
        Err(_) => false,
    }
}

/// What a [`Redaction`] does, compiled.
#[derive(Debug)]
pub struct Redactor {
    secrets: bool,
    emails: bool,
    paths: bool,
    /// Each owner pattern, as written and compiled.
    patterns: Vec<(String, Regex)>,
}

/// A kind of thing found in shared content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Secret,
    Email,
    Path,
    IpAddress,
    Pattern,
}

/// One thing found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub kind: FindingKind,
    /// What was found, as the owner may be shown it: a secret only by its first
    /// characters.
    pub sample: String,
    /// The owner pattern that found it.
    pub pattern: Option<String>,
    /// Whether viewers get it hidden.
    pub redacted: bool,
}

impl Redactor {
    fn new(redaction: &Redaction) -> Redactor {
        Redactor {
            secrets: redaction.secrets,
            emails: redaction.emails,
            paths: redaction.paths,
            // Checked when the link was made; one that no longer compiles hides
            // everything rather than nothing.
            patterns: redaction
                .patterns
                .iter()
                .map(|p| (p.clone(), compile(p).unwrap_or_else(|_| Regex::new(r"(?s).+").expect("valid"))))
                .collect(),
        }
    }

    /// Whether this hides nothing at all.
    pub fn hides_nothing(&self) -> bool {
        !self.secrets && !self.emails && !self.paths && self.patterns.is_empty()
    }

    /// `text` as viewers get it; borrowed when nothing in it is hidden.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        if self.secrets {
            if let Cow::Owned(masked) = secrets::mask(&text) {
                text = Cow::Owned(masked);
            }
        }
        for (_, regex) in &self.patterns {
            if let Cow::Owned(hidden) = regex.replace_all(&text, PATTERN_MARK) {
                text = Cow::Owned(hidden);
            }
        }
        if self.emails {
            if let Cow::Owned(hidden) = EMAIL.replace_all(&text, EMAIL_MARK) {
                text = Cow::Owned(hidden);
            }
        }
        if self.paths {
            let hidden = LOCAL_PATH.replace_all(&text, |caps: &regex::Captures<'_>| {
                let whole = caps.get(0).expect("the match");
                let user = caps.get(1).expect("the user");
                format!("{}{USER_MARK}", &whole.as_str()[..user.start() - whole.start()])
            });
            if let Cow::Owned(hidden) = hidden {
                text = Cow::Owned(hidden);
            }
        }
        text
    }

    /// Everything found in `text`, in order of kind, whether hidden or not.
    pub fn scan(&self, text: &str) -> Vec<Detection> {
        let mut found = Vec::new();
        for range in secrets::find(text) {
            let secret = &text[range];
            let shown: String = secret.chars().take(4).collect();
            found.push(Detection {
                kind: FindingKind::Secret,
                sample: format!("{shown}{}", secrets::MARK),
                pattern: None,
                redacted: self.secrets,
            });
        }
        for m in EMAIL.find_iter(text) {
            found.push(Detection {
                kind: FindingKind::Email,
                sample: m.as_str().to_owned(),
                pattern: None,
                redacted: self.emails || self.hidden_by_pattern(m.as_str()),
            });
        }
        for m in LOCAL_PATH.find_iter(text) {
            found.push(Detection {
                kind: FindingKind::Path,
                sample: m.as_str().to_owned(),
                pattern: None,
                redacted: self.paths || self.hidden_by_pattern(m.as_str()),
            });
        }
        for m in IP_ADDRESS.find_iter(text) {
            if is_ip_address(text, m.range()) {
                found.push(Detection {
                    kind: FindingKind::IpAddress,
                    sample: m.as_str().to_owned(),
                    pattern: None,
                    redacted: self.hidden_by_pattern(m.as_str()),
                });
            }
        }
        for (pattern, regex) in &self.patterns {
            for m in regex.find_iter(text) {
                found.push(Detection {
                    kind: FindingKind::Pattern,
                    sample: m.as_str().chars().take(40).collect(),
                    pattern: Some(pattern.clone()),
                    redacted: true,
                });
            }
        }
        found
    }

    fn hidden_by_pattern(&self, text: &str) -> bool {
        self.patterns.iter().any(|(_, regex)| regex.is_match(text))
    }
}

/// Whether a file of `content_type` is text that redaction applies to (text of
/// any kind, JSON, XML, YAML, scripts, logs); other files are served as they are.
pub fn is_text(content_type: &str) -> bool {
    let kind = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    kind.starts_with("text/")
        || kind.ends_with("+json")
        || kind.ends_with("+xml")
        || matches!(
            kind.as_str(),
            "application/json"
                | "application/x-ndjson"
                | "application/jsonl"
                | "application/xml"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/javascript"
                | "application/x-sh"
                | "application/sql"
                | "application/x-log"
                | "application/x-patch"
                | "application/x-diff"
        )
}

/// Most bytes of a file held back at once: a line or a private key block longer
/// than this is redacted in parts.
const HELD_BACK: usize = 1 << 20;

/// Redacts a text file as its bytes arrive, a run of whole lines at a time (a
/// private key block is kept whole, up to [`HELD_BACK`] bytes), so a file of any
/// size is redacted holding about one chunk. Bytes that are not UTF-8 are replaced
/// with U+FFFD.
pub struct TextRedactor {
    redactor: Arc<Redactor>,
    pending: Vec<u8>,
}

impl TextRedactor {
    pub fn new(redactor: Arc<Redactor>) -> TextRedactor {
        TextRedactor { redactor, pending: Vec::new() }
    }

    /// Takes the next bytes of the file; answers what can be sent now.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(bytes);
        let Some(end) = self.ready() else {
            return Vec::new();
        };
        let rest = self.pending.split_off(end);
        let ready = std::mem::replace(&mut self.pending, rest);
        self.redacted(&ready)
    }

    /// The rest of the file, once every byte was pushed.
    pub fn finish(mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.pending);
        self.redacted(&rest)
    }

    /// Where the bytes that can be redacted now end: after the last whole line,
    /// before an open private key block.
    fn ready(&self) -> Option<usize> {
        let pending = &self.pending;
        if pending.len() > HELD_BACK {
            return Some(pending.len());
        }
        let end = pending.iter().rposition(|&b| b == b'\n')? + 1;
        let head = &pending[..end];
        let open =
            find_last(head, b"-----BEGIN ").filter(|&at| find_last(&head[at..], b"-----END ").is_none());
        match open {
            Some(0) => None,
            Some(at) => Some(at),
            None => Some(end),
        }
    }

    fn redacted(&self, bytes: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(bytes);
        self.redactor.redact(&text).into_owned().into_bytes()
    }
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Redaction {
        Redaction { secrets: true, emails: true, paths: true, patterns: vec![r"ACME-\d{4}".into()] }
    }

    #[test]
    fn each_kind_is_hidden_as_documented() {
        let redactor = all().redactor();
        let text = "Mail ops@example.com from /home/alice/src and C:\\Users\\Bob\\repo, \
                    /Users/carol/x with GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345 for ACME-1234.";
        let out = redactor.redact(text);
        assert_eq!(
            out,
            "Mail [email hidden] from /home/[user]/src and C:\\Users\\[user]\\repo, \
             /Users/[user]/x with GITHUB_TOKEN=•••••••• for [hidden]."
        );
        assert_eq!(redactor.redact(&out), out, "hiding is idempotent");
    }

    #[test]
    fn only_what_the_link_asks_for_is_hidden() {
        let text = "ops@example.com /home/alice ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let secrets_only = Redaction::default().redactor();
        assert_eq!(secrets_only.redact(text), "ops@example.com /home/alice ghp_••••••••");
        let nothing = Redaction::none().redactor();
        assert!(matches!(nothing.redact(text), Cow::Borrowed(_)));
        assert!(nothing.hides_nothing());
    }

    #[test]
    fn the_scan_reports_every_kind_and_whether_it_is_hidden() {
        let redaction = Redaction { emails: true, ..Redaction::default() };
        let found = redaction.redactor().scan(
            "key sk_live_0123456789abcdefABCDEF, ops@example.com, /home/alice/x, host 10.0.3.7 and fe80::1, \
             version 1.2.3.4.5, Vec::new(), std::io, at 10:30:00",
        );
        let kinds: Vec<(FindingKind, &str, bool)> =
            found.iter().map(|d| (d.kind, d.sample.as_str(), d.redacted)).collect();
        assert_eq!(
            kinds,
            [
                (FindingKind::Secret, "0123••••••••", true),
                (FindingKind::Email, "ops@example.com", true),
                (FindingKind::Path, "/home/alice", false),
                (FindingKind::IpAddress, "10.0.3.7", false),
                (FindingKind::IpAddress, "fe80::1", false),
            ]
        );
        assert!(found.iter().all(|d| !d.sample.contains("0123456789abcdef")), "never a whole secret");
    }

    #[test]
    fn owner_patterns_are_checked_and_bounded() {
        let with = |patterns: &[&str]| Redaction {
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            ..Redaction::default()
        };
        assert!(with(&[r"\bproject-[a-z]+\b", "Zürich"]).check("redact.patterns").is_ok());
        for (patterns, field) in [
            (vec!["("], "redact.patterns[0]"),
            (vec!["ok", "a*"], "redact.patterns[1]"),
            (vec![""], "redact.patterns[0]"),
            (vec![r"(?:a{1000}){1000}"], "redact.patterns[0]"),
        ] {
            let err = with(&patterns).check("redact.patterns").unwrap_err();
            assert_eq!(err.field, field, "{patterns:?}: {err:?}");
        }
        let long = "x".repeat(MAX_PATTERN_CHARS + 1);
        assert_eq!(with(&[&long]).check("p").unwrap_err().field, "p[0]");
        let many: Vec<&str> = vec!["x"; MAX_PATTERNS + 1];
        assert_eq!(with(&many).check("p").unwrap_err().field, "p");
    }

    #[test]
    fn it_is_stored_as_the_flag_and_what_goes_beyond() {
        assert_eq!(Redaction::default().beyond_secrets(), None);
        let redaction = all();
        let stored = redaction.beyond_secrets().unwrap();
        assert_eq!(Redaction::stored(true, Some(&stored)), redaction);
        assert_eq!(Redaction::stored(false, None), Redaction::none());
    }

    #[test]
    fn files_are_redacted_in_whole_lines_whatever_their_chunks() {
        let redactor = Redaction { emails: true, ..Redaction::default() }.redactor();
        let file = "user ops@example.com\nkey ghp_0123456789abcdefghijABCDEFGHIJ012345\n\
                    -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n\
                    c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\n-----END PRIVATE KEY-----\nlast line, no newline";
        let whole = redactor.redact(file).into_owned();
        for size in [1, 3, 7, 16, 64, file.len()] {
            let mut streaming = TextRedactor::new(redactor.clone());
            let mut out = Vec::new();
            for chunk in file.as_bytes().chunks(size) {
                out.extend(streaming.push(chunk));
            }
            out.extend(streaming.finish());
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, whole, "in chunks of {size}");
            assert!(!out.contains("c2VjcmV0") && !out.contains("ops@"), "{out}");
        }
    }

    #[test]
    fn text_files_are_told_from_others() {
        for text in
            ["text/plain", "text/markdown; charset=utf-8", "application/json", "application/vnd.api+json"]
        {
            assert!(is_text(text), "{text}");
        }
        for other in ["image/png", "application/zip", "application/octet-stream", "application/pdf"] {
            assert!(!is_text(other), "{other}");
        }
    }
}
