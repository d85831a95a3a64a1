-- Versions that let an instance keep what viewers see of a link in memory and
-- still never serve it stale: a link's version moves with every change an owner
-- makes to it (title, password, permissions, limits, expiry, revocation), and a
-- task's artifacts_version with every artifact added or deleted. A view is
-- counted only against the version it was prepared with.
ALTER TABLE share_links ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN artifacts_version BIGINT NOT NULL DEFAULT 0;
