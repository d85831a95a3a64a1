//! Task share codes (seed 003): the owner makes a code for a cloud-mode task; a
//! viewer exchanges it for a session scoped to that task and the code's
//! permissions.
//!
//! Where the seed is silent: making a code again **rotates** it (the old code and
//! every session it issued stop working at once); a code may expire; revoking
//! ends it and its sessions at once.

use std::net::IpAddr;

use super::error::{Error, Result};
use super::policy;
use super::AppState;
use crate::domain::ids::{self, OwnerId, TaskId, TaskShareId, ViewerSessionId};
use crate::domain::task_share::{CodePermissions, SESSION_LIFETIME_MS, SESSION_PREFIX};
use crate::domain::time::Timestamp;
use crate::domain::webhook::{SessionViewer, WebhookEvent};
use crate::storage::{NewTaskShare, NewViewerSession, OutboxEvent, TaskRecord, TaskShareRecord};

/// Code exchanges allowed per client address per minute.
pub const EXCHANGES_PER_MINUTE: i64 = 20;

/// The task `task_id` of `owner_id`: [`Error::TaskNotFound`] when it does not
/// exist, [`Error::NotTaskOwner`] when it is someone else's (as seed 003 documents).
async fn owners_task(state: &AppState, owner_id: &OwnerId, task_id: &TaskId) -> Result<TaskRecord> {
    let task = state.db().get_task(task_id).await?.ok_or_else(|| Error::task_not_found(task_id))?;
    if task.owner_id != *owner_id {
        return Err(Error::NotTaskOwner);
    }
    Ok(task)
}

/// A task's live code.
pub struct LiveCode {
    /// The code itself (derived from the share's id; never stored).
    pub code: String,
    pub share: TaskShareRecord,
}

/// Makes (or rotates) the code of `owner_id`'s cloud-mode task; answers the code.
pub async fn create(
    state: &AppState,
    owner_id: &OwnerId,
    task_id: &TaskId,
    permissions: CodePermissions,
    expires_at: Option<Timestamp>,
) -> Result<String> {
    if expires_at.is_some_and(|at| at <= Timestamp::now()) {
        return Err(Error::invalid("expiresAt", "expiresAt must be in the future"));
    }
    let task = owners_task(state, owner_id, task_id).await?;
    if task.machine_id.is_some() {
        return Err(Error::NotCloudMode);
    }
    // Checked before the old code is rotated out: a refused code changes nothing.
    policy::check_code(&state.db().sharing_policy(owner_id).await?, permissions)?;
    let task_share_id = TaskShareId::generate();
    let code = state.link_keys().share_code(task_share_id.as_str());
    let share = NewTaskShare {
        code_hash: ids::secret_hash(&code),
        task_share_id,
        task_id: task.task_id,
        owner_id: owner_id.clone(),
        permissions,
        expires_at,
    };
    state.db().replace_task_share(&share).await?;
    state.live().changed(Some(&share.task_id)).await;
    tracing::info!(task_id = %share.task_id, task_share_id = %share.task_share_id, "share code created");
    Ok(code)
}

/// The live code of `owner_id`'s task, if it has one.
pub async fn live(state: &AppState, owner_id: &OwnerId, task_id: &TaskId) -> Result<Option<LiveCode>> {
    owners_task(state, owner_id, task_id).await?;
    let share = state.db().live_task_share(task_id).await?;
    Ok(share
        .map(|share| LiveCode { code: state.link_keys().share_code(share.task_share_id.as_str()), share }))
}

/// Every live code of `owner_id`'s tasks, newest first.
pub async fn live_codes(state: &AppState, owner_id: &OwnerId) -> Result<Vec<TaskShareRecord>> {
    Ok(state.db().live_task_shares_of(owner_id).await?)
}

/// Revokes the live code of `owner_id`'s task and every session it issued.
pub async fn revoke(state: &AppState, owner_id: &OwnerId, task_id: &TaskId) -> Result<()> {
    owners_task(state, owner_id, task_id).await?;
    state.db().revoke_task_share(task_id).await?.ok_or(Error::ShareCodeNotFound)?;
    state.live().changed(Some(task_id)).await;
    tracing::info!(task_id = %task_id, "share code revoked");
    Ok(())
}

/// A new viewer session.
pub struct Session {
    /// `vst_…`: the bearer token (shown once, stored hashed).
    pub token: String,
    /// A day from now, or the code's expiry if sooner.
    pub expires_at: Timestamp,
    pub task_id: TaskId,
    pub permissions: CodePermissions,
}

/// Exchanges a share code for a new viewer session of its task, counted against
/// the client's exchanges per minute.
pub async fn exchange(
    state: &AppState,
    code: &str,
    client: IpAddr,
    user_agent: Option<String>,
) -> Result<Session> {
    let client_key = ids::secret_hash(&format!("exchange:{client}"));
    let (attempts, oldest) = state.db().count_code_exchange(&client_key, 60_000).await?;
    if attempts > EXCHANGES_PER_MINUTE {
        let wait_ms = (oldest.millis() + 60_000 - Timestamp::now().millis()).max(1000);
        return Err(Error::RateLimited { retry_after_secs: (wait_ms as u64).div_ceil(1000) });
    }
    let now = Timestamp::now();
    let share = state.db().task_share_by_code(&ids::secret_hash(code)).await?;
    let share = share
        .filter(|s| s.is_live(now))
        .filter(|s| ids::same_secret(&state.link_keys().share_code(s.task_share_id.as_str()), code))
        .ok_or(Error::InvalidShareCode)?;
    let token = format!("{SESSION_PREFIX}{}", ids::new_secret::<32>());
    let lifetime_end = now.millis() + SESSION_LIFETIME_MS;
    let expires_at = Timestamp(share.expires_at.map_or(lifetime_end, |at| at.millis().min(lifetime_end)));
    let session = NewViewerSession {
        session_id: ViewerSessionId::generate(),
        token_hash: ids::secret_hash(&token),
        expires_at,
    };
    let accessed = WebhookEvent::TaskShareAccessed {
        task_id: share.task_id.clone(),
        timestamp: now,
        session_expires_at: expires_at,
        permissions: share.permissions(),
        viewer: SessionViewer { ip_address: client.to_string(), user_agent },
    };
    let share = state
        .db()
        .open_viewer_session(&share, &session, &OutboxEvent::new(&share.owner_id, accessed))
        .await?
        .ok_or(Error::InvalidShareCode)?;
    state.signals().webhooks_changed();
    tracing::info!(task_id = %share.task_id, session_id = %session.session_id, "share code exchanged");
    Ok(Session { token, expires_at, permissions: share.permissions(), task_id: share.task_id })
}

/// Ends one viewer session (the viewer left); its code and other sessions go on.
pub async fn leave(state: &AppState, session_id: &ViewerSessionId) -> Result<()> {
    Ok(state.db().end_viewer_session(session_id).await?)
}
