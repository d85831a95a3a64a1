-- Emails to owners about views of links with notify_on_view: views waiting to be
-- told, per link. The first view is mailed at once; later ones are gathered into a
-- digest at most once an hour, so a popular link doesn't flood the inbox.
CREATE TABLE view_mail (
    share_link_id    TEXT PRIMARY KEY REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    pending_views    BIGINT NOT NULL,
    first_pending_at BIGINT,
    last_sent_at     BIGINT
);
