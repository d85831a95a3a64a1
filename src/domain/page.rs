//! Pages of newest-first lists (tasks, share links): a page ends at a [`Cursor`],
//! and the next one starts right after it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::time::Timestamp;

/// Where a page ended: the creation time and id of its last item. Items are
/// ordered by both, newest first, so a cursor stays right however many items are
/// added meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: Timestamp,
    pub id: String,
}

impl Cursor {
    /// The opaque text a client passes back to get the next page.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at.millis(), self.id))
    }

    /// Reads a cursor made by [`Cursor::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, id) = text.split_once(':')?;
        if id.contains('\0') {
            return None;
        }
        Some(Cursor { at: Timestamp(at.parse().ok()?), id: id.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_nothing_else_reads_as_one() {
        let cursor = Cursor { at: Timestamp(1_700_000_000_123), id: "task_0123456789abcdef".into() };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in
            ["", "not base64!", &URL_SAFE_NO_PAD.encode("no colon"), &URL_SAFE_NO_PAD.encode("x:task_1")]
        {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("0:task_\0")), None, "no NUL in an id");
    }
}
