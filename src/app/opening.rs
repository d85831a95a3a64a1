//! A viewer opens a share link: the service's hot path.
//!
//! A link is opened by its URL token (or its short code, which leads to the token).
//! Gone links (unknown, expired or revoked) all fail alike, and clients that keep
//! missing are refused for a while. A password is checked with per-client and
//! per-link limits. Then a view is spent ([`reveal`]): counted atomically against
//! `max_views` and committed before anything is shown. The viewer then sees the
//! task's outputs only ([`SharedView`]): never prompts, messages, logs or private
//! events; metadata only with `show_metadata`, files only with `allow_download`.
//! A view hands out a grant, good for an hour, that downloads and comments need.
//! What viewers do besides spending a view (pages shown before it, wrong passwords,
//! downloads, refusals) goes into the link's activity log ([`activity`]).

use std::net::IpAddr;
use std::sync::Arc;

use super::activity::{self, Details};
use super::cards::may_show_details;
use super::error::{Error, Result};
use super::AppState;
use crate::domain::activity::ActivityKind;
use crate::domain::ids::{self, CommentId, ShareLinkId, ViewId};
use crate::domain::share::{verify_password, Permissions, ShareStatus, SHORT_CODE_LEN};
use crate::domain::task::TaskStatus;
use crate::domain::time::Timestamp;
use crate::domain::viewer;
use crate::metrics::PasswordCheck;
use crate::storage::{
    Attempt, AttemptLimits, CountedView, NewView, ShareLinkRecord, TaskContent, TaskFacts, ViewOutcome,
};

/// How long a view's grant lets the viewer download and comment without spending a view.
pub const GRANT_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// Brute-force limits: 5 failures per client per link and 20 per link, in 10 minutes.
pub const ATTEMPT_LIMITS: AttemptLimits =
    AttemptLimits { window_ms: 10 * 60 * 1000, per_client: 5, per_link: 20 };
/// Length of a URL token (256 bits, URL-safe base64).
pub const TOKEN_LEN: usize = 43;
/// Most outputs a shared view shows.
pub const MAX_OUTPUTS: u32 = 1000;
/// How many times in a row a request starts over because the link changed.
const CHANGES_FOLLOWED: usize = 3;
/// Stands in for a link id when a lookup found nothing.
const NO_LINK: &str = "share_0000000000000000";

/// What a path segment under `/s/` names.
pub enum Presented {
    /// An active link.
    Link(Arc<ShareLinkRecord>),
    /// A short code of a link: its full URL, to go to.
    Short(String),
    Gone,
}

/// [`Error::RateLimited`] for a client that missed too often lately.
pub fn refuse_guessers(state: &AppState, client: IpAddr) -> Result<()> {
    match state.limits().misses.retry_after(client) {
        Some(wait) => {
            state.metrics().miss_refused();
            Err(Error::RateLimited { retry_after_secs: wait.as_secs().max(1) })
        }
        None => Ok(()),
    }
}

/// Counts a lookup that found nothing against `client`, when `token` names no link
/// at all. A link that expired, was revoked or used up its views answers the same
/// as one that never was, but is not counted: people it was given to (an office
/// behind one address) opening it again are not guessing.
pub async fn missed(state: &AppState, token: &str, client: IpAddr) {
    if !names_a_link(state, token).await {
        state.limits().misses.record_miss(client);
    }
}

/// Whether `token` is the URL token or short code of a link, in any status.
async fn names_a_link(state: &AppState, token: &str) -> bool {
    if !url_safe(token) {
        return false;
    }
    if token.len() == TOKEN_LEN {
        return link_by_token(state, token, None).await.is_ok_and(|link| link.is_some());
    }
    if token.len() == SHORT_CODE_LEN {
        let id = state.db().share_link_by_short_code_any(&ids::secret_hash(token)).await.ok().flatten();
        let expected = state.link_keys().short_code(id.as_ref().map_or(NO_LINK, ShareLinkId::as_str));
        return id.is_some() && ids::same_secret(&expected, token);
    }
    false
}

/// Looks `token` up for `client`, refusing clients that keep missing and counting
/// this lookup if it misses.
pub async fn lookup(state: &AppState, token: &str, client: IpAddr) -> Result<Presented> {
    refuse_guessers(state, client)?;
    let found = find(state, token).await?;
    if matches!(found, Presented::Gone) {
        missed(state, token, client).await;
    }
    Ok(found)
}

fn url_safe(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn find(state: &AppState, token: &str) -> Result<Presented> {
    if token.len() == SHORT_CODE_LEN && url_safe(token) {
        let id = state.db().share_link_by_short_code(&ids::secret_hash(token), Timestamp::now()).await?;
        let keys = state.link_keys();
        // The same work whether or not a link was found, so timing tells nothing.
        let expected = keys.short_code(id.as_ref().map_or(NO_LINK, ShareLinkId::as_str));
        return Ok(match id {
            Some(id) if ids::same_secret(&expected, token) => {
                Presented::Short(format!("{}/s/{}", state.urls().public(), keys.token(id.as_str())))
            }
            _ => Presented::Gone,
        });
    }
    if token.len() != TOKEN_LEN || !url_safe(token) {
        return Ok(Presented::Gone);
    }
    let now = Timestamp::now();
    let token_hash = ids::secret_hash(token);
    let links = state.store().links();
    // A cached link is checked against the stored one when its view is counted.
    if let Some(link) = links.get(&token_hash).filter(|l| l.status(now) == ShareStatus::Active) {
        return Ok(Presented::Link(link));
    }
    Ok(match link_by_token(state, token, Some(now)).await? {
        Some(link) if link.status(now) == ShareStatus::Active => {
            links.remember(&token_hash, &link);
            Presented::Link(Arc::new(link))
        }
        _ => Presented::Gone,
    })
}

/// The link a URL token opens, in any status (or, with `active_at`, only an active
/// one). The token must be the one the current link key derives: links made under a
/// retired key stay closed.
pub async fn link_by_token(
    state: &AppState,
    token: &str,
    active_at: Option<Timestamp>,
) -> Result<Option<ShareLinkRecord>> {
    let link = state.db().share_link_by_token(&ids::secret_hash(token), active_at).await?;
    // The same work whether or not a link was found, so timing tells nothing.
    let expected = state.link_keys().token(link.as_ref().map_or(NO_LINK, |l| l.share_link_id.as_str()));
    Ok(link.filter(|_| ids::same_secret(&expected, token)))
}

/// The link `token` opens if it is neither revoked nor past its time (its views
/// may be used up: viewers who revealed it keep their grant's hour).
pub async fn live_link(state: &AppState, token: &str) -> Result<ShareLinkRecord> {
    if token.len() != TOKEN_LEN {
        return Err(Error::ShareUnavailable);
    }
    link_by_token(state, token, None)
        .await?
        .filter(|l| l.is_live(Timestamp::now()))
        .ok_or(Error::ShareUnavailable)
}

/// Checks `password` for a protected link, counting failures per client and per
/// link; a wrong password spends no view. A wrong password, and a client refused
/// for too many, go into the link's activity log.
pub async fn check_password(
    state: &AppState,
    link: &ShareLinkRecord,
    password: Option<&str>,
    visitor: Visitor<'_>,
) -> Result<()> {
    let checked = password_matches(state, link, password, visitor.client).await;
    let kind = match &checked {
        Err(Error::InvalidPassword) => Some(ActivityKind::PasswordFailed),
        Err(Error::TooManyAttempts { .. }) => Some(ActivityKind::Refused),
        _ => None,
    };
    if let Some(kind) = kind {
        activity::record(state, &link.share_link_id, kind, visitor, Details::default());
    }
    checked
}

async fn password_matches(
    state: &AppState,
    link: &ShareLinkRecord,
    password: Option<&str>,
    client: IpAddr,
) -> Result<()> {
    let Some(stored) = link.password_hash.clone() else {
        return Ok(());
    };
    let Some(password) = password.filter(|p| !p.is_empty()).map(str::to_owned) else {
        return Err(Error::PasswordRequired);
    };
    let client_key =
        state.link_keys().visitor_hash(link.share_link_id.as_str(), &client.to_string(), "password");
    let attempt =
        match state.db().reserve_password_attempt(&link.share_link_id, &client_key, ATTEMPT_LIMITS).await? {
            Attempt::Reserved(id) => id,
            Attempt::Locked { retry_after_ms } => {
                state.metrics().password_check(PasswordCheck::LockedOut);
                let retry_after_secs = (retry_after_ms.max(1000) as u64).div_ceil(1000);
                return Err(Error::TooManyAttempts { retry_after_secs });
            }
        };
    if state.password_work(move || verify_password(&stored, &password)).await? {
        state.metrics().password_check(PasswordCheck::Correct);
        state.db().clear_password_attempt(&attempt).await?;
        Ok(())
    } else {
        state.metrics().password_check(PasswordCheck::Wrong);
        tracing::info!(share_link_id = %link.share_link_id, "wrong share link password");
        Err(Error::InvalidPassword)
    }
}

/// What a browser is shown before a view is spent.
pub enum Gate {
    /// The password form.
    Password,
    /// The Reveal button of a link with a view limit (so that link previews and mail
    /// scanners spend nothing), with the views left.
    Reveal { remaining: i64 },
}

/// What a browser opening `link` is shown first, if anything comes before the view
/// (which then spends nothing and is logged as `opened`); `None` when the view is
/// spent at once.
pub fn gate(state: &AppState, link: &ShareLinkRecord, visitor: Visitor<'_>) -> Option<Gate> {
    let gate = if link.password_hash.is_some() {
        Gate::Password
    } else {
        Gate::Reveal { remaining: (link.max_views? - link.view_count).max(0) }
    };
    activity::record(state, &link.share_link_id, ActivityKind::Opened, visitor, Details::default());
    Some(gate)
}

/// What a viewer's request tells about them, for analytics and notifications.
#[derive(Debug, Clone, Copy)]
pub struct Visitor<'a> {
    pub client: IpAddr,
    pub user_agent: Option<&'a str>,
    /// The `Referer`, if the browser sent one.
    pub referer: Option<&'a str>,
    /// The viewer token proving the viewer's address, for a link with an audience.
    pub viewer_token: Option<&'a str>,
}

impl Visitor<'_> {
    /// Whether the request comes from a link previewer or a crawler, which never
    /// spends a view, counts in analytics or notifies anyone.
    pub fn is_link_previewer(&self) -> bool {
        self.user_agent.is_some_and(viewer::is_link_preview_agent)
    }
}

/// Spends one view of `link`: counted atomically against `max_views`, recorded for
/// analytics, committed before anything is shown. `Ok(None)` when the link was
/// revoked, expired, used up or changed by its owner since it was read: nothing was
/// counted, and the request starts over from the link as it is now.
pub async fn reveal(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    visitor: Visitor<'_>,
) -> Result<Option<CountedView>> {
    if visitor.is_link_previewer() {
        return Err(Error::PreviewOnly);
    }
    // Only the audience's members spend a view of a link that has one.
    let viewer_email = super::audiences::verified_email(state, link, visitor.viewer_token)?;
    let user_agent: String = visitor.user_agent.unwrap_or_default().chars().take(512).collect();
    let agent = viewer::classify_user_agent(&user_agent);
    let location = state.locate(visitor.client);
    let ip_address = visitor.client.to_string();
    let view = NewView {
        client_prefix: Some(viewer::truncated_prefix(visitor.client)),
        visitor_hash: state.link_keys().visitor_hash(link.share_link_id.as_str(), &ip_address, &user_agent),
        ip_address,
        country: location.country,
        city: location.city,
        user_agent: (!user_agent.is_empty()).then_some(user_agent),
        referrer_host: viewer::referrer_host(visitor.referer),
        browser: agent.browser,
        os: agent.os,
        device: agent.device,
        viewer_email,
    };
    let outcome = state.store().count_view(link, view).await?;
    if link.notify_on_view || link.max_views.is_some() {
        state.signals().webhooks_changed();
    }
    match outcome {
        ViewOutcome::Counted(counted) => Ok(Some(counted)),
        // Looked up again, the link is gone (and counted as a miss) or as it is now.
        ViewOutcome::Refused | ViewOutcome::Changed => {
            state.store().links().forget(&ids::secret_hash(token));
            Ok(None)
        }
    }
}

/// Runs `attempt` until it answers: it starts over (a few times at most) when the
/// link changed under it, then gives up as if the link were gone.
pub async fn following_changes<T, F: std::future::Future<Output = Option<T>>>(
    mut attempt: impl FnMut() -> F,
) -> Option<T> {
    for _ in 0..CHANGES_FOLLOWED {
        if let Some(answer) = attempt().await {
            return Some(answer);
        }
    }
    None
}

/// The shared view of a task, as a viewer sees it.
#[derive(Debug)]
pub struct SharedView {
    pub share_link_id: ShareLinkId,
    pub title: String,
    pub description: Option<String>,
    /// The task's outputs, in order; nothing else of the task.
    pub outputs: SharedOutputs,
    /// Timings, agent and status; only with `show_metadata`.
    pub metadata: Option<SharedMetadata>,
    /// Only with `allow_download`.
    pub artifacts: Option<Vec<SharedArtifact>>,
    pub permissions: Permissions,
    pub expires_at: Timestamp,
    /// Views so far, including this one.
    pub view_count: i64,
    pub max_views: Option<i64>,
    /// Views left before the link expires; `None` when unlimited.
    pub views_remaining: Option<i64>,
    /// Proof of this view, good for an hour: downloads and comments need it.
    pub grant: String,
    /// Verified comments, oldest first; only with `allow_comments`.
    pub comments: Option<Vec<SharedComment>>,
}

/// The outputs a view shows: the task's content as cached, with secrets masked or
/// not as the link says, or, for a link that hides more than secrets, each output
/// as redacted for this view.
#[derive(Debug)]
pub struct SharedOutputs {
    pub content: Arc<TaskContent>,
    pub mask: bool,
    /// Each output's content with what the link hides hidden, when it hides more
    /// than secrets (then the cached forms don't apply).
    pub redacted: Option<Vec<String>>,
}

/// One output of the task.
#[derive(Debug)]
pub struct SharedOutput<'a> {
    pub name: &'a str,
    /// Markdown.
    pub content: &'a str,
    pub created_at: Timestamp,
}

impl SharedOutputs {
    /// Each output's name, content (redacted as the link says) and time.
    pub fn iter(&self) -> impl Iterator<Item = SharedOutput<'_>> {
        self.content.outputs.iter().enumerate().map(|(i, o)| SharedOutput {
            name: &o.name,
            content: match &self.redacted {
                Some(redacted) => &redacted[i],
                None => o.content(self.mask),
            },
            created_at: o.created_at,
        })
    }

    /// Whether the outputs are the cached ones (masked or not), the same for every
    /// link of the task with the same `mask`.
    pub fn as_cached(&self) -> bool {
        self.redacted.is_none()
    }
}

/// What a link with `show_metadata` tells about the task.
#[derive(Debug)]
pub struct SharedMetadata {
    pub status: TaskStatus,
    pub agent: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// From start (or creation) to finish, when finished.
    pub duration_seconds: Option<f64>,
}

/// A file a viewer may download.
#[derive(Debug)]
pub struct SharedArtifact {
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// Works for an hour after the view, without spending another view.
    pub download_url: String,
}

/// A comment viewers see (never its author's address).
#[derive(Debug)]
pub struct SharedComment {
    pub comment_id: CommentId,
    pub name: String,
    pub content: String,
    pub created_at: Timestamp,
}

/// What `link` shows of its task, whose version is `task`: the task as it is, or
/// for a snapshot link as it was when the link was made.
pub(crate) async fn content_of(
    state: &AppState,
    link: &ShareLinkRecord,
    task: &TaskFacts,
) -> Result<Arc<TaskContent>> {
    let as_of = link.snapshot_seq.map(|seq| (seq, link.created_at));
    Ok(state.store().content().shown(state.db(), &link.task_id, task, MAX_OUTPUTS, as_of).await?)
}

/// The grant of `view`: proof of it, good for an hour, that downloads and
/// comments need.
pub fn grant_of(state: &AppState, link: &ShareLinkRecord, view: &CountedView) -> String {
    state.link_keys().grant(
        link.share_link_id.as_str(),
        view.view_id.as_str(),
        Timestamp(view.viewed_at.millis() + GRANT_LIFETIME_MS),
    )
}

/// Everything the viewer may see, after a counted view: the link's redaction
/// applied to all of it (outputs, title and description, metadata, comments and
/// file names).
pub async fn shared_view(
    state: &AppState,
    link: &ShareLinkRecord,
    token: &str,
    view: &CountedView,
) -> Result<SharedView> {
    let db = state.db();
    let task = &view.task;
    let shown = content_of(state, link, task).await?;
    let redaction = link.redaction();
    let redactor = redaction.redactor();
    let hidden = |text: &str| redactor.redact(text).into_owned();
    let redacted = if redaction.hides_more_than_secrets() {
        let (content, redactor) = (shown.clone(), redactor.clone());
        let outputs = state
            .limits()
            .rendering
            .run(move || content.outputs.iter().map(|o| redactor.redact(&o.content).into_owned()).collect())
            .await
            .ok_or_else(|| Error::internal(anyhow::anyhow!("redacting outputs panicked")))?;
        Some(outputs)
    } else {
        None
    };
    let metadata = link.show_metadata.then(|| SharedMetadata {
        status: task.status,
        agent: task.agent.as_deref().map(hidden),
        created_at: task.created_at,
        started_at: task.started_at,
        finished_at: task.finished_at,
        duration_seconds: task
            .finished_at
            .map(|end| (end.millis() - task.started_at.unwrap_or(task.created_at).millis()) as f64 / 1000.0),
    });
    let grant = grant_of(state, link, view);
    let comments = if link.allow_comments {
        let list = db.list_comments(&link.share_link_id, false).await?;
        Some(
            list.into_iter()
                .map(|c| SharedComment {
                    comment_id: c.comment_id,
                    name: hidden(&c.name),
                    content: hidden(&c.content),
                    created_at: c.created_at,
                })
                .collect(),
        )
    } else {
        None
    };
    let artifacts = link.allow_download.then(|| {
        let base = format!("{}/s/{token}/artifacts", state.urls().public());
        shown
            .artifacts
            .iter()
            .map(|a| SharedArtifact {
                download_url: format!("{base}/{}?grant={grant}", a.artifact_id),
                name: hidden(&a.name),
                content_type: a.content_type.clone(),
                size_bytes: a.size_bytes,
                sha256: a.sha256.clone(),
            })
            .collect()
    });
    Ok(SharedView {
        share_link_id: link.share_link_id.clone(),
        title: hidden(&link.title),
        description: link.description.as_deref().map(hidden),
        outputs: SharedOutputs { content: shown, mask: link.mask_secrets, redacted },
        metadata,
        artifacts,
        permissions: link.permissions(),
        expires_at: link.expires_at,
        view_count: view.view_count,
        max_views: view.max_views,
        views_remaining: view.max_views.map(|max| (max - view.view_count).max(0)),
        grant,
        comments,
    })
}

/// What opening a link for a program (not a browser) came to.
pub enum Opened {
    /// A view was spent: what it shows.
    View(Box<SharedView>),
    /// A short code: the link's full URL, to go to (no view spent).
    Short(String),
}

/// Opens a link for a program: looks the token up, checks the password, spends a
/// view and answers what it shows. Starts over (a few times) when the owner changes
/// the link meanwhile.
pub async fn open(
    state: &AppState,
    token: &str,
    visitor: Visitor<'_>,
    password: Option<&str>,
) -> Result<Opened> {
    if visitor.is_link_previewer() {
        return open_for_previewer(state, token, visitor.client).await;
    }
    let attempt = || async move {
        let link = match lookup(state, token, visitor.client).await {
            Ok(Presented::Link(link)) => link,
            Ok(Presented::Short(url)) => return Some(Ok(Opened::Short(url))),
            Ok(Presented::Gone) => return Some(Err(Error::ShareUnavailable)),
            Err(err) => return Some(Err(err)),
        };
        // The audience first (a link with one tells nothing else before), then the password.
        if let Err(err) = super::audiences::verified_email(state, &link, visitor.viewer_token) {
            return Some(Err(err));
        }
        if let Err(err) = check_password(state, &link, password, visitor).await {
            return Some(Err(err));
        }
        match reveal(state, &link, token, visitor).await {
            Ok(Some(view)) => {
                Some(shared_view(state, &link, token, &view).await.map(|v| Opened::View(Box::new(v))))
            }
            Ok(None) => None,
            Err(err) => Some(Err(err)),
        }
    };
    following_changes(attempt).await.unwrap_or(Err(Error::ShareUnavailable))
}

/// Opens a link for a link previewer or crawler, spending no view and counting
/// nothing: a link whose preview may show details answers its view as it is (with
/// the views spent so far); a password-protected link asks for the password, and
/// any other link refuses ([`Error::PreviewOnly`]).
async fn open_for_previewer(state: &AppState, token: &str, client: IpAddr) -> Result<Opened> {
    let link = match lookup(state, token, client).await? {
        Presented::Link(link) => link,
        Presented::Short(url) => return Ok(Opened::Short(url)),
        Presented::Gone => return Err(Error::ShareUnavailable),
    };
    let now = Timestamp::now();
    if !may_show_details(&link, now) {
        return Err(if link.has_audience() {
            Error::VerificationRequired
        } else if link.password_hash.is_some() {
            Error::PasswordRequired
        } else {
            Error::PreviewOnly
        });
    }
    let task = state.db().task_facts(&link.task_id).await?.ok_or(Error::ShareUnavailable)?;
    let view = CountedView {
        view_id: ViewId::generate(),
        view_count: link.view_count,
        max_views: link.max_views,
        viewed_at: now,
        task,
    };
    Ok(Opened::View(Box::new(shared_view(state, &link, token, &view).await?)))
}

/// The view again for a browser holding `grant`, from an earlier reveal of this
/// link: no view is spent. `None` when the grant is not one (or ran out, or the link
/// was revoked or is past its time), and the link opens as usual.
pub async fn revisit(
    state: &AppState,
    token: &str,
    grant: &str,
) -> Option<Result<(ShareLinkRecord, SharedView)>> {
    let link = live_link(state, token).await.ok()?;
    let now = Timestamp::now();
    let (view_id, grant_expires) = state.link_keys().granted_view(link.share_link_id.as_str(), grant, now)?;
    let task = state.db().task_facts(&link.task_id).await.ok()??;
    let view = CountedView {
        view_id: view_id.into(),
        view_count: link.view_count,
        max_views: link.max_views,
        viewed_at: Timestamp(grant_expires.millis() - GRANT_LIFETIME_MS),
        task,
    };
    Some(shared_view(state, &link, token, &view).await.map(|shared| (link, shared)))
}
