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

/// Longest task title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
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
