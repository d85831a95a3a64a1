//! Statements built at run time, on whichever connection runs them.
//!
//! Most queries are sqlx queries written where they are used. A few are written
//! once and run on two kinds of connection: the counting of views and the creation
//! of links (on a sqlx transaction, or on the SQLite writer thread's own
//! connection), and the outbox (inside whatever transaction caused an event). They
//! are written against [`Statements`]: SQL with `$n` placeholders and [`Value`]s,
//! and [`Rows`] for inserts of many rows at once.

use super::dialect::Backend;

/// A value bound to a statement. NULLs are typed: PostgreSQL takes a parameter's
/// type from what is bound, and refuses a text NULL for an integer column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Bool(bool),
    /// NULL, in a text column.
    NoText,
    /// NULL, in an integer column.
    NoInt,
}

impl<'a> Value<'a> {
    /// The text this is, or `None` for NULL (a text column holds nothing else).
    pub(crate) fn text(&self) -> Option<&'a str> {
        debug_assert!(matches!(self, Value::Text(_) | Value::NoText), "{self:?} in a text column");
        match *self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The integer this is, or `None` for NULL (an integer column holds nothing else).
    pub(crate) fn int(&self) -> Option<i64> {
        debug_assert!(matches!(self, Value::Int(_) | Value::NoInt), "{self:?} in an integer column");
        match *self {
            Value::Int(n) => Some(n),
            _ => None,
        }
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Value<'a> {
        text.map_or(Value::NoText, Value::Text)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Value::NoInt, Value::Int)
    }
}

/// The type of a column that many rows are inserted into at once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Column {
    Text,
    Int,
}

/// Rows to insert: `values` row after row, a value per column.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// `INSERT INTO table (columns…)`.
    pub head: &'a str,
    pub columns: &'a [Column],
    pub values: &'a [Value<'a>],
    /// What follows the rows (`ON CONFLICT …`), or nothing.
    pub tail: &'a str,
}

/// Statements run inside one transaction.
pub(crate) trait Statements {
    type Error: std::fmt::Display;
    /// The engine, for statements whose text differs ([`Backend::sql`]).
    fn backend(&self) -> Backend;
    /// Runs `sql` (`$n` placeholders, or `?` for [`insert_sql`]'s) with `values`;
    /// answers the rows it changed.
    async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<u64, Self::Error>;
    /// Inserts `rows`; answers how many were inserted (not left out by `ON CONFLICT`).
    async fn insert(&mut self, rows: Rows<'_>) -> Result<u64, Self::Error>;
}

/// Rows per multi-row insert on SQLite, largest first: rows are cut into these
/// sizes, so a handful of distinct statements serve every batch (and stay
/// prepared). Not larger: binding costs grow with a statement's size, and in
/// process a statement more costs no round trip.
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// `INSERT … VALUES (?, …), (…)` for `rows` rows of `columns` values, then `tail`.
///
/// The values are anonymous (`?`): binding a numbered one makes SQLite scan the
/// statement's list of names, so with hundreds of values a batch spent more time
/// binding than inserting.
pub(crate) fn insert_sql(head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 3 + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            sql.push_str(if column == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// `INSERT … SELECT * FROM UNNEST($1::text[], …)`, then `tail`: on PostgreSQL, any
/// number of rows in one statement, each column bound as one array.
pub(crate) fn unnest_sql(head: &str, columns: &[Column], tail: &str) -> String {
    unnest_sql_from(head, columns, tail, 1)
}

/// [`unnest_sql`] with its arrays numbered from `$first`: for a statement that
/// inserts into several tables (each insert's arrays after the one before's).
pub(crate) fn unnest_sql_from(head: &str, columns: &[Column], tail: &str, first: usize) -> String {
    use std::fmt::Write as _;
    let mut sql = format!("{head} SELECT * FROM UNNEST(");
    for (n, column) in columns.iter().enumerate() {
        let kind = match column {
            Column::Text => "text",
            Column::Int => "bigint",
        };
        let _ = write!(sql, "{}${}::{kind}[]", if n == 0 { "" } else { ", " }, first + n);
    }
    sql.push(')');
    sql.push_str(tail);
    sql
}

/// Inserts `rows` as multi-row `VALUES` statements of the sizes in [`CHUNKS`]:
/// SQLite's way.
pub(crate) async fn insert_in_chunks<S: Statements>(tx: &mut S, rows: Rows<'_>) -> Result<u64, S::Error> {
    let width = rows.columns.len();
    let mut inserted = 0;
    for (start, size) in chunked(rows.values.len() / width) {
        let sql = insert_sql(rows.head, width, size, rows.tail);
        inserted += tx.execute(&sql, &rows.values[start * width..(start + size) * width]).await?;
    }
    Ok(inserted)
}

/// Cuts `len` items into runs of the sizes in [`CHUNKS`], as `(start, size)`.
fn chunked(len: usize) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = 0;
    for size in CHUNKS {
        while len - start >= size {
            runs.push((start, size));
            start += size;
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_few_statement_sizes_that_cover_it_exactly() {
        for len in 0..2000 {
            let runs = chunked(len);
            assert_eq!(runs.iter().map(|r| r.1).sum::<usize>(), len);
            let mut next = 0;
            for (start, size) in runs {
                assert_eq!(start, next, "runs follow each other");
                assert!(CHUNKS.contains(&size));
                next += size;
            }
        }
        assert_eq!(chunked(150), vec![(0, 64), (64, 64), (128, 16), (144, 4), (148, 1), (149, 1)]);
    }

    #[test]
    fn insert_sql_has_a_value_for_every_column_of_every_row() {
        assert_eq!(
            insert_sql("INSERT INTO t (a, b)", 2, 2, " X"),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?) X"
        );
        assert_eq!(
            unnest_sql("INSERT INTO t (a, b)", &[Column::Text, Column::Int], " X"),
            "INSERT INTO t (a, b) SELECT * FROM UNNEST($1::text[], $2::bigint[]) X"
        );
        assert_eq!(
            unnest_sql_from("INSERT INTO u (c)", &[Column::Int], "", 3),
            "INSERT INTO u (c) SELECT * FROM UNNEST($3::bigint[])"
        );
    }
}
