//! Per-client limits kept in memory:
//! - [`MissLimiter`] slows down guessing of share-link tokens and short codes: a
//!   client whose lookups under `/s/` keep missing (unknown, expired or revoked
//!   links) is refused for a while.
//! - [`StreamSlots`] bounds the event streams one client holds open at once.
//!
//! The window lives in each instance's memory: lookups are the hot path and must
//! not write to the database. Behind a load balancer with N instances a client
//! gets at most N times the budget, still far too little to enumerate 47-bit short
//! codes, let alone 256-bit tokens.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// Misses allowed per client within [`WINDOW`].
pub const MISSES_ALLOWED: u32 = 30;
/// Length of the window.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Clients tracked before expired windows are swept.
const SWEEP_AT: usize = 10_000;

/// Counts misses per client; cheap to share.
#[derive(Default)]
pub struct MissLimiter {
    windows: Mutex<HashMap<IpNet, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    misses: u32,
}

/// A client as the limiter sees it: an IPv4 address, or an IPv6 /64 (one host
/// commonly holds a whole /64).
fn client_key(ip: IpAddr) -> IpNet {
    let prefix = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 64,
    };
    IpNet::new(ip, prefix).map(|net| net.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

impl MissLimiter {
    /// How long `ip` must wait, if it has missed too often.
    pub fn retry_after(&self, ip: IpAddr) -> Option<Duration> {
        self.retry_after_at(ip, Instant::now())
    }

    /// Counts a miss by `ip`.
    pub fn record_miss(&self, ip: IpAddr) {
        self.record_miss_at(ip, Instant::now());
    }

    fn retry_after_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = windows.get(&client_key(ip))?;
        let ends = window.started + WINDOW;
        (window.misses >= MISSES_ALLOWED && ends > now).then(|| ends - now)
    }

    fn record_miss_at(&self, ip: IpAddr, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| w.started + WINDOW > now);
        }
        let window = windows.entry(client_key(ip)).or_insert(Window { started: now, misses: 0 });
        if window.started + WINDOW <= now {
            *window = Window { started: now, misses: 0 };
        }
        window.misses = window.misses.saturating_add(1);
    }
}

/// Open event streams per client, up to a limit. A [`StreamSlot`] is held for
/// as long as its stream lives and given back when it is dropped.
pub struct StreamSlots {
    limit: usize,
    open: Mutex<HashMap<IpNet, usize>>,
}

/// One open stream's place; dropping it frees the place.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    client: IpNet,
}

impl StreamSlots {
    pub fn new(limit: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots { limit, open: Mutex::default() })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A place for one more stream of `ip`, unless it already holds `limit`.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Option<StreamSlot> {
        let client = client_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(client).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(StreamSlot { slots: self.clone(), client })
    }

    /// Streams `ip` holds open now.
    pub fn open_by(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.get(&client_key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_refused_after_its_misses_until_the_window_ends() {
        let limiter = MissLimiter::default();
        let ip: IpAddr = "203.0.113.5".parse().unwrap();
        let start = Instant::now();
        for _ in 0..MISSES_ALLOWED - 1 {
            limiter.record_miss_at(ip, start);
        }
        assert_eq!(limiter.retry_after_at(ip, start), None);
        limiter.record_miss_at(ip, start);
        assert_eq!(limiter.retry_after_at(ip, start), Some(WINDOW));
        let other: IpAddr = "203.0.113.6".parse().unwrap();
        assert_eq!(limiter.retry_after_at(other, start), None, "others are not affected");
        assert_eq!(limiter.retry_after_at(ip, start + WINDOW), None, "the window ends");
        limiter.record_miss_at(ip, start + WINDOW);
        assert_eq!(limiter.retry_after_at(ip, start + WINDOW), None, "a new window starts from zero");
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let limiter = MissLimiter::default();
        let start = Instant::now();
        for i in 0..MISSES_ALLOWED {
            limiter.record_miss_at(format!("2001:db8:1:2::{i:x}").parse().unwrap(), start);
        }
        assert!(limiter.retry_after_at("2001:db8:1:2::ffff".parse().unwrap(), start).is_some());
        assert!(limiter.retry_after_at("2001:db8:1:3::1".parse().unwrap(), start).is_none());
    }

    #[test]
    fn a_client_holds_at_most_its_limit_of_streams_and_dropping_one_frees_a_place() {
        let slots = StreamSlots::new(2);
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        let first = slots.acquire(ip).expect("first");
        let _second = slots.acquire(ip).expect("second");
        assert!(slots.acquire(ip).is_none(), "a third is refused");
        let _elsewhere = slots.acquire(other).expect("other clients have their own places");
        drop(first);
        assert_eq!(slots.open_by(ip), 1);
        assert!(slots.acquire(ip).is_some(), "a freed place can be taken again");
    }

    #[test]
    fn one_ipv6_host_is_one_client_across_its_slash_64() {
        let slots = StreamSlots::new(1);
        let _held = slots.acquire("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(slots.acquire("2001:db8:1:2:ffff::9".parse().unwrap()).is_none());
        assert!(slots.acquire("2001:db8:1:3::1".parse().unwrap()).is_some());
    }
}
