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
        expires_at: i64,
        max_views: Option<i64>,
        view_count: i64,
        now: Timestamp,
    ) -> ShareStatus {
        if revoked {
            ShareStatus::Revoked
        } else if expires_at <= now.millis() || max_views.is_some_and(|max| view_count >= max) {
            ShareStatus::Expired
        } else {
            ShareStatus::Active
        }
    }
}

/// Checks a requested `expires_at`: a timestamp in the future.
pub fn parse_expiry(field: &str, text: &str, now: Timestamp) -> Result<Timestamp, FieldError> {
    let at = Timestamp::parse(text).ok_or_else(|| {
        FieldError::new(
            field,
            "expires_at must be an ISO 8601 timestamp with a time zone, e.g. 2024-12-31T23:59:59Z",
        )
    })?;
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
        let mut parts = grant.splitn(3, '.');
        let (Some(view_id), Some(expiry), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        let Ok(expires_ms) = expiry.parse::<i64>() else {
            return false;
        };
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        let mac = self.mac(&[b"grant", share_link_id.as_bytes(), view_id.as_bytes(), expiry.as_bytes()]);
        sig.len() == 16 && bool::from(mac[..16].ct_eq(&sig)) && now.millis() < expires_ms
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
        assert_eq!(ShareStatus::of(false, 2_000, None, 5, now), ShareStatus::Active);
        assert_eq!(ShareStatus::of(false, 1_000, None, 0, now), ShareStatus::Expired);
        assert_eq!(ShareStatus::of(false, 2_000, Some(3), 3, now), ShareStatus::Expired);
        assert_eq!(ShareStatus::of(false, 2_000, Some(3), 2, now), ShareStatus::Active);
        assert_eq!(ShareStatus::of(true, 2_000, None, 0, now), ShareStatus::Revoked);
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
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        let hex_key = "11".repeat(32);
        assert!(LinkKeys::parse(&hex_key).is_some());
        assert!(LinkKeys::parse(&URL_SAFE_NO_PAD.encode([3u8; 32])).is_some());
        assert!(LinkKeys::parse("short").is_none());
    }
}
