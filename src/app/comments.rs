//! Comments on share links with `allow_comments` (seed 001: comments require email
//! verification). A viewer who opened the link leaves a name, an email address and
//! a comment; it appears once they open the link mailed to them. The owner sees
//! every comment (see [`share_links::comments`](super::share_links::comments)).

use std::net::IpAddr;
use std::time::Duration;

use super::activity::{self, Details};
use super::error::{Error, Result};
use super::opening::{live_link, missed, refuse_guessers, Visitor};
use super::AppState;
use crate::domain::activity::ActivityKind;
use crate::domain::ids::{self, CommentId};
use crate::domain::text::{bounded, parse_email};
use crate::domain::time::Timestamp;
use crate::domain::webhook::{CommentFacts, WebhookEvent};
use crate::storage::{CommentBounds, CommentRefusal, NewComment, OutboxEvent, ShareLinkRecord};

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5000;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Comments one client (an IPv4 address or IPv6 /64) may leave per
/// [`CLIENT_WINDOW`], on all links together.
pub const COMMENTS_PER_CLIENT: u32 = 10;
pub const CLIENT_WINDOW: Duration = Duration::from_secs(60 * 60);
/// What one link takes: comments awaiting verification at once, comments per
/// hour, how long a verification link works, and how often one address is mailed.
pub const BOUNDS: CommentBounds = CommentBounds {
    pending_per_link: 20,
    per_link_per_hour: 60,
    verify_within: Duration::from_secs(24 * 60 * 60),
    mail_every: Duration::from_secs(10 * 60),
};

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
/// it: the link must be live, allow comments, and `grant` prove a view of it (else
/// it answers [`Error::ShareUnavailable`], as for a link that does not exist).
/// The verification link is mailed in the background; the mail holds nothing the
/// commenter chose, so comments can't carry a stranger a message.
///
/// [`Error::TooManyComments`] when the client, or the link, took as many as it may
/// lately (see [`COMMENTS_PER_CLIENT`], [`BOUNDS`]);
/// [`Error::ConfirmationMailSent`] when the address was mailed moments ago. A comment
/// left, and a refusal of one, go into the link's activity log.
pub async fn post(
    state: &AppState,
    token: &str,
    visitor: Visitor<'_>,
    input: CommentInput,
) -> Result<CommentId> {
    let client = visitor.client;
    refuse_guessers(state, client)?;
    // Without proof of a view, a link takes comments as if it did not exist: the
    // answer tells a real token from a guess no more than a miss does, and counts
    // as one.
    let proven = match live_link(state, token).await {
        Ok(link)
            if state.link_keys().check_grant(link.share_link_id.as_str(), &input.grant, Timestamp::now()) =>
        {
            Ok(link)
        }
        Ok(_) => Err(Error::ShareUnavailable),
        Err(err) => Err(err),
    };
    if matches!(proven, Err(Error::ShareUnavailable)) {
        missed(state, token, client).await;
    }
    let link = proven?;
    if !link.allow_comments {
        return Err(Error::CommentsNotAllowed);
    }
    let left = leave(state, &link, token, client, input).await;
    let (kind, comment_id) = match &left {
        Ok(comment_id) => (ActivityKind::Commented, Some(comment_id.clone())),
        Err(Error::TooManyComments { .. } | Error::ConfirmationMailSent { .. }) => {
            (ActivityKind::Refused, None)
        }
        Err(_) => return left,
    };
    activity::record(state, &link.share_link_id, kind, visitor, Details { comment_id, ..Details::default() });
    left
}

/// Stores a comment on `link` awaiting verification, and mails its author the link
/// that verifies it.
async fn leave(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    client: IpAddr,
    input: CommentInput,
) -> Result<CommentId> {
    let code = ids::new_secret::<32>();
    let comment = NewComment {
        comment_id: CommentId::generate(),
        share_link_id: link.share_link_id.clone(),
        name: bounded("name", &input.name, 1, MAX_NAME_CHARS, false)?,
        email: parse_email(&input.email).map_err(|issue| Error::invalid("email", issue))?,
        content: bounded("content", &input.content, 1, MAX_COMMENT_CHARS, true)?,
        verify_hash: ids::secret_hash(&code),
    };
    // Only well-formed comments count against the client.
    if let Err(wait) = state.limits().comments.take(client) {
        return Err(Error::TooManyComments { retry_after_secs: wait.as_secs().max(1) });
    }
    let address = ids::secret_hash(&comment.email.to_lowercase());
    match state.db().insert_comment(&comment, &address, &BOUNDS).await? {
        Ok(()) => {}
        Err(CommentRefusal::LinkBusy) => {
            return Err(Error::TooManyComments { retry_after_secs: BOUNDS.mail_every.as_secs() })
        }
        Err(CommentRefusal::AddressMailed { sent_at }) => {
            let period = i64::try_from(BOUNDS.mail_every.as_millis()).unwrap_or(i64::MAX);
            let wait_ms = (sent_at.millis() + period - Timestamp::now().millis()).max(1000);
            return Err(Error::ConfirmationMailSent { retry_after_secs: (wait_ms as u64).div_ceil(1000) });
        }
    }
    let verify_url = format!("{}/s/{token}/comments/verify?code={code}", state.urls().public());
    // The title is the owner's; the name and comment are the commenter's and stay
    // out of the mail.
    // As viewers see it: with the link's redaction applied.
    let title = link.redaction().redactor().redact(&link.title).into_owned();
    let subject = format!("Confirm your comment on “{}”", title);
    let text = format!(
        "Someone left a comment on “{title}” and gave this address. If it was you, confirm the comment by \
         opening this link within {hours} hours:\n\n{verify_url}\n\n\
         Until then it is not shown. If it was not you, ignore this email: nothing is published.\n",
        title = title,
        hours = BOUNDS.verify_within.as_secs() / 3600,
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
        // A link past its time takes no more comments, verified or not.
        let link = live_link(state, token).await?;
        let (owner_id, task_id) = (link.owner_id.clone(), link.task_id.clone());
        let verified = state
            .db()
            .verify_comment(&link.share_link_id, &ids::secret_hash(code), BOUNDS.verify_within, |comment| {
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
        Err(Error::ShareUnavailable) => missed(state, token, client).await,
        Err(_) => {}
    }
    verified
}
