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
