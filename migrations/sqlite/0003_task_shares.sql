-- Task share codes (seed 003), the viewer sessions they issue, and pull requests.

ALTER TABLE tasks ADD COLUMN repository TEXT;
ALTER TABLE tasks ADD COLUMN base_branch TEXT;
ALTER TABLE tasks ADD COLUMN require_pr_approval BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tasks ADD COLUMN last_pr_number BIGINT NOT NULL DEFAULT 0;

-- Who appended an event: `owner` (the owner's API key, i.e. the agent platform) or
-- `viewer` (someone holding a share code, through a viewer session).
ALTER TABLE task_events ADD COLUMN author TEXT NOT NULL DEFAULT 'owner';

CREATE TABLE task_shares (
    task_share_id    TEXT PRIMARY KEY,
    task_id          TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    owner_id         TEXT NOT NULL REFERENCES owners (owner_id),
    -- SHA-256 of the share code; the code itself derives from the id under the link key.
    code_hash        TEXT NOT NULL UNIQUE,
    can_send_message BOOLEAN NOT NULL,
    can_create_pr    BOOLEAN NOT NULL,
    can_approve_pr   BOOLEAN NOT NULL,
    can_view_pr      BOOLEAN NOT NULL,
    can_merge_pr     BOOLEAN NOT NULL,
    expires_at       BIGINT,
    sessions_issued  BIGINT NOT NULL DEFAULT 0,
    last_used_at     BIGINT,
    created_at       BIGINT NOT NULL,
    revoked_at       BIGINT
);

-- At most one live code per task: a new one replaces (rotates) the old.
CREATE UNIQUE INDEX task_shares_one_live ON task_shares (task_id) WHERE revoked_at IS NULL;

CREATE TABLE viewer_sessions (
    session_id    TEXT PRIMARY KEY,
    task_share_id TEXT NOT NULL REFERENCES task_shares (task_share_id) ON DELETE CASCADE,
    task_id       TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE INDEX viewer_sessions_share ON viewer_sessions (task_share_id);

-- Code exchanges per client, for rate limiting across instances.
CREATE TABLE share_code_exchanges (
    exchange_id  TEXT PRIMARY KEY,
    client_key   TEXT NOT NULL,
    attempted_at BIGINT NOT NULL
);

CREATE INDEX share_code_exchanges_client ON share_code_exchanges (client_key, attempted_at);

CREATE TABLE pull_requests (
    pr_id         TEXT PRIMARY KEY,
    task_id       TEXT NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    number        BIGINT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT,
    head_branch   TEXT NOT NULL,
    base_branch   TEXT NOT NULL,
    status        TEXT NOT NULL,
    author        TEXT NOT NULL,
    merge_commit  TEXT,
    -- The diff as it was when merged (JSON), since afterwards the branches no longer differ.
    merged_diff   TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    merged_at     BIGINT,
    UNIQUE (task_id, number)
);

CREATE TABLE pull_request_approvals (
    pr_id       TEXT NOT NULL REFERENCES pull_requests (pr_id) ON DELETE CASCADE,
    approver    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (pr_id, approver)
);
