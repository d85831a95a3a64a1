//! The one place where the two database engines differ.
//!
//! Every query is written once, in SQL both engines accept (`$1` placeholders,
//! `RETURNING`, integer millisecond timestamps), and [`dispatch!`] runs it on
//! whichever pool (or [`dispatch_tx!`] transaction) is at hand: the body is compiled
//! once per engine, so one SQL string and one row type serve both. Where the SQL
//! itself must differ, the statement is written as [`Variants`] next to its use, and
//! [`Backend::sql`] picks the text. How statements built at run time are bound and how
//! a batch inserts many rows differ too: [`Tx`] does that here, for both engines.

use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use super::sql::{insert_in_chunks, unnest_sql, Column, Rows, Statements, Value};

/// Which database engine a [`Db`](super::Db) talks to.
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
                let mut query = sqlx::query(&sql);
                for (n, column) in rows.columns.iter().enumerate() {
                    let cells = rows.values.iter().skip(n).step_by(rows.columns.len());
                    query = match column {
                        Column::Text => query.bind(cells.map(Value::text).collect::<Vec<_>>()),
                        Column::Int => query.bind(cells.map(Value::int).collect::<Vec<_>>()),
                    };
                }
                Ok(query.execute(&mut ***tx).await?.rows_affected())
            }
        }
    }
}
