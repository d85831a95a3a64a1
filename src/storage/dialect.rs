//! The one place where the two database engines differ.
//!
//! Every query is written once, in SQL both engines accept (`$1` placeholders,
//! `RETURNING`, integer millisecond timestamps), and [`dispatch!`] runs it on
//! whichever pool (or [`dispatch_tx!`] transaction) is at hand: the body is compiled
//! once per engine, so one SQL string and one row type serve both. Where the SQL
//! itself must differ, the statement is written as [`Variants`] next to its use, and
//! [`Backend::sql`] picks the text. How statements built at run time are bound and how
//! a batch inserts many rows differ too: [`Tx`] does that here, for both engines;
//! and so do connecting, migrating and the pools ([`Db`]).

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use super::sql::{insert_in_chunks, unnest_sql, Column, Rows, Statements, Value};
use crate::domain::time::Timestamp;
use crate::metrics::PoolUse;

/// The file of a `sqlite://PATH` (or `sqlite:PATH`) URL; `None` for any other URL,
/// and for an in-memory or empty one.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// The migrations of each engine, built into the binary.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The text of a statement that differs between the engines.
    pub(crate) fn sql(self, variants: &Variants) -> &'static str {
        match self {
            Backend::Sqlite => variants.sqlite,
            Backend::Postgres => variants.postgres,
        }
    }
}

/// How long a SQLite connection waits for the write lock (held by another process,
/// or by the other of the pool's writer and the view writer) before it fails.
/// The view writer's connection is set up as the pool's are: WAL (persistent, set
/// by the pool), `synchronous = NORMAL`, foreign keys on, and this timeout.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the service's database; cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite {
        /// Readers; many connections, WAL lets them run beside the writer.
        read: SqlitePool,
        /// The single writer connection.
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite://PATH` or `postgres://...`.
    pub url: String,
    /// Upper bound on pooled connections (PostgreSQL, and SQLite readers).
    pub max_connections: u32,
}

impl Db {
    /// Connects to the database named by `options.url`, creating a SQLite file (and
    /// its directory) when it does not exist yet. Does not run migrations.
    pub async fn connect(options: &DbOptions) -> anyhow::Result<Db> {
        let url = options.url.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).context("invalid PostgreSQL URL")?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let Some(path) = sqlite_file(url) else {
                anyhow::bail!(
                    "the SQLite database must be a file path, e.g. sqlite://./agentshare-data/agentshare.db"
                );
            };
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
            }
            let connect = SqliteConnectOptions::from_str(url)
                .context("invalid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL: a committed transaction survives a crash of the process;
                // only an OS crash or power loss can lose the last few.
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                // A local file does not go stale: no ping before every write.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect.clone())
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            let read = SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(2))
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(connect.read_only(true))
                .await
                .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
            Ok(Db::Sqlite { read, write })
        } else {
            anyhow::bail!("unsupported database URL (expected sqlite://PATH or postgres://...)")
        }
    }

    /// Brings the schema up to date. Safe to run from several instances at once:
    /// PostgreSQL migrations take an advisory lock.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// What keeps the schema from being exactly the one this build migrates to, if
    /// anything: a migration not applied, one that failed, or one this build does
    /// not know (a newer build migrated the database).
    pub async fn schema_problem(&self) -> sqlx::Result<Option<String>> {
        let migrator = match self {
            Db::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Db::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let applied: Vec<(i64, bool)> = dispatch!(self.read(), |pool| {
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(pool)
                .await
        })?;
        if let Some((version, _)) = applied.iter().find(|(_, success)| !success) {
            return Ok(Some(format!("migration {version} failed")));
        }
        let known: std::collections::BTreeSet<i64> =
            migrator.iter().filter(|m| !m.migration_type.is_down_migration()).map(|m| m.version).collect();
        let done: std::collections::BTreeSet<i64> = applied.iter().map(|(version, _)| *version).collect();
        Ok(if let Some(version) = known.difference(&done).next() {
            Some(format!("migration {version} is not applied"))
        } else {
            done.difference(&known).next().map(|version| {
                format!("the database has migration {version}, which this build does not know (a newer build migrated it)")
            })
        })
    }

    /// The service-wide secret called `name`, created from `fresh` on first use. All
    /// instances sharing a database agree on it.
    pub async fn service_secret(&self, name: &str, fresh: &str) -> sqlx::Result<String> {
        dispatch!(self.write(), |pool| {
            sqlx::query(
                "INSERT INTO service_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .bind(Timestamp::now())
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT value FROM service_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await
        })
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Answers whether the database can serve a query right now.
    pub async fn ping(&self) -> bool {
        dispatch!(self.read(), |pool| sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Each pool's connections, by role: `read` and `write` on SQLite, `all` on
    /// PostgreSQL (one pool serves both).
    pub fn pool_use(&self) -> Vec<(&'static str, PoolUse)> {
        fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolUse {
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
            PoolUse { open: pool.size(), idle, max: pool.options().get_max_connections() }
        }
        match self {
            Db::Sqlite { read, write } => vec![("read", of(read)), ("write", of(write))],
            Db::Postgres(pool) => vec![("all", of(pool))],
        }
    }

    /// Waits for in-flight queries and closes every connection.
    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    pub(crate) fn read(&self) -> Conn<'_> {
        match self {
            Db::Sqlite { read, .. } => Conn::Sqlite(read),
            Db::Postgres(pool) => Conn::Postgres(pool),
        }
    }

    pub(crate) fn write(&self) -> Conn<'_> {
        match self {
            Db::Sqlite { write, .. } => Conn::Sqlite(write),
            Db::Postgres(pool) => Conn::Postgres(pool),
        }
    }
}

/// A statement whose text differs between the engines (a locking clause that only
/// PostgreSQL has, say): both texts, side by side where the statement is used.
pub(crate) struct Variants {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// A borrowed pool of one engine.
#[derive(Clone, Copy)]
pub(crate) enum Conn<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

/// An open transaction of one engine.
pub(crate) enum Tx<'t, 'c> {
    Sqlite(&'t mut Transaction<'c, Sqlite>),
    Postgres(&'t mut Transaction<'c, Postgres>),
}

impl<'t, 'c> From<&'t mut Transaction<'c, Sqlite>> for Tx<'t, 'c> {
    fn from(tx: &'t mut Transaction<'c, Sqlite>) -> Tx<'t, 'c> {
        Tx::Sqlite(tx)
    }
}

impl<'t, 'c> From<&'t mut Transaction<'c, Postgres>> for Tx<'t, 'c> {
    fn from(tx: &'t mut Transaction<'c, Postgres>) -> Tx<'t, 'c> {
        Tx::Postgres(tx)
    }
}

/// Runs `$body` with `$pool` bound to the concrete pool behind a [`Conn`].
macro_rules! dispatch {
    ($conn:expr, |$pool:ident| $body:expr) => {
        match $conn {
            $crate::storage::dialect::Conn::Sqlite($pool) => $body,
            $crate::storage::dialect::Conn::Postgres($pool) => $body,
        }
    };
}
pub(crate) use dispatch;

/// Runs `$body` with `$tx` bound to the concrete transaction behind a [`Tx`].
macro_rules! dispatch_tx {
    ($tx:expr, |$inner:ident| $body:expr) => {
        match $tx {
            $crate::storage::dialect::Tx::Sqlite($inner) => $body,
            $crate::storage::dialect::Tx::Postgres($inner) => $body,
        }
    };
}
pub(crate) use dispatch_tx;

impl Statements for Tx<'_, '_> {
    type Error = sqlx::Error;

    fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> sqlx::Result<u64> {
        dispatch_tx!(self, |tx| {
            let mut query = sqlx::query(sql);
            for value in values {
                query = match *value {
                    Value::Text(text) => query.bind(text),
                    Value::Int(n) => query.bind(n),
                    Value::Bool(b) => query.bind(b),
                    Value::NoText => query.bind(None::<&str>),
                    Value::NoInt => query.bind(None::<i64>),
                };
            }
            Ok(query.execute(&mut ***tx).await?.rows_affected())
        })
    }

    /// SQLite: multi-row `VALUES` in a few fixed sizes (in process, a statement
    /// costs no round trip). PostgreSQL: one statement whatever the number of rows,
    /// each column bound as one array (a statement is a round trip, and a batch
    /// waits for each of them in turn).
    async fn insert(&mut self, rows: Rows<'_>) -> sqlx::Result<u64> {
        match self {
            Tx::Sqlite(_) => insert_in_chunks(self, rows).await,
            Tx::Postgres(tx) => {
                if rows.values.is_empty() {
                    return Ok(0);
                }
                let sql = unnest_sql(rows.head, rows.columns, rows.tail);
                let query = bind_arrays(sqlx::query(&sql), &rows);
                Ok(query.execute(&mut ***tx).await?.rows_affected())
            }
        }
    }
}

/// Binds each of `rows`' columns as one array, in order, after what `query` has
/// bound: the parameters of its [`unnest_sql`].
pub(crate) fn bind_arrays<'q>(
    mut query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    rows: &Rows<'q>,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    for (n, column) in rows.columns.iter().enumerate() {
        let cells = rows.values.iter().skip(n).step_by(rows.columns.len());
        query = match column {
            Column::Text => query.bind(cells.map(Value::text).collect::<Vec<_>>()),
            Column::Int => query.bind(cells.map(Value::int).collect::<Vec<_>>()),
        };
    }
    query
}

#[cfg(test)]
mod tests {
    use super::sqlite_file;

    #[test]
    fn only_sqlite_files_have_a_path() {
        assert_eq!(sqlite_file("sqlite://./data/a.db?mode=rwc").unwrap().to_str(), Some("./data/a.db"));
        assert_eq!(sqlite_file("sqlite:/tmp/a.db").unwrap().to_str(), Some("/tmp/a.db"));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://"), None);
        assert_eq!(sqlite_file("postgres://postgres@localhost/db"), None);
    }
}
