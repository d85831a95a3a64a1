//! An owner's sharing policy: the rules every share link and share code of theirs
//! must meet when it is made (and a link whenever it is changed).

/// The longest maximum lifetime a policy can set, in days (about ten years).
pub const MAX_LINK_LIFETIME_DAYS: i64 = 3650;

/// What an owner requires of their shares. The default requires nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharingPolicy {
    /// Days a link may live at most, counted from when it is made or changed;
    /// `None` for no maximum. A link made without an expiry gets the shorter of
    /// the default lifetime and this.
    pub max_link_lifetime_days: Option<i64>,
    /// Every link needs a password.
    pub require_password: bool,
    /// Every link must restrict who may open it to an audience (email addresses or
    /// domains) rather than anyone holding it.
    pub require_audience: bool,
    /// Share codes may grant write permissions: sending messages and opening,
    /// approving or merging pull requests.
    pub allow_share_code_write: bool,
}

impl Default for SharingPolicy {
    fn default() -> SharingPolicy {
        SharingPolicy {
            max_link_lifetime_days: None,
            require_password: false,
            require_audience: false,
            allow_share_code_write: true,
        }
    }
}
