-- A snapshot link shows the task as it was when the link was made: its outputs up
-- to this event sequence number, and its files made before the link. NULL: live.
ALTER TABLE share_links ADD COLUMN snapshot_seq BIGINT;
