//! Copies of a SQLite database made while the service runs, and restoring one.
//!
//! SQLite's online backup API copies every page in one step, inside one read
//! transaction: the copy is the database as it was at one instant, whatever the
//! service writes meanwhile (in WAL mode, readers and the writer do not wait for
//! each other). A copy is written beside its destination and renamed into place
//! once checked, so a crash never leaves a half-written backup under the name.
//! PostgreSQL has its own tools for this (`pg_dump`, `pg_restore`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// How long a step waits for a lock before trying again.
const BUSY_PAUSE: Duration = Duration::from_millis(50);
/// How many times a step is tried before giving up (about a minute in all).
const BUSY_TRIES: u32 = 1200;

/// What a backup or a restore copied.
#[derive(Debug)]
pub struct Copied {
    pub pages: i32,
    pub bytes: u64,
}

/// Copies the database at `database` to the new file `to`.
pub fn backup(database: &Path, to: &Path) -> anyhow::Result<Copied> {
    if !database.exists() {
        bail!("there is no database at {}", database.display());
    }
    if to.exists() {
        bail!("{} already exists: back up to a new file", to.display());
    }
    let source = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", database.display()))?;
    agentshare_database(&source, database)?;
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let result = (|| {
        let mut copy =
            Connection::open(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
        let pages = copy_all(&source, &mut copy)?;
        intact(&copy, to)?;
        drop(copy);
        std::fs::rename(&partial, to).with_context(|| format!("cannot write {}", to.display()))?;
        Ok(Copied { pages, bytes: std::fs::metadata(to)?.len() })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Puts the backup `from` in place of the database at `database`. An existing
/// database is replaced only with `force` (the service should be stopped first:
/// what it keeps in memory would not match).
pub fn restore(from: &Path, database: &Path, force: bool) -> anyhow::Result<Copied> {
    let backup = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", from.display()))?;
    agentshare_database(&backup, from)?;
    intact(&backup, from)?;
    if database.exists() && !force {
        bail!(
            "{} already holds a database: restoring replaces all of it. Stop the service, then run again with --force",
            database.display()
        );
    }
    if let Some(dir) = database.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut target =
        Connection::open(database).with_context(|| format!("cannot open {}", database.display()))?;
    let pages = copy_all(&backup, &mut target)?;
    intact(&target, database)?;
    drop(target);
    Ok(Copied { pages, bytes: std::fs::metadata(database)?.len() })
}

/// Copies every page of `source` into `target` in one step, waiting out locks.
fn copy_all(source: &Connection, target: &mut Connection) -> anyhow::Result<i32> {
    let backup = Backup::new(source, target).context("cannot start the copy")?;
    for _ in 0..BUSY_TRIES {
        match backup.step(-1).context("the copy failed")? {
            StepResult::Done => return Ok(backup.progress().pagecount),
            StepResult::More => {}
            StepResult::Busy | StepResult::Locked => std::thread::sleep(BUSY_PAUSE),
            _ => std::thread::sleep(BUSY_PAUSE),
        }
    }
    bail!("the database stayed locked for a minute: the copy was not made")
}

/// Refuses a file that is not an agentshare database.
fn agentshare_database(connection: &Connection, path: &Path) -> anyhow::Result<()> {
    let migrations: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            [],
            |row| row.get(0),
        )
        .with_context(|| format!("{} is not a SQLite database", path.display()))?;
    if migrations == 0 {
        bail!("{} is not an agentshare database", path.display());
    }
    Ok(())
}

/// `PRAGMA integrity_check` must say `ok`.
fn intact(connection: &Connection, path: &Path) -> anyhow::Result<()> {
    let verdict: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .with_context(|| format!("cannot check {}", path.display()))?;
    if verdict != "ok" {
        bail!("{} is damaged: {verdict}", path.display());
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
