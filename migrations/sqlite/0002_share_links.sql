-- Share links (seed 001), their views, analytics rollups and password attempts.

-- Service-wide secrets (the key share tokens are derived from, unless configured).
CREATE TABLE service_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE share_links (
    share_link_id   TEXT PRIMARY KEY,
    task_id         TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    owner_id        TEXT NOT NULL REFERENCES owners (owner_id),
    -- SHA-256 of the URL token and of the short code: what a viewer presents is
    -- looked up by hash, and neither is stored in a usable form.
    token_hash      TEXT NOT NULL UNIQUE,
    short_code_hash TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    description     TEXT,
    -- Argon2id PHC string, or NULL when the link has no password.
    password_hash   TEXT,
    expires_at      BIGINT NOT NULL,
    max_views       BIGINT,
    view_count      BIGINT NOT NULL DEFAULT 0,
    unique_views    BIGINT NOT NULL DEFAULT 0,
    first_viewed_at BIGINT,
    last_viewed_at  BIGINT,
    allow_download  BOOLEAN NOT NULL,
    allow_comments  BOOLEAN NOT NULL,
    show_metadata   BOOLEAN NOT NULL,
    notify_on_view  BOOLEAN NOT NULL,
    revoked_at      BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX share_links_owner_created ON share_links (owner_id, created_at DESC, share_link_id DESC);
CREATE INDEX share_links_task ON share_links (task_id);

-- One row per counted view. The client address is kept truncated (IPv4 /24,
-- IPv6 /48); unique viewers are told apart by a keyed hash.
CREATE TABLE share_link_views (
    view_id       TEXT PRIMARY KEY,
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    viewed_at     BIGINT NOT NULL,
    client_prefix TEXT,
    country       TEXT,
    city          TEXT,
    user_agent    TEXT,
    referrer_host TEXT
);

CREATE INDEX share_link_views_link_time ON share_link_views (share_link_id, viewed_at);

-- Rollups, updated in the same transaction as the view, so analytics read a few
-- rows whatever the number of views.
CREATE TABLE share_link_daily_views (
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    day           TEXT NOT NULL,
    views         BIGINT NOT NULL,
    PRIMARY KEY (share_link_id, day)
);

CREATE TABLE share_link_breakdown (
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    dimension     TEXT NOT NULL,
    value         TEXT NOT NULL,
    views         BIGINT NOT NULL,
    PRIMARY KEY (share_link_id, dimension, value)
);

CREATE TABLE share_link_visitors (
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    visitor_hash  TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    PRIMARY KEY (share_link_id, visitor_hash)
);

-- Password attempts that were not (yet) proven right: the brute-force window.
CREATE TABLE share_link_password_attempts (
    attempt_id    TEXT PRIMARY KEY,
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    client_key    TEXT NOT NULL,
    attempted_at  BIGINT NOT NULL
);

CREATE INDEX share_link_password_attempts_window
    ON share_link_password_attempts (share_link_id, attempted_at);
