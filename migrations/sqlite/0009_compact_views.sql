-- One B-tree per view instead of three: views are read by link and time (and
-- deleted with their link), never by id, so the table is keyed by
-- (share_link_id, viewed_at, view_id) and keeps no separate index. A popular
-- link's new views land next to each other, at the end of its range.
CREATE TABLE share_link_views_compact (
    share_link_id TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    viewed_at     BIGINT NOT NULL,
    view_id       TEXT NOT NULL,
    client_prefix TEXT,
    country       TEXT,
    city          TEXT,
    user_agent    TEXT,
    referrer_host TEXT,
    PRIMARY KEY (share_link_id, viewed_at, view_id)
) WITHOUT ROWID;

INSERT INTO share_link_views_compact
    (share_link_id, viewed_at, view_id, client_prefix, country, city, user_agent, referrer_host)
SELECT share_link_id, viewed_at, view_id, client_prefix, country, city, user_agent, referrer_host
FROM share_link_views;

DROP TABLE share_link_views;
ALTER TABLE share_link_views_compact RENAME TO share_link_views;
