//! The other parsers of outside input, each against what its documentation promises:
//! - `X-Forwarded-For` with trusted proxies: only what trusted proxies appended is believed;
//! - viewers' addresses, user agents and `Referer` headers, as analytics keep them;
//! - webhook endpoint URLs, and the SSRF check of their addresses: an address the
//!   service refuses is every one an independent list of non-public ranges names
//!   (including IPv4 inside IPv6 forms such as NAT64 and 6to4), and an accepted URL
//!   reads back to itself (the delivery worker parses the stored URL again);
//! - branch names (whatever passes is a name `git check-ref-format --branch` accepts)
//!   and repository names (whatever opens lies inside the repositories directory);
//! - timestamps and expiries, emails, single- and multi-line text fields, page
//!   cursors, public URLs and webhook event lists.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use agentshare::api::error::ApiError;
use agentshare::api::extract::decode_cursor;
use agentshare::config::parse_public_url;
use agentshare::domain::page::Cursor;
use agentshare::domain::share::parse_expiry;
use agentshare::domain::text::{bounded, parse_email};
use agentshare::domain::time::Timestamp;
use agentshare::domain::viewer::{classify_user_agent, client_address, referrer_host, truncated_prefix};
use agentshare::domain::webhook::{
    is_internal, may_deliver_to, parse_endpoint_url, parse_event_types, EVENT_TYPES,
};
use agentshare::forge::{check_branch_name, Repositories};
use arbitrary::{Arbitrary, Unstructured};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    address: [u8; 16],
    peer: [u8; 16],
    peer_v4: bool,
    text: String,
    other: String,
    limits: (u8, u16),
    multiline: bool,
    now_ms: i64,
    time: i64,
    events: Vec<u8>,
}

/// The ranges of IANA's special-purpose registries that are not globally reachable,
/// written down independently of the service's own check.
fn non_public_v4(ip: Ipv4Addr) -> bool {
    const RANGES: &[&str] = &[
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    ];
    RANGES.iter().any(|r| r.parse::<IpNet>().expect("a range").contains(&IpAddr::V4(ip)))
}

fn non_public(ip: IpAddr) -> bool {
    let v6 = match ip {
        IpAddr::V4(v4) => return non_public_v4(v4),
        IpAddr::V6(v6) => v6,
    };
    let in_range = |r: &str| r.parse::<IpNet>().expect("a range").contains(&ip);
    let embedded = |offset: usize| {
        let o = v6.octets();
        Ipv4Addr::new(o[offset], o[offset + 1], o[offset + 2], o[offset + 3])
    };
    if v6 == Ipv6Addr::LOCALHOST || v6 == Ipv6Addr::UNSPECIFIED {
        return true;
    }
    // IPv4-mapped, IPv4-compatible and NAT64 addresses reach the IPv4 address they carry;
    // 6to4 addresses that of their relay's IPv4 network.
    if in_range("::ffff:0:0/96") || in_range("::/96") || in_range("64:ff9b::/96") {
        return non_public_v4(embedded(12));
    }
    if in_range("2002::/16") {
        return non_public_v4(embedded(2));
    }
    // Teredo (2001::/32) tunnels into IPv4: refused like the ranges that are not global.
    ["64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"]
        .into_iter()
        .any(in_range)
}

/// A scratch repositories directory: one bare repository, a symlink to it, and a
/// symlink out of the directory.
fn repositories() -> &'static (Repositories, PathBuf, tempfile::TempDir) {
    static DIR: OnceLock<(Repositories, PathBuf, tempfile::TempDir)> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("repositories");
        std::fs::create_dir_all(root.join("acme")).expect("a directory");
        let status = Command::new("git")
            .args(["init", "--quiet", "--bare"])
            .arg(root.join("acme/web.git"))
            .status()
            .expect("git runs");
        assert!(status.success());
        std::os::unix::fs::symlink(root.join("acme/web.git"), root.join("web")).expect("a symlink");
        std::os::unix::fs::symlink("/", root.join("escape")).expect("a symlink");
        let canonical = root.canonicalize().expect("a canonical root");
        (Repositories::new(&root), canonical, dir)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else { return };
    let text = input.text.as_str();

    // X-Forwarded-For: an untrusted peer is the client, whatever it says; through
    // trusted proxies the client is the right-most hop they did not add themselves.
    let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
    let peer = if input.peer_v4 {
        let first = if input.peer[1] & 1 == 0 { input.peer[0] } else { 10 };
        IpAddr::V4(Ipv4Addr::new(first, input.peer[2], input.peer[3], input.peer[4]))
    } else {
        IpAddr::V6(Ipv6Addr::from(input.peer))
    };
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let client = client_address(peer, Some(text), &trusted);
    if !is_trusted(&peer) {
        assert_eq!(client, peer);
    } else if client != peer {
        let hops: Vec<&str> = text.split(',').map(str::trim).collect();
        let at = hops.iter().rposition(|h| h.parse::<IpAddr>().ok() == Some(client)).expect("a hop");
        for hop in &hops[at + 1..] {
            let hop: IpAddr = hop.parse().expect("hops right of the client parse");
            assert!(is_trusted(&hop), "{hop} is right of {client} in {text:?}");
        }
    }
    assert_eq!(client_address(peer, None, &trusted), peer);

    // What analytics keep of a viewer.
    let prefix: IpNet = truncated_prefix(client).parse().expect("a prefix");
    let unmapped = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    assert!(prefix.contains(&unmapped) && matches!(prefix.prefix_len(), 24 | 48), "{prefix} for {client}");
    let agent = classify_user_agent(text);
    assert!(["desktop", "mobile", "bot", "other"].contains(&agent.device.as_str()));
    assert!(!agent.browser.is_empty() && !agent.os.is_empty());
    if let Some(host) = referrer_host(Some(text)) {
        assert_eq!(host, host.to_ascii_lowercase());
    }

    // Webhook destinations.
    let address = IpAddr::V6(Ipv6Addr::from(input.address));
    for ip in [
        address,
        IpAddr::V4(Ipv4Addr::new(input.address[0], input.address[1], input.address[2], input.address[3])),
    ] {
        assert_eq!(is_internal(ip), non_public(ip), "{ip}");
        assert_eq!(may_deliver_to(ip, &[]), !non_public(ip), "{ip}");
        assert!(may_deliver_to(ip, &["::/0".parse().unwrap(), "0.0.0.0/0".parse().unwrap()]));
    }
    if let Ok(url) = parse_endpoint_url("url", text) {
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.username().is_empty() && url.password().is_none());
        let again = parse_endpoint_url("url", url.as_str()).expect("a stored URL reads back");
        assert_eq!(again, url);
        match url.host() {
            Some(url::Host::Ipv4(ip)) => assert_eq!(is_internal(IpAddr::V4(ip)), non_public(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => assert_eq!(is_internal(IpAddr::V6(ip)), non_public(IpAddr::V6(ip))),
            _ => {}
        }
    }
    let events: Vec<String> = input
        .events
        .iter()
        .map(|b| EVENT_TYPES.get(*b as usize % 8).map_or(input.other.clone(), |e| (*e).to_owned()))
        .collect();
    if let Ok(parsed) = parse_event_types("events", &events) {
        assert!(!parsed.is_empty());
        for (i, e) in parsed.iter().enumerate() {
            assert!(EVENT_TYPES[..6].contains(&e.as_str()) && !parsed[..i].contains(e), "{parsed:?}");
        }
    }

    // Branch and repository names.
    if check_branch_name(text).is_ok() {
        let status = Command::new("git")
            .args(["check-ref-format", "--branch"])
            .arg(text)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("git runs");
        assert!(status.success(), "git refuses the branch name {text:?}");
    }
    let (repos, root, _) = repositories();
    if let Ok(repo) = repos.open(text) {
        assert!(repo.path().starts_with(root) && repo.path() != root, "{text:?} opened {:?}", repo.path());
    }

    // Times.
    if let Some(t) = Timestamp::parse(text) {
        assert!((Timestamp::FIRST..=Timestamp::LAST).contains(&t));
        assert_eq!(Timestamp::parse(&t.to_rfc3339()), Some(t));
    }
    let now = Timestamp(input.now_ms);
    if let Ok(at) = parse_expiry("expires_at", text, now) {
        assert!(at > now && at <= Timestamp::LAST);
    }
    let t = Timestamp(input.time.clamp(Timestamp::FIRST.millis(), Timestamp::LAST.millis()));
    assert_eq!(Timestamp::parse(&t.to_rfc3339()), Some(t));

    // Text fields.
    if let Ok(email) = parse_email(text) {
        assert!(email.len() <= 254 && email.contains('@') && !email.contains(char::is_whitespace));
    }
    let (min, max) = (input.limits.0 as usize % 4, input.limits.1 as usize % 300);
    if let Ok(kept) = bounded("field", text, min, max, input.multiline) {
        let count = kept.chars().count();
        assert!(count >= min && count <= max, "{kept:?} for {min}..={max}");
        let allowed = |c: char| !c.is_control() || (input.multiline && matches!(c, '\n' | '\r' | '\t'));
        assert!(kept.chars().all(allowed), "{kept:?}");
        assert!(text.chars().count() <= max);
    }

    // Page cursors read back what they wrote (no id holds NUL), and nothing else breaks
    // them; the API reads a `cursor` parameter exactly as the cursor does, and refuses
    // one it can't read with a 400 naming `cursor`.
    let written = Cursor { at: Timestamp(input.time), id: text.to_owned() };
    let expected = (!text.contains('\0')).then(|| written.clone());
    assert_eq!(Cursor::decode(&written.encode()), expected);
    assert_eq!(decode_cursor(&written.encode()).ok(), expected);
    match (Cursor::decode(text), decode_cursor(text)) {
        (Some(cursor), Ok(read)) => assert_eq!(cursor, read),
        (None, Err(ApiError::InvalidRequest { field, .. })) => assert_eq!(field.as_deref(), Some("cursor")),
        (cursor, read) => panic!("{text:?} reads as {cursor:?} but the API reads {read:?}"),
    }

    // Public URLs normalise once.
    if let Ok(url) = parse_public_url(text) {
        assert!(url.starts_with("http://") || url.starts_with("https://"));
        assert!(!url.ends_with('/'));
        assert_eq!(parse_public_url(&url).as_deref(), Ok(url.as_str()));
    }
});
