//! Masks secrets that agents print into their outputs, so that a shared page does
//! not hand them to every viewer.
//!
//! [`mask`] recognises these formats and replaces the secret part with
//! [`MARK`], keeping what tells a reader what was there (a well-known prefix, a
//! label, a URL's scheme, user and host):
//!
//! | format | example | masked |
//! | --- | --- | --- |
//! | PEM private keys (PKCS#8, RSA, EC, DSA, OpenSSH, encrypted, PGP) | `-----BEGIN RSA PRIVATE KEY-----`…`-----END RSA PRIVATE KEY-----` | the body; an unterminated block to the end of the text |
//! | passwords in URLs | `postgres://app:hunter2@db/prod` | `postgres://app:••••••••@db/prod` |
//! | `Authorization` values | `Authorization: Bearer abc.def-123` | `Authorization: Bearer ••••••••` |
//! | Slack webhook URLs | `https://hooks.slack.com/services/T0/B0/x` | `https://hooks.slack.com/services/••••••••` |
//! | AWS access key ids | `AKIA` + 16 | `AKIA••••••••` |
//! | AWS secret access keys, when labelled | `aws_secret_access_key = …` | `aws_secret_access_key = ••••••••` |
//! | GitHub tokens | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_` | `ghp_••••••••` |
//! | GitLab tokens | `glpat-`, `gldt-`, `glrt-`, `glptt-`, `glsoat-` | `glpat-••••••••` |
//! | Slack tokens | `xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxs-`, `xoxr-` | `xoxb-••••••••` |
//! | Stripe secret and restricted keys | `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` | `sk_live_••••••••` |
//! | Anthropic keys | `sk-ant-api03-…` | `sk-ant-api03-••••••••` |
//! | OpenAI keys | `sk-proj-…`, `sk-svcacct-…`, `sk-admin-…`, `sk-` + 32 or more letters and digits | `sk-proj-••••••••` |
//! | Google API keys | `AIza…` | `AIza••••••••` |
//! | Hugging Face tokens | `hf_…` | `hf_••••••••` |
//! | npm tokens | `npm_…` | `npm_••••••••` |
//! | PyPI tokens | `pypi-AgE…` | `pypi-••••••••` |
//! | SendGrid keys | `SG.x.y` | `SG.••••••••` |
//! | JSON Web Tokens | `eyJ….eyJ….sig` | `eyJ••••••••` |
//! | webhook signing secrets (agentshare's, Standard Webhooks) | `whsec_…` | `whsec_••••••••` |
//! | agentshare API keys and viewer tokens | `ask_` / `vst_` + 43 | `ask_••••••••` |
//! | labelled values | `DB_PASSWORD=…`, `"api_key": "…"`, `token: …` | `DB_PASSWORD=••••••••` |
//!
//! Labelled values are those of a name ending in `password`, `passwd`,
//! `passphrase`, `secret`, `token`, `api_key`, `secret_key`, `private_key` or
//! `access_key` (any case, `_` or `-` or nothing inside), written as:
//! - `NAME=value`, the value ending at a space, `&`, `;`, a quote or the end
//!   (shell, `.env` files, command-line flags, query strings);
//! - `NAME = "value"`, `"NAME": "value"`, `NAME: 'value'`, `NAME => "value"`
//!   (code, JSON, YAML); a quoted "value" followed by `:` was a key, so the mask
//!   runs on through the value after it (`password= "token": "abc"`);
//! - `NAME: value` alone on its line (YAML), when the value holds something other
//!   than letters.
//!
//! To leave prose and code alone, values that are clearly not secrets stay as they
//! are: references and placeholders (starting with `$`, `<`, `{`, `%`, `*`),
//! arguments in code (`f(password=password)`, since the value is followed by `,`
//! or `)`), and `NAME: value` lines whose value is a single word of letters (a type
//! in `password: str`).
//!
//! Masking is idempotent, linear in the length of the text (one lazily compiled
//! [`regex`]), and returns the text borrowed when nothing was masked.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What a secret is replaced with.
pub const MARK: &str = "••••••••";

/// An ASCII word boundary (fast in the regex engine's DFA, unlike Unicode's).
macro_rules! b {
    () => {
        r"(?-u:\b)"
    };
}

/// The end of a name whose value is a secret.
macro_rules! secret_name {
    () => {
        r"(?i-u:pass(?:word|wd|phrase)|secret|token|(?:api|secret|private|access)[_\-]?key)"
    };
}

/// A labelled name: `db_password`, `spring.datasource.password`, `X-Api-Key`. Its
/// length is bounded: an unbounded run before the name would let every search look
/// to the end of a long word, making masking quadratic.
macro_rules! label {
    () => {
        concat!(b!(), r"[A-Za-z0-9_.\-]{0,64}?", secret_name!())
    };
}

/// How a rule's secret is replaced.
#[derive(Clone, Copy)]
enum Style {
    /// With [`MARK`].
    Mark,
    /// A PEM body: [`MARK`] on its own line, in the block's own line breaks.
    PemBody,
}

/// Each rule names the part to mask `(?<s>…)`; what the match holds around it is kept.
/// Earlier rules win when two match at the same place.
///
/// Masking stays linear only if no rule can stay undecided (neither matched nor
/// failed) over a long stretch in which further matches of it can start: a search
/// could then scan that stretch again for every match inside it. So every run that
/// comes before the point where a rule is sure to match is either bounded (a label,
/// a URL scheme, a JWT header, an unquoted value) or ended by the character that
/// starts another match of the rule (a quote, `/`, a line break).
///
/// Masking stays idempotent only if a second pass finds nothing new:
/// - it creates no word boundary that the text did not have: a secret that ends in
///   a letter or digit is masked up to the end of its word (`[A-Za-z0-9_]`), so that
///   what follows the mark starts no new word;
/// - a bounded run can't span a mark: masking shortens the text, and a run that was
///   too long before could otherwise fit after.
const RULES: &[(Style, &str)] = &[
    (
        Style::PemBody,
        r"-----BEGIN [A-Z0-9 ]{0,32}PRIVATE KEY(?: BLOCK)?-----(?<s>(?s:.)+?)(?:-----END [A-Z0-9 ]{0,32}PRIVATE KEY(?: BLOCK)?-----|\z)",
    ),
    (
        Style::Mark,
        concat!(b!(), r"https://hooks\.slack\.com/(?:services|workflows|triggers)/(?<s>[A-Za-z0-9_/\-]+)"),
    ),
    (
        Style::Mark,
        concat!(
            b!(),
            r#"(?i-u:(?:proxy-)?authorization)["']?[ \t]*[:=][ \t]*["']?(?i-u:bearer|basic|token|bot)[ \t]+"#,
            r"(?<s>(?:[A-Za-z]*[0-9._~+/_\-][A-Za-z0-9._~+/_\-]*|[A-Za-z]{20,})=*)"
        ),
    ),
    (
        Style::Mark,
        concat!(b!(), r#"[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^ \t\r\n:/?#@"'<>]*:(?<s>[^ \t\r\n/?#"'<>]+)@"#),
    ),
    (
        Style::Mark,
        concat!(
            b!(),
            r#"(?i-u:(?:aws_?)?secret_?access_?key)["']?[ \t]*(?::=|=>|[:=])[ \t]*["']?"#,
            r"(?<s>[A-Za-z0-9/+]{30}[A-Za-z0-9/+_]*=*)"
        ),
    ),
    (Style::Mark, concat!(b!(), r"gh[pousr]_(?<s>[A-Za-z0-9]{30}[A-Za-z0-9_]*)")),
    (Style::Mark, concat!(b!(), r"github_pat_(?<s>[A-Za-z0-9_]{30,})")),
    (Style::Mark, concat!(b!(), r"gl(?:pat|dt|rt|ptt|soat)-(?<s>[A-Za-z0-9_\-]{20,}(?:\.[A-Za-z0-9_\-]+)*)")),
    (Style::Mark, concat!(b!(), r"xox[abposr]-(?<s>[A-Za-z0-9\-]{10}[A-Za-z0-9_\-]*)")),
    (Style::Mark, concat!(b!(), r"[rs]k_(?:live|test)_(?<s>[A-Za-z0-9]{10}[A-Za-z0-9_]*)")),
    (Style::Mark, concat!(b!(), r"sk-ant-(?:[a-z]{1,16}[0-9]{2}-)?(?<s>[A-Za-z0-9_\-]{20,})")),
    (Style::Mark, concat!(b!(), r"sk-(?:proj|svcacct|admin|None)-(?<s>[A-Za-z0-9_\-]{20,})")),
    (Style::Mark, concat!(b!(), r"sk-(?<s>[A-Za-z0-9]{32}[A-Za-z0-9_]*)")),
    (Style::Mark, concat!(b!(), r"AIza(?<s>[A-Za-z0-9_\-]{30,})")),
    (Style::Mark, concat!(b!(), r"hf_(?<s>[A-Za-z0-9]{30}[A-Za-z0-9_]*)")),
    (Style::Mark, concat!(b!(), r"npm_(?<s>[A-Za-z0-9]{36}[A-Za-z0-9_]*)")),
    (Style::Mark, concat!(b!(), r"pypi-(?<s>AgE[A-Za-z0-9_\-]{50,})")),
    (Style::Mark, concat!(b!(), r"SG\.(?<s>[A-Za-z0-9_\-]{16,64}\.[A-Za-z0-9_\-]{16,})")),
    // Header and payload, and any further segments (a signature; JWE's five parts).
    (Style::Mark, concat!(b!(), r"eyJ(?<s>[A-Za-z0-9_\-]{5,512}\.eyJ[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*)")),
    (Style::Mark, concat!(b!(), r"whsec_(?<s>[A-Za-z0-9+/]{20}[A-Za-z0-9+/_]*=*)")),
    (Style::Mark, concat!(b!(), r"A(?:KIA|SIA|BIA|CCA)(?<s>[A-Z0-9]{16})", b!())),
    // Exactly 43 characters: a longer run is no key. `RANDOM43` is replaced by `random_43()`.
    (Style::Mark, concat!(b!(), r"(?:ask|vst)_(?<s>RANDOM43)(?:[^A-Za-z0-9_\-]|\z)")),
    (
        Style::Mark,
        concat!(
            label!(),
            r#"["']?[ \t]*(?::=|=>|[:=])[ \t]*""#,
            r#"(?<s>[^"\\\r\n$<{%*](?:[^"\\\r\n]|\\.)*(?:"[ \t]*:[ \t]*"(?:[^"\\\r\n]|\\.)*)*)""#
        ),
    ),
    (
        Style::Mark,
        concat!(
            label!(),
            r#"["']?[ \t]*(?::=|=>|[:=])[ \t]*'"#,
            r"(?<s>[^'\\\r\n$<{%*](?:[^'\\\r\n]|\\.)*(?:'[ \t]*:[ \t]*'(?:[^'\\\r\n]|\\.)*)*)'"
        ),
    ),
    (
        Style::Mark,
        concat!(
            label!(),
            "=",
            r#"(?<s>[^ \t\r\n"'`&;,()<>\[\]{}$%=*\-•][^ \t\r\n"'`&;,()<>\[\]{}•]{0,254})(?:[ \t\r\n&;"'`]|\z)"#
        ),
    ),
    (
        Style::Mark,
        concat!(
            r#"(?m:^[ \t]*(?:- )?["']?"#,
            label!(),
            r#"["']?:[ \t]+"#,
            r"(?<s>(?:[A-Za-z]*[0-9!#+./:=?@^_~\-]|[0-9!#+./=?@^_~\-])[^ \t\r\n;,]*)[ \t]*\r?$)"
        ),
    ),
];

/// 43 characters of URL-safe base64 with at least one capital or digit, as every
/// random key has (all but one in 10^15): an identifier such as
/// `ask_user_for_confirmation_before_deleting_files` has none.
fn random_43() -> String {
    let spellings: Vec<String> =
        (0..43).map(|k| format!(r"[a-z_\-]{{{k}}}[A-Z0-9][A-Za-z0-9_\-]{{{}}}", 42 - k)).collect();
    format!("(?:{})", spellings.join("|"))
}

struct Masker {
    regex: Regex,
    /// Per rule: the index of its secret group, and how to replace it.
    rules: Vec<(usize, Style)>,
}

static MASKER: LazyLock<Masker> = LazyLock::new(|| {
    let pattern = RULES
        .iter()
        .enumerate()
        .map(|(i, (_, rule))| {
            let rule = rule.replace("RANDOM43", &random_43()).replace("(?<s>", &format!("(?<s{i}>"));
            format!("(?:{rule})")
        })
        .collect::<Vec<_>>()
        .join("|");
    let regex = Regex::new(&pattern).expect("the secret patterns are valid");
    let rules = RULES
        .iter()
        .enumerate()
        .map(|(i, (style, _))| {
            let name = format!("s{i}");
            let group = regex
                .capture_names()
                .position(|n| n == Some(name.as_str()))
                .expect("every rule has a secret group");
            (group, *style)
        })
        .collect();
    Masker { regex, rules }
});

/// Replaces every secret in `text` with [`MARK`], keeping its public prefix or
/// label (see the [module documentation](self) for the formats). Borrowed when
/// nothing was masked.
pub fn mask(text: &str) -> Cow<'_, str> {
    let masker = &*MASKER;
    let mut out = String::new();
    let mut copied = 0;
    for caps in masker.regex.captures_iter(text) {
        let found = masker.rules.iter().find_map(|&(group, style)| caps.get(group).map(|m| (m, style)));
        let (Some(whole), Some((secret, style))) = (caps.get(0), found) else {
            continue;
        };
        // What a match keeps before its secret can hold a secret of its own: a token
        // as a URL's user name (`https://ghp_…:x-oauth-basic@github.com`). It is
        // shorter than the text, and every character is in one match at most, so
        // this stays linear.
        let kept = mask(&text[whole.start()..secret.start()]);
        let replacement = match style {
            Style::Mark => Cow::Borrowed(MARK),
            Style::PemBody => {
                let body = secret.as_str();
                let line_break = if body.contains('\n') {
                    "\n"
                } else if body.contains("\\n") {
                    "\\n"
                } else {
                    " "
                };
                let terminated = secret.end() < caps.get(0).map_or(secret.end(), |m| m.end());
                let close = if terminated { line_break } else { "" };
                Cow::Owned(format!("{line_break}{MARK}{close}"))
            }
        };
        if matches!(kept, Cow::Borrowed(_)) && secret.as_str() == replacement {
            continue;
        }
        out.push_str(&text[copied..whole.start()]);
        out.push_str(&kept);
        out.push_str(&replacement);
        copied = secret.end();
    }
    if copied == 0 && out.is_empty() {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Where the secrets of `text` are: the byte range of each, without the prefix or
/// label [`mask`] keeps. Secrets already masked are not found again.
pub fn find(text: &str) -> Vec<std::ops::Range<usize>> {
    let masker = &*MASKER;
    let mut found = Vec::new();
    for caps in masker.regex.captures_iter(text) {
        let secret = masker.rules.iter().find_map(|&(group, _)| caps.get(group));
        let (Some(whole), Some(secret)) = (caps.get(0), secret) else {
            continue;
        };
        // As in `mask`: what a match keeps can hold a secret of its own.
        let start = whole.start();
        found.extend(find(&text[start..secret.start()]).into_iter().map(|r| r.start + start..r.end + start));
        if !secret.as_str().trim().is_empty() && !secret.as_str().contains(MARK) {
            found.push(secret.range());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Masks `text` and checks what every mask must be: idempotent, and free of
    /// `secret`.
    #[track_caller]
    fn masked(text: &str, secret: &str) -> String {
        let out = mask(text).into_owned();
        assert!(!out.contains(secret), "{secret:?} survived in {out:?}");
        assert_eq!(mask(&out), out, "masking {out:?} again changes it");
        assert!(matches!(mask(&out), Cow::Borrowed(_)), "{out:?} is already masked");
        out
    }

    #[track_caller]
    fn untouched(text: &str) {
        let out = mask(text);
        assert!(matches!(out, Cow::Borrowed(_)), "{text:?} was changed to {out:?}");
    }

    #[test]
    fn vendor_tokens_keep_their_prefix() {
        for (text, secret, expected) in [
            ("key AKIAIOSFODNN7EXAMPLE here", "IOSFODNN7EXAMPLE", "key AKIA•••••••• here"),
            ("ASIAY34FZKBOKMUTVV7A", "Y34FZKBOKMUTVV7A", "ASIA••••••••"),
            (
                "export GH=ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R",
                "1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R",
                "export GH=ghp_••••••••",
            ),
            (
                "gho_16C7e42F292c6912E7710c838347Ae178B4a and more",
                "16C7e42F292c6912E7710c838347Ae178B4a",
                "gho_•••••••• and more",
            ),
            (
                "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                "11ABCDEFG0123456789_abcdefghij",
                "github_pat_••••••••",
            ),
            ("glpat-xYz1234567890AbCdEfGh", "xYz1234567890AbCdEfGh", "glpat-••••••••"),
            ("glpat-AbCdEfGhIjKlMnOpQrStUvWx.01.0abcd1234", "0abcd1234", "glpat-••••••••"),
            (
                "SLACK=xoxb-2048123456-4096123456-aBcDeFgHiJkLmNoPqRsTuVwX",
                "aBcDeFgHiJkLmNoPqRsTuVwX",
                "SLACK=xoxb-••••••••",
            ),
            ("sk_live_51HcWqLKz0aBcDeFgHiJkLmNo", "51HcWqLKz0aBcDeFgHiJkLmNo", "sk_live_••••••••"),
            ("rk_test_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLyjWDarjtT1zdp7dc", "rk_test_••••••••"),
            (
                "sk-ant-api03-Zq3bX9vN2mK8pL5jH7gF4dS1aQ6wE0rT-yU_iO9pLkJhGfDsA",
                "Zq3bX9vN2mK8pL5jH7gF4dS1aQ6wE0rT",
                "sk-ant-api03-••••••••",
            ),
            (
                "OPENAI_KEY is sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34_Op56-Qr78",
                "Ab12Cd34Ef56Gh78Ij90Kl12Mn34",
                "OPENAI_KEY is sk-proj-••••••••",
            ),
            (
                "sk-3Fq8ZkLmN0pQrStUvWxYzT3BlbkFJaBcDeFgHiJkLmNoPq",
                "3Fq8ZkLmN0pQrStUvWxYzT3BlbkFJ",
                "sk-••••••••",
            ),
            ("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "SyD-9tSrke72PouQMnMX", "AIza••••••••"),
            ("hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567", "aBcDeFgHiJkLmNoPqRsTuVwXyZ", "hf_••••••••"),
            ("//registry/:_authToken=npm_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5", "//registry/:_authToken=••••••••"),
            (
                "pypi-AgEIcHlwaS5vcmcCJGE4ZjY3ZjBmLTQ0ZDktNDg2Zi05MmRlLTA0NmM3OTM2NmM5MQACKlszLCJmMWI",
                "AgEIcHlwaS5vcmcCJGE4ZjY3ZjBmLTQ0ZDkt",
                "pypi-••••••••",
            ),
            (
                "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",
                "TwL2iGABf9DHoTf",
                "SG.••••••••",
            ),
            ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_••••••••"),
        ] {
            assert_eq!(masked(text, secret), expected, "{text}");
        }
    }

    #[test]
    fn json_web_tokens_are_masked_whole() {
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert_eq!(masked(&format!("jwt: {jwt}\n"), "SflKxwRJ"), "jwt: eyJ••••••••\n");
        assert_eq!(masked(jwt, "hbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"), "eyJ••••••••");
    }

    #[test]
    fn agentshare_keys_and_viewer_tokens_are_masked() {
        let key = crate::domain::api_key::NewApiKey::generate().secret;
        let body = &key[4..];
        assert_eq!(masked(&format!("KEY {key}"), body), "KEY ask_••••••••");
        assert_eq!(masked(&format!("\"{key}\","), body), "\"ask_••••••••\",");
        let token = format!("vst_{}", crate::domain::ids::new_secret::<32>());
        assert_eq!(masked(&format!("Bearer={token}."), &token[4..]), "Bearer=vst_••••••••.");
        // A key ending in `-` is still masked to its end.
        let dashed = format!("ask_{}-", "A".repeat(42));
        assert_eq!(masked(&format!("{dashed} x"), &dashed[4..]), "ask_•••••••• x");
    }

    #[test]
    fn private_key_blocks_are_masked_between_their_lines() {
        for kind in [
            "RSA PRIVATE KEY",
            "PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ] {
            let block = format!(
                "before\n-----BEGIN {kind}-----\nMIIEowIBAAKCAQEA7bq98Z0hYgT4\nq1w2e3r4t5y6u7i8o9p0==\n-----END {kind}-----\nafter"
            );
            let expected = format!("before\n-----BEGIN {kind}-----\n••••••••\n-----END {kind}-----\nafter");
            assert_eq!(masked(&block, "MIIEowIBAAKCAQEA"), expected);
        }
        let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0\n-----END PGP PRIVATE KEY BLOCK-----";
        assert_eq!(
            masked(pgp, "lQOYBF0"),
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n••••••••\n-----END PGP PRIVATE KEY BLOCK-----"
        );
    }

    #[test]
    fn an_unterminated_private_key_is_masked_to_the_end() {
        let text = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u\n(output truncated)";
        assert_eq!(masked(text, "b3BlbnNz"), "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n••••••••");
        assert!(masked(text, "truncated").ends_with(MARK));
    }

    #[test]
    fn private_keys_keep_the_line_breaks_they_are_written_with() {
        let escaped =
            r#"{"pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n"}"#;
        assert_eq!(
            masked(escaped, "MIIEvQIBADANBg"),
            r#"{"pem": "-----BEGIN PRIVATE KEY-----\n••••••••\n-----END PRIVATE KEY-----\n"}"#
        );
        let one_line = "KEY=-----BEGIN EC PRIVATE KEY----- MHcCAQEEIBkg -----END EC PRIVATE KEY-----";
        assert_eq!(
            masked(one_line, "MHcCAQEEIBkg"),
            "KEY=-----BEGIN EC PRIVATE KEY----- •••••••• -----END EC PRIVATE KEY-----"
        );
    }

    #[test]
    fn url_passwords_are_masked_keeping_scheme_user_and_host() {
        for (text, secret, expected) in [
            (
                "DATABASE_URL=postgres://app:s3cr3t-Pa55@db.internal:5432/prod",
                "s3cr3t-Pa55",
                "DATABASE_URL=postgres://app:••••••••@db.internal:5432/prod",
            ),
            ("redis://:hunter2@cache:6379/0", "hunter2", "redis://:••••••••@cache:6379/0"),
            ("https://bob:p@ss:w0rd@example.com/x", "ss:w0rd", "https://bob:••••••••@example.com/x"),
            (
                "Cloning into 'x'... https://oauth2:glpat-abc@gitlab.com/x.git",
                "glpat-abc",
                "Cloning into 'x'... https://oauth2:••••••••@gitlab.com/x.git",
            ),
        ] {
            assert_eq!(masked(text, secret), expected);
        }
    }

    #[test]
    fn authorization_values_are_masked() {
        for (text, secret, expected) in [
            ("Authorization: Bearer abc123.def-456_ghi", "abc123", "Authorization: Bearer ••••••••"),
            ("authorization: basic dXNlcjpwYXNzd29yZA==", "dXNlcjpw", "authorization: basic ••••••••"),
            (
                r#"headers = {"Authorization": "Bearer Zm9vYmFyYmF6cXV4"}"#,
                "Zm9vYmFyYmF6cXV4",
                r#"headers = {"Authorization": "Bearer ••••••••"}"#,
            ),
            ("Authorization: token 9f8e7d6c5b4a", "9f8e7d6c5b4a", "Authorization: token ••••••••"),
            (
                "Proxy-Authorization: Bearer onlyLettersButQuiteLongOnes",
                "onlyLetters",
                "Proxy-Authorization: Bearer ••••••••",
            ),
        ] {
            assert_eq!(masked(text, secret), expected);
        }
    }

    #[test]
    fn slack_webhook_urls_are_masked() {
        let url = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
        assert_eq!(
            masked(&format!("POST {url} failed"), "T00000000/B00000000"),
            "POST https://hooks.slack.com/services/•••••••• failed"
        );
    }

    #[test]
    fn aws_secret_keys_are_masked_when_labelled() {
        for (text, expected) in [
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = ••••••••",
            ),
            (
                r#""SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","#,
                r#""SecretAccessKey": "••••••••","#,
            ),
        ] {
            assert_eq!(masked(text, "wJalrXUtnFEMI"), expected);
        }
    }

    #[test]
    fn labelled_values_are_masked() {
        for (text, secret, expected) in [
            ("DB_PASSWORD=hunter2", "hunter2", "DB_PASSWORD=••••••••"),
            ("PGPASSWORD=hunter2 psql -h db", "hunter2", "PGPASSWORD=•••••••• psql -h db"),
            ("run --api-key=abc123def --verbose", "abc123def", "run --api-key=•••••••• --verbose"),
            ("GET /cb?code=1&token=abc123&state=x", "abc123", "GET /cb?code=1&token=••••••••&state=x"),
            (
                r#"{"password": "correct horse", "user": "bob"}"#,
                "correct horse",
                r#"{"password": "••••••••", "user": "bob"}"#,
            ),
            (r#"client_secret = "s3\"cr3t""#, "cr3t", r#"client_secret = "••••••••""#),
            ("spring.datasource.password='swordfish'", "swordfish", "spring.datasource.password='••••••••'"),
            (":secret_key => \"abc\"", "abc", ":secret_key => \"••••••••\""),
            ("db:\n  password: hunter2\n  user: app", "hunter2", "db:\n  password: ••••••••\n  user: app"),
            ("- API_TOKEN: 4f9a-77b2\r\n", "4f9a-77b2", "- API_TOKEN: ••••••••\r\n"),
            ("X-Api-Key: 12345abcde", "12345abcde", "X-Api-Key: ••••••••"),
        ] {
            assert_eq!(masked(text, secret), expected, "{text}");
        }
    }

    #[test]
    fn a_key_taken_for_a_quoted_value_does_not_leave_the_value_after_it() {
        // Found by fuzzing (`secrets`): the first label's quoted "value" was the next
        // pair's key, and that pair's value stayed as written.
        let text = "password= \"password\": \"ACEGIKMOQSUWYacegikmoqsu\" \0\0!:/";
        assert_eq!(masked(text, "ACEGIKMOQSUWY"), "password= \"••••••••\" \0\0!:/");
        assert_eq!(masked("secret='api_key': 'ACEGIKMOQSUWY'", "ACEGIKMOQSUWY"), "secret='••••••••'");
    }

    #[test]
    fn ordinary_text_and_code_are_left_alone() {
        for text in [
            "",
            "# Fixed\n\nThe bug is gone. See `src/main.rs`.",
            "The password is stored as an Argon2 hash; the token is rotated daily.",
            "Password: make sure it is long enough.",
            "Set `Authorization: Bearer $KEY` on every request, or `Bearer <token>`.",
            "curl -H \"Authorization: Bearer $AGENTSHARE_KEY\" https://example.com",
            "Authorization: Bearer tokens are sent in a header.",
            "login(user=user, password=password)\nconnect(token=token)",
            "password = os.environ[\"DB_PASSWORD\"]\nsecret = get_secret()",
            "class Settings:\n    password: str\n    api_key: Optional[str] = None\n",
            "interface Creds {\n  token: string;\n  secret: SecretString;\n}",
            "if token == expected:\n    return password==other",
            "export TOKEN=$(cat token.txt)\nPASSWORD=${DB_PASSWORD}\nSECRET=\"${SECRET}\"",
            r#"{"password": "", "token": null, "api_key": "<your key here>", "secret": "{{ vault }}"}"#,
            "max_tokens=100 token_type=Bearer password_hash=$argon2id$v=19",
            "http://localhost:8080/v1/tasks and ssh://git@github.com:22/org/repo.git and git@github.com:org/x",
            "https://example.com/?q=a:b@c and mailto:alice@example.com",
            "task-1234567890abcdefghij and risk-assessment-framework-v2 and sk-spinner-double-bounce",
            "ask_user_for_confirmation_before_deleting_files and ask_about_it",
            "AKIA is a prefix; AKIAIOSFODNN7EXAMPLEX is too long; npm_config_cache; hf_hub_download",
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
            "eyJhbGciOiJIUzI1NiJ9 alone is just a header; SG.x.y is too short",
            "Écrit en français : le mot de passe n'apparaît pas. 密码 = 不显示",
            "| key | value |\n|---|---|\n| token | see the docs |",
        ] {
            untouched(text);
        }
    }

    #[test]
    fn masked_text_is_borrowed_when_nothing_matched() {
        assert!(matches!(mask("nothing to see"), Cow::Borrowed("nothing to see")));
        assert!(matches!(mask("ghp_••••••••"), Cow::Borrowed(_)));
        assert!(matches!(mask("password=••••••••"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_secret_is_masked_to_the_end_of_its_word() {
        // Masking `51HcWqLKz0aghp` alone would leave `_BcPASSWORD=` starting a new word,
        // a label that a second pass would mask.
        let text = "sk_live_51HcWqLKz0aghp_BcPASSWORD=mN\u{7}";
        assert_eq!(masked(text, "51HcWqLKz0aghp"), "sk_live_••••••••=mN\u{7}");
        assert_eq!(
            masked("ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R_x token=abc", "q8R"),
            "ghp_•••••••• token=••••••••"
        );
    }

    #[test]
    fn secrets_in_what_a_match_keeps_are_masked_too() {
        let token = "ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R";
        assert_eq!(
            masked(&format!("git clone https://{token}:x-oauth-basic@github.com/org/repo"), &token[4..]),
            "git clone https://ghp_••••••••:••••••••@github.com/org/repo"
        );
        // A token glued to a label's name.
        assert_eq!(
            masked("x-glpat-AbCdEfGhIjKlMnOpQrStUvWx-token=abc", "AbCdEfGh"),
            "x-glpat-••••••••=••••••••"
        );
    }

    #[test]
    fn a_private_key_in_a_labelled_value_is_masked_whole() {
        let text = "PRIVATE_KEY=-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98Z0hYgT4\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            masked(text, "MIIEowIBAAKCAQEA"),
            "PRIVATE_KEY=-----BEGIN RSA PRIVATE KEY-----\n••••••••\n-----END RSA PRIVATE KEY-----"
        );
    }

    #[test]
    fn masking_a_later_value_does_not_let_an_earlier_one_fit() {
        // The first value runs on past 255 characters, so it is no value; masking the
        // second must not shorten it enough to be one.
        let text = format!("Zatoken=le{}ktoken=lei{}", "\0".repeat(230), "\0".repeat(40));
        assert_eq!(masked(&text, "lei"), format!("Zatoken=le{}ktoken=••••••••", "\0".repeat(230)));
    }

    #[test]
    fn several_secrets_in_one_text_are_all_masked() {
        let text = "a=AKIAIOSFODNN7EXAMPLE b=ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R\npostgres://u:pw1@h/db";
        assert_eq!(masked(text, "IOSFODNN7"), "a=AKIA•••••••• b=ghp_••••••••\npostgres://u:••••••••@h/db");
    }
}
