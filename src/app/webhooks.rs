//! Webhook endpoints: owners register URLs that are told when things happen to
//! their shares, signed the Standard Webhooks way and delivered at least once (by
//! `workers::webhooks`).

use super::error::{Error, Result};
use super::AppState;
use crate::domain::ids::{EventId, WebhookId};
use crate::domain::text::bounded;
use crate::domain::time::Timestamp;
use crate::domain::webhook::{parse_endpoint_url, parse_event_types, EndpointStatus, WebhookEvent};
use crate::storage::{AttemptRecord, OutboxEvent, Owner, WebhookPatch, WebhookRecord};

/// Longest description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 500;

/// An endpoint to register.
#[derive(Debug, Clone)]
pub struct EndpointInput {
    /// Where to send events: an absolute http(s) URL without credentials.
    pub url: String,
    /// The event types to send (at least one).
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Changes to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    /// `active` (also clears `failing`) or `disabled`.
    pub status: Option<String>,
    /// Issue a new signing secret; the old one stops at once.
    pub rotate_secret: bool,
}

/// An endpoint, with its signing secret when it was just made or rotated (the only
/// times it is shown).
pub struct Endpoint {
    pub record: WebhookRecord,
    pub secret: Option<String>,
}

fn checked_description(value: Option<&str>) -> Result<Option<String>> {
    Ok(value
        .map(|d| bounded("description", d, 0, MAX_DESCRIPTION_CHARS, false))
        .transpose()?
        .filter(|d| !d.is_empty()))
}

fn secret(state: &AppState, record: &WebhookRecord) -> String {
    state.link_keys().webhook_secret(record.webhook_id.as_str(), record.secret_version)
}

/// Registers an endpoint of `owner`; its signing secret is in the answer, once.
pub async fn create(state: &AppState, owner: &Owner, input: EndpointInput) -> Result<Endpoint> {
    let url = parse_endpoint_url("url", &input.url)?;
    let events = parse_event_types("events", &input.events)?;
    let description = checked_description(input.description.as_deref())?;
    let record = state
        .db()
        .create_webhook(&owner.owner_id, url.as_str(), description.as_deref(), &events.join(","))
        .await?;
    tracing::info!(webhook_id = %record.webhook_id, "webhook endpoint registered");
    Ok(Endpoint { secret: Some(secret(state, &record)), record })
}

/// `owner`'s endpoints.
pub async fn list(state: &AppState, owner: &Owner) -> Result<Vec<WebhookRecord>> {
    Ok(state.db().list_webhooks(&owner.owner_id).await?)
}

/// One of `owner`'s endpoints, else [`Error::WebhookNotFound`].
pub async fn get(state: &AppState, owner: &Owner, webhook_id: &WebhookId) -> Result<WebhookRecord> {
    state
        .db()
        .get_webhook(&owner.owner_id, webhook_id)
        .await?
        .ok_or_else(|| Error::WebhookNotFound { webhook_id: webhook_id.clone() })
}

/// Changes an endpoint's URL, events, description or status, or rotates its secret.
pub async fn update(
    state: &AppState,
    owner: &Owner,
    webhook_id: &WebhookId,
    changes: EndpointChanges,
) -> Result<Endpoint> {
    let patch = WebhookPatch {
        url: changes.url.as_deref().map(|u| parse_endpoint_url("url", u)).transpose()?.map(|u| u.to_string()),
        description: changes.description.map(|d| checked_description(d.as_deref())).transpose()?,
        event_types: changes
            .events
            .as_deref()
            .map(|e| parse_event_types("events", e))
            .transpose()?
            .map(|e| e.join(",")),
        status: match changes.status.as_deref() {
            None => None,
            Some("active") => Some(EndpointStatus::Active),
            Some("disabled") => Some(EndpointStatus::Disabled),
            Some(_) => return Err(Error::invalid("status", "status must be active or disabled")),
        },
        rotate_secret: changes.rotate_secret,
    };
    let record = state.db().update_webhook(&owner.owner_id, webhook_id, &patch).await?;
    let record = record.ok_or_else(|| Error::WebhookNotFound { webhook_id: webhook_id.clone() })?;
    Ok(Endpoint { secret: changes.rotate_secret.then(|| secret(state, &record)), record })
}

/// Deletes an endpoint with its pending deliveries.
pub async fn delete(state: &AppState, owner: &Owner, webhook_id: &WebhookId) -> Result<()> {
    if state.db().delete_webhook(&owner.owner_id, webhook_id).await? {
        Ok(())
    } else {
        Err(Error::WebhookNotFound { webhook_id: webhook_id.clone() })
    }
}

/// Queues a `webhook.test` event for this endpoint alone; answers its id.
pub async fn send_test(state: &AppState, owner: &Owner, webhook_id: &WebhookId) -> Result<EventId> {
    get(state, owner, webhook_id).await?;
    let test = WebhookEvent::Test { webhook_id: webhook_id.clone(), timestamp: Timestamp::now() };
    let event = OutboxEvent::new(&owner.owner_id, test);
    if !state.db().enqueue_for_endpoint(webhook_id, &event).await? {
        // Deleted since it was looked up.
        return Err(Error::WebhookNotFound { webhook_id: webhook_id.clone() });
    }
    state.signals().webhooks_changed();
    Ok(event.event_id)
}

/// The newest `limit` attempts to deliver to one of `owner`'s endpoints.
pub async fn deliveries(
    state: &AppState,
    owner: &Owner,
    webhook_id: &WebhookId,
    limit: u32,
) -> Result<Vec<AttemptRecord>> {
    get(state, owner, webhook_id).await?;
    Ok(state.db().webhook_attempts(webhook_id, i64::from(limit)).await?)
}
