-- Whether secrets an agent printed (API keys, tokens, private keys, passwords in
-- URLs) are masked for viewers of a link; on unless the owner turns it off.
ALTER TABLE share_links ADD COLUMN mask_secrets BOOLEAN NOT NULL DEFAULT TRUE;
