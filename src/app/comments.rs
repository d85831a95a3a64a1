//! Comments on share links with `allow_comments` (seed 001: comments require email
//! verification). A viewer who opened the link leaves a name, an email address and
//! a comment; it appears once they open the link mailed to them. The owner sees
//! every comment (see [`share_links::comments`](super::share_links::comments)).

use std::net::IpAddr;

use super::error::{Error, Result};
use super::opening::{link_by_token, live_link, missed, refuse_guessers};
use super::AppState;
use crate::domain::ids::{self, CommentId};
use crate::domain::text::{bounded, parse_email};
use crate::domain::time::Timestamp;
use crate::domain::webhook::{CommentFacts, WebhookEvent};
use crate::storage::{NewComment, OutboxEvent};

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5000;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// A comment a viewer leaves.
#[derive(Debug, Clone)]
pub struct CommentInput {
    /// 1–100 characters, shown with the comment.
    pub name: String,
    /// Where the verification link is sent; never shown to viewers.
    pub email: String,
    /// 1–5,000 characters of plain text.
    pub content: String,
    /// The grant of the viewer's view of the link.
    pub grant: String,
}

/// Leaves a comment on the link `token` opens, waiting for its author to verify
/// it: the link must be live, allow comments, and `grant` prove a view of it.
/// The verification link is mailed in the background.
pub async fn post(state: &AppState, token: &str, client: IpAddr, input: CommentInput) -> Result<CommentId> {
    refuse_guessers(state, client)?;
    let link = live_link(state, token).await?;
    if !state.link_keys().check_grant(link.share_link_id.as_str(), &input.grant, Timestamp::now()) {
        return Err(Error::ViewRequired);
    }
    if !link.allow_comments {
        return Err(Error::CommentsNotAllowed);
    }
    let code = ids::new_secret::<32>();
    let comment = NewComment {
        comment_id: CommentId::generate(),
        share_link_id: link.share_link_id.clone(),
        name: bounded("name", &input.name, 1, MAX_NAME_CHARS, false)?,
        email: parse_email(&input.email).map_err(|issue| Error::invalid("email", issue))?,
        content: bounded("content", &input.content, 1, MAX_COMMENT_CHARS, true)?,
        verify_hash: ids::secret_hash(&code),
    };
    state.db().insert_comment(&comment).await?;
    let verify_url = format!("{}/s/{token}/comments/verify?code={code}", state.urls().public());
    let subject = format!("Confirm your comment on “{}”", link.title);
    let text = format!(
        "Hello {name},\n\nPlease confirm the comment you left on “{title}” by opening this link:\n\n{verify_url}\n\n\
         Until then it is not shown. If you did not write it, ignore this email.\n",
        name = comment.name,
        title = link.title,
    );
    // The viewer does not wait for the mail server; a failure is logged.
    let (mailer, to) = (state.mailer().clone(), comment.email.clone());
    tokio::spawn(async move {
        if let Err(err) = mailer.send(&to, &subject, text).await {
            tracing::warn!(error = format!("{err:#}"), "comment verification mail not sent");
        }
    });
    tracing::info!(share_link_id = %link.share_link_id, comment_id = %comment.comment_id, "comment awaits verification");
    Ok(comment.comment_id)
}

/// Publishes the comment whose verification link carried `code` (verifying twice
/// is harmless); [`Error::ShareUnavailable`] for a link or code that is no more.
pub async fn verify(state: &AppState, token: &str, code: &str, client: IpAddr) -> Result<()> {
    refuse_guessers(state, client)?;
    let verified = async {
        let link = link_by_token(state, token, None)
            .await?
            .filter(|l| l.revoked_at.is_none())
            .ok_or(Error::ShareUnavailable)?;
        let (owner_id, task_id) = (link.owner_id.clone(), link.task_id.clone());
        let verified = state
            .db()
            .verify_comment(&link.share_link_id, &ids::secret_hash(code), |comment| {
                let created = WebhookEvent::CommentCreated {
                    share_link_id: comment.share_link_id.clone(),
                    task_id,
                    timestamp: Timestamp::now(),
                    comment: CommentFacts {
                        comment_id: comment.comment_id.clone(),
                        name: comment.name.clone(),
                        content: comment.content.clone(),
                    },
                };
                OutboxEvent::new(&owner_id, created)
            })
            .await?;
        verified.map(|_| ()).ok_or(Error::ShareUnavailable)
    }
    .await;
    match verified {
        Ok(()) => state.signals().webhooks_changed(),
        Err(Error::ShareUnavailable) => missed(state, client),
        Err(_) => {}
    }
    verified
}
