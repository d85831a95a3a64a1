//! Share links: passwords, permissions, status, and the secrets a viewer presents.
//!
//! A link has three names. `share_link_id` (`share_<hex>`) is an identifier: it
//! travels in logs and webhooks and grants nothing. The URL token and the short code
//! are capabilities: whoever holds one can open the link. Both are derived from the
//! id with HMAC-SHA256 under the service's link key, so the owner API can show a
//! link's URL again at any time while the database stores only their SHA-256 hashes:
//! a copy of the database alone opens no link.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use utoipa::ToSchema;

use super::text::FieldError;
use super::time::Timestamp;

/// Shortest and longest share-link password, in characters (seed 001: 8–32).
pub const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 8..=32;
/// Length of a short code.
pub const SHORT_CODE_LEN: usize = 8;
/// Default lifetime of a link, in days (seed 001: 30).
pub const DEFAULT_LIFETIME_DAYS: i64 = 30;
/// Largest `max_views`.
pub const MAX_VIEWS_LIMIT: i64 = 1_000_000_000;
/// Longest link title and description, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// A link password as the owner chose it: 8–32 characters.
pub struct SharePassword(String);

impl SharePassword {
    pub fn parse(field: &str, text: &str) -> Result<SharePassword, FieldError> {
        let chars = text.chars().count();
        if !PASSWORD_CHARS.contains(&chars) {
            return Err(FieldError::new(field, "Password must be 8-32 characters"));
        }
        if text.chars().any(char::is_control) {
            return Err(FieldError::new(field, "Password must not contain control characters"));
        }
        Ok(SharePassword(text.to_owned()))
    }

    /// The Argon2id hash (PHC string) to store. Deliberately slow: call it off the
    /// async executor (`spawn_blocking`).
    pub fn hash(&self) -> String {
        let salt =
            SaltString::encode_b64(&super::ids::random_bytes::<16>()).expect("16 bytes is a valid salt");
        Argon2::default()
            .hash_password(self.0.as_bytes(), &salt)
            .expect("Argon2 with default parameters hashes any input")
            .to_string()
    }
}

/// Checks `candidate` against a stored Argon2 PHC string, in constant time.
/// Deliberately slow: call it off the async executor.
pub fn verify_password(stored: &str, candidate: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|hash| Argon2::default().verify_password(candidate.as_bytes(), &hash).is_ok())
}

/// What a viewer of a link may do and see (seed 001 `permissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Permissions {
    /// Viewers can download the task's artifacts.
    pub allow_download: bool,
    /// Viewers can leave comments (after verifying their email).
    pub allow_comments: bool,
    /// Viewers see the task's metadata (timings, agent, status).
    pub show_metadata: bool,
}

impl Default for Permissions {
    /// Seed 001 defaults: downloads on, comments off, metadata on.
    fn default() -> Permissions {
        Permissions { allow_download: true, allow_comments: false, show_metadata: true }
    }
}

/// Permissions as a request gives them; absent fields keep their current (or default) value.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsPatch {
    /// Default true.
    pub allow_download: Option<bool>,
    /// Default false.
    pub allow_comments: Option<bool>,
    /// Default true.
    pub show_metadata: Option<bool>,
}

impl PermissionsPatch {
    pub fn apply(self, base: Permissions) -> Permissions {
        Permissions {
            allow_download: self.allow_download.unwrap_or(base.allow_download),
            allow_comments: self.allow_comments.unwrap_or(base.allow_comments),
            show_metadata: self.show_metadata.unwrap_or(base.show_metadata),
        }
    }
}

/// A link's state (seed 001 `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShareStatus {
    Active,
    /// Past `expires_at`, or `max_views` reached.
    Expired,
    /// Revoked by its owner; final.
    Revoked,
}

impl ShareStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ShareStatus::Active => "active",
            ShareStatus::Expired => "expired",
            ShareStatus::Revoked => "revoked",
        }
    }

    /// The status of a link with these facts at time `now`.
    pub fn of(
        revoked: bool,
        expires_at: Timestamp,
        max_views: Option<i64>,
        view_count: i64,
        now: Timestamp,
    ) -> ShareStatus {
        if revoked {
            ShareStatus::Revoked
        } else if expires_at <= now || max_views.is_some_and(|max| view_count >= max) {
            ShareStatus::Expired
        } else {
            ShareStatus::Active
        }
    }
}

/// Checks a requested `expires_at`: a timestamp in the future, no later than
/// 9999-12-31T23:59:59.999Z (the last instant RFC 3339 can write in UTC).
pub fn parse_expiry(field: &str, text: &str, now: Timestamp) -> Result<Timestamp, FieldError> {
    let Some(at) = Timestamp::parse(text) else {
        let issue = match super::time::instant_millis(text) {
            Some(ms) if ms > Timestamp::LAST.millis() => "expires_at must be no later than 9999-12-31T23:59:59Z",
            Some(_) => "expires_at must be in the future",
            None => "expires_at must be an ISO 8601 timestamp, e.g. 2024-12-31T23:59:59Z (UTC when no time zone is given)",
        };
        return Err(FieldError::new(field, issue));
    };
    if at <= now {
        return Err(FieldError::new(field, "expires_at must be in the future"));
    }
    Ok(at)
}

/// Checks a requested `max_views`: a positive integer (null means unlimited).
pub fn check_max_views(field: &str, value: i64) -> Result<i64, FieldError> {
    if (1..=MAX_VIEWS_LIMIT).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            format!("max_views must be a positive integer up to {MAX_VIEWS_LIMIT}, or null"),
        ))
    }
}

type HmacSha256 = Hmac<Sha256>;

/// The service's link key, and everything derived from it.
#[derive(Clone)]
pub struct LinkKeys {
    key: [u8; 32],
}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKeys(..)")
    }
}

impl LinkKeys {
    pub fn new(key: [u8; 32]) -> LinkKeys {
        LinkKeys { key }
    }

    /// Reads a key given as 64 hex digits or URL-safe base64 of 32 bytes.
    pub fn parse(text: &str) -> Option<LinkKeys> {
        let text = text.trim();
        let bytes = hex::decode(text).ok().or_else(|| URL_SAFE_NO_PAD.decode(text).ok())?;
        Some(LinkKeys { key: bytes.try_into().ok()? })
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part);
            mac.update(b"\x1f");
        }
        mac.finalize().into_bytes().into()
    }

    /// The URL token of a link: 256 bits, URL-safe base64 (43 characters).
    pub fn token(&self, share_link_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&[b"token", share_link_id.as_bytes()]))
    }

    /// The short code of a link: 8 characters of `[0-9A-Za-z]` (about 47 bits).
    pub fn short_code(&self, share_link_id: &str) -> String {
        const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let digest = self.mac(&[b"short", share_link_id.as_bytes()]);
        let mut n = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        (0..SHORT_CODE_LEN)
            .map(|_| {
                let c = ALPHABET[(n % 62) as usize] as char;
                n /= 62;
                c
            })
            .collect()
    }

    /// The share code of a task share: 24 characters of `[0-9A-Za-z]` (about 143 bits).
    pub fn share_code(&self, task_share_id: &str) -> String {
        const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let digest = self.mac(&[b"share-code", task_share_id.as_bytes()]);
        digest[..super::task_share::CODE_LEN].iter().map(|b| ALPHABET[(*b % 62) as usize] as char).collect()
    }

    /// The signing secret of webhook endpoint `webhook_id` at `version`, in the
    /// Standard Webhooks form `whsec_<base64>` (256 bits).
    pub fn webhook_secret(&self, webhook_id: &str, version: i64) -> String {
        use base64::engine::general_purpose::STANDARD;
        let key = self.mac(&[b"webhook", webhook_id.as_bytes(), version.to_string().as_bytes()]);
        format!("whsec_{}", STANDARD.encode(key))
    }

    /// A grant proving that `view_id` of `share_link_id` was revealed, good until
    /// `expires_at`: lets the viewer download artifacts without spending a view.
    pub fn grant(&self, share_link_id: &str, view_id: &str, expires_at: Timestamp) -> String {
        let expiry = expires_at.millis().to_string();
        let mac = self.mac(&[b"grant", share_link_id.as_bytes(), view_id.as_bytes(), expiry.as_bytes()]);
        format!("{view_id}.{expiry}.{}", URL_SAFE_NO_PAD.encode(&mac[..16]))
    }

    /// True when `grant` was made by [`LinkKeys::grant`] for this link and has not expired.
    pub fn check_grant(&self, share_link_id: &str, grant: &str, now: Timestamp) -> bool {
        self.granted_view(share_link_id, grant, now).is_some()
    }

    /// The view a valid, unexpired `grant` of this link was made for, and when the
    /// grant expires; `None` for anything else.
    pub fn granted_view(
        &self,
        share_link_id: &str,
        grant: &str,
        now: Timestamp,
    ) -> Option<(String, Timestamp)> {
        let mut parts = grant.splitn(3, '.');
        let (view_id, expiry, sig) = (parts.next()?, parts.next()?, parts.next()?);
        let expires_ms = expiry.parse::<i64>().ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let mac = self.mac(&[b"grant", share_link_id.as_bytes(), view_id.as_bytes(), expiry.as_bytes()]);
        let valid = sig.len() == 16 && bool::from(mac[..16].ct_eq(&sig)) && now.millis() < expires_ms;
        valid.then(|| (view_id.to_owned(), Timestamp(expires_ms)))
    }

    /// What is stored of a verification code mailed to `email` for a link: keyed by
    /// the link key, so six digits can't be recovered from the database alone.
    pub fn verification_code_hash(&self, share_link_id: &str, email: &str, code: &str) -> String {
        hex::encode(self.mac(&[b"verification", share_link_id.as_bytes(), email.as_bytes(), code.as_bytes()]))
    }

    /// What identifies an address in a link's stored verifications (the address
    /// itself is not stored there).
    pub fn address_hash(&self, share_link_id: &str, email: &str) -> String {
        hex::encode(&self.mac(&[b"address", share_link_id.as_bytes(), email.as_bytes()])[..16])
    }

    /// A viewer token: proof that its holder showed, by a mailed code, that they
    /// read `email`, for this link only, until `expires_at`.
    pub fn viewer_token(&self, share_link_id: &str, email: &str, expires_at: Timestamp) -> String {
        let expiry = expires_at.millis().to_string();
        let mac = self.mac(&[b"viewer", share_link_id.as_bytes(), email.as_bytes(), expiry.as_bytes()]);
        format!("{expiry}.{}.{}", URL_SAFE_NO_PAD.encode(email), URL_SAFE_NO_PAD.encode(&mac[..16]))
    }

    /// The address a valid, unexpired viewer token of this link proves; `None`
    /// for anything else (another link's token, an expired or altered one).
    pub fn verified_email(&self, share_link_id: &str, token: &str, now: Timestamp) -> Option<String> {
        let mut parts = token.splitn(3, '.');
        let (expiry, email, sig) = (parts.next()?, parts.next()?, parts.next()?);
        let expires_ms = expiry.parse::<i64>().ok()?;
        let email = String::from_utf8(URL_SAFE_NO_PAD.decode(email).ok()?).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        let mac = self.mac(&[b"viewer", share_link_id.as_bytes(), email.as_bytes(), expiry.as_bytes()]);
        let valid = sig.len() == 16 && bool::from(mac[..16].ct_eq(&sig)) && now.millis() < expires_ms;
        valid.then_some(email)
    }

    /// The anti-forgery token of the browser session `session_id` (console or
    /// viewer): forms of that session carry it, and a post without it is refused.
    /// Another site can't read it, so it can't forge a form the session would accept.
    pub fn csrf_token(&self, session_id: &str) -> String {
        URL_SAFE_NO_PAD.encode(&self.mac(&[b"csrf", session_id.as_bytes()])[..24])
    }

    /// True when `presented` is the anti-forgery token of `session_id`.
    pub fn check_csrf(&self, session_id: &str, presented: &str) -> bool {
        let expected = self.csrf_token(session_id);
        expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Keyed hash of a viewer's address and user agent: tells unique viewers apart
    /// without storing who they are.
    pub fn visitor_hash(&self, share_link_id: &str, client: &str, user_agent: &str) -> String {
        hex::encode(
            &self.mac(&[b"visitor", share_link_id.as_bytes(), client.as_bytes(), user_agent.as_bytes()])
                [..16],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_tokens_prove_one_address_for_one_link_until_they_expire() {
        let keys = LinkKeys::new([7; 32]);
        let now = Timestamp(1_000_000);
        let token = keys.viewer_token("share_a", "ana@example.com", Timestamp(2_000_000));
        assert_eq!(keys.verified_email("share_a", &token, now).as_deref(), Some("ana@example.com"));
        assert_eq!(keys.verified_email("share_b", &token, now), None, "another link");
        assert_eq!(keys.verified_email("share_a", &token, Timestamp(2_000_000)), None, "expired");
        assert_eq!(LinkKeys::new([8; 32]).verified_email("share_a", &token, now), None, "another key");
        let forged = token.replacen(
            &URL_SAFE_NO_PAD.encode("ana@example.com"),
            &URL_SAFE_NO_PAD.encode("bo@example.com"),
            1,
        );
        assert_eq!(keys.verified_email("share_a", &forged, now), None, "another address");
        let later = token.replacen("2000000", "9000000", 1);
        assert_eq!(keys.verified_email("share_a", &later, now), None, "another expiry");
        assert_ne!(
            keys.verification_code_hash("share_a", "ana@example.com", "123456"),
            keys.verification_code_hash("share_b", "ana@example.com", "123456")
        );
    }

    #[test]
    fn passwords_are_8_to_32_characters() {
        assert!(SharePassword::parse("password", "1234567").is_err());
        assert!(SharePassword::parse("password", "12345678").is_ok());
        assert!(SharePassword::parse("password", &"x".repeat(32)).is_ok());
        assert!(SharePassword::parse("password", &"x".repeat(33)).is_err());
        assert!(SharePassword::parse("password", "密码密码密码密码").is_ok(), "characters, not bytes");
    }

    #[test]
    fn password_hashes_verify_only_the_password() {
        let hash = SharePassword::parse("password", "securepass123").unwrap().hash();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "securepass123"));
        assert!(!verify_password(&hash, "securepass124"));
        assert!(!verify_password("not a hash", "securepass123"));
    }

    #[test]
    fn status_follows_revocation_expiry_and_view_limit() {
        let now = Timestamp(1_000);
        assert_eq!(ShareStatus::of(false, Timestamp(2_000), None, 5, now), ShareStatus::Active);
        assert_eq!(ShareStatus::of(false, Timestamp(1_000), None, 0, now), ShareStatus::Expired);
        assert_eq!(ShareStatus::of(false, Timestamp(2_000), Some(3), 3, now), ShareStatus::Expired);
        assert_eq!(ShareStatus::of(false, Timestamp(2_000), Some(3), 2, now), ShareStatus::Active);
        assert_eq!(ShareStatus::of(true, Timestamp(2_000), None, 0, now), ShareStatus::Revoked);
    }

    #[test]
    fn tokens_and_codes_are_stable_per_key_and_distinct_per_link() {
        let keys = LinkKeys::new([7; 32]);
        let token = keys.token("share_0000000000000001");
        assert_eq!(token.len(), 43);
        assert_eq!(token, keys.token("share_0000000000000001"));
        assert_ne!(token, keys.token("share_0000000000000002"));
        assert_ne!(token, LinkKeys::new([8; 32]).token("share_0000000000000001"));
        let code = keys.short_code("share_0000000000000001");
        assert_eq!(code.len(), SHORT_CODE_LEN);
        assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn grants_are_bound_to_their_link_and_expire() {
        let keys = LinkKeys::new([1; 32]);
        let grant = keys.grant("share_a", "view_1", Timestamp(5_000));
        assert!(keys.check_grant("share_a", &grant, Timestamp(4_999)));
        assert!(!keys.check_grant("share_a", &grant, Timestamp(5_000)), "expired");
        assert!(!keys.check_grant("share_b", &grant, Timestamp(0)), "another link");
        let forged = grant.replace("5000", "9000");
        assert!(!keys.check_grant("share_a", &forged, Timestamp(0)), "expiry is signed");
        assert!(!keys.check_grant("share_a", "garbage", Timestamp(0)));
        assert_eq!(
            keys.granted_view("share_a", &grant, Timestamp(0)),
            Some(("view_1".to_owned(), Timestamp(5_000))),
            "a grant names its view"
        );
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let keys = LinkKeys::new([2; 32]);
        let token = keys.csrf_token("csess_a");
        assert!(keys.check_csrf("csess_a", &token));
        assert!(!keys.check_csrf("csess_b", &token), "another session");
        assert!(!keys.check_csrf("csess_a", ""), "missing");
        assert!(!LinkKeys::new([3; 32]).check_csrf("csess_a", &token), "another key");
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        let hex_key = "11".repeat(32);
        assert!(LinkKeys::parse(&hex_key).is_some());
        assert!(LinkKeys::parse(&URL_SAFE_NO_PAD.encode([3u8; 32])).is_some());
        assert!(LinkKeys::parse("short").is_none());
    }
}

#[cfg(test)]
mod properties {
    use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    /// The last instant RFC 3339 can write in UTC: 9999-12-31T23:59:59.999Z.
    const LAST_MS: i64 = 253_402_300_799_999;
    /// 2100-01-01T00:00:00Z: "now" in these properties lies between the epoch and this.
    const NOW_MAX_MS: i64 = 4_102_444_800_000;
    const URL_SAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn field() -> impl Strategy<Value = String> {
        "[a-z][a-z_.]{0,20}"
    }

    fn link_id() -> impl Strategy<Value = String> {
        "share_[0-9a-f]{16}"
    }

    fn view_id() -> impl Strategy<Value = String> {
        "view_[0-9a-f]{16}"
    }

    /// `ms` written with an offset of `offset_minutes` east of UTC.
    fn with_offset(ms: i64, offset_minutes: i32) -> String {
        let offset = FixedOffset::east_opt(offset_minutes * 60).expect("offset under a day");
        DateTime::<Utc>::from_timestamp_millis(ms)
            .expect("in chrono's range")
            .with_timezone(&offset)
            .to_rfc3339_opts(SecondsFormat::Millis, false)
    }

    /// A password the rules accept: 8–32 characters, none of them control characters.
    fn valid_password() -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>().prop_filter("no control characters", |c| !c.is_control()), 8..=32)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn permissions() -> impl Strategy<Value = Permissions> {
        any::<(bool, bool, bool)>().prop_map(|(allow_download, allow_comments, show_metadata)| Permissions {
            allow_download,
            allow_comments,
            show_metadata,
        })
    }

    fn patch() -> impl Strategy<Value = PermissionsPatch> {
        any::<(Option<bool>, Option<bool>, Option<bool>)>().prop_map(
            |(allow_download, allow_comments, show_metadata)| PermissionsPatch {
                allow_download,
                allow_comments,
                show_metadata,
            },
        )
    }

    proptest! {
        #[test]
        fn every_future_expiry_up_to_year_9999_is_accepted_as_written(
            now in 0..NOW_MAX_MS,
            ahead in 1..=(LAST_MS - NOW_MAX_MS),
            offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59),
            field in field(),
        ) {
            let at = now + ahead;
            let utc = Timestamp(at).to_rfc3339();
            prop_assert_eq!(parse_expiry(&field, &utc, Timestamp(now)), Ok(Timestamp(at)), "{}", utc);
            // The same instant written in another time zone is the same expiry, as
            // long as that writing stays within year 9999.
            let local = with_offset(at, offset_minutes);
            if !local.starts_with('+') {
                prop_assert_eq!(parse_expiry(&field, &local, Timestamp(now)), Ok(Timestamp(at)), "{}", local);
            }
        }

        #[test]
        fn an_expiry_at_or_before_now_is_refused_naming_the_field(
            now in 0..NOW_MAX_MS,
            behind in 0..=NOW_MAX_MS,
            field in field(),
        ) {
            let text = Timestamp(now - behind).to_rfc3339();
            let err = parse_expiry(&field, &text, Timestamp(now)).unwrap_err();
            prop_assert_eq!(&err.field, &field);
            prop_assert!(err.issue.contains("in the future"), "{}: {}", text, err.issue);
        }

        #[test]
        fn an_expiry_after_year_9999_is_refused_naming_the_field(
            beyond in 1..=1439 * 60_000i64,
            spare_minutes in 0..1440i32,
            field in field(),
        ) {
            // Written with a negative offset, an instant after 9999-12-31T23:59:59.999Z
            // still reads as a date in year 9999.
            let at = LAST_MS + beyond;
            let needed = i32::try_from((beyond + 59_999) / 60_000).unwrap();
            let offset_minutes = -(needed + spare_minutes % (1440 - needed));
            let text = with_offset(at, offset_minutes);
            prop_assert!(text.starts_with("9999-"), "{}", text);
            let err = parse_expiry(&field, &text, Timestamp(0)).unwrap_err();
            prop_assert_eq!(&err.field, &field, "{}", text);
            prop_assert!(err.issue.contains("no later than 9999-12-31T23:59:59Z"), "{}: {}", text, err.issue);
        }

        #[test]
        fn malformed_expiries_are_refused_naming_the_field(
            text in prop_oneof![
                "[0-9]{1,13}",
                "[a-z ]{0,20}",
                "[0-9]{4}-[0-9]{2}-[0-9]{2}",
                "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?",
                "[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}Z",
            ],
            field in field(),
        ) {
            let err = parse_expiry(&field, &text, Timestamp(0)).unwrap_err();
            prop_assert_eq!(&err.field, &field, "{:?}", text);
            prop_assert!(err.issue.contains("ISO 8601"), "{:?}: {}", text, err.issue);
        }

        #[test]
        fn passwords_are_accepted_exactly_when_8_to_32_characters_without_control_characters(
            chars in prop::collection::vec(any::<char>(), 0..=40),
            field in field(),
        ) {
            let text: String = chars.iter().collect();
            let allowed = (8..=32).contains(&chars.len()) && !chars.iter().any(|c| c.is_control());
            match SharePassword::parse(&field, &text) {
                Ok(_) => prop_assert!(allowed, "{:?} was accepted", text),
                Err(err) => {
                    prop_assert!(!allowed, "{:?} was refused: {}", text, err.issue);
                    prop_assert_eq!(err.field, field);
                }
            }
        }

        #[test]
        fn permissions_patches_set_exactly_the_flags_they_name(base in permissions(), patch in patch()) {
            let patched = patch.apply(base);
            prop_assert_eq!(patched.allow_download, patch.allow_download.unwrap_or(base.allow_download));
            prop_assert_eq!(patched.allow_comments, patch.allow_comments.unwrap_or(base.allow_comments));
            prop_assert_eq!(patched.show_metadata, patch.show_metadata.unwrap_or(base.show_metadata));
            prop_assert_eq!(patch.apply(patched), patched, "applying a patch twice is applying it once");
            prop_assert_eq!(PermissionsPatch::default().apply(base), base, "an empty patch changes nothing");
        }

        #[test]
        fn later_permissions_patches_win_over_earlier_ones(
            base in permissions(),
            first in patch(),
            second in patch(),
        ) {
            let merged = PermissionsPatch {
                allow_download: second.allow_download.or(first.allow_download),
                allow_comments: second.allow_comments.or(first.allow_comments),
                show_metadata: second.show_metadata.or(first.show_metadata),
            };
            prop_assert_eq!(second.apply(first.apply(base)), merged.apply(base));
        }

        #[test]
        fn permissions_a_request_names_are_the_ones_it_gets_and_the_rest_keep_the_seed_defaults(
            named in prop::collection::btree_map(
                select(vec!["allow_download", "allow_comments", "show_metadata"]),
                any::<bool>(),
                0..=3,
            ),
        ) {
            let body = serde_json::to_value(&named).unwrap();
            let patch: PermissionsPatch = serde_json::from_value(body.clone()).unwrap();
            let got = serde_json::to_value(patch.apply(Permissions::default())).unwrap();
            // Seed 001 defaults: downloads on, comments off, metadata on.
            let defaults = [("allow_download", true), ("allow_comments", false), ("show_metadata", true)];
            for (flag, default) in defaults {
                let expected = named.get(flag).copied().unwrap_or(default);
                prop_assert_eq!(&got[flag], &serde_json::Value::Bool(expected), "{} from {}", flag, body);
            }
            let mut unknown = body;
            unknown["allow_everything"] = serde_json::Value::Bool(true);
            prop_assert!(
                serde_json::from_value::<PermissionsPatch>(unknown).is_err(),
                "unknown flags are refused"
            );
        }

        #[test]
        fn link_secrets_are_deterministic_well_formed_and_distinct_per_link_and_key(
            key in any::<[u8; 32]>(),
            other_key in any::<[u8; 32]>(),
            id in link_id(),
            other_id in link_id(),
        ) {
            let keys = LinkKeys::new(key);
            let again = LinkKeys::new(key);
            let token = keys.token(&id);
            prop_assert_eq!(&token, &again.token(&id));
            prop_assert_eq!(token.len(), 43);
            prop_assert!(token.chars().all(|c| URL_SAFE.contains(c)), "{}", token);
            prop_assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), 32);

            let short = keys.short_code(&id);
            prop_assert_eq!(&short, &again.short_code(&id));
            prop_assert_eq!(short.chars().count(), SHORT_CODE_LEN);
            prop_assert!(short.bytes().all(|b| b.is_ascii_alphanumeric()), "{}", short);

            let code = keys.share_code(&id);
            prop_assert_eq!(&code, &again.share_code(&id));
            prop_assert_eq!(code.chars().count(), super::super::task_share::CODE_LEN);
            prop_assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()), "{}", code);

            if other_id != id {
                prop_assert_ne!(&token, &keys.token(&other_id));
                prop_assert_ne!(&short, &keys.short_code(&other_id));
                prop_assert_ne!(&code, &keys.share_code(&other_id));
            }
            if other_key != key {
                let others = LinkKeys::new(other_key);
                prop_assert_ne!(&token, &others.token(&id));
                prop_assert_ne!(&short, &others.short_code(&id));
                prop_assert_ne!(&code, &others.share_code(&id));
            }
        }

        #[test]
        fn a_link_key_reads_the_same_from_hex_and_base64_and_nothing_else(
            key in any::<[u8; 32]>(),
            other_length in prop::collection::vec(any::<u8>(), 0..64)
                .prop_filter("not 32 bytes", |b| b.len() != 32),
            id in link_id(),
        ) {
            let token = LinkKeys::new(key).token(&id);
            let padded_upper = format!("  {}\n", hex::encode_upper(key));
            let texts = [hex::encode(key), padded_upper, URL_SAFE_NO_PAD.encode(key)];
            for text in texts {
                let parsed = LinkKeys::parse(&text);
                prop_assert!(parsed.is_some(), "{:?}", text);
                prop_assert_eq!(parsed.unwrap().token(&id), token.clone(), "{:?}", text);
            }
            prop_assert!(LinkKeys::parse(&hex::encode(&other_length)).is_none());
            prop_assert!(LinkKeys::parse(&URL_SAFE_NO_PAD.encode(&other_length)).is_none());
        }

        #[test]
        fn a_grant_verifies_for_its_link_until_it_expires(
            key in any::<[u8; 32]>(),
            id in link_id(),
            other_id in link_id(),
            view in view_id(),
            expires in 1..=LAST_MS,
            offset in -10_000_000i64..10_000_000,
        ) {
            let keys = LinkKeys::new(key);
            let grant = keys.grant(&id, &view, Timestamp(expires));
            let now = Timestamp(expires.saturating_add(offset));
            prop_assert_eq!(keys.check_grant(&id, &grant, now), offset < 0, "{} at {:?}", grant, now);
            let before = Timestamp(expires - 1);
            prop_assert_eq!(keys.grant(&id, &view, Timestamp(expires)), grant.clone(), "deterministic");
            if other_id != id {
                prop_assert!(!keys.check_grant(&other_id, &grant, before), "another link");
            }
            let mut other_key = key;
            other_key[0] ^= 1;
            prop_assert!(!LinkKeys::new(other_key).check_grant(&id, &grant, before), "another key");
        }

        #[test]
        fn a_grant_changed_in_any_single_character_is_refused(
            key in any::<[u8; 32]>(),
            id in link_id(),
            view in view_id(),
            expires in 1..=LAST_MS,
            replacements in prop::collection::vec(
                prop_oneof![select(format!("{URL_SAFE}.+").chars().collect::<Vec<_>>()), any::<char>()],
                64,
            ),
        ) {
            let keys = LinkKeys::new(key);
            let grant = keys.grant(&id, &view, Timestamp(expires));
            let before = Timestamp(expires - 1);
            prop_assert!(keys.check_grant(&id, &grant, before));
            let chars: Vec<char> = grant.chars().collect();
            prop_assert!(chars.len() <= replacements.len());
            for (i, replacement) in replacements.iter().enumerate().take(chars.len()) {
                if *replacement == chars[i] {
                    continue;
                }
                let mut changed = chars.clone();
                changed[i] = *replacement;
                let changed: String = changed.into_iter().collect();
                prop_assert!(!keys.check_grant(&id, &changed, before), "{} accepted as {}", changed, grant);
            }
        }

        #[test]
        fn visitor_hashes_are_keyed_stable_and_tell_visitors_apart(
            key in any::<[u8; 32]>(),
            id in link_id(),
            other_id in link_id(),
            client in any::<std::net::IpAddr>(),
            other_client in any::<std::net::IpAddr>(),
            agent in "[ -~]{0,60}",
            other_agent in "[ -~]{0,60}",
        ) {
            let keys = LinkKeys::new(key);
            let (client, other_client) = (client.to_string(), other_client.to_string());
            let hash = keys.visitor_hash(&id, &client, &agent);
            prop_assert_eq!(&hash, &LinkKeys::new(key).visitor_hash(&id, &client, &agent));
            prop_assert_eq!(hash.len(), 32);
            prop_assert!(hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{}", hash);
            if other_client != client {
                prop_assert_ne!(&hash, &keys.visitor_hash(&id, &other_client, &agent));
            }
            if other_agent != agent {
                prop_assert_ne!(&hash, &keys.visitor_hash(&id, &client, &other_agent));
            }
            if other_id != id {
                prop_assert_ne!(&hash, &keys.visitor_hash(&other_id, &client, &agent));
            }
        }
    }

    proptest! {
        // Argon2 is slow on purpose: a few cases suffice.
        #![proptest_config(ProptestConfig::with_cases(6))]

        #[test]
        fn a_password_hash_verifies_that_password_and_no_other(
            password in valid_password(),
            other in valid_password(),
            at in any::<prop::sample::Index>(),
            replacement in any::<char>(),
        ) {
            let hash = SharePassword::parse("password", &password).unwrap().hash();
            prop_assert!(verify_password(&hash, &password));
            let again = SharePassword::parse("password", &password).unwrap().hash();
            prop_assert_ne!(&hash, &again, "each hash has its own salt");
            prop_assert!(verify_password(&again, &password));
            // One character changed.
            let mut chars: Vec<char> = password.chars().collect();
            let i = at.index(chars.len());
            if chars[i] != replacement {
                chars[i] = replacement;
                let changed: String = chars.into_iter().collect();
                prop_assert!(!verify_password(&hash, &changed), "{:?} verified as {:?}", changed, password);
            }
            if other != password {
                prop_assert!(!verify_password(&hash, &other), "{:?} verified as {:?}", other, password);
            }
        }
    }
}
