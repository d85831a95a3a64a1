//! Keeps the database and the mail directory from growing for good: every interval
//! (an hour by default), deletes raw view rows older than `--view-retention-days`
//! (when set), password attempts and verification codes a day past their windows,
//! webhook events settled more than 30 days ago (with their deliveries and
//! attempts), and mail files older than 7 days. Runs in every instance; deleting
//! twice deletes nothing more.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::app::AppState;
use crate::domain::time::Timestamp;
use crate::storage::retention::{Cutoffs, Pruned};
use crate::storage::Db;

/// Password attempts and verification codes are kept this long past their time
/// (their windows are at most an hour).
const ATTEMPTS_KEPT_DAYS: i64 = 1;
/// Settled webhook events (delivered or given up) are kept this long.
const WEBHOOK_EVENTS_KEPT_DAYS: i64 = 30;
/// Mail written to files is kept this long.
const MAIL_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the worker uses.
pub struct Pruner {
    db: Db,
    view_retention_days: Option<u32>,
    mail_dir: PathBuf,
    interval: Duration,
}

impl Pruner {
    /// The worker of the service `state` is.
    pub fn of(state: &AppState) -> Pruner {
        let settings = state.settings();
        Pruner {
            db: state.db().clone(),
            view_retention_days: settings.view_retention_days,
            mail_dir: settings.mail_dir.clone(),
            interval: settings.retention_interval,
        }
    }

    /// What is kept from `now` on.
    fn cutoffs(&self, now: Timestamp) -> Cutoffs {
        Cutoffs {
            views: self.view_retention_days.map(|days| now.plus_days(-i64::from(days))),
            attempts: now.plus_days(-ATTEMPTS_KEPT_DAYS),
            webhook_events: now.plus_days(-WEBHOOK_EVENTS_KEPT_DAYS),
        }
    }
}

/// Runs the worker until the task is dropped or aborted.
pub async fn run(worker: Pruner) {
    let mut ticks = tokio::time::interval(worker.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match worker.db.prune(worker.cutoffs(Timestamp::now())).await {
            Ok(pruned) if pruned.total() > 0 => log(pruned),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "pruning failed; trying again at the next interval"),
        }
        let dir = worker.mail_dir.clone();
        match tokio::task::spawn_blocking(move || old_mail(&dir, MAIL_KEPT)).await {
            Ok(removed) if removed > 0 => tracing::info!(removed, "old mail files removed"),
            _ => {}
        }
    }
}

fn log(pruned: Pruned) {
    tracing::info!(
        views = pruned.views,
        password_attempts = pruned.password_attempts,
        verifications = pruned.verifications,
        webhook_events = pruned.webhook_events,
        "pruned what ran out"
    );
}

/// Removes the `.eml` files in `dir` last written more than `kept` ago; answers
/// how many. A directory that does not exist holds none.
fn old_mail(dir: &std::path::Path, kept: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let Some(before) = SystemTime::now().checked_sub(kept) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "eml"))
        .filter(|entry| entry.metadata().and_then(|m| m.modified()).is_ok_and(|at| at < before))
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_mail_files_go() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.eml");
        let new = dir.path().join("new.eml");
        let other = dir.path().join("notes.txt");
        for file in [&old, &new, &other] {
            std::fs::write(file, "x").unwrap();
        }
        let long_ago = SystemTime::now() - Duration::from_secs(8 * 24 * 3600);
        for file in [&old, &other] {
            std::fs::File::options().write(true).open(file).unwrap().set_modified(long_ago).unwrap();
        }
        assert_eq!(old_mail(dir.path(), MAIL_KEPT), 1);
        assert!(!old.exists() && new.exists() && other.exists());
        assert_eq!(old_mail(&dir.path().join("missing"), MAIL_KEPT), 0);
    }
}
