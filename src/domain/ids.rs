//! Identifiers and secrets.
//!
//! Identifiers (`task_…`, `share_…`) name things in URLs, logs and webhooks; they are
//! random so they leak nothing (no counts, no creation order), but they are not
//! capabilities. Secrets (API keys, share tokens) are capabilities: at least 128 bits
//! from the operating system's CSPRNG, and stored only as hashes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Random bytes from the OS-seeded CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// A new identifier `{prefix}_{16 hex digits}` (64 random bits), e.g. `task_1a2b…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", hex::encode(random_bytes::<8>()))
}

/// A new secret of `N` random bytes, URL-safe base64 without padding.
pub fn new_secret<const N: usize>() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<N>())
}

/// SHA-256 of `secret`, hex: how high-entropy secrets are stored and looked up.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets without leaking, through timing, where they differ.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// True when `value` looks like an identifier made by [`new_id`] with `prefix`.
/// Used to answer "not found" early for values that can't exist.
pub fn is_id(value: &str, prefix: &str) -> bool {
    value
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Declares an identifier type: a `{prefix}_{16 hex}` string made by [`new_id`],
/// or whatever a request named (which then simply finds nothing).
///
/// Ids are not secrets and carry no meaning; the types only keep one kind of id
/// from being passed where another is expected.
macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident = $prefix:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix of new ids of this kind.
            pub const PREFIX: &'static str = $prefix;

            /// A new random id.
            pub fn generate() -> $name {
                $name(new_id($prefix))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> $name {
                $name(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> $name {
                $name(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )*};
}

id_type! {
    /// An owner (`user_…`): an account with API keys, tasks and shares.
    OwnerId = "user";
    /// A task (`task_…`).
    TaskId = "task";
    /// A share link (`share_…`). Names the link in logs and webhooks; opens nothing.
    ShareLinkId = "share";
    /// A file of a task (`artifact_…`).
    ArtifactId = "artifact";
    /// A comment on a share link (`comment_…`).
    CommentId = "comment";
    /// A webhook endpoint (`wh_…`).
    WebhookId = "wh";
    /// An event in the webhook outbox (`msg_…`): the `webhook-id` receivers see.
    EventId = "msg";
    /// A task share code (`tshare_…`); the code itself derives from it.
    TaskShareId = "tshare";
    /// A viewer session issued for a share code (`session_…`).
    ViewerSessionId = "session";
    /// A signed-in console browser (`csess_…`).
    ConsoleSessionId = "csess";
    /// A pull request (`pr_…`); people know it by its number within the task.
    PullRequestId = "pr";
    /// One counted view of a share link (`view_…`).
    ViewId = "view";
    /// An API key (`key_…`); the key itself is a secret, never stored.
    ApiKeyId = "key";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_their_prefix_and_64_random_bits() {
        let a = new_id("task");
        let b = new_id("task");
        assert!(is_id(&a, "task"), "{a}");
        assert_ne!(a, b);
        assert!(!is_id(&a, "share"));
        assert!(!is_id("task_xyz", "task"));
    }

    #[test]
    fn secrets_carry_at_least_128_bits() {
        let s = new_secret::<16>();
        assert_eq!(URL_SAFE_NO_PAD.decode(&s).unwrap().len(), 16);
        assert_ne!(s, new_secret::<16>());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn new_ids_carry_their_prefix_and_no_other(prefix in "[a-z]{1,10}", other in "[a-z]{1,10}") {
            let id = new_id(&prefix);
            prop_assert!(is_id(&id, &prefix), "{}", id);
            prop_assert_eq!(id.len(), prefix.len() + 17);
            prop_assert_ne!(&id, &new_id(&prefix));
            if other != prefix {
                prop_assert!(!is_id(&id, &other), "{} taken for a {} id", id, other);
            }
        }

        #[test]
        fn a_value_is_an_id_exactly_when_it_is_prefix_underscore_and_16_hex_digits(
            prefix in "[a-z]{1,8}",
            rest in prop_oneof![
                "_[0-9a-fA-F]{16}",
                "_?[0-9a-f]{0,20}",
                "_[0-9a-f]{0,7}[g-z.][0-9a-f]{8}",
                ".{0,20}",
            ],
        ) {
            let value = format!("{prefix}{rest}");
            let expected = rest.len() == 17
                && rest.starts_with('_')
                && rest[1..].bytes().all(|b| b.is_ascii_hexdigit());
            prop_assert_eq!(is_id(&value, &prefix), expected, "{:?}", value);
        }

        #[test]
        fn secrets_are_compared_exactly(a in ".{0,40}", b in ".{0,40}", at in any::<prop::sample::Index>()) {
            prop_assert_eq!(same_secret(&a, &b), a == b);
            prop_assert!(same_secret(&a, &a.clone()));
            // One character changed.
            if !a.is_empty() {
                let mut chars: Vec<char> = a.chars().collect();
                let i = at.index(chars.len());
                chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
                let changed: String = chars.into_iter().collect();
                prop_assert!(!same_secret(&a, &changed), "{:?} vs {:?}", a, changed);
            }
        }

        #[test]
        fn secret_hashes_are_sha256_hex_and_tell_secrets_apart(a in ".{0,60}", b in ".{0,60}") {
            let hash = secret_hash(&a);
            prop_assert_eq!(hash.len(), 64);
            prop_assert!(hash.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{}", hash);
            prop_assert_eq!(&hash, &secret_hash(&a));
            prop_assert_eq!(hash == secret_hash(&b), a == b);
        }

        #[test]
        fn new_secrets_decode_to_their_length_and_never_repeat(_round in 0..8u8) {
            let short = new_secret::<16>();
            let long = new_secret::<32>();
            prop_assert_eq!(URL_SAFE_NO_PAD.decode(&short).unwrap().len(), 16);
            prop_assert_eq!(URL_SAFE_NO_PAD.decode(&long).unwrap().len(), 32);
            prop_assert_eq!(long.len(), 43);
            prop_assert_ne!(short, new_secret::<16>());
            prop_assert_ne!(long, new_secret::<32>());
        }
    }
}
