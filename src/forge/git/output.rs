//! Reading what git prints: file lists of `git diff -z`, line counts, patches, object ids.

use super::super::{ChangeStatus, FileChange, ForgeError};

/// One entry of `git diff --name-status -z`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct StatusEntry {
    pub(super) status: ChangeStatus,
    pub(super) old_path: Option<String>,
    pub(super) path: String,
}

/// Parses `git diff --name-status -z`: a status field (`A`, `M`, `D`, `T`, or `R`/`C` followed
/// by a similarity score) and then one path, or for renames and copies the old and new paths;
/// every field is NUL-terminated.
pub(super) fn parse_name_status(output: &[u8]) -> Result<Vec<StatusEntry>, ForgeError> {
    let mut fields = nul_fields(output);
    let mut entries = Vec::new();
    while let Some(status) = fields.next() {
        let status = String::from_utf8_lossy(status);
        let (status, two_paths) = match status.as_bytes().first() {
            Some(b'A') => (ChangeStatus::Added, false),
            Some(b'M') => (ChangeStatus::Modified, false),
            Some(b'D') => (ChangeStatus::Deleted, false),
            Some(b'T') => (ChangeStatus::TypeChanged, false),
            Some(b'R') => (ChangeStatus::Renamed, true),
            Some(b'C') => (ChangeStatus::Copied, true),
            _ => return Err(unexpected("diff --name-status", &status)),
        };
        let mut next_path = || {
            fields
                .next()
                .map(lossy)
                .ok_or_else(|| unexpected("diff --name-status", "a status without a path"))
        };
        let old_path = if two_paths { Some(next_path()?) } else { None };
        let path = next_path()?;
        entries.push(StatusEntry { status, old_path, path });
    }
    Ok(entries)
}

/// One entry of `git diff --numstat -z`; `None` counts mean a binary file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CountEntry {
    pub(super) lines: Option<(u64, u64)>,
    pub(super) path: String,
}

/// Parses `git diff --numstat -z`: `<added>\t<deleted>\t<path>` per file, or for renames and
/// copies `<added>\t<deleted>\t` followed by the old and new paths as separate fields; every
/// field is NUL-terminated. Binary files have `-` for both counts.
pub(super) fn parse_numstat(output: &[u8]) -> Result<Vec<CountEntry>, ForgeError> {
    let mut fields = nul_fields(output);
    let mut entries = Vec::new();
    while let Some(field) = fields.next() {
        let mut parts = field.splitn(3, |&byte| byte == b'\t');
        let (Some(added), Some(deleted), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(unexpected("diff --numstat", &String::from_utf8_lossy(field)));
        };
        let lines = match (added, deleted) {
            (b"-", b"-") => None,
            _ => Some((count(added)?, count(deleted)?)),
        };
        let path = if path.is_empty() {
            // A rename or copy: skip the old path, keep the new one.
            match (fields.next(), fields.next()) {
                (Some(_old), Some(new)) => lossy(new),
                _ => return Err(unexpected("diff --numstat", "a rename without both paths")),
            }
        } else {
            lossy(path)
        };
        entries.push(CountEntry { lines, path });
    }
    Ok(entries)
}

/// Joins the two listings of the same diff, which git prints in the same order.
pub(super) fn combine(
    statuses: Vec<StatusEntry>,
    counts: Vec<CountEntry>,
) -> Result<Vec<FileChange>, ForgeError> {
    if statuses.len() != counts.len() {
        return Err(ForgeError::Git(format!(
            "git diff listed {} files with --name-status but {} with --numstat",
            statuses.len(),
            counts.len()
        )));
    }
    statuses
        .into_iter()
        .zip(counts)
        .map(|(status, count)| {
            if status.path != count.path {
                return Err(ForgeError::Git(format!(
                    "git diff listed {:?} and {:?} in the same place",
                    status.path, count.path
                )));
            }
            let (insertions, deletions) = count.lines.unwrap_or((0, 0));
            Ok(FileChange {
                path: status.path,
                old_path: status.old_path,
                status: status.status,
                insertions,
                deletions,
                binary: count.lines.is_none(),
            })
        })
        .collect()
}

/// The NUL-terminated fields of `-z` output (the empty slice after the final NUL is not a
/// field).
pub(super) fn nul_fields(output: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = output.strip_suffix(b"\0").unwrap_or(output);
    // Splitting an empty slice yields one empty field; empty output has none.
    (!output.is_empty()).then(|| body.split(|&byte| byte == 0)).into_iter().flatten()
}

pub(super) fn count(field: &[u8]) -> Result<u64, ForgeError> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| unexpected("diff --numstat", &String::from_utf8_lossy(field)))
}

pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Turns raw patch bytes into text of at most `limit` bytes, cutting at the end of the last
/// whole line that fits. Returns the text and whether anything was cut.
///
/// Bytes that are not UTF-8 become U+FFFD, which can make the text longer than the bytes, so
/// the limit is applied again to the text.
pub(super) fn truncate_patch(raw: &[u8], limit: usize) -> (String, bool) {
    let mut cut = false;
    let mut bytes = raw;
    if bytes.len() > limit {
        bytes = &bytes[..line_end_within(bytes, limit)];
        cut = true;
    }
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if text.len() > limit {
        // `line_end_within` only ever returns 0 or a position just after a '\n', which is
        // always a character boundary.
        text.truncate(line_end_within(text.as_bytes(), limit));
        cut = true;
    }
    (text, cut)
}

/// The length of the longest prefix of `bytes` that ends with a newline and is at most `limit`
/// long (0 when even the first line is longer).
pub(super) fn line_end_within(bytes: &[u8], limit: usize) -> usize {
    let window = &bytes[..limit.min(bytes.len())];
    window.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1)
}

/// Checks that `text` (trailing newline allowed) is a full object id: 40 hexadecimal digits
/// for SHA-1 repositories, 64 for SHA-256 ones.
pub(super) fn object_id(text: &str, what: &str) -> Result<String, ForgeError> {
    let id = text.trim_end_matches('\n');
    if matches!(id.len(), 40 | 64) && id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(unexpected(what, text))
    }
}

pub(super) fn utf8(bytes: Vec<u8>, what: &str) -> Result<String, ForgeError> {
    String::from_utf8(bytes)
        .map_err(|_| ForgeError::Git(format!("git {what} printed output that is not UTF-8")))
}

pub(super) fn unexpected(what: &str, output: &str) -> ForgeError {
    let shown: String = output.chars().take(200).collect();
    ForgeError::Git(format!("unexpected output from git {what}: {shown:?}"))
}
