//! What a link would show, before it is made: the view a viewer would receive, and
//! what the shared content holds — secrets, e-mail addresses, local paths, IP
//! addresses, matches of the owner's patterns — each said to be hidden from viewers
//! or not. Nothing is stored.

use std::collections::BTreeMap;

use super::error::{Error, Result};
use super::opening::{self, SharedView};
use super::share_links::{self, LinkRequest};
use super::AppState;
use crate::domain::ids::{ShareLinkId, ViewId};
use crate::domain::redaction::{self, FindingKind, Redactor};
use crate::domain::time::Timestamp;
use crate::storage::{ArtifactRecord, CountedView, Owner, ShareLinkRecord, TaskFacts, ARTIFACT_CHUNK_BYTES};

/// Largest text file whose content a preview reads; larger ones are reported as
/// not scanned (they are still redacted when served).
pub const LARGEST_SCANNED_FILE: i64 = 8 << 20;
/// Most bytes of files one preview reads in all; files past it are reported as not
/// scanned, so a task of many large files can't fill the memory.
pub const SCANNED_FILES_BUDGET: i64 = 32 << 20;
/// Most samples shown of one finding.
const SAMPLES: usize = 3;

/// Where in the shared content something was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Place {
    Title,
    Description,
    /// An output, by name.
    Output(String),
    /// A field of the task's metadata (`agent`).
    Metadata(&'static str),
    /// A file's name.
    ArtifactName(String),
    /// A file's content.
    Artifact(String),
}

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Found {
    Kind(FindingKind),
    /// A file whose content was not read: binary, or too large.
    NotScanned(&'static str),
}

/// Things of one kind found in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub found: Found,
    pub place: Place,
    /// The owner pattern that matched.
    pub pattern: Option<String>,
    /// How many.
    pub count: usize,
    /// A few of them, as the owner may see them (secrets only by their first
    /// characters).
    pub samples: Vec<String>,
    /// Whether viewers get them hidden.
    pub redacted: bool,
}

/// A link's preview.
pub struct Preview {
    pub view: SharedView,
    pub findings: Vec<Finding>,
}

/// Previews the link `request` would make: checked exactly as creating it is,
/// nothing stored, no view counted.
pub async fn preview(state: &AppState, owner: &Owner, request: LinkRequest) -> Result<Preview> {
    let now = Timestamp::now();
    let link = share_links::checked(state, owner, request, now).await?;
    let share_link_id = ShareLinkId::generate();
    let token = state.link_keys().token(share_link_id.as_str());
    let record = ShareLinkRecord {
        share_link_id,
        task_id: link.task.task_id.clone(),
        owner_id: owner.owner_id.clone(),
        title: link.title,
        description: link.description,
        password_hash: link.password.map(|_| String::new()),
        expires_at: link.expires_at,
        max_views: link.max_views,
        view_count: 0,
        unique_views: 0,
        first_viewed_at: None,
        last_viewed_at: None,
        allow_download: link.permissions.allow_download,
        allow_comments: link.permissions.allow_comments,
        show_metadata: link.permissions.show_metadata,
        notify_on_view: link.notify_on_view,
        mask_secrets: link.redaction.secrets,
        redaction: link.redaction.beyond_secrets(),
        snapshot_seq: link.snapshot_seq,
        audience: link.audience.column(),
        revoked_at: None,
        created_at: now,
        updated_at: now,
        version: 0,
    };
    let task = state
        .db()
        .task_facts(&record.task_id)
        .await?
        .ok_or_else(|| Error::task_not_found(&record.task_id))?;
    let first = CountedView {
        view_id: ViewId::generate(),
        view_count: 1,
        max_views: link.max_views,
        viewed_at: now,
        task,
    };
    let view = opening::shared_view(state, &record, &token, &first).await?;
    let findings = findings(state, &record, &first.task, link.redaction.redactor()).await?;
    Ok(Preview { view, findings })
}

/// Everything found in what the link would share, grouped by kind and place.
async fn findings(
    state: &AppState,
    link: &ShareLinkRecord,
    task: &TaskFacts,
    redactor: std::sync::Arc<Redactor>,
) -> Result<Vec<Finding>> {
    let content = opening::content_of(state, link, task).await?;
    let mut texts: Vec<(Place, String)> = vec![(Place::Title, link.title.clone())];
    if let Some(description) = &link.description {
        texts.push((Place::Description, description.clone()));
    }
    for output in &content.outputs {
        texts.push((Place::Output(output.name.clone()), output.content.clone()));
    }
    if link.show_metadata {
        if let Some(agent) = &task.agent {
            texts.push((Place::Metadata("agent"), agent.clone()));
        }
    }
    let mut not_scanned = Vec::new();
    if link.allow_download {
        let mut budget = SCANNED_FILES_BUDGET;
        for artifact in &content.artifacts {
            texts.push((Place::ArtifactName(artifact.name.clone()), artifact.name.clone()));
            match scannable(state, artifact, &mut budget).await? {
                Ok(text) => texts.push((Place::Artifact(artifact.name.clone()), text)),
                Err(reason) => not_scanned.push(Finding {
                    found: Found::NotScanned(reason),
                    place: Place::Artifact(artifact.name.clone()),
                    pattern: None,
                    count: 1,
                    samples: Vec::new(),
                    redacted: false,
                }),
            }
        }
    }
    let mut findings = state
        .limits()
        .rendering
        .run(move || grouped(&redactor, &texts))
        .await
        .ok_or_else(|| Error::internal(anyhow::anyhow!("scanning the shared content panicked")))?;
    findings.extend(not_scanned);
    Ok(findings)
}

/// The content of a text file, or why it is not read; what it reads comes out of
/// `budget`.
async fn scannable(
    state: &AppState,
    artifact: &ArtifactRecord,
    budget: &mut i64,
) -> Result<std::result::Result<String, &'static str>> {
    if !redaction::is_text(&artifact.content_type) {
        return Ok(Err("binary"));
    }
    if artifact.size_bytes > LARGEST_SCANNED_FILE || artifact.size_bytes > *budget {
        return Ok(Err("too_large"));
    }
    *budget -= artifact.size_bytes;
    let mut bytes = Vec::with_capacity(artifact.size_bytes.max(0) as usize);
    let chunks = (artifact.size_bytes.max(0) as usize).div_ceil(ARTIFACT_CHUNK_BYTES);
    for n in 0..chunks {
        match state.db().artifact_chunk(&artifact.task_id, &artifact.artifact_id, n as i64).await? {
            Some(chunk) => bytes.extend_from_slice(&chunk),
            None => break,
        }
    }
    Ok(Ok(String::from_utf8_lossy(&bytes).into_owned()))
}

/// What findings are grouped by: kind, place, the pattern that matched, and
/// whether it is hidden.
type Group = (Found, Place, Option<String>, bool);

/// Scans each text, grouping what is found by kind, place, pattern and whether it
/// is hidden.
fn grouped(redactor: &Redactor, texts: &[(Place, String)]) -> Vec<Finding> {
    let mut groups: BTreeMap<Group, (usize, Vec<String>)> = BTreeMap::new();
    for (place, text) in texts {
        for found in redactor.scan(text) {
            let key = (Found::Kind(found.kind), place.clone(), found.pattern, found.redacted);
            let (count, samples) = groups.entry(key).or_default();
            *count += 1;
            if samples.len() < SAMPLES && !samples.contains(&found.sample) {
                samples.push(found.sample);
            }
        }
    }
    groups
        .into_iter()
        .map(|((found, place, pattern, redacted), (count, samples))| Finding {
            found,
            place,
            pattern,
            count,
            samples,
            redacted,
        })
        .collect()
}
