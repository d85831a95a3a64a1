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

/// User agents whose classification is kept now.
pub fn agents_kept() -> usize {
    AGENTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
}

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

/// Longest part of a user agent that is examined for a link previewer.
const PREVIEW_AGENT_PREFIX: usize = 512;

/// Names in the user agents of link previewers and crawlers (lower case): the
/// services that fetch a shared URL to show a card of it (chat apps, social
/// networks, search engines, embed services, validators).
const PREVIEW_AGENTS: &[&str] = &[
    "slackbot",
    "twitterbot",
    "facebookexternalhit",
    "facebot",
    "discordbot",
    "linkedinbot",
    "whatsapp",
    "telegrambot",
    "googlebot",
    "bingbot",
    "applebot",
    "skypeuripreview",
    "iframely",
    "embedly",
    "redditbot",
    "mastodon",
    "pinterestbot",
    "pinterest/0.",
    "vkshare",
    "w3c_validator",
];

/// Whether `user_agent` is a link previewer or a crawler: one of the known
/// previewers (matched case-insensitively), or any agent woothee classifies as a
/// crawler. Only the first 512 bytes are examined, so the cost is bounded whatever
/// a client sends.
pub fn is_link_preview_agent(user_agent: &str) -> bool {
    let mut end = user_agent.len().min(PREVIEW_AGENT_PREFIX);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    let examined = &user_agent[..end];
    let lower = examined.to_ascii_lowercase();
    PREVIEW_AGENTS.iter().any(|name| lower.contains(name)) || classify_user_agent(examined).device == "bot"
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
    fn link_previewers_and_crawlers_are_recognised() {
        for agent in PREVIEWER_AGENTS {
            assert!(is_link_preview_agent(agent), "a previewer: {agent}");
            assert!(is_link_preview_agent(&agent.to_uppercase()), "in any case: {agent}");
        }
        for agent in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            "curl/8.5.0",
            "agentshare/0.1",
            "",
        ] {
            assert!(!is_link_preview_agent(agent), "not a previewer: {agent}");
        }
    }

    #[test]
    fn any_crawler_woothee_knows_is_a_previewer() {
        assert!(is_link_preview_agent(
            "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
        ));
        assert!(is_link_preview_agent("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"));
        assert!(is_link_preview_agent("SomeNewCrawler/1.0 (crawler; +https://example.com)"));
    }

    #[test]
    fn only_the_start_of_a_long_agent_is_examined() {
        let padding = "x".repeat(100_000);
        assert!(!is_link_preview_agent(&format!("Mozilla/5.0 {padding} Twitterbot/1.0")));
        assert!(is_link_preview_agent(&format!("Twitterbot/1.0 {padding}")));
        let multibyte = "é".repeat(400);
        assert!(!is_link_preview_agent(&multibyte), "cut on a character boundary");
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

    /// User agents of the link previewers and crawlers named in the documentation,
    /// as each sends it.
    const PREVIEWER_AGENTS: &[&str] = &[
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Slackbot 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; Facebot/1.0; +https://developers.facebook.com/docs/sharing/webmasters/crawler)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com",
        "Iframely/1.3.1 (+https://iframely.com/docs/about)",
        "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
        "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
        "http.rb/5.1.1 (Mastodon/4.2.1; +https://mastodon.social/)",
        "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
        "Pinterest/0.2 (+http://www.pinterest.com/bot.html)",
        "Mozilla/5.0 (compatible; vkShare; +http://vk.com/dev/Share)",
        "W3C_Validator/1.3 http://validator.w3.org/services",
    ];
}
