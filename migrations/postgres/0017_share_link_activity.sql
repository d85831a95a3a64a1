-- What viewers did with a link besides spending a view (which share_link_views
-- holds): pages shown, wrong passwords, downloads, comments, refusals. The log of
-- a link reads both tables, newest first, by (at, id): the key below makes a page
-- of it one range read.
CREATE TABLE share_link_activity (
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    at            BIGINT NOT NULL,
    activity_id   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    -- Truncated like a view's: IPv4 /24, IPv6 /48.
    client_prefix TEXT,
    user_agent    TEXT,
    -- A verified address, for the kinds that have one.
    email         TEXT,
    -- What was downloaded: an artifact's name, or every file as a zip.
    file          TEXT,
    comment_id    TEXT,
    -- Kind, client prefix and minute of the kinds anyone can repeat at will: one
    -- entry each per minute at most. NULL (never equal to another) for the rest.
    throttle_key  TEXT,
    PRIMARY KEY (share_link_id, at, activity_id),
    UNIQUE (share_link_id, throttle_key)
);
