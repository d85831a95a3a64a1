//! The webhook worker: delivers the outbox.
//!
//! Each instance runs one. It leases due deliveries (so with several instances on
//! one PostgreSQL each delivery is attempted by one worker at a time), sends them
//! signed the Standard Webhooks way, and records every attempt. A failed attempt is
//! retried with exponential backoff and jitter over about a day, later if the
//! receiver's `Retry-After` asks for it. Nothing is lost when an instance dies: its
//! leases run out and another worker (or the restarted one) picks the deliveries up.
//!
//! Destinations are resolved first and refused when they are private, loopback or
//! link-local (unless `--webhook-allow-cidr` allows them); the connection then goes
//! to the address that was checked, so DNS can't be switched in between, and
//! redirects are not followed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use rand::Rng as _;

use crate::app::state::Signals;
use crate::app::AppState;
use crate::domain::share::LinkKeys;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{self, ATTEMPT_TIMEOUT};
use crate::metrics::{DeliveryOutcome, Metrics};
use crate::storage::{AttemptResult, Db, DueDelivery};

/// How long a claimed delivery stays leased to one worker: longer than an attempt
/// can take, so a live worker always finishes first.
const LEASE: Duration = Duration::from_secs(ATTEMPT_TIMEOUT.as_secs() + 5);
/// Deliveries claimed at once.
const BATCH: i64 = 32;
/// Longest sleep between looks at the outbox (other instances' events reach this
/// worker this way).
const POLL: Duration = Duration::from_secs(1);
/// How often links whose time ran out are looked for (`share_link.expired`).
const EXPIRY_SWEEP: Duration = Duration::from_secs(5);
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// What the worker uses.
pub struct Deliverer {
    db: Db,
    /// Signing secrets derive from the link key.
    keys: LinkKeys,
    /// Internal ranges deliveries may reach anyway (`--webhook-allow-cidr`).
    allowed: Vec<IpNet>,
    /// The first retry delay; later ones double from it.
    retry_base: Duration,
    /// Wakes the worker when this instance puts deliveries in the outbox.
    signals: Signals,
    metrics: Metrics,
}

impl Deliverer {
    /// The worker of the service `state` is.
    pub fn of(state: &AppState) -> Deliverer {
        Deliverer {
            db: state.db().clone(),
            keys: state.link_keys().clone(),
            allowed: state.settings().webhook_allow_cidrs.clone(),
            retry_base: state.settings().webhook_retry_base,
            signals: state.signals().clone(),
            metrics: state.metrics().clone(),
        }
    }
}

/// Runs the worker until the task is dropped or aborted.
pub async fn run(worker: Deliverer) {
    let mut next_sweep = Instant::now();
    loop {
        if Instant::now() >= next_sweep {
            next_sweep = Instant::now() + EXPIRY_SWEEP;
            match worker.db.notice_expired_links(100).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(links = n, "expired share links noticed"),
                Err(err) => tracing::warn!(error = %err, "cannot look for expired links"),
            }
        }
        let notified = worker.signals.webhooks_notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let lease_until = Timestamp(Timestamp::now().millis() + LEASE.as_millis() as i64);
        match worker.db.claim_deliveries(lease_until, BATCH).await {
            Ok(due) if !due.is_empty() => {
                futures_util::future::join_all(due.iter().map(|d| deliver(&worker, d))).await;
                continue;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "cannot read the webhook outbox"),
        }
        let wait = match worker.db.next_delivery_due().await {
            Ok(Some(at)) => Duration::from_millis(
                (at.millis() - Timestamp::now().millis()).clamp(0, POLL.as_millis() as i64) as u64,
            ),
            _ => POLL,
        };
        let _ = tokio::time::timeout(wait, notified).await;
    }
}

async fn deliver(worker: &Deliverer, delivery: &DueDelivery) {
    let started = Instant::now();
    let outcome = send(worker, delivery).await;
    let latency_ms = started.elapsed().as_millis() as i64;
    let attempt = delivery.attempts + 1;
    let jitter = rand::rng().random_range(-1.0..=1.0);
    let base = worker.retry_base;
    let backoff = webhook::backoff(attempt, jitter).mul_f64(base.as_secs_f64() / 5.0);
    let result = match outcome {
        Ok((status, retry_after)) => {
            let succeeded = (200..300).contains(&status);
            let delay = retry_after.map_or(backoff, |asked| asked.min(MAX_RETRY_AFTER).max(backoff));
            AttemptResult {
                status_code: Some(status),
                latency_ms,
                error: (!succeeded).then(|| format!("the endpoint answered {status}")),
                succeeded,
                retry_at: after(delay),
            }
        }
        Err(error) => AttemptResult {
            status_code: None,
            latency_ms,
            error: Some(error),
            succeeded: false,
            retry_at: after(backoff),
        },
    };
    worker.metrics.delivery(match (result.succeeded, result.status_code) {
        (true, _) => DeliveryOutcome::Delivered,
        (false, Some(_)) => DeliveryOutcome::Refused,
        (false, None) => DeliveryOutcome::Failed,
    });
    tracing::info!(
        webhook_id = %delivery.webhook_id,
        event_id = %delivery.event_id,
        event_type = %delivery.event_type,
        attempt,
        status = result.status_code,
        succeeded = result.succeeded,
        "webhook attempt"
    );
    if let Err(err) = worker.db.finish_attempt(delivery, &result).await {
        // The lease runs out and the delivery is attempted again: at least once.
        tracing::warn!(error = %err, delivery_id = %delivery.delivery_id, "cannot record a webhook attempt");
    }
}

fn after(delay: Duration) -> Timestamp {
    Timestamp(Timestamp::now().millis() + delay.as_millis() as i64)
}

/// Sends one delivery; answers the status code and any `Retry-After`, or why it
/// could not be sent.
async fn send(worker: &Deliverer, delivery: &DueDelivery) -> Result<(u16, Option<Duration>), String> {
    let url = webhook::parse_endpoint_url("url", &delivery.url).map_err(|e| e.issue)?;
    let host = url.host_str().ok_or("the URL has no host")?.to_owned();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let allowed = &worker.allowed;
    // One answer whether the name does not resolve or resolves only to internal
    // addresses: what the attempts say must not map the internal network.
    let unreachable = || format!("{host} does not resolve to an address webhooks may reach");
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|_| unreachable())?
        .collect();
    let address = addresses
        .iter()
        .find(|a| webhook::may_deliver_to(a.ip(), allowed))
        .copied()
        .ok_or_else(unreachable)?;
    let client = reqwest::Client::builder()
        // The connection goes to the address checked above, never through a proxy of
        // the environment (`HTTP_PROXY`), which would resolve the name itself.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(ATTEMPT_TIMEOUT)
        .resolve(&host, address)
        .user_agent(concat!("agentshare-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| format!("cannot build the request: {err}"))?;
    let secret = worker.keys.webhook_secret(delivery.webhook_id.as_str(), delivery.secret_version);
    let signer = standardwebhooks::Webhook::new(&secret).map_err(|err| format!("cannot sign: {err:?}"))?;
    let timestamp = Timestamp::now().millis() / 1000;
    let signature = signer
        .sign(delivery.event_id.as_str(), timestamp, delivery.payload.as_bytes())
        .map_err(|err| format!("cannot sign: {err:?}"))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", delivery.event_id.as_str())
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|err| format!("request failed: {}", without_url(&err)))?;
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Ok((response.status().as_u16(), retry_after))
}

/// An error's text without the URL (which may carry secrets of the receiver).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    kind.to_owned()
}
