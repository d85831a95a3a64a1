-- Views are read by link and time (and deleted with their link), never by id:
-- the index on view_id only cost space and time with every view.
ALTER TABLE share_link_views DROP CONSTRAINT share_link_views_pkey;
