//! Whether this instance should be sent traffic: what `/readyz` answers. Unlike the
//! liveness check (`/healthz`: the database answers), readiness also needs the
//! schema this build expects and the instance's own moving parts running.

use super::state::AppState;

/// Each check, and what failed, in words.
#[derive(Debug)]
pub struct Readiness {
    /// The database answers a query.
    pub database: bool,
    /// Every migration of this build is applied, none failed, none is unknown.
    pub migrations: bool,
    /// The writer that commits views is running.
    pub view_writer: bool,
    /// The background workers (webhook deliveries, view mails, retention) started and run.
    pub workers: bool,
    /// Why the instance is not ready; empty when it is.
    pub reasons: Vec<String>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// Checks everything an instance needs to serve.
pub async fn check(state: &AppState) -> Readiness {
    let mut reasons = Vec::new();
    let database = state.db().ping().await;
    if !database {
        reasons.push("the database does not answer".to_owned());
    }
    let migrations = if database {
        match state.db().schema_problem().await {
            Ok(None) => true,
            Ok(Some(problem)) => {
                reasons.push(problem);
                false
            }
            Err(err) => {
                // The cause goes to the log: this answer is public.
                tracing::warn!(error = %err, "readiness: the migrations could not be read");
                reasons.push("the migrations could not be read".to_owned());
                false
            }
        }
    } else {
        false
    };
    let view_writer = state.store().writer_is_running();
    if !view_writer {
        reasons.push("the view writer has stopped".to_owned());
    }
    let (started, stopped) = state.workers().stopped();
    let workers = started > 0 && stopped.is_empty();
    if started == 0 {
        reasons.push("the background workers have not started".to_owned());
    }
    reasons.extend(stopped.into_iter().map(|name| format!("the worker of {name} has stopped")));
    Readiness { database, migrations, view_writer, workers, reasons }
}
