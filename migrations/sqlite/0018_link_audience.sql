-- Who may open a link: NULL for anyone holding the URL, else JSON listing the
-- addresses or domains whose holders may open it once they prove their address.
ALTER TABLE share_links ADD COLUMN audience TEXT;

-- The address a view's viewer proved, for a link with an audience.
ALTER TABLE share_link_views ADD COLUMN viewer_email TEXT;

-- The code last mailed to an address of a link's audience: only its keyed hash,
-- with the tries it has left and how many mails the address was sent lately.
CREATE TABLE link_verifications (
    share_link_id   TEXT NOT NULL REFERENCES share_links (share_link_id) ON DELETE CASCADE,
    address_hash    TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    tries_left      INTEGER NOT NULL,
    mails_sent      INTEGER NOT NULL,
    window_start    BIGINT NOT NULL,
    PRIMARY KEY (share_link_id, address_hash)
);
