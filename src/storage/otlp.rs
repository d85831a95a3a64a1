//! Tasks made from OpenTelemetry traces: what one export request changes, stored
//! in one transaction (all of it, or none).
//!
//! A run is found by the trace it came in on (any span of it stored before), else
//! by its external id (the conversation id, or the trace id), else created. A span
//! is stored once: a span sent again changes nothing. Events carry keys, so the
//! same message seen in several spans is appended once.

use super::dialect::{dispatch, Tx};
use super::events::{append_in, Appended, NewEvent};
use super::tasks::TaskRecord;
use super::Db;
use crate::domain::ids::{OwnerId, TaskId};
use crate::domain::task::{EventType, TaskSource, TaskStatus};
use crate::domain::time::Timestamp;

/// The spans of one trace in one export request, mapped to what they change.
#[derive(Debug, Clone)]
pub struct RunUpdate {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The run's id: its conversation id, else the trace id.
    pub external_id: String,
    /// Whether `external_id` is a conversation id (a task first known by its
    /// trace takes it, unless another task has it).
    pub conversation: bool,
    /// The best title these spans offer, and how good it is (higher is better).
    pub title: (String, i32),
    /// The agent's name, when a span gave one.
    pub agent: Option<String>,
    pub spans: Vec<SpanUpdate>,
    /// The root span, when it is among these.
    pub root: Option<RootSpan>,
}

/// One span: what it adds, if it is new.
#[derive(Debug, Clone)]
pub struct SpanUpdate {
    /// 16 lowercase hex digits.
    pub span_id: String,
    pub model: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// In the order to append them.
    pub events: Vec<NewEvent>,
}

/// The span a run began with, which ends it.
#[derive(Debug, Clone)]
pub struct RootSpan {
    pub span_id: String,
    /// Ended with status ERROR.
    pub failed: bool,
    pub duration_ms: i64,
    pub ended_at: Timestamp,
    /// The run's final answer, if the root span itself carries it; else the last
    /// assistant message of the run is taken.
    pub answer: Option<String>,
}

/// What became of a run's spans.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub task_id: TaskId,
    /// Spans stored now; the others had come before.
    pub new_spans: usize,
    pub duplicate_spans: usize,
    /// Whether events were appended (live streams should look).
    pub appended: bool,
}

/// The name of the output event a run's final answer becomes.
pub const ANSWER_NAME: &str = "Final answer";
/// The name of message events an agent wrote.
pub const ASSISTANT: &str = "assistant";

const TASK_COLUMNS: &str = super::tasks::TASK_COLUMNS;

impl Db {
    /// Stores the runs of one export request, each in its task, in one transaction.
    pub async fn ingest_runs(&self, owner_id: &OwnerId, runs: &[RunUpdate]) -> sqlx::Result<Vec<RunOutcome>> {
        let now = Timestamp::now();
        let find_by_trace = "SELECT task_id FROM otlp_spans WHERE owner_id = $1 AND trace_id = $2 LIMIT 1";
        let find_by_id = "SELECT task_id FROM tasks WHERE owner_id = $1 AND source = $2 AND external_id = $3";
        let create = format!(
            "INSERT INTO tasks (task_id, owner_id, title, agent, status, created_at, updated_at, started_at, \
             source, external_id) VALUES ($1, $2, $3, $4, $5, $6, $6, $6, $7, $8) \
             ON CONFLICT (owner_id, source, external_id) WHERE external_id IS NOT NULL DO NOTHING \
             RETURNING {TASK_COLUMNS}"
        );
        dispatch!(self.write(), |pool| {
            let mut tx = pool.begin().await?;
            let mut outcomes = Vec::with_capacity(runs.len());
            for run in runs {
                // The run's task: by its trace, by its id, or new.
                let mut task_id: Option<TaskId> = sqlx::query_scalar(find_by_trace)
                    .bind(owner_id)
                    .bind(&run.trace_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if task_id.is_none() {
                    task_id = sqlx::query_scalar(find_by_id)
                        .bind(owner_id)
                        .bind(TaskSource::Otlp)
                        .bind(&run.external_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                }
                let task_id = match task_id {
                    Some(task_id) => task_id,
                    None => {
                        let created: Option<TaskRecord> = sqlx::query_as(&create)
                            .bind(TaskId::generate())
                            .bind(owner_id)
                            .bind(&run.title.0)
                            .bind(&run.agent)
                            .bind(TaskStatus::Running)
                            .bind(now)
                            .bind(TaskSource::Otlp)
                            .bind(&run.external_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                        let task_id = match created {
                            Some(task) => task.task_id,
                            // Made at the same moment by another request.
                            None => {
                                sqlx::query_scalar(find_by_id)
                                    .bind(owner_id)
                                    .bind(TaskSource::Otlp)
                                    .bind(&run.external_id)
                                    .fetch_one(&mut *tx)
                                    .await?
                            }
                        };
                        sqlx::query(
                            "INSERT INTO otlp_runs (task_id, title_rank) VALUES ($1, $2) ON CONFLICT (task_id) DO NOTHING",
                        )
                        .bind(&task_id)
                        .bind(run.title.1)
                        .execute(&mut *tx)
                        .await?;
                        task_id
                    }
                };

                // A conversation id that the run's first spans did not carry.
                if run.conversation {
                    sqlx::query(
                        "UPDATE tasks SET external_id = $2 WHERE task_id = $1 AND external_id = $3 \
                         AND NOT EXISTS (SELECT 1 FROM tasks WHERE owner_id = $4 AND source = $5 AND external_id = $2)",
                    )
                    .bind(&task_id)
                    .bind(&run.external_id)
                    .bind(&run.trace_id)
                    .bind(owner_id)
                    .bind(TaskSource::Otlp)
                    .execute(&mut *tx)
                    .await?;
                }

                // A better title than the one the task has.
                let renamed = sqlx::query(
                    "UPDATE otlp_runs SET title_rank = $2 WHERE task_id = $1 AND title_rank < $2",
                )
                .bind(&task_id)
                .bind(run.title.1)
                .execute(&mut *tx)
                .await?;
                if renamed.rows_affected() == 1 {
                    sqlx::query(
                        "UPDATE tasks SET title = $2, agent = COALESCE($3, agent) WHERE task_id = $1",
                    )
                    .bind(&task_id)
                    .bind(&run.title.0)
                    .bind(&run.agent)
                    .execute(&mut *tx)
                    .await?;
                }

                let (mut new_spans, mut appended) = (0, false);
                for span in &run.spans {
                    let stored = sqlx::query(
                        "INSERT INTO otlp_spans (owner_id, trace_id, span_id, task_id, received_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner_id, trace_id, span_id) DO NOTHING",
                    )
                    .bind(owner_id)
                    .bind(&run.trace_id)
                    .bind(&span.span_id)
                    .bind(&task_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if stored.rows_affected() == 0 {
                        continue;
                    }
                    new_spans += 1;
                    if span.input_tokens != 0 || span.output_tokens != 0 || span.model.is_some() {
                        sqlx::query(
                            "UPDATE otlp_runs SET input_tokens = input_tokens + $2, \
                             output_tokens = output_tokens + $3, model = COALESCE($4, model) WHERE task_id = $1",
                        )
                        .bind(&task_id)
                        .bind(span.input_tokens)
                        .bind(span.output_tokens)
                        .bind(&span.model)
                        .execute(&mut *tx)
                        .await?;
                    }
                    for event in &span.events {
                        let added = append_in(&mut Tx::from(&mut tx), &task_id, event).await?;
                        appended |= matches!(added, Some(Appended::New(_)));
                    }
                }

                if let Some(root) =
                    run.root.as_ref().filter(|root| run.spans.iter().any(|s| s.span_id == root.span_id))
                {
                    // The answer: the root's own, else the last thing the agent said.
                    let answer = match &root.answer {
                        Some(answer) => Some(answer.clone()),
                        None => {
                            sqlx::query_scalar(
                                "SELECT content FROM task_events WHERE task_id = $1 AND event_type = $2 \
                                 AND name = $3 ORDER BY seq DESC LIMIT 1",
                            )
                            .bind(&task_id)
                            .bind(EventType::Message)
                            .bind(ASSISTANT)
                            .fetch_optional(&mut *tx)
                            .await?
                        }
                    };
                    if let Some(answer) = answer {
                        let output = NewEvent {
                            key: Some(format!("otlp/{}/answer", run.trace_id)),
                            at: Some(root.ended_at),
                            ..NewEvent::new(EventType::Output, Some(ANSWER_NAME.into()), answer)
                        };
                        let added = append_in(&mut Tx::from(&mut tx), &task_id, &output).await?;
                        appended |= matches!(added, Some(Appended::New(_)));
                    }
                    let status = if root.failed { TaskStatus::Failed } else { TaskStatus::Completed };
                    sqlx::query(
                        "UPDATE tasks SET status = $2, finished_at = COALESCE(finished_at, $3), updated_at = $3 \
                         WHERE task_id = $1 AND status IN ($4, $5)",
                    )
                    .bind(&task_id)
                    .bind(status)
                    .bind(now)
                    .bind(TaskStatus::Pending)
                    .bind(TaskStatus::Running)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE otlp_runs SET duration_ms = $2 WHERE task_id = $1")
                        .bind(&task_id)
                        .bind(root.duration_ms)
                        .execute(&mut *tx)
                        .await?;
                }

                // What the run gathered, as the task's metadata.
                let (model, input_tokens, output_tokens, duration_ms): (Option<String>, i64, i64, Option<i64>) =
                    sqlx::query_as(
                        "SELECT model, input_tokens, output_tokens, duration_ms FROM otlp_runs WHERE task_id = $1",
                    )
                    .bind(&task_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let mut metadata = serde_json::Map::new();
                if let Some(model) = model {
                    metadata.insert("model".into(), model.into());
                }
                if input_tokens != 0 || output_tokens != 0 {
                    metadata.insert("input_tokens".into(), input_tokens.into());
                    metadata.insert("output_tokens".into(), output_tokens.into());
                }
                if let Some(duration_ms) = duration_ms {
                    metadata.insert("duration_ms".into(), duration_ms.into());
                }
                metadata.insert("trace_id".into(), run.trace_id.clone().into());
                sqlx::query("UPDATE tasks SET metadata = $2, updated_at = $3 WHERE task_id = $1")
                    .bind(&task_id)
                    .bind(serde_json::Value::Object(metadata).to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;

                outcomes.push(RunOutcome {
                    task_id,
                    new_spans,
                    duplicate_spans: run.spans.len() - new_spans,
                    appended,
                });
            }
            tx.commit().await?;
            Ok(outcomes)
        })
    }
}
