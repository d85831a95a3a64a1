//! Who is acting: an owner (by an API key, or a console session) or a viewer (a
//! session issued for a task's share code). Viewers reach exactly one task, and only
//! what their code's permissions allow; everything else answers as if it did not
//! exist.

use super::error::{Error, Result};
use super::AppState;
use crate::domain::api_key;
use crate::domain::ids::{self, ConsoleSessionId, TaskId};
use crate::domain::task::Author;
use crate::domain::task_share::{is_session_token, Action, CodePermissions};
use crate::domain::time::Timestamp;
use crate::storage::{ConsoleSession, Owner, TaskRecord, ViewerSession};

/// The owner holding the API key `presented`.
pub async fn owner_by_api_key(state: &AppState, presented: &str) -> Result<Owner> {
    let hash = api_key::lookup_hash(presented).ok_or(Error::Unauthenticated)?;
    state.db().owner_by_key_hash(&hash).await?.ok_or(Error::Unauthenticated)
}

/// The live viewer session whose token is `presented`, if there is one.
pub async fn viewer_session(state: &AppState, presented: &str) -> Result<Option<ViewerSession>> {
    if !is_session_token(presented) {
        return Ok(None);
    }
    Ok(state.db().viewer_session(&ids::secret_hash(presented)).await?)
}

/// Whoever `credential` (an API key or a viewer session token) names.
pub async fn caller(state: &AppState, credential: &str) -> Result<Caller> {
    if is_session_token(credential) {
        return viewer_session(state, credential).await?.map(Caller::Viewer).ok_or(Error::ViewerSessionEnded);
    }
    owner_by_api_key(state, credential).await.map(Caller::Owner)
}

/// The owner's task `task_id`, else [`Error::TaskNotFound`]: another owner's task
/// answers exactly like one that does not exist.
pub async fn owned_task(state: &AppState, owner: &Owner, task_id: &TaskId) -> Result<TaskRecord> {
    state.db().get_owned_task(&owner.owner_id, task_id).await?.ok_or_else(|| Error::task_not_found(task_id))
}

/// Someone acting on a task: its owner, or a viewer with a share code of it.
pub enum Caller {
    Owner(Owner),
    Viewer(ViewerSession),
}

impl Caller {
    /// The task `task_id` if this caller may see it: an owner their own tasks, a
    /// viewer the one task of their code. [`Error::TaskNotFound`] otherwise.
    pub async fn task(&self, state: &AppState, task_id: &TaskId) -> Result<TaskRecord> {
        match self {
            Caller::Owner(owner) => owned_task(state, owner, task_id).await,
            Caller::Viewer(session) if session.task_id == *task_id => {
                state.db().get_task(task_id).await?.ok_or_else(|| Error::task_not_found(task_id))
            }
            Caller::Viewer(_) => Err(Error::task_not_found(task_id)),
        }
    }

    /// Checks that the caller may perform `action`: owners always may; viewers when
    /// their code allows it, else [`Error::Forbidden`].
    pub fn require(&self, action: Action) -> Result<()> {
        if self.permissions().allows(action) {
            Ok(())
        } else {
            Err(Error::Forbidden { action })
        }
    }

    /// The caller's permissions (all of them for an owner).
    pub fn permissions(&self) -> CodePermissions {
        match self {
            Caller::Owner(_) => CodePermissions::ALL,
            Caller::Viewer(session) => session.permissions(),
        }
    }

    /// Who events and pull requests say made them.
    pub fn author(&self) -> Author {
        match self {
            Caller::Owner(_) => Author::Owner,
            Caller::Viewer(_) => Author::Viewer,
        }
    }

    /// A stable name of the caller for approvals: one approval per owner or session.
    pub fn approver(&self) -> &str {
        match self {
            Caller::Owner(owner) => owner.owner_id.as_str(),
            Caller::Viewer(session) => session.session_id.as_str(),
        }
    }

    pub fn is_owner(&self) -> bool {
        matches!(self, Caller::Owner(_))
    }
}

/// A console sign-in: the session, and the secret its browser keeps.
pub struct ConsoleSignIn {
    pub session: ConsoleSession,
    pub secret: String,
}

/// Signs a browser in to the console with the API key `presented`, for `lifetime`;
/// [`Error::Unauthenticated`] when it is no (unrevoked) key. The key itself is
/// never kept: the browser gets a session secret of its own, stored hashed.
pub async fn console_sign_in(
    state: &AppState,
    presented: &str,
    lifetime: std::time::Duration,
) -> Result<ConsoleSignIn> {
    let key_hash = api_key::lookup_hash(presented.trim()).ok_or(Error::Unauthenticated)?;
    let secret = ids::new_secret::<32>();
    let now = Timestamp::now();
    let expires = Timestamp(now.millis() + lifetime.as_millis() as i64);
    let session = state
        .db()
        .open_console_session(
            &key_hash,
            &ConsoleSessionId::generate(),
            &ids::secret_hash(&secret),
            now,
            expires,
        )
        .await?
        .ok_or(Error::Unauthenticated)?;
    tracing::info!(owner_id = %session.owner_id, session_id = %session.session_id, "console sign-in");
    Ok(ConsoleSignIn { session, secret })
}

/// The live console session whose browser holds `secret`, if any.
pub async fn console_session(state: &AppState, secret: &str) -> Result<Option<ConsoleSession>> {
    Ok(state.db().console_session(&ids::secret_hash(secret), Timestamp::now()).await?)
}

/// Ends a console session (signing out).
pub async fn console_sign_out(state: &AppState, session: &ConsoleSession) -> Result<()> {
    Ok(state.db().end_console_session(&session.session_id, Timestamp::now()).await?)
}
