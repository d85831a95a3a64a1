//! Facts about a viewer that analytics keep: a truncated address, the kind of
//! browser, system and device, and the host that referred them.

use std::net::IpAddr;

use ipnet::IpNet;

/// The address with its host part cleared: IPv4 to its /24, IPv6 to its /48. This
/// is all that is stored of a viewer's address.
pub fn truncated_prefix(ip: IpAddr) -> String {
    let prefix = match ip {
        IpAddr::V4(_) => 24,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => return truncated_prefix(IpAddr::V4(v4)),
            None => 48,
        },
    };
    IpNet::new(ip, prefix).map(|net| net.trunc().to_string()).unwrap_or_default()
}

/// The client of a request: the TCP peer, unless the peer is a trusted proxy, in
/// which case the right-most `X-Forwarded-For` entry that is not itself a trusted
/// proxy. A client can prepend anything to `X-Forwarded-For`; only what trusted
/// proxies appended is believed.
///
/// Addresses are canonical: an IPv4 client reaching a dual-stack (IPv6) socket
/// arrives as `::ffff:a.b.c.d` and is taken as `a.b.c.d`, so that it is limited,
/// trusted and counted as the IPv4 client it is (and not with every other IPv4
/// client, as the IPv6 network `::/64`).
pub fn client_address(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Browser, operating system and device class of a user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub browser: String,
    pub os: String,
    /// `desktop`, `mobile`, `bot` or `other`.
    pub device: String,
}

/// User agents whose classification is kept, at most: viewers' browsers repeat,
/// and parsing one costs more than the rest of a view's analytics.
const AGENTS_KEPT: usize = 4096;
/// Longest user agent whose classification is kept.
const LONGEST_KEPT: usize = 512;

static AGENTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<Box<str>, Agent>>> =
    std::sync::LazyLock::new(Default::default);

/// Classifies `user_agent`, from memory when it was seen before.
pub fn classify_user_agent(user_agent: &str) -> Agent {
    let kept = || AGENTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(agent) = kept().get(user_agent) {
        return agent.clone();
    }
    let agent = parse_user_agent(user_agent);
    if user_agent.len() <= LONGEST_KEPT {
        let mut kept = kept();
        if kept.len() >= AGENTS_KEPT {
            // Forget them all: a flood of distinct agents costs parsing, never memory.
            kept.clear();
        }
        kept.insert(user_agent.into(), agent.clone());
    }
    agent
}

fn parse_user_agent(user_agent: &str) -> Agent {
    let unknown = || "unknown".to_owned();
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(result) => {
            let device = match result.category {
                "pc" => "desktop",
                "smartphone" | "mobilephone" => "mobile",
                "crawler" => "bot",
                _ => "other",
            };
            let known = |s: &str| {
                if s.is_empty() || s == "UNKNOWN" {
                    unknown()
                } else {
                    s.to_owned()
                }
            };
            Agent { browser: known(result.name), os: known(result.os), device: device.to_owned() }
        }
        None => Agent { browser: unknown(), os: unknown(), device: "other".to_owned() },
    }
}

/// The host of a `Referer` header, lower-cased; `None` when absent or unusable.
pub fn referrer_host(referer: Option<&str>) -> Option<String> {
    let url = url::Url::parse(referer?).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.host_str().map(|h| h.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_truncated() {
        assert_eq!(truncated_prefix("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(truncated_prefix("2001:db8:1234:5678::1".parse().unwrap()), "2001:db8:1234::/48");
        assert_eq!(truncated_prefix("::ffff:198.51.100.9".parse().unwrap()), "198.51.100.0/24");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let outsider: IpAddr = "198.51.100.1".parse().unwrap();
        let xff = Some("1.2.3.4, 203.0.113.9");
        assert_eq!(client_address(outsider, xff, &trusted), outsider, "untrusted peer: header ignored");
        assert_eq!(
            client_address(proxy, xff, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "right-most untrusted hop"
        );
        assert_eq!(
            client_address(proxy, Some("203.0.113.9, 10.2.2.2"), &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_address(proxy, None, &trusted), proxy);
        assert_eq!(client_address(proxy, Some("garbage"), &trusted), proxy);
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_socket_are_ipv4_clients() {
        let mapped: IpAddr = "::ffff:127.0.0.20".parse().unwrap();
        let v4: IpAddr = "127.0.0.20".parse().unwrap();
        assert_eq!(client_address(mapped, None, &[]), v4);
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let proxy: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(
            client_address(proxy, Some("::ffff:203.0.113.9"), &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "a mapped proxy is trusted, and a mapped hop is its IPv4 client"
        );
    }

    #[test]
    fn user_agents_are_classified() {
        let chrome = classify_user_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
        assert_eq!((chrome.browser.as_str(), chrome.device.as_str()), ("Chrome", "desktop"));
        assert!(chrome.os.starts_with("Windows"), "{chrome:?}");
        let iphone = classify_user_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1");
        assert_eq!(iphone.device, "mobile");
        assert_eq!(classify_user_agent("Googlebot/2.1 (+http://www.google.com/bot.html)").device, "bot");
        assert_eq!(classify_user_agent("").browser, "unknown");
    }

    #[test]
    fn referrers_are_reduced_to_their_host() {
        assert_eq!(
            referrer_host(Some("https://Mail.Example.com/inbox?id=1")).as_deref(),
            Some("mail.example.com")
        );
        assert_eq!(referrer_host(Some("android-app://x")), None);
        assert_eq!(referrer_host(Some("not a url")), None);
        assert_eq!(referrer_host(None), None);
    }
}
