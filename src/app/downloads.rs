//! A viewer downloads a shared task's files, one at a time or all in one zip,
//! under the grant a view handed out: no view is spent, the link's redaction and
//! snapshot apply, and each download goes into the link's activity log.

use std::net::IpAddr;

use super::activity::{self, Details};
use super::artifacts::{self, Download};
use super::error::{Error, Result};
use super::opening::{live_link, missed, refuse_guessers, Visitor};
use super::AppState;
use crate::domain::activity::{ActivityKind, ALL_FILES};
use crate::domain::ids::ArtifactId;
use crate::domain::time::Timestamp;
use crate::storage::ShareLinkRecord;

/// The link `token` opens, when `grant` proves a recent view of it and the link
/// allows downloads. A link that reached its view limit still serves the viewers who
/// revealed it (for the grant's hour); revocation and expiry by time stop everything.
async fn downloadable(state: &AppState, token: &str, grant: Option<&str>) -> Result<ShareLinkRecord> {
    let link = live_link(state, token).await?;
    if !grant.is_some_and(|g| state.link_keys().check_grant(link.share_link_id.as_str(), g, Timestamp::now()))
    {
        return Err(Error::ViewRequired);
    }
    if !link.allow_download {
        return Err(Error::DownloadNotAllowed);
    }
    Ok(link)
}

/// Runs a viewer's `work` on the link `token` opens unless `client` keeps guessing
/// links; a token that names no link counts as a miss.
async fn guarded<T>(
    state: &AppState,
    token: &str,
    client: IpAddr,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    refuse_guessers(state, client)?;
    let result = work.await;
    if matches!(result, Err(Error::ShareUnavailable)) {
        missed(state, token, client).await;
    }
    result
}

/// A file of a shared task, for a viewer holding a grant; spends no view.
pub async fn download(
    state: &AppState,
    token: &str,
    artifact_id: &ArtifactId,
    grant: Option<&str>,
    visitor: Visitor<'_>,
) -> Result<Download> {
    guarded(state, token, visitor.client, async {
        let link = downloadable(state, token, grant).await?;
        let made_until = link.snapshot_seq.map(|_| link.created_at);
        let served = artifacts::serve(state, &link.task_id, artifact_id, made_until, visitor.client).await;
        log_download(state, &link, visitor, served.as_ref().map(|file| file.name.as_str()));
        Ok(artifacts::redacted(served?, link.redaction().redactor()))
    })
    .await
}

/// Logs a download of `link` that began (with the file's name) or was refused for
/// the client's taking too many at once.
fn log_download(
    state: &AppState,
    link: &ShareLinkRecord,
    visitor: Visitor<'_>,
    served: Result<&str, &Error>,
) {
    let (kind, file) = match served {
        Ok(name) => (ActivityKind::Downloaded, name),
        Err(Error::TooManyDownloads { .. }) => (ActivityKind::Refused, ""),
        Err(_) => return,
    };
    let details = Details { file: (!file.is_empty()).then(|| file.to_owned()), ..Details::default() };
    activity::record(state, &link.share_link_id, kind, visitor, details);
}

/// Every file of a shared task as one zip, for a viewer holding a grant, named
/// after the link's title and written as it is sent. Spends no view.
pub async fn download_all(
    state: &AppState,
    token: &str,
    grant: Option<&str>,
    visitor: Visitor<'_>,
) -> Result<Download> {
    let client = visitor.client;
    guarded(state, token, client, async {
        let link = downloadable(state, token, grant).await?;
        let archives = &state.limits().archives;
        let slot =
            archives.acquire(client, false).ok_or(Error::TooManyDownloads { limit: archives.per_client() });
        log_download(state, &link, visitor, slot.as_ref().map(|_| ALL_FILES));
        let slot = slot?;
        let mut artifacts = state.db().list_artifacts(&link.task_id).await?;
        if link.snapshot_seq.is_some() {
            artifacts.retain(|a| a.created_at <= link.created_at);
        }
        let expected = artifacts.iter().map(|a| a.size_bytes.max(0) as u64).sum();
        let redactor = link.redaction().redactor();
        let name = format!("{}.zip", file_stem(&redactor.redact(&link.title)));
        let bytes = super::archive::zip(state.db().clone(), link.task_id, artifacts, slot, redactor);
        Ok(Download { name, content_type: "application/zip".into(), length: None, expected, bytes })
    })
    .await
}

/// A file name made of a title: letters, digits, `-` and `_`, at most 80 characters.
fn file_stem(title: &str) -> String {
    let mut stem = String::new();
    for c in title.chars() {
        if c.is_alphanumeric() || c == '_' {
            stem.push(c);
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
        if stem.chars().count() >= 80 {
            break;
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "artifacts".to_owned()
    } else {
        stem.to_owned()
    }
}
