//! The secret-masking filter (`domain::secrets::mask`), which share pages apply to
//! agents' outputs:
//! - it never panics, and runs in time linear in the text (libFuzzer's `-timeout`
//!   catches a regex that backtracks or a rescan that turns quadratic);
//! - it is idempotent: masking masked text changes nothing (and borrows it);
//! - a secret of each documented format, planted anywhere in fuzzed text between
//!   separators, never survives;
//! - text that cannot hold a secret (no capitals, `_`, `-`, `:`, `=` or `@`, which
//!   every format needs) comes back unchanged.
#![no_main]

use std::borrow::Cow;

use agentshare::domain::secrets::mask;
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const URL_SAFE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Characters of text that can hold no secret.
const HARMLESS: &[char] = &[
    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u',
    'v', 'w', 'x', 'y', 'z', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ' ', '\n', '\t', '\r', '.',
    ',', ';', '!', '?', '\'', '"', '(', ')', '/', '#', '$', '<', '>', '{', '}', '%', '*', 'é', '密', '•',
];
/// What may stand on either side of a planted secret.
const SEPARATORS: &[&str] = &[" ", "\n", "\t", "\r\n", " \"", "\" ", "\n\n", " (", ") "];

#[derive(Debug, Arbitrary)]
struct Input {
    before: String,
    after: String,
    format: u8,
    separators: (u8, u8),
    seed: Vec<u8>,
    plain: String,
}

/// `n` characters of `alphabet`, chosen by `seed` (cycled; never empty).
fn chars(seed: &[u8], offset: usize, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|i| {
            let b = if seed.is_empty() { i as u8 } else { seed[(offset + i) % seed.len()] };
            alphabet[(b as usize + i / seed.len().max(1)) % alphabet.len()] as char
        })
        .collect()
}

/// A secret of format `format % FORMATS`: the text to plant and the part of it that
/// must not survive.
fn secret(format: u8, seed: &[u8]) -> (String, String) {
    let pick = |offset, alphabet, n| chars(seed, offset, alphabet, n);
    let choose =
        |options: &[&'static str]| options[seed.first().copied().unwrap_or(0) as usize % options.len()];
    // Random keys have a capital or a digit somewhere; force one where the format needs it.
    let with_digit = |mut s: String| {
        s.replace_range(0..1, "7");
        s
    };
    let (prefix, body, suffix) = match format % 22 {
        0 => (choose(&["AKIA", "ASIA", "ABIA", "ACCA"]).to_owned(), pick(0, UPPER_DIGITS, 16), String::new()),
        1 => (format!("gh{}_", choose(&["p", "o", "u", "s", "r"])), pick(1, ALNUM, 36), String::new()),
        2 => ("github_pat_".to_owned(), pick(2, ALNUM, 82), String::new()),
        3 => (
            format!("{}-", choose(&["glpat", "gldt", "glrt", "glptt", "glsoat"])),
            pick(3, URL_SAFE, 20),
            String::new(),
        ),
        4 => (format!("xox{}-", choose(&["a", "b", "p", "o", "s", "r"])), pick(4, ALNUM, 40), String::new()),
        5 => (
            choose(&["sk_live_", "sk_test_", "rk_live_", "rk_test_"]).to_owned(),
            pick(5, ALNUM, 24),
            String::new(),
        ),
        6 => ("sk-ant-api03-".to_owned(), pick(6, URL_SAFE, 40), String::new()),
        7 => (
            choose(&["sk-proj-", "sk-svcacct-", "sk-admin-"]).to_owned(),
            pick(7, URL_SAFE, 40),
            String::new(),
        ),
        8 => ("sk-".to_owned(), pick(8, ALNUM, 48), String::new()),
        9 => ("AIza".to_owned(), pick(9, URL_SAFE, 35), String::new()),
        10 => ("hf_".to_owned(), pick(10, ALNUM, 34), String::new()),
        11 => ("npm_".to_owned(), pick(11, ALNUM, 36), String::new()),
        12 => ("pypi-AgE".to_owned(), pick(12, URL_SAFE, 60), String::new()),
        13 => (format!("SG.{}.", pick(13, URL_SAFE, 22)), pick(14, URL_SAFE, 43), String::new()),
        14 => (
            format!("eyJ{}.eyJ", pick(15, URL_SAFE, 30)),
            pick(16, URL_SAFE, 40),
            format!(".{}", pick(17, URL_SAFE, 43)),
        ),
        15 => ("whsec_".to_owned(), pick(18, BASE64, 32), String::new()),
        16 => (choose(&["ask_", "vst_"]).to_owned(), with_digit(pick(19, URL_SAFE, 43)), String::new()),
        17 => (
            format!(
                "-----BEGIN {}PRIVATE KEY-----\n",
                choose(&["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "])
            ),
            format!("{}\n{}", pick(20, BASE64, 64), pick(21, BASE64, 24)),
            "\n-----END PRIVATE KEY-----".to_owned(),
        ),
        18 => (
            format!("{}://{}:", choose(&["postgres", "https", "redis", "mysql", "amqp"]), pick(22, ALNUM, 6)),
            pick(23, ALNUM, 20),
            "@db.internal:5432/prod".to_owned(),
        ),
        19 => (
            format!(
                "{}: {} ",
                choose(&["Authorization", "authorization", "Proxy-Authorization"]),
                choose(&["Bearer", "Basic", "token"])
            ),
            with_digit(pick(24, URL_SAFE, 30)),
            String::new(),
        ),
        20 => (
            format!(
                "{}=",
                choose(&["DB_PASSWORD", "api_key", "secret", "GITHUB_TOKEN", "--api-key", "private_key"])
            ),
            pick(25, ALNUM, 24),
            String::new(),
        ),
        _ => (
            format!("\"{}\": \"", choose(&["password", "client_secret", "access_token", "apiKey"])),
            pick(26, ALNUM, 24),
            "\"".to_owned(),
        ),
    };
    (format!("{prefix}{body}{suffix}"), body)
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else { return };

    // Any text: no panic, idempotent, and what it masked stays masked.
    for text in [input.before.as_str(), input.plain.as_str()] {
        let once = mask(text).into_owned();
        let twice = mask(&once);
        assert!(matches!(twice, Cow::Borrowed(_)), "masking {once:?} again changed it to {twice:?}");
    }

    // A planted secret of every format is masked wherever it is.
    let (planted, body) = secret(input.format, &input.seed);
    if !input.before.contains(&body) && !input.after.contains(&body) {
        let open = SEPARATORS[input.separators.0 as usize % SEPARATORS.len()];
        let mut close = SEPARATORS[input.separators.1 as usize % SEPARATORS.len()];
        if input.format % 22 == 20 && close.contains(')') {
            // `f(password=value)` is an argument in code, documented as left alone.
            close = " ";
        }
        let text = format!("{}{open}{planted}{close}{}", input.before, input.after);
        let masked = mask(&text);
        assert!(!masked.contains(&body), "{planted:?} survived in {masked:?}, masked from {text:?}");
        assert!(matches!(mask(&masked), Cow::Borrowed(_)), "{masked:?} is not stable");
    }

    // Text that can hold no secret is left exactly as it is.
    let harmless: String = input.plain.chars().map(|c| HARMLESS[c as usize % HARMLESS.len()]).collect();
    assert!(matches!(mask(&harmless), Cow::Borrowed(_)), "{harmless:?} was changed to {:?}", mask(&harmless));
});
