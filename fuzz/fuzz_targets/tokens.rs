//! Tokens, codes and keys a client presents: share-link URL tokens and short codes,
//! task share codes, viewer session tokens, API keys, view grants, the link key,
//! identifiers, and the bearer header they arrive in.
//!
//! - Nothing panics on any text.
//! - What the service derives has its documented shape (43 URL-safe characters,
//!   8 and 24 alphanumerics, `whsec_…`), and only what has that shape is looked up.
//! - A grant validates only for the link, view and time it was made for: another
//!   link, a later time, or any change to it is refused.
#![no_main]

use agentshare::api::extract::bearer;
use agentshare::domain::share::{LinkKeys, SHORT_CODE_LEN};
use agentshare::domain::task_share::{is_session_token, CODE_LEN, SESSION_PREFIX};
use agentshare::domain::time::Timestamp;
use agentshare::domain::{api_key, ids};
use arbitrary::{Arbitrary, Unstructured};
use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    key: [u8; 32],
    other_key: [u8; 32],
    /// 64 random bits, as ids carry.
    link: u64,
    other_link: u64,
    view: u64,
    expires_ms: i64,
    now_ms: i64,
    /// Where to change the grant, and to what.
    tamper: (u16, u8),
    presented: String,
    header: Vec<u8>,
}

fn is_url_safe(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else { return };
    let keys = LinkKeys::new(input.key);
    let link = format!("share_{:016x}", input.link);
    let other_link = format!("share_{:016x}", input.other_link);
    let view = format!("view_{:016x}", input.view);

    // Derived secrets have their documented shapes.
    let token = keys.token(&link);
    assert!(token.len() == 43 && is_url_safe(&token), "{token}");
    let short = keys.short_code(&link);
    assert!(short.len() == SHORT_CODE_LEN && short.bytes().all(|b| b.is_ascii_alphanumeric()), "{short}");
    let code = keys.share_code(&link);
    assert!(code.len() == CODE_LEN && code.bytes().all(|b| b.is_ascii_alphanumeric()), "{code}");
    let whsec = keys.webhook_secret(&link, input.view as i64);
    assert!(whsec.starts_with("whsec_") && whsec.len() == 6 + 44, "{whsec}");
    if input.link != input.other_link {
        assert_ne!(token, keys.token(&other_link));
    }
    if input.key != input.other_key {
        assert_ne!(token, LinkKeys::new(input.other_key).token(&link));
    }

    // The link key reads back from either spelling.
    for spelling in
        [input.key.iter().map(|b| format!("{b:02x}")).collect::<String>(), URL_SAFE_NO_PAD.encode(input.key)]
    {
        let parsed = LinkKeys::parse(&format!(" {spelling}\n")).expect("a key in its own spelling");
        assert_eq!(parsed.token(&link), token);
    }
    if LinkKeys::parse(&input.presented).is_some() {
        // Only 32 bytes, as hex or base64, make a key.
        let text = input.presented.trim();
        assert!(text.len() == 64 || text.len() == 43, "{text:?} parsed as a key");
    }

    // A grant is good for its link and view until it expires, and for nothing else.
    let expires = Timestamp(input.expires_ms);
    let now = Timestamp(input.now_ms);
    let grant = keys.grant(&link, &view, expires);
    assert_eq!(keys.check_grant(&link, &grant, now), input.now_ms < input.expires_ms, "{grant}");
    if input.link != input.other_link {
        assert!(!keys.check_grant(&other_link, &grant, Timestamp(i64::MIN)), "{grant} for another link");
    }
    if input.key != input.other_key {
        assert!(!LinkKeys::new(input.other_key).check_grant(&link, &grant, Timestamp(i64::MIN)));
    }
    let mut tampered = grant.clone().into_bytes();
    let at = input.tamper.0 as usize % tampered.len();
    tampered[at] = input.tamper.1;
    if let Ok(tampered) = String::from_utf8(tampered) {
        if tampered != grant {
            assert!(
                !keys.check_grant(&link, &tampered, Timestamp(i64::MIN)),
                "{grant} changed to {tampered}"
            );
        }
    }
    // Whatever is presented as a grant: refused unless it is exactly this one.
    if keys.check_grant(&link, &input.presented, Timestamp(i64::MIN)) {
        let mut parts = input.presented.splitn(3, '.');
        let (view_id, expiry) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        let expiry: i64 = expiry.parse().expect("an accepted grant has a numeric expiry");
        assert_eq!(keys.grant(&link, view_id, Timestamp(expiry)), input.presented, "a forged grant passed");
    }

    // Only what has the shape of an API key or a session token is looked up.
    let presented = input.presented.as_str();
    if let Some(hash) = api_key::lookup_hash(presented) {
        let rest = &presented[api_key::PREFIX.len()..];
        assert!(rest.len() == 43 && is_url_safe(rest), "{presented:?} looked up as a key");
        assert_eq!(hash, ids::secret_hash(presented));
    }
    if is_session_token(presented) {
        let rest = &presented[SESSION_PREFIX.len()..];
        assert!(rest.len() == 43 && is_url_safe(rest), "{presented:?} taken for a session token");
    }
    assert!(!(is_session_token(presented) && api_key::lookup_hash(presented).is_some()));
    for prefix in ["task", "share", "view", "artifact", "wh", "comment"] {
        if ids::is_id(presented, prefix) {
            assert_eq!(presented.len(), prefix.len() + 17, "{presented:?}");
            assert!(presented[prefix.len() + 1..].bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
    assert_eq!(ids::same_secret(&token, presented), token == presented);
    assert_eq!(ids::same_secret(presented, presented), true);
    let hash = ids::secret_hash(presented);
    assert!(hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));

    // The bearer credential of an Authorization header.
    if let Ok(value) = HeaderValue::from_bytes(&input.header) {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value);
        if let Some(credential) = bearer(&headers) {
            let text = std::str::from_utf8(&input.header).expect("a bearer credential is text");
            let (scheme, rest) = text.split_once(' ').expect("a scheme and a credential");
            assert!(scheme.eq_ignore_ascii_case("bearer"), "{text:?}");
            assert_eq!(credential, rest.trim());
        }
    }
});
