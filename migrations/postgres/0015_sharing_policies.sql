-- Each owner's sharing policy: the rules every new or changed share link and
-- every new share code of theirs must meet. An owner without a row has the
-- default policy (no maximum lifetime, no password or audience required, share
-- codes may grant write permissions).
CREATE TABLE sharing_policies (
    owner_id               TEXT PRIMARY KEY REFERENCES owners (owner_id),
    -- Days a link may live at most (1 to 3650); NULL: no maximum.
    max_link_lifetime_days BIGINT,
    require_password       BOOLEAN NOT NULL,
    require_audience       BOOLEAN NOT NULL,
    allow_share_code_write BOOLEAN NOT NULL,
    updated_at             BIGINT NOT NULL
);
