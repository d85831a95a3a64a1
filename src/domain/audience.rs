//! Who may open a share link: anyone holding its URL (the default), or only people
//! who prove, by a code mailed to them, an address on a list or at one of a list of
//! domains.
//!
//! [`Audience::checked`] validates and normalises what an owner asks for (addresses
//! and domains in lower case, at most [`MAX_ENTRIES`], no duplicates);
//! [`Audience::admits`] is the membership rule. [`verification_code`] makes the
//! six-digit codes the mail carries.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::random_bytes;
use super::text::parse_email;

/// Most addresses or domains one audience lists.
pub const MAX_ENTRIES: usize = 100;
/// Longest domain name, in characters.
const MAX_DOMAIN_CHARS: usize = 253;
/// Digits of a verification code.
pub const CODE_DIGITS: usize = 6;

/// Who may open a link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Audience {
    /// Anyone holding the URL (and the password, if the link has one).
    #[default]
    Anyone,
    /// Only these addresses, each proven by a code mailed to it.
    Emails {
        /// 1–100 e-mail addresses (compared in lower case).
        emails: Vec<String>,
    },
    /// Only addresses at these domains, each proven by a code mailed to it.
    Domains {
        /// 1–100 domain names, such as `example.com` (an address matches its
        /// domain exactly, not a subdomain of it).
        domains: Vec<String>,
    },
}

/// Why an owner's audience can't be used: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidAudience {
    pub field: String,
    pub message: String,
}

impl Audience {
    /// The audience stored in the `audience` column (`NULL` is anyone).
    pub fn stored(column: Option<&str>) -> Audience {
        // Only what [`Audience::column`] wrote is ever stored there; anything else
        // would be a fault, and a link that can't say who may open it opens for nobody.
        match column {
            None => Audience::Anyone,
            Some(json) => serde_json::from_str(json).unwrap_or(Audience::Emails { emails: Vec::new() }),
        }
    }

    /// The `audience` column: `None` for anyone.
    pub fn column(&self) -> Option<String> {
        self.is_restricted().then(|| serde_json::to_string(self).expect("plain values serialize"))
    }

    /// Whether only verified addresses may open the link.
    pub fn is_restricted(&self) -> bool {
        !matches!(self, Audience::Anyone)
    }

    /// Whether `email` (already a valid address) may open the link.
    pub fn admits(&self, email: &str) -> bool {
        let email = email.trim().to_lowercase();
        match self {
            Audience::Anyone => true,
            Audience::Emails { emails } => emails.contains(&email),
            Audience::Domains { domains } => {
                email.rsplit_once('@').is_some_and(|(_, domain)| domains.iter().any(|d| d == domain))
            }
        }
    }

    /// The audience with every entry checked and in lower case, duplicates dropped;
    /// errors name the entry, as `{field}.emails[2]`.
    pub fn checked(self, field: &str) -> Result<Audience, InvalidAudience> {
        let invalid = |field: String, message: String| Err(InvalidAudience { field, message });
        let (kind, entries) = match self {
            Audience::Anyone => return Ok(Audience::Anyone),
            Audience::Emails { emails } => ("emails", emails),
            Audience::Domains { domains } => ("domains", domains),
        };
        let list_field = format!("{field}.{kind}");
        if entries.is_empty() {
            return invalid(list_field, format!("{kind} must list at least one entry"));
        }
        if entries.len() > MAX_ENTRIES {
            return invalid(list_field, format!("{kind} may list at most {MAX_ENTRIES} entries"));
        }
        let mut normalised: Vec<String> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            let entry_field = format!("{list_field}[{i}]");
            let value = if kind == "emails" {
                match parse_email(entry) {
                    Ok(email) => email.to_lowercase(),
                    Err(message) => return invalid(entry_field, message),
                }
            } else {
                match parse_domain(entry) {
                    Some(domain) => domain,
                    None => return invalid(entry_field, format!("{entry:?} is not a domain name")),
                }
            };
            if !normalised.contains(&value) {
                normalised.push(value);
            }
        }
        Ok(if kind == "emails" {
            Audience::Emails { emails: normalised }
        } else {
            Audience::Domains { domains: normalised }
        })
    }
}

/// A domain name in lower case (a leading `@` is dropped): labels of letters,
/// digits and hyphens, at least two of them, none starting or ending with a hyphen.
fn parse_domain(text: &str) -> Option<String> {
    let domain = text.trim().trim_start_matches('@').to_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let valid = !domain.is_empty()
        && domain.len() <= MAX_DOMAIN_CHARS
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    valid.then_some(domain)
}

/// A fresh verification code: [`CODE_DIGITS`] decimal digits, uniformly drawn
/// from the operating system's cryptographic generator.
pub fn verification_code() -> String {
    // Rejection sampling keeps every code equally likely.
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let n = u32::from_le_bytes(random_bytes::<4>());
        if n < LIMIT {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// Whether `text` has the shape of a verification code.
pub fn is_code_shaped(text: &str) -> bool {
    text.len() == CODE_DIGITS && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emails(list: &[&str]) -> Audience {
        Audience::Emails { emails: list.iter().map(|s| s.to_string()).collect() }
    }

    fn domains(list: &[&str]) -> Audience {
        Audience::Domains { domains: list.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn addresses_are_normalised_and_deduplicated() {
        let checked =
            emails(&[" Ana@Example.COM", "ana@example.com", "bo@x.org"]).checked("audience").unwrap();
        assert_eq!(checked, emails(&["ana@example.com", "bo@x.org"]));
    }

    #[test]
    fn errors_name_the_entry() {
        let err = emails(&["a@b.co", "c@d.co", "not an address"]).checked("audience").unwrap_err();
        assert_eq!(err.field, "audience.emails[2]");
        let err = domains(&["example.com", "-bad.com"]).checked("audience").unwrap_err();
        assert_eq!(err.field, "audience.domains[1]");
        for bad in ["localhost", "exa mple.com", "a..b", "", "ex_ample.com", "a.b-"] {
            assert!(parse_domain(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn lists_are_bounded() {
        assert_eq!(emails(&[]).checked("audience").unwrap_err().field, "audience.emails");
        let many: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("p{i}@example.com")).collect();
        let err = Audience::Emails { emails: many.clone() }.checked("audience").unwrap_err();
        assert_eq!(err.field, "audience.emails");
        assert!(Audience::Emails { emails: many[..MAX_ENTRIES].to_vec() }.checked("audience").is_ok());
    }

    #[test]
    fn membership() {
        assert!(Audience::Anyone.admits("anyone@anywhere.io"));
        let list = emails(&["ana@example.com"]).checked("audience").unwrap();
        assert!(list.admits("ANA@example.com"));
        assert!(!list.admits("bo@example.com"));
        let by_domain = domains(&["@Example.com"]).checked("audience").unwrap();
        assert!(by_domain.admits("bo@EXAMPLE.com"));
        assert!(!by_domain.admits("bo@sub.example.com"));
        assert!(!by_domain.admits("bo@example.com.evil.io"));
        assert!(!by_domain.admits("example.com"));
    }

    #[test]
    fn stored_form_round_trips() {
        assert_eq!(Audience::Anyone.column(), None);
        assert_eq!(Audience::stored(None), Audience::Anyone);
        let list = domains(&["example.com"]);
        assert_eq!(Audience::stored(list.column().as_deref()), list);
        // A column that can't be read admits nobody.
        assert!(!Audience::stored(Some("garbage")).admits("a@b.co"));
        assert!(Audience::stored(Some("garbage")).is_restricted());
    }

    #[test]
    fn unknown_types_are_refused() {
        assert!(serde_json::from_str::<Audience>(r#"{"type":"everyone"}"#).is_err());
        assert_eq!(serde_json::from_str::<Audience>(r#"{"type":"anyone"}"#).unwrap(), Audience::Anyone);
    }

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..100 {
            let code = verification_code();
            assert!(is_code_shaped(&code), "{code}");
        }
        assert!(!is_code_shaped("12345"));
        assert!(!is_code_shaped("12345a"));
    }
}
