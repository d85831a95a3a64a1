-- When a comment verification mail last went to each address: one per address
-- per period, so comments can't be used to mail strangers in bulk. Addresses are
-- kept as SHA-256 of their lower-cased form; rows older than the period are
-- swept as new mail is sent.
CREATE TABLE comment_mail (
    address_hash TEXT PRIMARY KEY,
    sent_at      BIGINT NOT NULL
);

CREATE INDEX comment_mail_sent ON comment_mail (sent_at);
