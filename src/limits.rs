//! Limits an instance keeps in memory:
//! - [`WindowLimiter`] counts what each client does within a window: it slows
//!   down guessing of share-link tokens and short codes (a client whose lookups
//!   under `/s/` keep missing — unknown, expired or revoked links — is refused for
//!   a while), and bounds the comments a client leaves.
//! - [`StreamSlots`] bounds the event streams one client holds open at once.
//! - [`BlockingWork`] bounds the password hashing, and the page rendering, done at
//!   once.
//! - [`ClientSlots`] bound what one client, and all clients, hold at once:
//!   connections, downloads, archives being written.
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

/// Files one client may be downloading at once, and all clients together.
pub const DOWNLOADS_PER_CLIENT: usize = 8;
pub const DOWNLOADS: usize = 256;
/// Archives ("Download all") one client may be downloading at once, and all
/// clients together: each is written by a blocking thread.
pub const ARCHIVES_PER_CLIENT: usize = 2;
pub const ARCHIVES: usize = 16;
/// The slowest a download may go by default (`--min-download-bytes-per-sec`), on
/// average: a download that takes longer than the request timeout plus its size at
/// this rate has its connection closed.
pub const MIN_BYTES_PER_SEC: u64 = 32 * 1024;

/// OpenTelemetry exports stored at once; more wait a moment, then are told to
/// come back (503 with `Retry-After`), as OTLP exporters expect.
pub const INGESTS: usize = 8;

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

/// Counts what clients do (misses, comments) within a window, and refuses a client
/// that has done it `allowed` times until its window ends; cheap to share, and
/// bounded in memory whatever the number of clients.
///
/// Clients are told apart by address (IPv6: by /64). Should more clients miss
/// within one window than [`CLIENTS`], new ones are counted by their network
/// (IPv4 /24, IPv6 /48) instead, and beyond [`NETWORKS`] networks all the rest
/// share one window: a flood of addresses guessing links is then refused as one
/// client, while those already counted keep their own windows. Expired windows
/// are swept when the number tracked has doubled since the last sweep (and, once
/// full, at most every [`SWEEP_EVERY`]), so a miss costs amortized constant time.
pub struct WindowLimiter {
    inner: Mutex<Misses>,
    capacity: (usize, usize),
    allowed: u32,
    window: Duration,
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

    fn live(&self, now: Instant, length: Duration) -> bool {
        self.started + length > now
    }

    fn count(&mut self, now: Instant, length: Duration) {
        if !self.live(now, length) {
            *self = Window::fresh(now);
        }
        self.misses = self.misses.saturating_add(1);
    }

    fn wait(&self, now: Instant, allowed: u32, length: Duration) -> Option<Duration> {
        let ends = self.started + length;
        (self.misses >= allowed && ends > now).then(|| ends - now)
    }
}

impl WindowLimiter {
    /// The limiter of misses under `/s/`: [`MISSES_ALLOWED`] per [`WINDOW`].
    pub fn misses() -> WindowLimiter {
        WindowLimiter::new(MISSES_ALLOWED, WINDOW)
    }

    /// A limiter allowing each client `allowed` counts per `window`.
    pub fn new(allowed: u32, window: Duration) -> WindowLimiter {
        WindowLimiter::with_capacity(allowed, window, CLIENTS, NETWORKS)
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
    // An IPv4 client of a dual-stack socket (`::ffff:a.b.c.d`) is the IPv4 client.
    let ip = ip.to_canonical();
    let length = match ip {
        IpAddr::V4(_) => v4,
        IpAddr::V6(_) => v6,
    };
    IpNet::new(ip, length).map(|net| net.trunc()).unwrap_or_else(|_| IpNet::from(ip))
}

impl WindowLimiter {
    /// A limiter tracking at most `clients` clients and then `networks` networks.
    fn with_capacity(allowed: u32, window: Duration, clients: usize, networks: usize) -> WindowLimiter {
        let now = Instant::now();
        WindowLimiter {
            allowed,
            window,
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

    /// Counts one more by `ip`, unless `ip` has reached its allowance: then it
    /// answers how long `ip` must wait, and counts nothing.
    pub fn take(&self, ip: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut misses = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match self.wait_in(&misses, ip, now) {
            Some(wait) => Err(wait),
            None => {
                self.count_in(&mut misses, ip, now);
                Ok(())
            }
        }
    }

    fn retry_after_at(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let misses = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.wait_in(&misses, ip, now)
    }

    fn wait_in(&self, misses: &Misses, ip: IpAddr, now: Instant) -> Option<Duration> {
        let (allowed, length) = (self.allowed, self.window);
        if let Some(window) = misses.clients.get(&client_key(ip)) {
            return window.wait(now, allowed, length);
        }
        if let Some(window) = misses.networks.get(&network_key(ip)) {
            return window.wait(now, allowed, length);
        }
        // Someone who would be counted with the rest waits with the rest.
        let (clients, networks) = self.capacity;
        (misses.clients.len() >= clients && misses.networks.len() >= networks)
            .then(|| misses.rest.wait(now, allowed, length))
            .flatten()
    }

    fn record_miss_at(&self, ip: IpAddr, now: Instant) {
        let mut misses = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.count_in(&mut misses, ip, now);
    }

    fn count_in(&self, misses: &mut Misses, ip: IpAddr, now: Instant) {
        let length = self.window;
        let (clients, networks) = self.capacity;
        let tracked = misses.clients.len() + misses.networks.len();
        let full = tracked >= clients + networks;
        if tracked >= misses.next_sweep && (!full || now >= misses.swept_at + SWEEP_EVERY) {
            misses.clients.retain(|_, w| w.live(now, length));
            misses.networks.retain(|_, w| w.live(now, length));
            let tracked = misses.clients.len() + misses.networks.len();
            misses.next_sweep = (tracked * 2).max(SWEEP_AT).min(clients + networks);
            misses.swept_at = now;
        }
        let client = client_key(ip);
        if misses.clients.contains_key(&client) || misses.clients.len() < clients {
            misses.clients.entry(client).or_insert_with(|| Window::fresh(now)).count(now, length);
            return;
        }
        let network = network_key(ip);
        if misses.networks.contains_key(&network) || misses.networks.len() < networks {
            misses.networks.entry(network).or_insert_with(|| Window::fresh(now)).count(now, length);
            return;
        }
        misses.rest.count(now, length);
    }

    /// Windows tracked, one by one and by network.
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let misses = self.inner.lock().unwrap();
        (misses.clients.len(), misses.networks.len())
    }
}

/// Places for work that runs on blocking threads, so that a burst of it waits its
/// turn instead of taking every core (and the memory) from everything else:
/// password hashing (Argon2 takes tens of milliseconds and about 19 MB each; one
/// place per two cores) and rendering task pages (markdown of many events; one
/// place per core).
pub struct BlockingWork {
    places: tokio::sync::Semaphore,
    /// Work waiting for a place, or running (for metrics).
    waiting: std::sync::atomic::AtomicUsize,
    running: std::sync::atomic::AtomicUsize,
}

impl BlockingWork {
    /// Places for password hashing: one per two cores.
    pub fn passwords() -> BlockingWork {
        BlockingWork::new(cores().div_ceil(2))
    }

    /// Places for rendering pages: one per core.
    pub fn rendering() -> BlockingWork {
        BlockingWork::new(cores())
    }

    fn new(places: usize) -> BlockingWork {
        BlockingWork {
            places: tokio::sync::Semaphore::new(places.max(1)),
            waiting: Default::default(),
            running: Default::default(),
        }
    }

    /// Runs `work` on a blocking thread, in its turn; `None` if the work panicked.
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let place = {
            let _waiting = Tally::of(&self.waiting);
            self.places.acquire().await.ok()?
        };
        let _running = Tally::of(&self.running);
        let done = tokio::task::spawn_blocking(work).await.ok();
        drop(place);
        done
    }

    /// Work waiting for a place now, and work running.
    pub fn load(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.waiting.load(Relaxed), self.running.load(Relaxed))
    }
}

/// One in a tally for as long as it lives (also when its future is dropped).
struct Tally<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Tally<'a> {
    fn of(count: &'a std::sync::atomic::AtomicUsize) -> Tally<'a> {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Tally(count)
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Places for something clients hold for a while (a connection, a download), per
/// client (an IPv4 address or an IPv6 /64) and in all. A [`ClientSlot`] is held for
/// as long as what it stands for lasts.
///
/// Connections of trusted proxies are counted only in the total: every client
/// behind them shares their address.
pub struct ClientSlots {
    per_client: usize,
    total: usize,
    open: Mutex<(usize, HashMap<IpNet, usize>)>,
}

/// One place; dropping it frees the place.
pub struct ClientSlot {
    slots: Arc<ClientSlots>,
    /// `None` for a trusted proxy's connection (counted only in the total).
    client: Option<IpNet>,
}

impl ClientSlots {
    pub fn new(per_client: usize, total: usize) -> Arc<ClientSlots> {
        Arc::new(ClientSlots { per_client, total, open: Mutex::default() })
    }

    /// Places one client may hold.
    pub fn per_client(&self) -> usize {
        self.per_client
    }

    /// A place for `ip`, unless `ip` already holds its share or every place is
    /// taken. A `proxy` is counted only in the total.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr, proxy: bool) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (total, clients) = &mut *open;
        if *total >= self.total {
            return None;
        }
        let client = if proxy {
            None
        } else {
            let key = client_key(ip);
            let count = clients.entry(key).or_insert(0);
            if *count >= self.per_client {
                return None;
            }
            *count += 1;
            Some(key)
        };
        *total += 1;
        Some(ClientSlot { slots: self.clone(), client })
    }

    /// Places there are, in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Places held now, in all.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).0
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (total, clients) = &mut *open;
        *total -= 1;
        if let Some(client) = self.client {
            if let Some(count) = clients.get_mut(&client) {
                *count -= 1;
                if *count == 0 {
                    clients.remove(&client);
                }
            }
        }
    }
}

/// The most connections this process can hold open: its limit of open files
/// (`RLIMIT_NOFILE`, read from `/proc/self/limits`; 1,024 where that can't be
/// read) less `reserve` for everything else it opens (database connections, files).
pub fn connections_the_process_can_hold(reserve: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        })
        .unwrap_or(1024);
    limit.saturating_sub(reserve).max(16)
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

    /// Streams open now, of every client.
    pub fn open(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.values().sum()
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
        let limiter = WindowLimiter::misses();
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
    fn ipv4_clients_of_a_dual_stack_socket_are_counted_one_by_one() {
        let limiter = WindowLimiter::misses();
        let start = Instant::now();
        for _ in 0..MISSES_ALLOWED {
            limiter.record_miss_at("::ffff:127.0.0.20".parse().unwrap(), start);
        }
        assert!(limiter.retry_after_at("127.0.0.20".parse().unwrap(), start).is_some());
        assert!(limiter.retry_after_at("::ffff:127.0.0.21".parse().unwrap(), start).is_none());
        let slots = StreamSlots::new(1);
        let _held = slots.acquire("::ffff:127.0.0.20".parse().unwrap()).unwrap();
        assert!(slots.acquire("::ffff:127.0.0.21".parse().unwrap()).is_some());
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let limiter = WindowLimiter::misses();
        let start = Instant::now();
        for i in 0..MISSES_ALLOWED {
            limiter.record_miss_at(format!("2001:db8:1:2::{i:x}").parse().unwrap(), start);
        }
        assert!(limiter.retry_after_at("2001:db8:1:2::ffff".parse().unwrap(), start).is_some());
        assert!(limiter.retry_after_at("2001:db8:1:3::1".parse().unwrap(), start).is_none());
    }

    #[test]
    fn memory_stays_bounded_and_a_flood_of_addresses_is_refused_as_one() {
        let limiter = WindowLimiter::with_capacity(MISSES_ALLOWED, WINDOW, 100, 10);
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
    fn connections_are_bounded_per_client_and_in_all_and_proxies_only_in_all() {
        let slots = ClientSlots::new(2, 3);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "::ffff:203.0.113.2".parse().unwrap();
        let first = slots.acquire(a, false).expect("first");
        let _second = slots.acquire(a, false).expect("second");
        assert!(slots.acquire(a, false).is_none(), "a third from one client is refused");
        let _other = slots.acquire(b, false).expect("another client");
        assert!(slots.acquire("203.0.113.3".parse().unwrap(), true).is_none(), "the total is reached");
        drop(first);
        assert_eq!(slots.open(), 2);
        let _proxied = slots.acquire(a, true).expect("a proxy's connection counts only in the total");
        assert!(slots.acquire("203.0.113.4".parse().unwrap(), false).is_none());
    }

    #[test]
    fn one_ipv6_host_is_one_client_across_its_slash_64() {
        let slots = StreamSlots::new(1);
        let _held = slots.acquire("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(slots.acquire("2001:db8:1:2:ffff::9".parse().unwrap()).is_none());
        assert!(slots.acquire("2001:db8:1:3::1".parse().unwrap()).is_some());
    }
}
