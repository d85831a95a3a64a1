-- Webhooks: owners' endpoints, the outbox of events, per-endpoint deliveries and
-- every delivery attempt.

CREATE TABLE webhook_endpoints (
    webhook_id           TEXT PRIMARY KEY,
    owner_id             TEXT NOT NULL REFERENCES owners (owner_id),
    url                  TEXT NOT NULL,
    description          TEXT,
    -- Comma-separated event types, e.g. `share_link.viewed,share_link.created`.
    event_types          TEXT NOT NULL,
    -- The signing secret derives from the id and this version under the link key.
    secret_version       BIGINT NOT NULL DEFAULT 1,
    -- `active`, `failing` (deliveries keep failing) or `disabled` (by the owner).
    status               TEXT NOT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_id);

-- The outbox: written in the same transaction as what caused the event.
CREATE TABLE webhook_events (
    event_id   TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    delivery_id     TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES webhook_events (event_id) ON DELETE CASCADE,
    webhook_id      TEXT NOT NULL REFERENCES webhook_endpoints (webhook_id) ON DELETE CASCADE,
    -- `pending`, `delivered` or `failed` (gave up after the last retry).
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- A worker's lease: while in the future, no other worker takes the delivery.
    locked_until    BIGINT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);

CREATE TABLE webhook_attempts (
    attempt_id   TEXT PRIMARY KEY,
    delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
    webhook_id   TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    status_code  BIGINT,
    latency_ms   BIGINT NOT NULL,
    error        TEXT
);

CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, attempted_at);

-- When `share_link.expired` was put in the outbox for the link's current expiry
-- (NULL: not yet); reset when the owner changes the expiry or the view limit.
ALTER TABLE share_links ADD COLUMN expiry_notified_at BIGINT;

-- What the expiry sweep looks through: live links not yet announced as expired.
CREATE INDEX share_links_expiry_pending ON share_links (expires_at)
    WHERE expiry_notified_at IS NULL AND revoked_at IS NULL;
