-- What a link hides from viewers beyond secrets (`mask_secrets`): e-mail addresses,
-- the user names in local paths and the owner's patterns, as JSON; NULL for nothing.
ALTER TABLE share_links ADD COLUMN redaction TEXT;
