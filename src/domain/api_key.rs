//! API keys: how an owner's programs prove who they are.
//!
//! A key is `ask_` followed by 256 random bits (URL-safe base64). It is printed once
//! when created; the database keeps only its SHA-256, so a leaked database does not
//! leak usable keys.

use super::ids;

/// Every key starts with this, so secret scanners and people can recognise one.
pub const PREFIX: &str = "ask_";

/// A freshly minted key: the secret (shown once) and what is stored of it.
pub struct NewApiKey {
    pub key_id: String,
    pub secret: String,
    pub hash: String,
    /// Enough of the key to tell it apart in listings, not enough to use it.
    pub display_prefix: String,
}

impl NewApiKey {
    pub fn generate() -> NewApiKey {
        let secret = format!("{PREFIX}{}", ids::new_secret::<32>());
        NewApiKey {
            key_id: ids::new_id("key"),
            hash: ids::secret_hash(&secret),
            display_prefix: secret[..PREFIX.len() + 6].to_owned(),
            secret,
        }
    }
}

/// Hash of a presented bearer key, or `None` when it can't be an API key at all.
pub fn lookup_hash(presented: &str) -> Option<String> {
    let rest = presented.strip_prefix(PREFIX)?;
    (rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| ids::secret_hash(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_recognised_and_hash_to_what_is_stored() {
        let key = NewApiKey::generate();
        assert!(key.secret.starts_with(PREFIX));
        assert_eq!(lookup_hash(&key.secret).as_deref(), Some(key.hash.as_str()));
        assert!(key.secret.starts_with(&key.display_prefix));
    }

    #[test]
    fn malformed_keys_are_rejected_without_a_lookup() {
        assert_eq!(lookup_hash("ask_short"), None);
        assert_eq!(lookup_hash("Bearer something"), None);
        assert_eq!(lookup_hash(""), None);
    }
}
