//! Artifacts: files a task produced, stored in the database itself so every
//! instance serves the same bytes and a task's files live and die with it.

use super::dialect::dispatch;
use super::{none_if_duplicate, Db};
use crate::domain::ids::{ArtifactId, TaskId};
use crate::domain::time::Timestamp;

const ARTIFACT_COLUMNS: &str = "artifact_id, task_id, name, content_type, size_bytes, sha256, created_at";

/// Every change to a task's artifacts moves its `artifacts_version` (in the same
/// transaction), so that what viewers are shown of them can be cached.
const NEW_ARTIFACTS_VERSION: &str =
    "UPDATE tasks SET artifacts_version = artifacts_version + 1 WHERE task_id = $1";

/// An artifact's description, without its bytes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArtifactRecord {
    pub artifact_id: ArtifactId,
    pub task_id: TaskId,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    pub created_at: Timestamp,
}

/// What is needed to serve an artifact, without its bytes (which are read a
/// chunk at a time, [`Db::artifact_bytes`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ArtifactFile {
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_at: Timestamp,
}

/// Artifacts are stored in chunks of this many bytes (the last one shorter):
/// serving one reads a chunk at a time.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// A validated upload.
pub struct NewArtifact<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
}

impl Db {
    /// Stores an artifact; `Ok(None)` when the task already has one of that name.
    pub async fn insert_artifact(
        &self,
        task_id: &TaskId,
        artifact: &NewArtifact<'_>,
    ) -> sqlx::Result<Option<ArtifactRecord>> {
        use sha2::Digest as _;
        let sha256 = hex::encode(sha2::Sha256::digest(artifact.content));
        let sql = format!(
            "INSERT INTO artifacts (artifact_id, task_id, name, content_type, size_bytes, sha256, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ARTIFACT_COLUMNS}"
        );
        // In a block of its own, so that a duplicate name comes back as a value.
        let inserted = dispatch!(self.write(), |pool| async {
            let mut tx = pool.begin().await?;
            let record: ArtifactRecord = sqlx::query_as(&sql)
                .bind(ArtifactId::generate())
                .bind(task_id)
                .bind(artifact.name)
                .bind(artifact.content_type)
                .bind(artifact.content.len() as i64)
                .bind(&sha256)
                .bind(Timestamp::now())
                .fetch_one(&mut *tx)
                .await?;
            for (n, chunk) in artifact.content.chunks(CHUNK_BYTES).enumerate() {
                sqlx::query("INSERT INTO artifact_chunks (artifact_id, n, bytes) VALUES ($1, $2, $3)")
                    .bind(&record.artifact_id)
                    .bind(n as i64)
                    .bind(chunk)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(NEW_ARTIFACTS_VERSION).bind(task_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(record)
        }
        .await);
        none_if_duplicate(inserted)
    }

    /// The artifacts of `task_id`, oldest first.
    pub async fn list_artifacts(&self, task_id: &TaskId) -> sqlx::Result<Vec<ArtifactRecord>> {
        let sql =
            format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE task_id = $1 ORDER BY created_at, name");
        dispatch!(self.read(), |pool| sqlx::query_as(&sql).bind(task_id).fetch_all(pool).await)
    }

    /// What is needed to serve artifact `artifact_id` of `task_id`.
    pub async fn artifact_file(
        &self,
        task_id: &TaskId,
        artifact_id: &ArtifactId,
    ) -> sqlx::Result<Option<ArtifactFile>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_as(
                "SELECT name, content_type, size_bytes, created_at FROM artifacts WHERE task_id = $1 AND artifact_id = $2",
            )
            .bind(task_id)
            .bind(artifact_id)
            .fetch_optional(pool)
            .await
        })
    }

    /// Chunk `n` (from 0) of artifact `artifact_id` of `task_id`: [`CHUNK_BYTES`]
    /// bytes, fewer for the last; `None` past the end or when the artifact is gone.
    pub async fn artifact_chunk(
        &self,
        task_id: &TaskId,
        artifact_id: &ArtifactId,
        n: i64,
    ) -> sqlx::Result<Option<Vec<u8>>> {
        dispatch!(self.read(), |pool| {
            sqlx::query_scalar(
                "SELECT c.bytes FROM artifact_chunks c JOIN artifacts a ON a.artifact_id = c.artifact_id \
                 WHERE a.task_id = $1 AND c.artifact_id = $2 AND c.n = $3",
            )
            .bind(task_id)
            .bind(artifact_id)
            .bind(n)
            .fetch_optional(pool)
            .await
        })
    }

    /// Deletes an artifact; answers whether there was one.
    pub async fn delete_artifact(&self, task_id: &TaskId, artifact_id: &ArtifactId) -> sqlx::Result<bool> {
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "DELETE FROM artifact_chunks WHERE artifact_id = $2 \
                 AND artifact_id IN (SELECT artifact_id FROM artifacts WHERE task_id = $1)",
            )
            .bind(task_id)
            .bind(artifact_id)
            .execute(&mut *tx)
            .await?;
            let deleted = sqlx::query("DELETE FROM artifacts WHERE task_id = $1 AND artifact_id = $2")
                .bind(task_id)
                .bind(artifact_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if deleted {
                sqlx::query(NEW_ARTIFACTS_VERSION).bind(task_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(deleted)
        })
    }
}
