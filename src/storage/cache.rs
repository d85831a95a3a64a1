//! What viewers of share links see, kept in memory per instance, never stale.
//!
//! Every view of a link reads the link and what its task shows. Both are cached
//! here, bounded in size, and each is checked against a version that moves with
//! every change:
//!
//! - [`LinkCache`]: links by token hash, only those a view opens without a
//!   question (no password, no view limit, no audience: a viewer turned away by one
//!   of those counts nothing, so nothing would check the cached copy). A cached link is counted only if its
//!   `version` is still the stored one (the writer checks it in the
//!   transaction that counts the view), so an owner's change or revocation holds on
//!   the very next view, on every instance; a view prepared from an older version
//!   is counted nothing and prepared again.
//! - [`ContentCache`]: a task's outputs (masked and not) and artifacts, keyed by
//!   the task's `last_event_seq` and `artifacts_version` as the transaction that
//!   counted the view read them: events are only ever appended, and every artifact
//!   added or deleted moves the version, so a matching entry is what the tables
//!   held when the view was counted. A view thus reads nothing but its link's row,
//!   inside its batch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde_json::value::RawValue;

use super::artifacts::ArtifactRecord;
use super::share_links::{ShareLinkRecord, TaskFacts};
use super::Db;
use crate::domain::ids::TaskId;
use crate::domain::secrets;
use crate::domain::task::EventType;
use crate::domain::time::Timestamp;

/// A map of at most `capacity` entries: a new entry in a full map evicts an
/// arbitrary one.
struct Bounded<V> {
    map: Mutex<HashMap<String, V>>,
    capacity: usize,
}

impl<V: Clone> Bounded<V> {
    fn new(capacity: usize) -> Bounded<V> {
        Bounded { map: Mutex::new(HashMap::new()), capacity }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, V>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str) -> Option<V> {
        self.lock().get(key).cloned()
    }

    fn put(&self, key: &str, value: V) {
        let mut map = self.lock();
        if map.len() >= self.capacity && !map.contains_key(key) {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(key.to_owned(), value);
    }

    fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Links most recently opened on this instance, by token hash.
pub struct LinkCache(Bounded<Arc<ShareLinkRecord>>);

/// Links kept by default: a few MB.
pub const LINKS_CACHED: usize = 10_000;

impl LinkCache {
    pub fn new(capacity: usize) -> LinkCache {
        LinkCache(Bounded::new(capacity))
    }

    /// The link last seen with this token hash, if cached.
    pub fn get(&self, token_hash: &str) -> Option<Arc<ShareLinkRecord>> {
        self.0.get(token_hash)
    }

    /// Keeps `link` as just read from the database, if a view opens it without a
    /// question; forgets it otherwise.
    pub fn remember(&self, token_hash: &str, link: &ShareLinkRecord) {
        if link.password_hash.is_none()
            && link.max_views.is_none()
            && link.revoked_at.is_none()
            && !link.has_audience()
        {
            self.0.put(token_hash, Arc::new(link.clone()));
        } else {
            self.0.forget(token_hash);
        }
    }

    /// Links kept now.
    pub fn kept(&self) -> usize {
        self.0.len()
    }

    pub fn forget(&self, token_hash: &str) {
        self.0.forget(token_hash);
    }
}

/// An output as viewers see it.
#[derive(Debug)]
pub struct ShownOutput {
    pub name: String,
    pub content: String,
    /// The content with secrets masked, when masking changes it.
    masked: Option<String>,
    pub created_at: crate::domain::time::Timestamp,
}

impl ShownOutput {
    /// The content, with secrets masked if `mask`.
    pub fn content(&self, mask: bool) -> &str {
        match &self.masked {
            Some(masked) if mask => masked,
            _ => &self.content,
        }
    }
}

/// What a task shows viewers of its links at one version.
#[derive(Debug)]
pub struct TaskContent {
    last_event_seq: i64,
    artifacts_version: i64,
    /// Its outputs, in order (no private ones).
    pub outputs: Vec<ShownOutput>,
    pub artifacts: Vec<ArtifactRecord>,
    /// The outputs as JSON, as shown with secrets unmasked and masked: serialized
    /// once per version, not on every view.
    json: [OnceLock<Box<RawValue>>; 2],
}

impl TaskContent {
    /// The outputs as JSON (with secrets masked if `mask`), made by `make` the
    /// first time they are asked for.
    pub fn outputs_json(
        &self,
        mask: bool,
        make: impl FnOnce() -> serde_json::Result<Box<RawValue>>,
    ) -> serde_json::Result<&RawValue> {
        let cell = &self.json[usize::from(mask)];
        if let Some(json) = cell.get() {
            return Ok(json);
        }
        let json = make()?;
        Ok(cell.get_or_init(|| json))
    }
}

/// Content of tasks recently viewed on this instance.
pub struct ContentCache {
    tasks: Bounded<Arc<TaskContent>>,
    /// Entries larger than this are not kept.
    largest: usize,
}

/// Tasks whose content is kept by default, and the largest content kept.
pub const TASKS_CACHED: usize = 256;
pub const LARGEST_CONTENT_CACHED: usize = 256 * 1024;

impl ContentCache {
    pub fn new(capacity: usize, largest: usize) -> ContentCache {
        ContentCache { tasks: Bounded::new(capacity), largest }
    }

    /// Tasks whose content is kept now.
    pub fn kept(&self) -> usize {
        self.tasks.len()
    }

    /// What the task `task_id` shows (at most `max_outputs` outputs) at the version
    /// `task` names, or for a snapshot taken at `as_of` (the last event then, and the
    /// time: files added later are not shown): from memory when it was read before,
    /// else from the tables.
    pub async fn shown(
        &self,
        db: &Db,
        task_id: &TaskId,
        task: &TaskFacts,
        max_outputs: u32,
        as_of: Option<(i64, Timestamp)>,
    ) -> sqlx::Result<Arc<TaskContent>> {
        let artifacts_version = task.artifacts_version;
        let (last_event_seq, key) = match as_of {
            // Snapshots are kept apart from the task's live content.
            Some((seq, _)) => {
                (seq.min(task.last_event_seq), std::borrow::Cow::Owned(format!("{task_id}@{seq}")))
            }
            None => (task.last_event_seq, std::borrow::Cow::Borrowed(task_id.as_str())),
        };
        if let Some(content) = self
            .tasks
            .get(&key)
            .filter(|c| c.last_event_seq == last_event_seq && c.artifacts_version == artifacts_version)
        {
            return Ok(content);
        }
        let mut events =
            db.list_events(task_id, 0, Some(EventType::Output), false, max_outputs).await?.events;
        // Events past the version read above were appended since: they belong to a later version.
        events.retain(|e| e.seq <= last_event_seq);
        let mut artifacts = db.list_artifacts(task_id).await?;
        if let Some((_, until)) = as_of {
            artifacts.retain(|a| a.created_at <= until);
        }
        let mut size = 0;
        let outputs = events
            .into_iter()
            .map(|e| {
                let masked = match secrets::mask(&e.content) {
                    std::borrow::Cow::Owned(masked) => Some(masked),
                    std::borrow::Cow::Borrowed(_) => None,
                };
                size += e.content.len() + masked.as_ref().map_or(0, String::len);
                ShownOutput {
                    name: e.name.unwrap_or_default(),
                    content: e.content,
                    masked,
                    created_at: e.created_at,
                }
            })
            .collect();
        let content = Arc::new(TaskContent {
            last_event_seq,
            artifacts_version,
            outputs,
            artifacts,
            json: Default::default(),
        });
        if size <= self.largest {
            self.tasks.put(&key, content.clone());
        }
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::Bounded;

    #[test]
    fn a_full_map_makes_room_and_never_grows_past_its_capacity() {
        let map = Bounded::new(3);
        for i in 0..100 {
            map.put(&i.to_string(), i);
            assert!(map.lock().len() <= 3);
            assert_eq!(map.get(&i.to_string()), Some(i), "the newest entry is kept");
        }
        map.put("99", -1);
        assert_eq!(map.get("99"), Some(-1), "a key put again is replaced");
        map.forget("99");
        assert_eq!(map.get("99"), None);
    }
}
