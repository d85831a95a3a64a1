//! Links with an audience: only people who prove, by a code mailed to them, an
//! address the link's [`Audience`] admits may open it.
//!
//! A viewer asks for a code ([`request_code`]): the answer is the same whether or
//! not the address is in the audience, so nobody learns who is; only members are
//! mailed. The code (six digits) works for [`CODE_LIFETIME_MS`] and [`CODE_TRIES`]
//! tries; a new request replaces it. A right code ([`confirm`]) answers a viewer
//! token good for [`VIEWER_TOKEN_LIFETIME_MS`]: proof of the address for this link
//! only, which opening the link then needs ([`verified_email`]), before the
//! password, if any.
//!
//! Limits: requests count against the client ([`REQUESTS_PER_CLIENT`] per window,
//! whatever the address) and each address of a link is mailed at most
//! [`MAILS_PER_ADDRESS`] codes per window; wrong codes spend the code's tries and
//! count against the client like lookups of links that don't exist
//! ([`WRONG_CODES_PER_CLIENT`] per window).

use std::net::IpAddr;
use std::time::Duration;

use super::activity;
use super::error::{Error, Result};
use super::opening::{lookup, Presented, Visitor};
use super::AppState;
use crate::domain::activity::ActivityKind;
use crate::domain::audience::{is_code_shaped, verification_code, Audience};
use crate::domain::ids::ShareLinkId;
use crate::domain::text::parse_email;
use crate::domain::time::Timestamp;
use crate::storage::{MailBounds, NewVerification, ShareLinkRecord};

/// How long a mailed code works.
pub const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// Tries one code takes, right or wrong; then it is dead.
pub const CODE_TRIES: i64 = 5;
/// How long a viewer token proves its address.
pub const VIEWER_TOKEN_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;
/// Codes one address of a link may be mailed per [`MAIL_WINDOW`].
pub const MAILS_PER_ADDRESS: i64 = 5;
pub const MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Code requests one client may make per [`CLIENT_WINDOW`], on all links together.
pub const REQUESTS_PER_CLIENT: u32 = 20;
/// Wrong codes one client may send per [`CLIENT_WINDOW`], on all links together.
pub const WRONG_CODES_PER_CLIENT: u32 = 20;
pub const CLIENT_WINDOW: Duration = Duration::from_secs(10 * 60);

/// What happened in a verification, for whatever records it (an activity log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationActivity {
    /// A code was mailed to a member of the link's audience.
    Sent { share_link_id: ShareLinkId, email: String },
    /// A member proved their address with the code.
    Succeeded { share_link_id: ShareLinkId, email: String },
}

/// Where verification activity is recorded: the link's activity log (and the
/// service's log).
fn record(state: &AppState, client: IpAddr, activity: VerificationActivity) {
    let (share_link_id, email, kind) = match activity {
        VerificationActivity::Sent { share_link_id, email } => {
            tracing::info!(share_link_id = %share_link_id, "verification code sent");
            (share_link_id, email, ActivityKind::VerificationSent)
        }
        VerificationActivity::Succeeded { share_link_id, email } => {
            tracing::info!(share_link_id = %share_link_id, "viewer address verified");
            (share_link_id, email, ActivityKind::VerificationSucceeded)
        }
    };
    let visitor = Visitor { client, user_agent: None, referer: None, viewer_token: None };
    activity::record(
        state,
        &share_link_id,
        kind,
        visitor,
        activity::Details { email: Some(email), ..Default::default() },
    );
}

/// The address a viewer token proves for `link`, if the link has an audience:
/// `Ok(None)` for a link anyone may open, [`Error::VerificationRequired`] without a
/// valid token of this link (or for an address the audience no longer admits).
pub fn verified_email(
    state: &AppState,
    link: &ShareLinkRecord,
    viewer_token: Option<&str>,
) -> Result<Option<String>> {
    let audience = link.audience();
    if !audience.is_restricted() {
        return Ok(None);
    }
    let email = viewer_token
        .and_then(|t| state.link_keys().verified_email(link.share_link_id.as_str(), t, Timestamp::now()))
        .filter(|email| audience.admits(email))
        .ok_or(Error::VerificationRequired)?;
    Ok(Some(email))
}

/// The active link with an audience `token` opens, or [`Error::ShareUnavailable`]
/// (a link anyone may open takes no codes, and answers like one that is gone).
async fn audience_link(state: &AppState, token: &str, client: IpAddr) -> Result<(ShareLinkRecord, Audience)> {
    let Presented::Link(link) = lookup(state, token, client).await? else {
        return Err(Error::ShareUnavailable);
    };
    match link.audience() {
        Audience::Anyone => Err(Error::ShareUnavailable),
        audience => Ok(((*link).clone(), audience)),
    }
}

/// Mails a code to `email` if the link's audience admits it. Answers the same
/// (`Ok`) for any well-formed address, member or not, mailed or not (the address
/// was mailed too often lately): nobody learns who is in the audience. The mail
/// goes out in the background.
pub async fn request_code(state: &AppState, token: &str, client: IpAddr, email: &str) -> Result<()> {
    let email = parse_email(email).map_err(|issue| Error::invalid("email", issue))?.to_lowercase();
    let (link, audience) = audience_link(state, token, client).await?;
    if let Err(wait) = state.limits().verification_requests.take(client) {
        return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) });
    }
    if !audience.admits(&email) {
        return Ok(());
    }
    // A member's code is stored and mailed after the answer, so that members and
    // strangers are answered alike and in the same time.
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = send_code(&state, &link, client, email).await {
            tracing::warn!(share_link_id = %link.share_link_id, error = %err, "verification code not sent");
        }
    });
    Ok(())
}

/// Stores a new code for `email` (a member of `link`'s audience), replacing any
/// earlier one, and mails it, unless the address was mailed too often.
async fn send_code(state: &AppState, link: &ShareLinkRecord, client: IpAddr, email: String) -> Result<()> {
    let keys = state.link_keys();
    let id = link.share_link_id.as_str();
    let code = verification_code();
    let now = Timestamp::now();
    let (address_hash, code_hash) =
        (keys.address_hash(id, &email), keys.verification_code_hash(id, &email, &code));
    let verification = NewVerification {
        share_link_id: &link.share_link_id,
        address_hash: &address_hash,
        code_hash: &code_hash,
        expires_at: Timestamp(now.millis() + CODE_LIFETIME_MS),
        tries: CODE_TRIES,
    };
    let bounds = MailBounds {
        per_window: MAILS_PER_ADDRESS,
        window_ms: i64::try_from(MAIL_WINDOW.as_millis()).unwrap_or(i64::MAX),
    };
    if !state.db().store_verification(&verification, bounds, now).await? {
        tracing::info!(share_link_id = %link.share_link_id, "verification code not sent: address mailed too often");
        return Ok(());
    }
    // The title is the owner's; nothing in the mail is the requester's but the code.
    // As viewers see it: with the link's redaction applied.
    let title = link.redaction().redactor().redact(&link.title).into_owned();
    let subject = format!("Your code to open “{}”", title);
    let text = format!(
        "Your code to open “{title}” is:\n\n{code}\n\nIt works for {minutes} minutes. If you did not ask \
         for it, ignore this email: nothing is opened without the code.\n",
        title = title,
        minutes = CODE_LIFETIME_MS / 60_000,
    );
    if let Err(err) = state.mailer().send(&email, &subject, text).await {
        tracing::warn!(error = format!("{err:#}"), "verification mail not sent");
        return Ok(());
    }
    record(state, client, VerificationActivity::Sent { share_link_id: link.share_link_id.clone(), email });
    Ok(())
}

/// A viewer token for `email` when `code` is the live code mailed to it for the
/// link `token` opens; [`Error::VerificationFailed`] for a wrong, expired, used or
/// dead code (each try, right or wrong, spends one of the code's tries; wrong ones
/// count against the client).
pub async fn confirm(
    state: &AppState,
    token: &str,
    client: IpAddr,
    email: &str,
    code: &str,
) -> Result<String> {
    let guesses = &state.limits().wrong_codes;
    if let Some(wait) = guesses.retry_after(client) {
        return Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) });
    }
    let email = parse_email(email).map_err(|issue| Error::invalid("email", issue))?.to_lowercase();
    let code = code.trim();
    if !is_code_shaped(code) {
        return Err(Error::invalid("code", "code must be the 6 digits mailed to you"));
    }
    let (link, audience) = audience_link(state, token, client).await?;
    let keys = state.link_keys();
    let id = link.share_link_id.as_str();
    let address_hash = keys.address_hash(id, &email);
    let now = Timestamp::now();
    let stored = state.db().take_verification_try(&link.share_link_id, &address_hash, now).await?;
    let presented = keys.verification_code_hash(id, &email, code);
    let right = stored.as_deref().is_some_and(|stored| crate::domain::ids::same_secret(stored, &presented));
    if !right
        || !audience.admits(&email)
        || !state.db().use_verification(&link.share_link_id, &address_hash, &presented).await?
    {
        guesses.record_miss(client);
        tracing::info!(share_link_id = %link.share_link_id, "wrong verification code");
        return Err(Error::VerificationFailed);
    }
    record(
        state,
        client,
        VerificationActivity::Succeeded { share_link_id: link.share_link_id.clone(), email: email.clone() },
    );
    Ok(keys.viewer_token(id, &email, Timestamp(now.millis() + VIEWER_TOKEN_LIFETIME_MS)))
}
