//! What a user action can fail with: typed, and free of any protocol. Each adapter
//! presents these its own way: the owner API as a JSON error with a code, the
//! share-code API in its own shape, pages as a page or a message beside a form.
//! [`Error::kind`] sorts them into the few classes every presentation needs.

use crate::domain::ids::{ArtifactId, CommentId, ShareLinkId, TaskId, WebhookId};
use crate::domain::task::{PullRequestStatus, TaskStatus};
use crate::domain::task_share::Action;
use crate::domain::text::FieldError;
use crate::storage::WriteError;

/// Everything a user action can fail with. The messages are sentences for people.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the input is missing, malformed or out of range.
    #[error("{}", .0.issue)]
    Invalid(FieldError),
    /// No credential, or one that is unknown, revoked or expired.
    #[error("Sign in again: the key or session is not valid")]
    Unauthenticated,
    /// A viewer session (from a share code) that is no more: the code was revoked,
    /// rotated or expired.
    #[error("Your access to this task has ended: the share code was revoked, replaced or has expired")]
    ViewerSessionEnded,
    /// The owner already has a task of this source with this external id.
    #[error("A task with this external_id already exists")]
    TaskExists { task_id: TaskId },
    /// No such task, or a task of another owner (they look the same).
    #[error("The task was not found")]
    TaskNotFound { task_id: TaskId },
    #[error("The file was not found")]
    ArtifactNotFound { artifact_id: ArtifactId },
    /// No such link of this owner.
    #[error("The share link was not found")]
    ShareLinkNotFound { share_link_id: ShareLinkId },
    /// For viewers: the link does not exist, expired or was revoked (one error for
    /// the three, so nobody can probe which tokens exist).
    #[error("This share link does not exist, has expired or was revoked")]
    ShareUnavailable,
    /// A pending or running task can't be shared by link.
    #[error("Links can be made once the task has finished")]
    TaskNotCompleted { task_id: TaskId, status: TaskStatus },
    /// Revocation is final: a revoked link can't be changed.
    #[error("The share link was revoked; revocation is final")]
    ShareLinkRevoked { share_link_id: ShareLinkId },
    /// The link has a password and none was given.
    #[error("Enter the password")]
    PasswordRequired,
    /// The password given is wrong (no view was spent).
    #[error("The password is not correct")]
    InvalidPassword,
    /// Too many wrong passwords for this link lately.
    #[error("Too many wrong passwords; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Too many attempts from this client lately (lookups of links that don't
    /// exist, or share codes).
    #[error("Too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("This share link does not allow downloads")]
    DownloadNotAllowed,
    #[error("This share link does not allow comments")]
    CommentsNotAllowed,
    #[error("The comment was not found")]
    CommentNotFound { comment_id: CommentId },
    /// The link has an audience, and no valid viewer token proves an address of it.
    #[error("Verify your e-mail address to open this link")]
    VerificationRequired,
    /// The verification code is wrong, expired, used or has no tries left.
    #[error("The code is not correct or no longer works")]
    VerificationFailed,
    /// Downloads and comments need the grant that opening the link hands out.
    #[error("Open the share link first")]
    ViewRequired,
    /// A link previewer or crawler asked for a link it may not open: one with a
    /// view limit (opening it spends a view, which previewers never do).
    #[error("Link previewers do not open links with a view limit")]
    PreviewOnly,
    /// The share code behind this viewer session does not allow the action.
    #[error("The share code does not allow that")]
    Forbidden { action: Action },
    #[error("The pull request was not found")]
    PullRequestNotFound { number: i64 },
    /// The task has no repository (or the server has no repositories directory).
    #[error("This task is not linked to a repository")]
    NoRepository { task_id: TaskId },
    /// The task's owner may no longer use its repository (the operator revoked
    /// the grant).
    #[error("The task's owner may no longer use its repository")]
    RepositoryNotGranted { task_id: TaskId },
    #[error("The repository has no branch named {branch}")]
    BranchNotFound { branch: String },
    #[error("{head} and {base} share no history")]
    UnrelatedHistories { base: String, head: String },
    #[error("Pull request #{number} already proposes {head_branch}")]
    PullRequestExists { number: i64, head_branch: String },
    #[error("Pull request #{number} is {}", .status.as_str())]
    PullRequestNotOpen { number: i64, status: PullRequestStatus },
    #[error("Pull request #{number} needs an approval before it can be merged")]
    ApprovalRequired { number: i64 },
    #[error("Pull request #{number} conflicts with {base_branch}")]
    MergeConflict { number: i64, base_branch: String, paths: Vec<String> },
    #[error("{base_branch} changed while merging; try again")]
    BaseMoved { number: i64, base_branch: String },
    #[error("The webhook endpoint was not found")]
    WebhookNotFound { webhook_id: WebhookId },
    /// The task's status can't move there.
    #[error("A {} task cannot become {}", .from.as_str(), .to.as_str())]
    InvalidTransition { task_id: TaskId, from: TaskStatus, to: TaskStatus },
    #[error("The task already has a file named {name}")]
    ArtifactExists { name: String },
    /// The client, or the link, took as many comments as it may lately.
    #[error("Too many comments lately; try again in {retry_after_secs} seconds")]
    TooManyComments { retry_after_secs: u64 },
    /// The viewer sent as many messages as they may lately.
    #[error("Too many messages lately; try again in {retry_after_secs} seconds")]
    TooManyMessages { retry_after_secs: u64 },
    /// A confirmation mail went to this address moments ago.
    #[error(
        "A confirmation email went to this address a few minutes ago: confirm that comment, or try again in \
         {retry_after_secs} seconds"
    )]
    ConfirmationMailSent { retry_after_secs: u64 },
    /// The client already holds its share of event streams.
    #[error("This client already has {limit} event streams open; close one first")]
    TooManyStreams { limit: usize },
    /// The client is already downloading its share of files (or archives), or the
    /// service is downloading as many as it serves at once.
    #[error("Too many downloads under way (at most {limit} at once); try again when one has finished")]
    TooManyDownloads { limit: usize },
    /// The task exists but is another owner's (share codes say so; elsewhere it
    /// is [`Error::TaskNotFound`]).
    #[error("Only the task's owner can share it")]
    NotTaskOwner,
    /// The task has no live share code.
    #[error("This task has no active share code")]
    ShareCodeNotFound,
    /// Share codes are for cloud-mode tasks (no `machine_id`).
    #[error("Share codes are for cloud-mode tasks only")]
    NotCloudMode,
    /// The code is unknown, revoked or expired.
    #[error("That code doesn't work: it may have been rotated, revoked or expired")]
    InvalidShareCode,
    /// A fault of the service; the cause is logged, never shown.
    #[error("Something went wrong; please try again")]
    Internal(#[source] anyhow::Error),
}

/// The class of an [`Error`]: what every presentation of it must tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is wrong; sending it again will fail again.
    Invalid,
    /// A valid credential (or password, or proof of a view) is needed.
    Unauthenticated,
    /// Known, but not allowed.
    Forbidden,
    NotFound,
    /// The request conflicts with the state of things.
    Conflict,
    /// Too many requests; [`Error::retry_after_secs`] says when to try again.
    Limited,
    Internal,
}

impl Error {
    pub fn invalid(field: impl Into<String>, issue: impl Into<String>) -> Error {
        Error::Invalid(FieldError::new(field, issue))
    }

    pub fn task_not_found(task_id: &TaskId) -> Error {
        Error::TaskNotFound { task_id: task_id.clone() }
    }

    /// A fault of the service, from anything that explains it.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Error {
        Error::Internal(cause.into())
    }

    pub fn kind(&self) -> ErrorKind {
        use Error::*;
        match self {
            Invalid(_) => ErrorKind::Invalid,
            Unauthenticated | ViewerSessionEnded | PasswordRequired | InvalidPassword | ViewRequired
            | VerificationRequired | VerificationFailed | InvalidShareCode => ErrorKind::Unauthenticated,
            TaskNotCompleted { .. }
            | PreviewOnly
            | DownloadNotAllowed
            | CommentsNotAllowed
            | Forbidden { .. }
            | NotTaskOwner => ErrorKind::Forbidden,
            TaskNotFound { .. }
            | ArtifactNotFound { .. }
            | ShareLinkNotFound { .. }
            | ShareUnavailable
            | CommentNotFound { .. }
            | PullRequestNotFound { .. }
            | WebhookNotFound { .. }
            | ShareCodeNotFound => ErrorKind::NotFound,
            ShareLinkRevoked { .. }
            | NoRepository { .. }
            | RepositoryNotGranted { .. }
            | TaskExists { .. }
            | BranchNotFound { .. }
            | UnrelatedHistories { .. }
            | PullRequestExists { .. }
            | PullRequestNotOpen { .. }
            | ApprovalRequired { .. }
            | MergeConflict { .. }
            | BaseMoved { .. }
            | InvalidTransition { .. }
            | ArtifactExists { .. }
            | NotCloudMode => ErrorKind::Conflict,
            TooManyAttempts { .. }
            | RateLimited { .. }
            | TooManyStreams { .. }
            | TooManyDownloads { .. }
            | TooManyComments { .. }
            | TooManyMessages { .. }
            | ConfirmationMailSent { .. } => ErrorKind::Limited,
            Internal(_) => ErrorKind::Internal,
        }
    }

    /// When a refused client may try again, in seconds.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Error::TooManyAttempts { retry_after_secs }
            | Error::RateLimited { retry_after_secs }
            | Error::TooManyComments { retry_after_secs }
            | Error::TooManyMessages { retry_after_secs }
            | Error::ConfirmationMailSent { retry_after_secs } => Some(*retry_after_secs),
            // A download under way usually ends within seconds.
            Error::TooManyDownloads { .. } => Some(5),
            _ => None,
        }
    }
}

impl From<FieldError> for Error {
    fn from(err: FieldError) -> Error {
        Error::Invalid(err)
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Error {
        Error::Internal(err.into())
    }
}

impl From<WriteError> for Error {
    fn from(err: WriteError) -> Error {
        Error::Internal(err.into())
    }
}

/// The result of a user action.
pub type Result<T, E = Error> = std::result::Result<T, E>;
