//! Settings of a running service, whatever set them (flags, environment, tests).

use std::net::SocketAddr;

use ipnet::IpNet;

use crate::storage::DbOptions;

/// Default embedded database: a SQLite file under `./agentshare-data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./agentshare-data/agentshare.db";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Everything `serve` needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    pub database: DbOptions,
    /// Base of every URL the service hands out, without a trailing slash. `None`
    /// means `http://{the bound address}`.
    pub public_url: Option<String>,
    /// Largest JSON request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest artifact upload, in bytes.
    pub max_artifact_bytes: usize,
    /// Largest OTLP export, in bytes (sent, and once decompressed).
    pub max_otlp_bytes: usize,
    /// Base of short URLs (`{base}/{code}`); `None` means `{public_url}/s`.
    pub short_url_base: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed when they are the TCP peer.
    pub trusted_proxies: Vec<IpNet>,
    /// Key that share-link tokens are derived from (64 hex digits). `None`: a key
    /// generated on first start and kept in the database.
    pub link_key: Option<String>,
    /// Directory under which tasks' git repositories live; `None` disables pull requests.
    pub repositories_dir: Option<std::path::PathBuf>,
    /// Internal address ranges webhooks may reach anyway (private, loopback and
    /// link-local destinations are refused otherwise).
    pub webhook_allow_cidrs: Vec<IpNet>,
    /// First retry delay of a failed webhook delivery; later ones double from it.
    pub webhook_retry_base: std::time::Duration,
    /// MaxMind-format City database for viewers' country and city.
    pub geoip_db: Option<std::path::PathBuf>,
    /// SMTP server for outgoing mail (`smtp://host:port`, `smtps://user:pass@host`).
    pub smtp_url: Option<String>,
    /// Sender of outgoing mail.
    pub mail_from: String,
    /// Where mail is written when no SMTP server is configured.
    pub mail_dir: std::path::PathBuf,
    /// Shortest time between two view emails about one link (later views wait for a digest).
    pub view_mail_interval: std::time::Duration,
    /// Event streams one client (address) may hold open at once, per instance.
    pub max_streams_per_client: usize,
    /// Connections one client (an IPv4 address or an IPv6 /64) may hold open at once.
    pub max_connections_per_client: usize,
    /// Connections held open at once, in all; `None`: what the process's limit of
    /// open files allows, less what the database and files need.
    pub max_connections: Option<usize>,
    /// Longest a request may take, body upload included, before it is abandoned
    /// (408); event streams are bounded by this only until their first byte.
    pub request_timeout: std::time::Duration,
    /// The slowest a download may go on average, in bytes per second: one that
    /// takes longer than the request timeout plus its size at this rate has its
    /// connection closed.
    pub min_download_bytes_per_sec: u64,
    /// Days raw view rows are kept (analytics come from rollups and stay whole);
    /// `None` keeps them for good.
    pub view_retention_days: Option<u32>,
    /// How often the retention worker prunes what has run out.
    pub retention_interval: std::time::Duration,
    /// Where Prometheus scrapes `/metrics`, on a listener of its own; `None`
    /// serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// How often a live feed looks at its task when nothing told it of a
    /// change (changes on other instances are announced on PostgreSQL).
    pub live_poll: std::time::Duration,
}

impl Settings {
    /// Settings for a service on `listen` using the database at `database_url`, with
    /// every other setting at its default.
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> Settings {
        Settings {
            listen,
            database: DbOptions { url: database_url.into(), max_connections: 16 },
            public_url: None,
            max_body_bytes: 2 * 1024 * 1024,
            max_otlp_bytes: 16 * 1024 * 1024,
            max_artifact_bytes: 25 * 1024 * 1024,
            short_url_base: None,
            trusted_proxies: Vec::new(),
            link_key: None,
            repositories_dir: None,
            webhook_allow_cidrs: Vec::new(),
            webhook_retry_base: std::time::Duration::from_secs(5),
            geoip_db: None,
            smtp_url: None,
            mail_from: "agentshare <agentshare@localhost>".into(),
            mail_dir: "agentshare-data/mail".into(),
            view_mail_interval: std::time::Duration::from_secs(3600),
            max_streams_per_client: 8,
            max_connections_per_client: 256,
            max_connections: None,
            request_timeout: std::time::Duration::from_secs(30),
            min_download_bytes_per_sec: crate::limits::MIN_BYTES_PER_SEC,
            view_retention_days: None,
            retention_interval: std::time::Duration::from_secs(3600),
            metrics_listen: None,
            live_poll: std::time::Duration::from_secs(1),
        }
    }
}

/// Checks and normalises a public URL: http(s), no query or fragment, no trailing slash.
pub fn parse_public_url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!("{text:?} is not a base URL (host, optional port and path only)"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_normalised() {
        assert_eq!(parse_public_url("https://share.example.com/").unwrap(), "https://share.example.com");
        assert_eq!(parse_public_url("http://h:9/base").unwrap(), "http://h:9/base");
        assert!(parse_public_url("share.example.com").is_err());
        assert!(parse_public_url("https://x/?a=b").is_err());
    }
}
