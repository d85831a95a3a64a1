-- Which owners may link their tasks to which repositories under
-- --repositories-dir (`agentshare repositories grant|revoke|list`). `repository`
-- is the repository's path relative to that directory, after following symlinks,
-- so two spellings of one repository are one grant.
CREATE TABLE repository_grants (
    owner_id   TEXT NOT NULL REFERENCES owners (owner_id),
    repository TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (owner_id, repository)
);

CREATE INDEX repository_grants_repository ON repository_grants (repository);

-- Tasks linked before grants existed keep working where one owner alone uses a
-- repository; a repository several owners link is granted to none of them until
-- the operator decides.
INSERT INTO repository_grants (owner_id, repository, granted_at)
SELECT MIN(owner_id), repository, MIN(created_at) FROM tasks
WHERE repository IS NOT NULL
GROUP BY repository
HAVING COUNT(DISTINCT owner_id) = 1;
