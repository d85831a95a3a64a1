//! The outbox: events for owners' webhook endpoints, written by [`write`] inside
//! the transaction of whatever caused them (so an event and its cause commit or
//! roll back together), with one delivery per endpoint that wants it. The webhook
//! worker delivers them (see `storage::webhooks` and `workers::webhooks`).

use super::dialect::Variants;
use super::sql::{Statements, Value};
use crate::domain::ids::{EventId, OwnerId};
use crate::domain::time::Timestamp;
use crate::domain::webhook::WebhookEvent;

/// An event to put in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    /// `msg_<hex>`: the `webhook-id` receivers use to drop duplicates.
    pub event_id: EventId,
    pub owner_id: OwnerId,
    pub event: WebhookEvent,
}

impl OutboxEvent {
    pub fn new(owner_id: &OwnerId, event: WebhookEvent) -> OutboxEvent {
        OutboxEvent { event_id: EventId::generate(), owner_id: owner_id.clone(), event }
    }
}

/// Inserts the event, if any endpoint of its owner wants it.
const ENQUEUE_EVENT: &str =
    "INSERT INTO webhook_events (event_id, owner_id, event_type, payload, created_at) \
     SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM webhook_endpoints \
     WHERE owner_id = $2 AND status <> 'disabled' AND (',' || event_types || ',') LIKE ('%,' || $3 || ',%'))";

/// Inserts the event for one endpoint, whatever it subscribed to (test events).
const ENQUEUE_EVENT_FOR_ONE: &str =
    "INSERT INTO webhook_events (event_id, owner_id, event_type, payload, created_at) VALUES ($1, $2, $3, $4, $5)";

macro_rules! fan_out {
    () => {
        "INSERT INTO webhook_deliveries (delivery_id, event_id, webhook_id, status, next_attempt_at, created_at) \
         SELECT $1 || ':' || webhook_id, $1, webhook_id, 'pending', $4, $4 FROM webhook_endpoints \
         WHERE owner_id = $2 AND status <> 'disabled' AND (',' || event_types || ',') LIKE ('%,' || $3 || ',%') \
         AND EXISTS (SELECT 1 FROM webhook_events WHERE event_id = $1)"
    };
}

macro_rules! one_delivery {
    () => {
        "INSERT INTO webhook_deliveries (delivery_id, event_id, webhook_id, status, next_attempt_at, created_at) \
         SELECT $1 || ':' || webhook_id, $1, webhook_id, 'pending', $3, $3 FROM webhook_endpoints \
         WHERE webhook_id = $2"
    };
}

/// One delivery per endpoint of the owner that wants the event.
///
/// On PostgreSQL, an endpoint deleted by a transaction that commits while a
/// delivery to it is being written would break the delivery's foreign key (a 500
/// for whatever caused the event); `FOR KEY SHARE` waits for that transaction and
/// then skips the deleted endpoint. SQLite has one writer, so nothing commits in
/// between.
const FAN_OUT: Variants = Variants { sqlite: fan_out!(), postgres: concat!(fan_out!(), " FOR KEY SHARE") };

/// One delivery for the endpoint `$2`, if it still exists (locked as [`FAN_OUT`]).
const ONE_DELIVERY: Variants =
    Variants { sqlite: one_delivery!(), postgres: concat!(one_delivery!(), " FOR KEY SHARE") };

/// Writes `event` within the transaction `tx`, with a delivery for every endpoint
/// of its owner that wants it: the one writer of the outbox.
pub(crate) async fn write<S: Statements>(
    tx: &mut S,
    event: &OutboxEvent,
    at: Timestamp,
) -> Result<(), S::Error> {
    let payload = event.event.payload();
    let (id, owner, kind) = (
        Value::Text(event.event_id.as_str()),
        Value::Text(event.owner_id.as_str()),
        Value::Text(event.event.event_type()),
    );
    let at = Value::Int(at.millis());
    let stored = tx.execute(ENQUEUE_EVENT, &[id, owner, kind, Value::Text(&payload), at]).await?;
    // No endpoint wants the event: there is nothing to deliver.
    if stored > 0 {
        let fan_out = tx.backend().sql(&FAN_OUT);
        tx.execute(fan_out, &[id, owner, kind, at]).await?;
    }
    Ok(())
}

/// Writes `event` for the one endpoint `webhook_id`; answers false, having written
/// nothing the caller should keep, when the endpoint no longer exists (roll back).
pub(crate) async fn write_for_endpoint<S: Statements>(
    tx: &mut S,
    event: &OutboxEvent,
    webhook_id: &str,
    at: Timestamp,
) -> Result<bool, S::Error> {
    let payload = event.event.payload();
    let id = Value::Text(event.event_id.as_str());
    let at = Value::Int(at.millis());
    let values = [
        id,
        Value::Text(event.owner_id.as_str()),
        Value::Text(event.event.event_type()),
        Value::Text(&payload),
        at,
    ];
    tx.execute(ENQUEUE_EVENT_FOR_ONE, &values).await?;
    let one = tx.backend().sql(&ONE_DELIVERY);
    Ok(tx.execute(one, &[id, Value::Text(webhook_id), at]).await? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::dialect::Backend;

    #[test]
    fn postgres_locks_the_endpoints_a_delivery_refers_to_and_sqlite_needs_not() {
        for (name, variants) in [("fan out", &FAN_OUT), ("one delivery", &ONE_DELIVERY)] {
            assert_eq!(
                Backend::Postgres.sql(variants),
                format!("{} FOR KEY SHARE", Backend::Sqlite.sql(variants)),
                "{name}"
            );
        }
    }
}
