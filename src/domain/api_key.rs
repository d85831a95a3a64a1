//! API keys: how an owner's programs prove who they are.
//!
//! A key is `ask_` followed by 256 random bits (URL-safe base64). It is printed once
//! when created; the database keeps only its SHA-256, so a leaked database does not
//! leak usable keys.

use super::ids::{self, ApiKeyId};

/// Every key starts with this, so secret scanners and people can recognise one.
pub const PREFIX: &str = "ask_";

/// A freshly minted key: the secret (shown once) and what is stored of it.
pub struct NewApiKey {
    pub key_id: ApiKeyId,
    pub secret: String,
    pub hash: String,
    /// Enough of the key to tell it apart in listings, not enough to use it.
    pub display_prefix: String,
}

impl NewApiKey {
    pub fn generate() -> NewApiKey {
        let secret = format!("{PREFIX}{}", ids::new_secret::<32>());
        NewApiKey {
            key_id: ApiKeyId::generate(),
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

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn fresh_keys_are_distinct_well_formed_and_found_by_their_hash(_round in 0..4u8) {
            let key = NewApiKey::generate();
            let other = NewApiKey::generate();
            prop_assert_ne!(&key.secret, &other.secret);
            prop_assert_ne!(&key.hash, &other.hash);
            prop_assert_ne!(&key.key_id, &other.key_id);
            prop_assert_eq!(key.secret.len(), PREFIX.len() + 43);
            prop_assert_eq!(lookup_hash(&key.secret), Some(key.hash.clone()));
            prop_assert!(key.secret.starts_with(&key.display_prefix));
            prop_assert!(
                key.display_prefix.len() < key.secret.len() / 4,
                "the prefix can't be used as the key"
            );
            prop_assert!(ids::is_id(key.key_id.as_str(), "key"), "{}", key.key_id);
        }

        #[test]
        fn a_presented_key_is_looked_up_exactly_when_it_has_the_shape_of_a_key(
            rest in prop_oneof![
                "[A-Za-z0-9_-]{43}",
                "[A-Za-z0-9_-]{30,50}",
                "[A-Za-z0-9_-]{0,21}[^A-Za-z0-9_-][A-Za-z0-9_-]{21}",
            ],
            prefix in prop_oneof![Just(PREFIX.to_owned()), "[a-z_]{0,5}", Just("Bearer ask_".to_owned())],
        ) {
            let presented = format!("{prefix}{rest}");
            let shaped = prefix == PREFIX
                && rest.len() == 43
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let expected = shaped.then(|| ids::secret_hash(&presented));
            prop_assert_eq!(lookup_hash(&presented), expected, "{:?}", presented);
        }
    }
}
