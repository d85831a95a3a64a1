//! Tasks: a unit of an agent's work, its lifecycle and what it emits.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a task is in its life.
///
/// ```text
/// pending ──► running ──► completed
///    │           ├──────► failed
///    │           └──────► cancelled
///    └──► completed | failed | cancelled   (an agent may finish without reporting "running")
/// ```
/// `completed`, `failed` and `cancelled` are final. Setting a task to the status it
/// already has is accepted and changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// True for the statuses a task never leaves.
    pub fn is_final(self) -> bool {
        matches!(self, TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled)
    }

    /// Whether a task in `self` may move to `next`.
    pub fn can_become(self, next: TaskStatus) -> bool {
        self == next
            || match self {
                TaskStatus::Pending => next != TaskStatus::Pending,
                TaskStatus::Running => next.is_final(),
                _ => false,
            }
    }
}

/// What an event of a task carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// Conversation between the agent and people (including share-code viewers).
    Message,
    /// A progress report (`content` says what is happening).
    Progress,
    /// A result: `name` and markdown `content`. The only kind share links show.
    Output,
    /// Diagnostic output of the agent.
    Log,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Message => "message",
            EventType::Progress => "progress",
            EventType::Output => "output",
            EventType::Log => "log",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        [EventType::Message, EventType::Progress, EventType::Output, EventType::Log]
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// Who wrote an event or opened a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Author {
    /// The task's owner (an API key or the console).
    Owner,
    /// Someone holding a share code of the task.
    Viewer,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Owner => "owner",
            Author::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Author> {
        [Author::Owner, Author::Viewer].into_iter().find(|a| a.as_str() == text)
    }
}

/// Where a pull request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PullRequestStatus {
    /// Proposed; can be approved and merged.
    Open,
    /// Merged into the base branch; final.
    Merged,
}

impl PullRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PullRequestStatus::Open => "open",
            PullRequestStatus::Merged => "merged",
        }
    }

    pub fn parse(text: &str) -> Option<PullRequestStatus> {
        [PullRequestStatus::Open, PullRequestStatus::Merged].into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for PullRequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a task came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskSource {
    /// Created through the REST API.
    #[default]
    Api,
    /// Made from OpenTelemetry traces sent to `POST /otlp/v1/traces`.
    Otlp,
    /// Imported from an agent's transcript (`agentshare import`).
    Import,
    /// A command wrapped by `agentshare run`.
    Cli,
}

impl TaskSource {
    pub const ALL: [TaskSource; 4] = [TaskSource::Api, TaskSource::Otlp, TaskSource::Import, TaskSource::Cli];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskSource::Api => "api",
            TaskSource::Otlp => "otlp",
            TaskSource::Import => "import",
            TaskSource::Cli => "cli",
        }
    }

    pub fn parse(text: &str) -> Option<TaskSource> {
        TaskSource::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Longest task title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest `external_id` of a task, or `key` of an event, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 200;
/// Largest task `metadata`, in bytes of JSON.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Longest `machine_id`, `agent` or event `name`, in characters.
pub const MAX_LABEL_CHARS: usize = 200;
/// Longest task prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 100_000;
/// Longest event content, in characters.
pub const MAX_EVENT_CHARS: usize = 1_000_000;

#[cfg(test)]
mod tests {
    use super::TaskStatus::*;
    use super::*;

    #[test]
    fn documented_transitions_hold() {
        for next in [Running, Completed, Failed, Cancelled] {
            assert!(Pending.can_become(next));
        }
        for next in [Completed, Failed, Cancelled] {
            assert!(Running.can_become(next));
        }
        assert!(!Running.can_become(Pending));
        for done in [Completed, Failed, Cancelled] {
            for next in TaskStatus::ALL {
                assert_eq!(done.can_become(next), done == next, "{done:?} -> {next:?}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(TaskStatus::parse("done"), None);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;

    fn status() -> impl Strategy<Value = TaskStatus> {
        select(TaskStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn a_final_status_is_never_left(from in status(), to in status()) {
            if from.is_final() {
                prop_assert_eq!(from.can_become(to), from == to, "{:?} -> {:?}", from, to);
            }
        }

        #[test]
        fn setting_the_current_status_is_always_accepted(status in status()) {
            prop_assert!(status.can_become(status));
        }

        #[test]
        fn no_status_is_ever_returned_to(a in status(), b in status()) {
            if a != b && a.can_become(b) {
                prop_assert!(!b.can_become(a), "{:?} <-> {:?}", a, b);
            }
            if a != TaskStatus::Pending {
                prop_assert!(!a.can_become(TaskStatus::Pending), "{:?} -> pending", a);
            }
        }

        #[test]
        fn every_chain_of_accepted_moves_ends_within_three_statuses(
            moves in prop::collection::vec(status(), 0..12)
        ) {
            // pending -> running -> final is the longest road: any walk of accepted
            // moves visits at most three distinct statuses, in that order.
            let mut current = TaskStatus::Pending;
            let mut visited = vec![current];
            for next in moves {
                if current.can_become(next) {
                    current = next;
                    if visited.last() != Some(&next) {
                        prop_assert!(!visited.contains(&next), "{:?} revisited after {:?}", next, visited);
                        visited.push(next);
                    }
                }
            }
            prop_assert!(visited.len() <= 3, "{:?}", visited);
        }

        #[test]
        fn statuses_and_event_types_read_back_what_they_write(
            status in status(),
            event in select(vec![EventType::Message, EventType::Progress, EventType::Output, EventType::Log]),
            text in "[a-z]{0,12}",
        ) {
            prop_assert_eq!(TaskStatus::parse(status.as_str()), Some(status));
            prop_assert_eq!(serde_json::to_value(status).unwrap(), serde_json::Value::from(status.as_str()));
            prop_assert_eq!(EventType::parse(event.as_str()), Some(event));
            prop_assert_eq!(serde_json::to_value(event).unwrap(), serde_json::Value::from(event.as_str()));
            // Any other text names nothing.
            if let Some(parsed) = TaskStatus::parse(&text) {
                prop_assert_eq!(parsed.as_str(), text.as_str());
            }
            if let Some(parsed) = EventType::parse(&text) {
                prop_assert_eq!(parsed.as_str(), text.as_str());
            }
            // Names are case-sensitive.
            prop_assert_eq!(TaskStatus::parse(&status.as_str().to_uppercase()), None);
            prop_assert_eq!(EventType::parse(&event.as_str().to_uppercase()), None);
        }
    }
}
