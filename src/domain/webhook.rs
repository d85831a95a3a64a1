//! Webhooks: the events an owner can subscribe to, how deliveries are retried, and
//! which destinations the service will talk to.

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;

use super::text::FieldError;

/// Every event type, as subscribed to and sent.
pub const EVENT_TYPES: [&str; 7] = [
    "share_link.viewed",
    "share_link.created",
    "share_link.revoked",
    "share_link.expired",
    "comment.created",
    "task_share.accessed",
    "webhook.test",
];

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: i64 = 18;
/// Consecutive failed attempts after which an endpoint is marked `failing`.
pub const FAILING_AFTER: i64 = 5;
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Delay before retry number `attempt` (1 after the first failure): exponential
/// from 5 seconds, capped at 4 hours (about 26 hours over all attempts), with
/// ±20% jitter so that retries of many events don't arrive together.
pub fn backoff(attempt: i64, jitter: f64) -> Duration {
    let base = 5.0 * 2f64.powi((attempt.clamp(1, 20) - 1) as i32);
    let capped = base.min(4.0 * 3600.0);
    Duration::from_secs_f64(capped * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0)))
}

/// Checks a list of event types: known ones, at least one, no repeats.
pub fn parse_event_types(field: &str, types: &[String]) -> Result<Vec<String>, FieldError> {
    if types.is_empty() {
        return Err(FieldError::new(field, "events must name at least one event type"));
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !EVENT_TYPES.contains(&t.as_str()) || t == "webhook.test" {
            return Err(FieldError::new(
                field,
                format!("{t:?} is not an event type; known: {}", EVENT_TYPES[..6].join(", ")),
            ));
        }
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    Ok(out)
}

/// Checks an endpoint URL: absolute http(s), a host, no credentials, at most 2,000
/// characters.
pub fn parse_endpoint_url(field: &str, text: &str) -> Result<url::Url, FieldError> {
    let invalid = |issue: &str| FieldError::new(field, issue);
    if text.len() > 2000 {
        return Err(invalid("url must be at most 2000 characters"));
    }
    let url =
        url::Url::parse(text.trim()).map_err(|_| invalid("url must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url must be an absolute http or https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url must not carry credentials"));
    }
    Ok(url)
}

/// True for addresses a webhook must not reach unless allowed: loopback, private,
/// link-local, carrier-grade NAT, unique-local, unspecified, multicast, broadcast
/// and documentation ranges, and IPv4 addresses inside IPv6 forms of those.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let cgnat: IpNet = "100.64.0.0/10".parse().expect("valid");
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.octets()[0] == 0
                || cgnat.contains(&IpAddr::V4(v4))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()) {
                if !v6.is_loopback() {
                    return is_internal(IpAddr::V4(v4));
                }
            }
            let unique_local: IpNet = "fc00::/7".parse().expect("valid");
            let link_local: IpNet = "fe80::/10".parse().expect("valid");
            let documentation: IpNet = "2001:db8::/32".parse().expect("valid");
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || unique_local.contains(&ip)
                || link_local.contains(&ip)
                || documentation.contains(&ip)
        }
    }
}

/// Whether the service may deliver to `ip`: any public address, and internal ones
/// only inside an allowed range (`--webhook-allow-cidr`).
pub fn may_deliver_to(ip: IpAddr, allowed: &[IpNet]) -> bool {
    !is_internal(ip) || allowed.iter().any(|net| net.contains(&ip))
}

/// The body of the `share_link.*` events other than `viewed`.
pub fn link_event(
    event: &str,
    share_link_id: &str,
    task_id: &str,
    at: super::time::Timestamp,
) -> serde_json::Value {
    serde_json::json!({
        "event": event,
        "share_link_id": share_link_id,
        "task_id": task_id,
        "timestamp": at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_for_about_a_day() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(5));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(10));
        assert_eq!(backoff(30, 0.0), Duration::from_secs(4 * 3600));
        let total: f64 = (1..MAX_ATTEMPTS).map(|a| backoff(a, 0.0).as_secs_f64()).sum();
        assert!((18.0 * 3600.0..30.0 * 3600.0).contains(&total), "{total}");
        assert_eq!(backoff(1, 1.0), Duration::from_secs(6));
        assert_eq!(backoff(1, -1.0), Duration::from_secs(4));
    }

    #[test]
    fn internal_destinations_are_refused_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_internal(ip), "{ip}");
            assert!(!may_deliver_to(ip, &[]), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(may_deliver_to(ip.parse().unwrap(), &[]), "{ip}");
        }
        let allowed: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(may_deliver_to("127.0.0.1".parse().unwrap(), &allowed));
        assert!(!may_deliver_to("10.0.0.1".parse().unwrap(), &allowed));
    }

    #[test]
    fn endpoints_are_absolute_http_urls() {
        assert!(parse_endpoint_url("url", "https://hooks.example.com/agentshare").is_ok());
        for bad in ["", "hooks.example.com", "ftp://x/y", "https://user:pw@x.example/", "javascript:alert(1)"]
        {
            assert!(parse_endpoint_url("url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_types_are_checked() {
        let ok =
            parse_event_types("events", &["share_link.viewed".into(), "share_link.viewed".into()]).unwrap();
        assert_eq!(ok, vec!["share_link.viewed"]);
        assert!(parse_event_types("events", &[]).is_err());
        assert!(parse_event_types("events", &["share_link.exploded".into()]).is_err());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    const CAP_SECS: f64 = 4.0 * 3600.0;

    proptest! {
        #[test]
        fn a_later_retry_never_waits_less_for_the_same_jitter(
            attempt in any::<i64>(),
            jitter in prop_oneof![-1.0f64..=1.0, -1e9f64..1e9, Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        ) {
            let next = attempt.saturating_add(1);
            prop_assert!(
                backoff(attempt, jitter) <= backoff(next, jitter),
                "attempt {} jitter {}",
                attempt,
                jitter
            );
        }

        #[test]
        fn every_delay_lies_between_4_seconds_and_the_cap_plus_jitter(
            attempt in any::<i64>(),
            jitter in prop_oneof![-1.0f64..=1.0, -1e9f64..1e9, Just(f64::INFINITY), Just(f64::NEG_INFINITY)],
        ) {
            let delay = backoff(attempt, jitter).as_secs_f64();
            prop_assert!((4.0 - 1e-9..=CAP_SECS * 1.2 + 1e-6).contains(&delay), "{} s", delay);
        }

        #[test]
        fn delays_double_until_the_cap_and_jitter_scales_them_by_at_most_a_fifth(
            attempt in 1..=MAX_ATTEMPTS,
            jitter in -1.0f64..=1.0,
        ) {
            let plain = backoff(attempt, 0.0).as_secs_f64();
            let following = backoff(attempt + 1, 0.0).as_secs_f64();
            let doubled = (2.0 * plain).min(CAP_SECS);
            prop_assert!((following - doubled).abs() < 1e-6, "{} then {}", plain, following);
            let jittered = backoff(attempt, jitter).as_secs_f64();
            prop_assert!((jittered - plain * (1.0 + 0.2 * jitter)).abs() < 1e-6, "{} vs {}", jittered, plain);
        }
    }
}
