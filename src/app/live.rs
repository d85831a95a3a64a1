//! Live news of tasks, read once per instance and fanned out in memory.
//!
//! Every stream following a task on this instance shares one [`Feed`] of it: a
//! task of its own reads the task's new events, its status and its live viewer
//! sessions when woken, and publishes them; streams take events from the feed's
//! memory of recent events and wait on its news. The database work per change
//! is one look per instance, however many streams follow the task.
//!
//! A feed looks when this instance changes the task ([`Live::changed`]), when
//! another instance announces a change (`NOTIFY` on PostgreSQL, heard by
//! [`listen`]), and every `live_poll` of the settings in any case (a second: a
//! missed announcement, or an expired session, costs at most that long).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{watch, Notify, OnceCell};

use crate::domain::ids::{TaskId, ViewerSessionId};
use crate::metrics::Metrics;
use crate::storage::live::Announcement;
use crate::storage::{Db, EventRecord};

/// How long [`listen`] waits before connecting again.
const RETRY: Duration = Duration::from_millis(1000);
/// Most recent events a feed keeps in memory, and their most bytes; a stream
/// further behind reads what it missed from the database.
const RECENT_EVENTS: usize = 512;
const RECENT_BYTES: usize = 8 * 1024 * 1024;
/// Events read per query.
pub(super) const PAGE: u32 = 100;

/// An event as streams send it: its owner's form, and its viewers' (secrets
/// masked), made once for all streams; `None` for viewers when it is private.
#[derive(Debug)]
pub struct Shown {
    pub owner: EventRecord,
    pub viewer: Option<EventRecord>,
    /// Each form as front ends send it ([`Form`], for the owner and for
    /// viewers), made by the first stream that sends it, shared by the rest.
    sent: [OnceCell<Arc<str>>; 4],
}

/// How a front end sends an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The API's stream: the event's JSON.
    Json,
    /// The live page's stream: the event's HTML.
    Page,
}

/// One event for one stream: the owner's form, or the viewers'.
#[derive(Debug, Clone)]
pub struct Sent {
    shown: Arc<Shown>,
    owner: bool,
}

impl Sent {
    /// `shown` for the owner, or for a viewer when viewers see it.
    pub(crate) fn of(shown: Arc<Shown>, owner: bool) -> Option<Sent> {
        (owner || shown.viewer.is_some()).then_some(Sent { shown, owner })
    }

    /// The event, in the form this stream's reader may see.
    pub fn event(&self) -> &EventRecord {
        match (&self.shown.viewer, self.owner) {
            (Some(viewer), false) => viewer,
            _ => &self.shown.owner,
        }
    }

    /// The event as `form`, made by `make` from [`Sent::event`] for the first
    /// stream that sends it (the others wait for it, then share it).
    pub async fn sent_as<F, Fut>(&self, form: Form, make: F) -> Arc<str>
    where
        F: FnOnce(EventRecord) -> Fut,
        Fut: std::future::Future<Output = String>,
    {
        let slot = match (form, self.owner) {
            (Form::Json, true) => 0,
            (Form::Json, false) => 1,
            (Form::Page, true) => 2,
            (Form::Page, false) => 3,
        };
        self.shown.sent[slot]
            .get_or_init(|| async { Arc::from(make(self.event().clone()).await) })
            .await
            .clone()
    }
}

impl Shown {
    pub fn of(event: EventRecord) -> Shown {
        let viewer = (!event.private).then(|| super::events::shown_to(false, event.clone()));
        Shown { owner: event, viewer, sent: Default::default() }
    }

    pub fn seq(&self) -> i64 {
        self.owner.seq
    }

    fn bytes(&self) -> usize {
        self.owner.content.len() + self.viewer.as_ref().map_or(0, |v| v.content.len())
    }
}

/// What a feed last found.
#[derive(Debug, Clone, Default)]
pub struct News {
    /// False until the feed has looked once.
    pub looked: bool,
    /// Which of the feed's looks found this (they are numbered from 1 as they begin).
    pub look: u64,
    /// The task is gone.
    pub gone: bool,
    /// The task has finished (and every event up to `last_seq` is in).
    pub finished: bool,
    /// The newest event's sequence number.
    pub last_seq: i64,
    /// The viewer sessions that may still see the task.
    pub sessions: Arc<HashSet<ViewerSessionId>>,
    /// The look failed (the database did not answer): streams end, and their
    /// clients reconnect.
    pub failed: bool,
}

/// The shared news of one task on this instance.
pub struct Feed {
    task_id: TaskId,
    wake: Notify,
    /// Looks begun so far.
    looks: std::sync::atomic::AtomicU64,
    news: watch::Sender<News>,
    recent: RwLock<Recent>,
}

#[derive(Default)]
struct Recent {
    events: VecDeque<Arc<Shown>>,
    bytes: usize,
}

impl Feed {
    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// The events after `after` up to `upto` (the news' `last_seq`), if the
    /// feed still holds every one of them; `None` when some are older than its
    /// memory.
    pub fn since(&self, after: i64, upto: i64) -> Option<Vec<Arc<Shown>>> {
        if after >= upto {
            return Some(Vec::new());
        }
        let recent = self.recent.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let first = recent.events.front()?.seq();
        if first > after + 1 {
            return None;
        }
        Some(recent.events.iter().filter(|e| e.seq() > after && e.seq() <= upto).cloned().collect())
    }

    fn remember(&self, events: Vec<EventRecord>) {
        let mut recent = self.recent.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for event in events {
            let shown = Arc::new(Shown::of(event));
            recent.bytes += shown.bytes();
            recent.events.push_back(shown);
        }
        while recent.events.len() > RECENT_EVENTS || (recent.bytes > RECENT_BYTES && recent.events.len() > 1)
        {
            if let Some(old) = recent.events.pop_front() {
                recent.bytes -= old.bytes();
            }
        }
    }
}

/// A stream's hold on a feed: the feed's events and news, for as long as it lives.
pub struct Subscription {
    pub feed: Arc<Feed>,
    pub news: watch::Receiver<News>,
    /// The looks begun before this stream followed: their sessions may have been
    /// read before its viewer's session was made.
    pub joined_after: u64,
}

impl Subscription {
    /// Whether `news` says the viewer session `session_id` (found live before
    /// the stream followed) may no longer see the task. Only a look begun after
    /// the stream followed can say so; until one has, the feed is asked to look.
    pub fn revoked(&self, news: &News, session_id: &ViewerSessionId) -> bool {
        if news.sessions.contains(session_id) {
            return false;
        }
        if news.look > self.joined_after {
            return true;
        }
        self.feed.wake.notify_one();
        false
    }
}

/// The feeds of this instance.
pub struct Live {
    db: Db,
    /// This instance, in its announcements (so that it skips its own).
    instance: String,
    feeds: Mutex<HashMap<TaskId, Arc<Feed>>>,
    /// How often a feed looks when nothing woke it.
    poll: Duration,
    metrics: Metrics,
}

impl Live {
    pub fn new(db: Db, poll: Duration, metrics: Metrics) -> Live {
        let instance = hex::encode(crate::domain::ids::random_bytes::<8>());
        Live { db, instance, feeds: Mutex::default(), poll, metrics }
    }

    /// Follows `task_id`: its feed, started (its first look under way) if no
    /// stream of this instance followed it yet.
    pub fn subscribe(self: &Arc<Self>, task_id: &TaskId) -> Subscription {
        let mut feeds = self.feeds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(feed) = feeds.get(task_id) {
            let joined_after = feed.looks.load(std::sync::atomic::Ordering::SeqCst);
            return Subscription { feed: feed.clone(), news: feed.news.subscribe(), joined_after };
        }
        let (news, receiver) = watch::channel(News::default());
        let feed = Arc::new(Feed {
            task_id: task_id.clone(),
            wake: Notify::new(),
            looks: Default::default(),
            news,
            recent: RwLock::default(),
        });
        feeds.insert(task_id.clone(), feed.clone());
        tokio::spawn(self.clone().run(feed.clone()));
        Subscription { feed, news: receiver, joined_after: 0 }
    }

    /// This instance changed `task` (or, with `None`, tasks it cannot name):
    /// its feeds look now, and other instances are told.
    pub async fn changed(&self, task: Option<&TaskId>) {
        self.heard(&task.map_or(Announcement::All, |t| Announcement::Task(t.clone())));
        if let Err(err) = self.db.announce(&self.instance, task).await {
            // Other instances' feeds find it at their next look.
            tracing::warn!(error = %err, "cannot announce a task change to other instances");
        }
    }

    /// Wakes the feeds an announcement concerns.
    pub fn heard(&self, announcement: &Announcement) {
        let feeds = self.feeds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match announcement {
            Announcement::Task(task_id) => {
                if let Some(feed) = feeds.get(task_id) {
                    feed.wake.notify_one();
                }
            }
            Announcement::All => feeds.values().for_each(|feed| feed.wake.notify_one()),
        }
    }

    /// Tasks followed on this instance now.
    pub fn followed(&self) -> usize {
        self.feeds.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }

    /// A feed's task: looks, publishes, waits; ends once no stream follows it.
    async fn run(self: Arc<Self>, feed: Arc<Feed>) {
        let mut last_seq = None;
        loop {
            let news = self.look(&feed, &mut last_seq).await;
            feed.news.send_replace(news);
            tokio::select! {
                () = feed.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
                () = feed.news.closed() => {}
            }
            // Streams subscribe under the lock: none can arrive between this
            // check and the removal.
            let mut feeds = self.feeds.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if feed.news.receiver_count() == 0 {
                feeds.remove(&feed.task_id);
                return;
            }
        }
    }

    /// One look at the task: its status first, then its events up to (at
    /// least) the newest the status knew of, then its live sessions.
    async fn look(&self, feed: &Feed, last_seq: &mut Option<i64>) -> News {
        self.metrics.feed_looked();
        let look = feed.looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let failed = News { looked: true, look, failed: true, ..News::default() };
        let facts = match self.db.task_facts(&feed.task_id).await {
            Ok(Some(facts)) => facts,
            Ok(None) => return News { looked: true, look, gone: true, ..News::default() },
            Err(err) => {
                tracing::warn!(error = %err, task_id = %feed.task_id, "a live feed cannot read its task");
                return failed;
            }
        };
        // A new feed starts from the newest event: streams further behind read
        // what they missed themselves.
        let mut seq = *last_seq.get_or_insert(facts.last_event_seq);
        loop {
            match self.db.list_events(&feed.task_id, seq, None, true, PAGE).await {
                Ok(page) => {
                    let has_more = page.has_more;
                    if let Some(last) = page.events.last() {
                        seq = last.seq;
                    }
                    feed.remember(page.events);
                    if !has_more {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, task_id = %feed.task_id, "a live feed cannot read events");
                    *last_seq = Some(seq);
                    return failed;
                }
            }
        }
        *last_seq = Some(seq);
        let sessions = match self.db.live_sessions(&feed.task_id).await {
            Ok(sessions) => sessions,
            Err(err) => {
                tracing::warn!(error = %err, task_id = %feed.task_id, "a live feed cannot read sessions");
                return failed;
            }
        };
        News {
            looked: true,
            look,
            gone: false,
            finished: facts.status.is_final() && seq >= facts.last_event_seq,
            last_seq: seq,
            sessions: Arc::new(sessions),
            failed: false,
        }
    }
}

/// Hears other instances' announcements (PostgreSQL) and wakes this instance's
/// feeds; returns at once on SQLite. A lost connection is retried, and wakes
/// every feed (what was announced meanwhile is unknown).
pub async fn listen(live: Arc<Live>) {
    loop {
        let mut announcements = match live.db.announcements(&live.instance).await {
            Ok(Some(announcements)) => announcements,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for other instances' task changes; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        live.heard(&Announcement::All);
        loop {
            match announcements.next().await {
                Ok(announcement) => live.heard(&announcement),
                Err(err) => {
                    tracing::warn!(error = %err, "lost other instances' task changes; listening again");
                    live.heard(&Announcement::All);
                    tokio::time::sleep(RETRY).await;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::task::{Author, EventType};
    use crate::domain::time::Timestamp;

    fn event(seq: i64, content: &str, private: bool) -> EventRecord {
        EventRecord {
            task_id: TaskId::from("task_1"),
            seq,
            event_type: EventType::Log,
            name: None,
            content: content.to_owned(),
            private,
            author: Author::Owner,
            created_at: Timestamp(0),
            event_key: None,
        }
    }

    #[tokio::test]
    async fn each_form_is_made_once_for_every_stream() {
        let secret = "token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
        let shown = Arc::new(Shown::of(event(1, secret, false)));
        let made = AtomicUsize::new(0);
        let make = |event: EventRecord| {
            made.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                event.content
            }
        };
        let viewers: Vec<Sent> = (0..50).map(|_| Sent::of(shown.clone(), false).unwrap()).collect();
        let sent = futures_util::future::join_all(viewers.iter().map(|v| v.sent_as(Form::Json, make))).await;
        assert_eq!(made.load(Ordering::SeqCst), 1, "made once for 50 streams");
        assert!(sent.iter().all(|s| !s.contains("ghp_0123") && s.starts_with("token ")), "{:?}", sent[0]);
        let owner = Sent::of(shown.clone(), true).unwrap().sent_as(Form::Json, make).await;
        assert_eq!(&*owner, secret, "the owner's form is the event as it is");
        Sent::of(shown, false).unwrap().sent_as(Form::Page, make).await;
        assert_eq!(made.load(Ordering::SeqCst), 3, "one more per form");
        let private = Arc::new(Shown::of(event(2, "mine", true)));
        assert!(Sent::of(private.clone(), false).is_none(), "no viewer sees a private event");
        assert!(Sent::of(private, true).is_some());
    }

    #[test]
    fn a_feed_answers_only_what_it_holds_whole() {
        let feed = Feed {
            task_id: TaskId::from("task_1"),
            wake: Notify::new(),
            looks: Default::default(),
            news: watch::channel(News::default()).0,
            recent: RwLock::default(),
        };
        assert!(feed.since(4, 4).unwrap().is_empty(), "nothing newer");
        assert!(feed.since(3, 4).is_none(), "event 4 is not held");
        feed.remember((5..=5 + RECENT_EVENTS as i64).map(|seq| event(seq, "x", false)).collect());
        let seqs =
            |after, upto| feed.since(after, upto).map(|e| e.iter().map(|e| e.seq()).collect::<Vec<_>>());
        assert_eq!(seqs(4, 6), None, "event 5 was let go: the feed keeps {RECENT_EVENTS}");
        assert_eq!(seqs(5, 8), Some(vec![6, 7, 8]));
        assert_eq!(seqs(7, 8), Some(vec![8]), "up to what the news said");
    }
}
