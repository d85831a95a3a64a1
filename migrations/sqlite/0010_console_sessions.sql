-- Signed-in browsers of the owner console. A session is opened by presenting an
-- API key and lasts until it expires, is ended (sign out) or its key is revoked.
CREATE TABLE console_sessions (
    session_id TEXT PRIMARY KEY,
    -- SHA-256 of the secret kept in the browser's cookie.
    token_hash TEXT NOT NULL UNIQUE,
    owner_id   TEXT NOT NULL REFERENCES owners (owner_id),
    key_id     TEXT NOT NULL REFERENCES api_keys (key_id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at   BIGINT
);

CREATE INDEX console_sessions_owner ON console_sessions (owner_id, expires_at);
