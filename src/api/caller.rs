//! Who is calling a task route: the task's owner (an API key) or a viewer (a
//! session from a task share code). Viewers reach exactly one task, and only what
//! their code's permissions allow; everything else answers as if it did not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::extract::bearer;
use crate::domain::task_share::{is_session_token, Action, CodePermissions};
use crate::domain::{api_key, ids};
use crate::state::AppState;
use crate::storage::{Owner, TaskRecord, ViewerSession};

/// The authenticated caller of a route owners and viewers share.
pub enum Caller {
    Owner(Owner),
    Viewer(ViewerSession),
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        if is_session_token(credential) {
            let session = state.db().viewer_session(&ids::secret_hash(credential)).await?;
            return session.map(Caller::Viewer).ok_or(ApiError::Unauthorized);
        }
        let hash = api_key::lookup_hash(credential).ok_or(ApiError::Unauthorized)?;
        let owner = state.db().owner_by_key_hash(&hash).await?;
        owner.map(Caller::Owner).ok_or(ApiError::Unauthorized)
    }
}

impl Caller {
    /// The task `task_id` if this caller may see it: an owner their own tasks, a
    /// viewer the one task of their code. 404 `TASK_NOT_FOUND` otherwise.
    pub async fn task(&self, state: &AppState, task_id: &str) -> Result<TaskRecord, ApiError> {
        let visible = match self {
            Caller::Owner(owner) => state.db().get_owned_task(&owner.owner_id, task_id).await?,
            Caller::Viewer(session) if session.task_id == task_id => state.db().get_task(task_id).await?,
            Caller::Viewer(_) => None,
        };
        visible.ok_or_else(|| ApiError::task_not_found(task_id))
    }

    /// Checks that the caller may perform `action`: owners always may; viewers when
    /// their code allows it, else 403 `FORBIDDEN`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        match self {
            Caller::Owner(_) => Ok(()),
            Caller::Viewer(session) if session.permissions().allows(action) => Ok(()),
            Caller::Viewer(_) => Err(ApiError::Forbidden { permission: permission_name(action) }),
        }
    }

    /// The caller's permissions (all of them for an owner).
    pub fn permissions(&self) -> CodePermissions {
        match self {
            Caller::Owner(_) => CodePermissions {
                can_send_message: true,
                can_create_pr: true,
                can_approve_pr: true,
                can_view_pr: true,
                can_merge_pr: true,
            },
            Caller::Viewer(session) => session.permissions(),
        }
    }

    /// How events and pull requests record who made them: `owner` or `viewer`.
    pub fn author(&self) -> &'static str {
        match self {
            Caller::Owner(_) => "owner",
            Caller::Viewer(_) => "viewer",
        }
    }

    /// A stable name of the caller for approvals: one approval per owner or session.
    pub fn approver(&self) -> String {
        match self {
            Caller::Owner(owner) => owner.owner_id.clone(),
            Caller::Viewer(session) => session.session_id.clone(),
        }
    }

    pub fn is_owner(&self) -> bool {
        matches!(self, Caller::Owner(_))
    }
}

fn permission_name(action: Action) -> &'static str {
    match action {
        Action::SendMessage => "canSendMessage",
        Action::ViewPr => "canViewPr",
        Action::CreatePr => "canCreatePr",
        Action::ApprovePr => "canApprovePr",
        Action::MergePr => "canMergePr",
    }
}
