-- Viewers' comments on share links with allow_comments. A comment is shown only
-- once its author has clicked the verification link mailed to them.
CREATE TABLE share_link_comments (
    comment_id    TEXT PRIMARY KEY,
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    content       TEXT NOT NULL,
    -- SHA-256 of the secret in the verification link.
    verify_hash   TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    verified_at   BIGINT,
    deleted_at    BIGINT
);

CREATE INDEX share_link_comments_link ON share_link_comments (share_link_id, created_at);
