-- Artifacts are kept in chunks of 256 KiB, so that serving one reads a chunk at a
-- time whatever the file's size (a slice of one large value reads all of it).
CREATE TABLE artifact_chunks (
    artifact_id TEXT NOT NULL REFERENCES artifacts (artifact_id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    bytes       BYTEA NOT NULL,
    PRIMARY KEY (artifact_id, n)
);

-- Chunks are stored as they are: compressing them would make a slice read the
-- whole value again.
ALTER TABLE artifact_chunks ALTER COLUMN bytes SET STORAGE EXTERNAL;

INSERT INTO artifact_chunks (artifact_id, n, bytes)
SELECT a.artifact_id, g.n, substring(a.content FROM (g.n * 262144 + 1)::integer FOR 262144)
FROM artifacts a
CROSS JOIN LATERAL generate_series(0, ((a.size_bytes - 1) / 262144)::integer) AS g (n)
WHERE a.size_bytes > 0;

ALTER TABLE artifacts DROP COLUMN content;
