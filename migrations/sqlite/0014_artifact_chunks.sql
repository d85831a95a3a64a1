-- Artifacts are kept in chunks of 256 KiB, so that serving one reads a chunk at a
-- time whatever the file's size (a slice of one large value reads all of it).
CREATE TABLE artifact_chunks (
    artifact_id TEXT NOT NULL REFERENCES artifacts (artifact_id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    bytes       BLOB NOT NULL,
    PRIMARY KEY (artifact_id, n)
);

WITH RECURSIVE parts (artifact_id, n, size_bytes) AS (
    SELECT artifact_id, 0, size_bytes FROM artifacts WHERE size_bytes > 0
    UNION ALL
    SELECT artifact_id, n + 1, size_bytes FROM parts WHERE (n + 1) * 262144 < size_bytes
)
INSERT INTO artifact_chunks (artifact_id, n, bytes)
SELECT p.artifact_id, p.n, substr(a.content, p.n * 262144 + 1, 262144)
FROM parts p JOIN artifacts a ON a.artifact_id = p.artifact_id;

ALTER TABLE artifacts DROP COLUMN content;
