-- Owners, API keys, tasks, their events and artifacts.
-- Every timestamp is milliseconds since the Unix epoch (UTC), stored as an integer
-- so that both backends compare and order them the same way.

CREATE TABLE owners (
    owner_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    email      TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL REFERENCES owners (owner_id),
    -- SHA-256 of the whole key, hex: keys are 256-bit random secrets, so a fast hash
    -- is enough and lets every request look its key up by index.
    key_hash   TEXT NOT NULL UNIQUE,
    -- The first characters of the key, shown by `keys list` so owners can tell keys apart.
    key_prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE INDEX api_keys_owner ON api_keys (owner_id);

CREATE TABLE tasks (
    task_id        TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES owners (owner_id),
    title          TEXT NOT NULL,
    prompt         TEXT,
    agent          TEXT,
    machine_id     TEXT,
    status         TEXT NOT NULL,
    last_event_seq BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT
);

CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at DESC, task_id DESC);

CREATE TABLE task_events (
    task_id    TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    name       TEXT,
    content    TEXT NOT NULL,
    private    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (task_id, seq)
);

CREATE TABLE artifacts (
    artifact_id  TEXT PRIMARY KEY,
    task_id      TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    content      BLOB NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (task_id, name)
);
