//! Limits an instance keeps in memory:
//! - [`MissLimiter`] slows down guessing of share-link tokens and short codes: a
//!   client whose lookups under `/s/` keep missing (unknown, expired or revoked
//!   links) is refused for a while.
//! - [`StreamSlots`] bounds the event streams one client holds open at once.
//! - [`PasswordWork`] bounds the password hashing done at once.
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
/// Clients tracked before expired windows are first swept.
const SWEEP_AT: usize = 10_000;
/// Clients tracked one by one, at most.
const CLIENTS: usize = 50_000;
/// Networks tracked once that is full, at most.
const NETWORKS: usize = 10_000;
/// While every window tracked is live, sweeps come at most this often.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Counts misses per client; cheap to share, and bounded in memory whatever the
/// number of clients.
///
/// Clients are told apart by address (IPv6: by /64). Should more clients miss
/// within one window than [`CLIENTS`], new ones are counted by their network
/// (IPv4 /24, IPv6 /48) instead, and beyond [`NETWORKS`] networks all the rest
/// share one window: a flood of addresses guessing links is then refused as one
/// client, while those already counted keep their own windows. Expired windows
/// are swept when the number tracked has doubled since the last sweep (and, once
/// full, at most every [`SWEEP_EVERY`]), so a miss costs amortized constant time.
pub struct MissLimiter {
    inner: Mutex<Misses>,
    capacity: (usize, usize),
}

struct Misses {
    clients: HashMap<IpNet, Window>,
    networks: HashMap<IpNet, Window>,
    /// The window of everyone beyond both maps.
    rest: Window,
    /// Sweep when this many windows are tracked.
    next_sweep: usize,
    swept_at: Instant,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    misses: u32,
}

impl Window {
    fn fresh(now: Instant) -> Window {
        Window { started: now, misses: 0 }
    }

    fn live(&self, now: Instant) -> bool {
        self.started + WINDOW > now
    }

    fn count(&mut self, now: Instant) {
        if !self.live(now) {
            *self = Window::fresh(now);
        }
        self.misses = self.misses.saturating_add(1);
    }

    fn wait(&self, now: Instant) -> Option<Duration> {
        let ends = self.started + WINDOW;
        (self.misses >= MISSES_ALLOWED && ends > now).then(|| ends - now)
    }
}

impl Default for MissLimiter {
    fn default() -> MissLimiter {
        MissLimiter::with_capacity(CLIENTS, NETWORKS)
    }
}

/// A client as the limiter sees it: an IPv4 address, or an IPv6 /64 (one host
/// commonly holds a whole /64).
fn client_key(ip: IpAddr) -> IpNet {
    prefix(ip, 32, 64)
}

/// The network of a client, counted once clients are too many: IPv4 /24, IPv6 /48.
fn network_key(ip: IpAddr) -> IpNet {
    prefix(ip, 24, 48)
}

fn prefix(ip: IpAddr, v4: u8, v6: u8) -> IpNet {
    let length = match ip {
        IpAddr::V4(_) => v4,
        IpAddr::V6(_) => v6,
    };
    IpNet::new(ip, length).map(|net| net.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

impl MissLimiter {
    /// A limiter tracking at most `clients` clients and then `networks` networks.
    fn with_capacity(clients: usize, networks: usize) -> MissLimiter {
        let now = Instant::now();
        MissLimiter {
            inner: Mutex::new(Misses {
                clients: HashMap::new(),
                networks: HashMap::new(),
                rest: Window::fresh(now),
                next_sweep: SWEEP_AT.min(clients),
                swept_at: now,
            }),
            capacity: (clients, networks),
        }
    }

    /// How long `ip` must wait, if it has missed too often.
    pub fn retry_after(&self, ip: IpAddr) -> Option<Duration> {
        self.retry_after_at(ip, Instant::now())
    }

    /// Counts a miss by `ip`.
    pub fn record_miss(&self, ip: IpAddr) {
        self.record_miss_at(ip, Instant::now());
    }

    fn retry_after_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let misses = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(window) = misses.clients.get(&client_key(ip)) {
            return window.wait(now);
        }
        if let Some(window) = misses.networks.get(&network_key(ip)) {
            return window.wait(now);
        }
        // Someone who would be counted with the rest waits with the rest.
        let (clients, networks) = self.capacity;
        (misses.clients.len() >= clients && misses.networks.len() >= networks)
            .then(|| misses.rest.wait(now))
            .flatten()
    }

    fn record_miss_at(&self, ip: IpAddr, now: Instant) {
        let mut misses = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let misses = &mut *misses;
        let (clients, networks) = self.capacity;
        let tracked = misses.clients.len() + misses.networks.len();
        let full = tracked >= clients + networks;
        if tracked >= misses.next_sweep && (!full || now >= misses.swept_at + SWEEP_EVERY) {
            misses.clients.retain(|_, w| w.live(now));
            misses.networks.retain(|_, w| w.live(now));
            let tracked = misses.clients.len() + misses.networks.len();
            misses.next_sweep = (tracked * 2).max(SWEEP_AT).min(clients + networks);
            misses.swept_at = now;
        }
        let client = client_key(ip);
        if misses.clients.contains_key(&client) || misses.clients.len() < clients {
            misses.clients.entry(client).or_insert_with(|| Window::fresh(now)).count(now);
            return;
        }
        let network = network_key(ip);
        if misses.networks.contains_key(&network) || misses.networks.len() < networks {
            misses.networks.entry(network).or_insert_with(|| Window::fresh(now)).count(now);
            return;
        }
        misses.rest.count(now);
    }

    /// Windows tracked, one by one and by network.
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let misses = self.inner.lock().unwrap();
        (misses.clients.len(), misses.networks.len())
    }
}

/// Places for password hashing (Argon2), one per two cores: Argon2 takes tens of
/// milliseconds and about 19 MB each, so a burst of password-protected requests
/// waits its turn instead of taking every core (and the memory) from everything
/// else.
pub struct PasswordWork {
    places: tokio::sync::Semaphore,
}

impl Default for PasswordWork {
    fn default() -> PasswordWork {
        let places = std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1));
        PasswordWork { places: tokio::sync::Semaphore::new(places) }
    }
}

impl PasswordWork {
    /// Runs `work` (hashing or checking a password) on a blocking thread, in its
    /// turn; `None` if the work panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let _place = self.places.acquire().await.ok()?;
        tokio::task::spawn_blocking(work).await.ok()
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
    fn memory_stays_bounded_and_a_flood_of_addresses_is_refused_as_one() {
        let limiter = MissLimiter::with_capacity(100, 10);
        let start = Instant::now();
        // 100 clients fill the per-client windows; they keep their own.
        for i in 0..100u32 {
            limiter.record_miss_at(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)), start);
        }
        // Then one /48 sprays distinct /64s: it is counted as one network.
        for i in 0..MISSES_ALLOWED {
            limiter.record_miss_at(format!("2001:db8:7:{i:x}::1").parse().unwrap(), start);
        }
        assert!(limiter.retry_after_at("2001:db8:7:ffff::1".parse().unwrap(), start).is_some());
        assert!(
            limiter.retry_after_at("10.0.0.1".parse().unwrap(), start).is_none(),
            "counted clients keep theirs"
        );
        // Then more networks than are tracked: all of them share one window.
        for i in 0..1000u32 {
            limiter.record_miss_at(format!("2001:db8:{:x}:{:x}::1", 0x100 + i, i).parse().unwrap(), start);
        }
        assert_eq!(limiter.tracked(), (100, 10), "never more windows than the capacity");
        assert!(limiter.retry_after_at("2001:db8:ffff:1::1".parse().unwrap(), start).is_some());
        // Once the windows end they are swept, and clients are counted one by one again.
        let later = start + WINDOW;
        limiter.record_miss_at("192.0.2.1".parse().unwrap(), later);
        assert_eq!(limiter.tracked(), (1, 0));
        assert!(limiter.retry_after_at("2001:db8:ffff:1::1".parse().unwrap(), later).is_none());
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
