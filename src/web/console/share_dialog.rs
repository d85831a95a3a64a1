//! The Share dialog of a task's console page: its form, what it shows again after
//! a refusal or a Preview (what viewers would get and what the content holds), and
//! making the link.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::tasks::{render, task_path, PageState};
use super::Console;
use crate::app::preview;
use crate::app::share_links::{self, LinkRequest};
use crate::app::{self, AppState};
use crate::domain::audience::Audience;
use crate::domain::ids::TaskId;
use crate::domain::redaction::{FindingKind, Redaction};
use crate::domain::share::{check_max_views, Permissions, SharePassword};
use crate::domain::time::Timestamp;
use crate::web::error::failure;
use crate::web::page::see_other;
use crate::web::session::PostedForm;

/// What the Share dialog was given (kept when it comes back with an error).
#[derive(Debug, Default, Deserialize)]
pub struct ShareForm {
    title: Option<String>,
    description: Option<String>,
    /// `1h`, `1d`, `7d`, `30d`, `90d`, `365d` or `date`.
    expires_in: Option<String>,
    /// With `expires_in=date`: the last day (UTC) the link works.
    expires_on: Option<String>,
    password: Option<String>,
    max_views: Option<String>,
    allow_download: Option<String>,
    allow_comments: Option<String>,
    show_metadata: Option<String>,
    mask_secrets: Option<String>,
    redact_emails: Option<String>,
    redact_paths: Option<String>,
    /// The owner's patterns, one per line.
    redact_patterns: Option<String>,
    notify_on_view: Option<String>,
    /// `snapshot` to show the task as it is now, never what it gains later.
    content: Option<String>,
    /// Who may open it: e-mail addresses, or domains, one per line; empty for
    /// anyone holding the link.
    audience: Option<String>,
    /// `preview` to see what viewers would get, instead of creating the link.
    intent: Option<String>,
    csrf: Option<String>,
}

/// The Share dialog's fields, as shown.
pub(super) struct ShareDialog {
    /// Shown open (no script needed), e.g. after an error.
    pub(super) open: bool,
    pub(super) error: Option<String>,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) expires_in: String,
    pub(super) expires_on: String,
    pub(super) max_views: String,
    pub(super) allow_download: bool,
    pub(super) allow_comments: bool,
    pub(super) show_metadata: bool,
    pub(super) mask_secrets: bool,
    pub(super) redact_emails: bool,
    pub(super) redact_paths: bool,
    pub(super) redact_patterns: String,
    pub(super) notify_on_view: bool,
    pub(super) snapshot: bool,
    pub(super) audience: String,
    /// The password typed, kept only while previewing.
    pub(super) password: String,
    /// What viewers would get, after Preview.
    pub(super) preview: Option<DialogPreview>,
}

/// What the Share dialog shows after Preview.
pub(super) struct DialogPreview {
    /// What viewers get, in a sentence.
    pub(super) summary: String,
    pub(super) findings: Vec<FindingLine>,
}

/// One finding, in words.
pub(super) struct FindingLine {
    /// e.g. "2 e-mail addresses".
    pub(super) what: String,
    /// e.g. "in the output “Result”".
    pub(super) place: String,
    pub(super) samples: String,
    pub(super) hidden: bool,
}

impl FindingLine {
    fn of(finding: preview::Finding) -> FindingLine {
        let (one, many) = match finding.found {
            preview::Found::Kind(FindingKind::Secret) => ("secret", "secrets"),
            preview::Found::Kind(FindingKind::Email) => ("e-mail address", "e-mail addresses"),
            preview::Found::Kind(FindingKind::Path) => ("home-directory path", "home-directory paths"),
            preview::Found::Kind(FindingKind::IpAddress) => ("IP address", "IP addresses"),
            preview::Found::Kind(FindingKind::Pattern) => {
                ("match of your pattern", "matches of your pattern")
            }
            preview::Found::NotScanned("binary") => ("file not scanned (not text)", "files not scanned"),
            preview::Found::NotScanned(_) => ("file not scanned (too large)", "files not scanned"),
        };
        let what = if finding.count == 1 { format!("1 {one}") } else { format!("{} {many}", finding.count) };
        let what = match &finding.pattern {
            Some(pattern) => format!("{what} {pattern}"),
            None => what,
        };
        let place = match finding.place {
            preview::Place::Title => "in the title".to_owned(),
            preview::Place::Description => "in the description".to_owned(),
            preview::Place::Output(name) => format!("in the output “{name}”"),
            preview::Place::Metadata(field) => format!("in the task's {field}"),
            preview::Place::ArtifactName(name) => format!("in the file name “{name}”"),
            preview::Place::Artifact(name) => format!("in the file “{name}”"),
        };
        FindingLine { what, place, samples: finding.samples.join(", "), hidden: finding.redacted }
    }
}

impl ShareDialog {
    pub(super) fn fresh(open: bool) -> ShareDialog {
        ShareDialog {
            open,
            error: None,
            title: String::new(),
            description: String::new(),
            expires_in: "30d".into(),
            expires_on: String::new(),
            max_views: String::new(),
            allow_download: true,
            allow_comments: false,
            show_metadata: true,
            mask_secrets: true,
            redact_emails: false,
            redact_paths: false,
            redact_patterns: String::new(),
            notify_on_view: false,
            snapshot: false,
            audience: String::new(),
            password: String::new(),
            preview: None,
        }
    }

    fn again(form: &ShareForm, error: String) -> ShareDialog {
        ShareDialog {
            open: true,
            error: Some(error),
            title: form.title.clone().unwrap_or_default(),
            description: form.description.clone().unwrap_or_default(),
            expires_in: form.expires_in.clone().unwrap_or_else(|| "30d".into()),
            expires_on: form.expires_on.clone().unwrap_or_default(),
            max_views: form.max_views.clone().unwrap_or_default(),
            allow_download: form.allow_download.is_some(),
            allow_comments: form.allow_comments.is_some(),
            show_metadata: form.show_metadata.is_some(),
            mask_secrets: form.mask_secrets.is_some(),
            redact_emails: form.redact_emails.is_some(),
            redact_paths: form.redact_paths.is_some(),
            redact_patterns: form.redact_patterns.clone().unwrap_or_default(),
            notify_on_view: form.notify_on_view.is_some(),
            snapshot: form.content.as_deref() == Some("snapshot"),
            audience: form.audience.clone().unwrap_or_default(),
            password: String::new(),
            preview: None,
        }
    }
}

/// The expiry the dialog asked for.
fn expiry(form: &ShareForm, now: Timestamp) -> Result<Timestamp, String> {
    let hours = match form.expires_in.as_deref().unwrap_or("30d") {
        "1h" => 1,
        "1d" => 24,
        "7d" => 7 * 24,
        "30d" => 30 * 24,
        "90d" => 90 * 24,
        "365d" => 365 * 24,
        "date" => {
            let day = form.expires_on.as_deref().unwrap_or_default().trim();
            let end =
                Timestamp::parse(&format!("{day}T23:59:59Z")).ok_or("Choose the last day the link works.")?;
            if end <= now {
                return Err("The last day must be today or later.".into());
            }
            return Ok(end);
        }
        _ => return Err("Choose when the link expires.".into()),
    };
    Ok(Timestamp(now.millis() + hours * 3600 * 1000))
}

/// The link the dialog asked for, or why it can't be made, in words for the dialog.
fn share_request(task_id: &TaskId, form: &ShareForm) -> Result<LinkRequest, String> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let max_views = match text(&form.max_views) {
        Some(n) => {
            let n = n.parse::<i64>().map_err(|_| "Max views must be a whole number.".to_owned())?;
            Some(
                check_max_views("max_views", n)
                    .map_err(|_| "Max views must be between 1 and 1,000,000,000.")?,
            )
        }
        None => None,
    };
    // Passwords are taken as typed (spaces count).
    let password = form.password.clone().filter(|p| !p.is_empty());
    if let Some(password) = &password {
        SharePassword::parse("password", password).map_err(|_| "The password must be 8 to 32 characters.")?;
    }
    Ok(LinkRequest {
        task_id: task_id.clone(),
        title: text(&form.title),
        description: text(&form.description),
        expires_at: Some(expiry(form, Timestamp::now())?),
        password,
        permissions: Permissions {
            allow_download: form.allow_download.is_some(),
            allow_comments: form.allow_comments.is_some(),
            show_metadata: form.show_metadata.is_some(),
        },
        max_views,
        notify_on_view: form.notify_on_view.is_some(),
        redaction: Redaction {
            secrets: form.mask_secrets.is_some(),
            emails: form.redact_emails.is_some(),
            paths: form.redact_paths.is_some(),
            patterns: form
                .redact_patterns
                .as_deref()
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect(),
        },
        snapshot: form.content.as_deref() == Some("snapshot"),
        audience: audience(form.audience.as_deref().unwrap_or_default())?,
    })
}

/// The audience the dialog was given: e-mail addresses, or domains (`@example.com`
/// or `example.com`), one per line; nothing for anyone holding the link.
fn audience(lines: &str) -> Result<Audience, String> {
    let entries: Vec<&str> = lines.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if entries.is_empty() {
        return Ok(Audience::Anyone);
    }
    let is_address = |e: &&str| e.contains('@') && !e.starts_with('@');
    if entries.iter().all(is_address) {
        return Ok(Audience::Emails { emails: entries.iter().map(|e| e.to_string()).collect() });
    }
    if entries.iter().any(is_address) {
        return Err("List either e-mail addresses or domains, not both.".into());
    }
    Ok(Audience::Domains { domains: entries.iter().map(|e| e.trim_start_matches('@').to_owned()).collect() })
}

pub async fn create_link(
    State(state): State<AppState>,
    console: Console,
    Path(task_id): Path<TaskId>,
    headers: HeaderMap,
    PostedForm(form): PostedForm<ShareForm>,
) -> Response {
    if let Err(refused) = console.check(&state, &headers, form.csrf.as_deref()) {
        return refused.into_response();
    }
    let refused = |error: String| {
        let page_state =
            PageState { dialog: ShareDialog::again(&form, error), code_error: None, before: None };
        render(&state, &console, &task_id, None, page_state, StatusCode::BAD_REQUEST)
    };
    let request = match share_request(&task_id, &form) {
        Ok(request) => request,
        Err(error) => return refused(error).await,
    };
    if form.intent.as_deref() == Some("preview") {
        return match preview::preview(&state, &console.owner, request).await {
            Ok(shown) => {
                let mut dialog = ShareDialog::again(&form, String::new());
                dialog.error = None;
                dialog.password = form.password.clone().unwrap_or_default();
                let view = &shown.view;
                let outputs = view.outputs.iter().count();
                let files = view.artifacts.as_ref().map_or(0, Vec::len);
                let summary = format!(
                    "Viewers get {outputs} output{}{}{}, with what is marked hidden below replaced.",
                    if outputs == 1 { "" } else { "s" },
                    if view.artifacts.is_some() {
                        format!(" and {files} file{}", if files == 1 { "" } else { "s" })
                    } else {
                        String::new()
                    },
                    if view.metadata.is_some() { ", timings, agent and status" } else { "" },
                );
                dialog.preview = Some(DialogPreview {
                    summary,
                    findings: shown.findings.into_iter().map(FindingLine::of).collect(),
                });
                let page_state = PageState { dialog, code_error: None, before: None };
                render(&state, &console, &task_id, None, page_state, StatusCode::OK).await
            }
            Err(app::Error::TaskNotCompleted { .. }) => {
                refused("Links can be made once the task has finished.".into()).await
            }
            Err(app::Error::Invalid(field)) => refused(field.issue).await,
            Err(err) => failure(err),
        };
    }
    match share_links::create(&state, &console.owner, request).await {
        Ok(link) => {
            see_other(&format!("{}?created={}#links", task_path(&state, &task_id), link.share_link_id))
        }
        Err(app::Error::TaskNotCompleted { .. }) => {
            refused("Links can be made once the task has finished.".into()).await
        }
        Err(app::Error::Invalid(field)) => refused(field.issue).await,
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(expires_in: &str, expires_on: &str) -> ShareForm {
        ShareForm {
            expires_in: Some(expires_in.into()),
            expires_on: Some(expires_on.into()),
            ..ShareForm::default()
        }
    }

    #[test]
    fn expiry_presets_count_from_now() {
        let now = Timestamp(1_000_000);
        assert_eq!(expiry(&form("1h", ""), now), Ok(Timestamp(1_000_000 + 3_600_000)));
        assert_eq!(expiry(&form("7d", ""), now), Ok(Timestamp(1_000_000 + 7 * 86_400_000)));
        assert!(expiry(&form("forever", ""), now).is_err());
    }

    #[test]
    fn an_expiry_date_means_the_end_of_that_day() {
        let now = Timestamp::parse("2030-01-01T12:00:00Z").unwrap();
        assert_eq!(
            expiry(&form("date", "2030-01-02"), now),
            Ok(Timestamp::parse("2030-01-02T23:59:59Z").unwrap())
        );
        assert!(expiry(&form("date", "2029-12-31"), now).is_err(), "in the past");
        assert!(expiry(&form("date", "tomorrow"), now).is_err());
    }

    #[test]
    fn unchecked_boxes_are_off_and_blank_fields_are_absent() {
        let task_id = TaskId::from("task_1");
        let request =
            share_request(&task_id, &ShareForm { max_views: Some(" 3 ".into()), ..ShareForm::default() })
                .unwrap();
        assert_eq!(request.title, None);
        assert_eq!(request.password, None);
        assert_eq!(request.max_views, Some(3));
        assert!(!request.permissions.allow_download);
        assert!(!request.redaction.secrets);
        assert!(share_request(
            &task_id,
            &ShareForm { max_views: Some("many".into()), ..ShareForm::default() }
        )
        .is_err());
    }

    #[test]
    fn the_dialog_words_what_it_refuses() {
        let task_id = TaskId::from("task_1");
        let refused = |form: ShareForm| share_request(&task_id, &form).err();
        assert_eq!(
            refused(ShareForm { max_views: Some("0".into()), ..ShareForm::default() }).as_deref(),
            Some("Max views must be between 1 and 1,000,000,000.")
        );
        assert_eq!(
            refused(ShareForm { password: Some("short".into()), ..ShareForm::default() }).as_deref(),
            Some("The password must be 8 to 32 characters.")
        );
    }

    #[test]
    fn the_audience_is_addresses_or_domains() {
        assert_eq!(audience(" \n"), Ok(Audience::Anyone));
        assert_eq!(
            audience("ana@example.com\n bo@example.org "),
            Ok(Audience::Emails { emails: vec!["ana@example.com".into(), "bo@example.org".into()] })
        );
        assert_eq!(
            audience("@example.com\nexample.org"),
            Ok(Audience::Domains { domains: vec!["example.com".into(), "example.org".into()] })
        );
        assert!(audience("ana@example.com\n@example.org").is_err());
    }
}
