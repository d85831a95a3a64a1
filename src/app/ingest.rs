//! Agent runs that come in as OpenTelemetry traces: one task per run, its
//! conversation as events.
//!
//! Protocols hand this module [`Span`]s (the OTLP adapter decodes them from
//! protobuf or JSON); [`traces`] maps them onto tasks. The mapping reads the
//! OpenTelemetry GenAI semantic conventions (`gen_ai.*`: agent, model and
//! `execute_tool` spans, `gen_ai.input.messages` / `gen_ai.output.messages`, the
//! older `gen_ai.*.message` span events and `gen_ai.prompt.N.*` attributes) and
//! OpenInference (`openinference.span.kind`, `llm.input_messages.N.*`,
//! `input.value` / `output.value`, `tool.name`), which the OpenAI Agents SDK's
//! instrumentation emits:
//!
//! - a run is the conversation (`gen_ai.conversation.id`, or OpenInference's
//!   `session.id`) when there is one, else the trace: its task has `source: otlp`
//!   and `external_id` the conversation id or the trace id (32 hex digits);
//! - the title is the agent's name, else the root span's name; the task runs while
//!   spans arrive, and completes (or fails, on status ERROR) with its root span;
//! - people's messages and the agent's answers become `message` events (named
//!   `user` and `assistant`), each once however many model calls repeat it; tool
//!   executions become `log` events with their arguments and result; the run's
//!   final answer becomes an `output` event, which share links show; the model,
//!   token usage and duration become the task's metadata.
//!
//! Spans come in any order and any number of times: a span already stored adds
//! nothing. Each event is timed by what it records (a question at the start of
//! the model call that read it, an answer or a tool's result at its end) and
//! appended in that order within an export; spans are exported as they end, so
//! events of later exports follow those of earlier ones.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::error::Result;
use super::AppState;
use crate::domain::ids::TaskId;
use crate::domain::task::{self, EventType};
use crate::domain::time::Timestamp;
use crate::storage::{NewEvent, Owner, RootSpan, RunUpdate, SpanUpdate, ASSISTANT};

/// Spans taken from one request at most; the rest are refused (and said so).
pub const MAX_SPANS_PER_REQUEST: usize = 10_000;
/// Longest text kept from one attribute (arguments, results, messages), in
/// characters.
const MAX_TEXT_CHARS: usize = 100_000;

/// A span as a protocol received it.
#[derive(Debug, Clone, Default)]
pub struct Span {
    /// 16 bytes.
    pub trace_id: Vec<u8>,
    /// 8 bytes.
    pub span_id: Vec<u8>,
    /// Empty for a root span.
    pub parent_span_id: Vec<u8>,
    pub name: String,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// `Some(message)` when the span ended with status ERROR.
    pub error: Option<String>,
    /// Attribute values as JSON: strings, numbers, booleans, arrays, objects.
    pub attributes: BTreeMap<String, Value>,
    pub events: Vec<SpanEvent>,
}

/// An event of a span (the older GenAI conventions carry messages in these).
#[derive(Debug, Clone, Default)]
pub struct SpanEvent {
    pub name: String,
    pub time_unix_nano: u64,
    pub attributes: BTreeMap<String, Value>,
}

/// What became of an export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Spans refused, and why (the first reason).
    pub rejected_spans: usize,
    pub error: Option<String>,
    /// The tasks the spans went to.
    pub tasks: Vec<TaskId>,
}

/// Stores the runs `spans` belong to, as tasks of `owner`: all of them, or (on a
/// storage failure) none. Spans that can't be placed (no trace or span id) are
/// refused and counted in the report; the others are taken.
pub async fn traces(state: &AppState, owner: &Owner, spans: Vec<Span>) -> Result<Report> {
    let (runs, mut report) = runs_of(spans, Timestamp::now());
    if !runs.is_empty() {
        let outcomes = state.db().ingest_runs(&owner.owner_id, &runs).await?;
        for outcome in outcomes.iter().filter(|o| o.appended) {
            state.live().changed(Some(&outcome.task_id)).await;
        }
        let new: usize = outcomes.iter().map(|o| o.new_spans).sum();
        tracing::info!(owner_id = %owner.owner_id, runs = outcomes.len(), new_spans = new, "spans ingested");
        report.tasks = outcomes.into_iter().map(|o| o.task_id).collect();
    }
    Ok(report)
}

/// Groups `spans` by trace and maps each trace's spans to what they change.
pub fn runs_of(mut spans: Vec<Span>, now: Timestamp) -> (Vec<RunUpdate>, Report) {
    let mut report = Report::default();
    let mut refuse = |count: usize, why: String| {
        report.rejected_spans += count;
        report.error.get_or_insert(why);
    };
    if spans.len() > MAX_SPANS_PER_REQUEST {
        let extra = spans.len() - MAX_SPANS_PER_REQUEST;
        spans.truncate(MAX_SPANS_PER_REQUEST);
        refuse(extra, format!("at most {MAX_SPANS_PER_REQUEST} spans are taken per request"));
    }
    let mut traces: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for span in spans {
        if span.trace_id.len() != 16 || span.trace_id.iter().all(|b| *b == 0) {
            refuse(1, "a span has no valid trace id (16 bytes, not all zero)".into());
        } else if span.span_id.len() != 8 || span.span_id.iter().all(|b| *b == 0) {
            refuse(1, "a span has no valid span id (8 bytes, not all zero)".into());
        } else {
            traces.entry(hex::encode(&span.trace_id)).or_default().push(span);
        }
    }
    let runs = traces.into_iter().map(|(trace_id, spans)| run_of(trace_id, spans, now)).collect();
    (runs, report)
}

/// Title ranks: any span's name, the root span's name, the agent's name.
const SPAN_NAME: i32 = 1;
const ROOT_NAME: i32 = 2;
const AGENT_NAME: i32 = 3;

fn run_of(trace_id: String, mut spans: Vec<Span>, now: Timestamp) -> RunUpdate {
    spans.sort_by_key(|s| (s.start_unix_nano, s.end_unix_nano));
    // The same span twice in one request counts once.
    spans.dedup_by(|a, b| a.span_id == b.span_id);
    let conversation = spans.iter().find_map(|s| {
        text_attr(&s.attributes, "gen_ai.conversation.id").or_else(|| text_attr(&s.attributes, "session.id"))
    });
    let (external_id, conversation) = match conversation {
        Some(id) => (external_id(&id), true),
        None => (trace_id.clone(), false),
    };
    let agent = spans.iter().find_map(agent_name);
    let root = spans.iter().find(|s| s.parent_span_id.iter().all(|b| *b == 0));
    let title = match (&agent, root) {
        (Some(agent), _) => (label(agent), AGENT_NAME),
        (None, Some(root)) if !root.name.trim().is_empty() => (label(&root.name), ROOT_NAME),
        _ => match spans.iter().find(|s| !s.name.trim().is_empty()) {
            Some(first) => (label(&first.name), SPAN_NAME),
            None => (format!("Trace {}", &trace_id[..8]), 0),
        },
    };

    // Each span's events in the order they happened, and the spans in the order of
    // their first event (a span without events: its end).
    let mut updates: Vec<(u64, SpanUpdate)> = spans
        .iter()
        .map(|span| {
            let span_id = hex::encode(&span.span_id);
            let mut events = span_events(&trace_id, &span_id, span, now);
            events.sort_by_key(|(at, _)| *at);
            let first = events.first().map_or(span.end_unix_nano, |(at, _)| *at);
            let (input_tokens, output_tokens) = tokens(&span.attributes);
            let update = SpanUpdate {
                span_id,
                model: model(&span.attributes),
                input_tokens,
                output_tokens,
                events: events.into_iter().map(|(_, event)| event).collect(),
            };
            (first, update)
        })
        .collect();
    updates.sort_by_key(|(first, _)| *first);

    let root = root.map(|root| RootSpan {
        span_id: hex::encode(&root.span_id),
        failed: root.error.is_some(),
        duration_ms: (root.end_unix_nano.saturating_sub(root.start_unix_nano) / 1_000_000) as i64,
        ended_at: time(root.end_unix_nano, now),
        answer: answer_of(root),
    });
    RunUpdate {
        trace_id,
        external_id,
        conversation,
        title,
        agent: agent.map(|a| label(&a)),
        spans: updates.into_iter().map(|(_, update)| update).collect(),
        root,
    }
}

/// The events a span records, each with the time (in ns) it happened.
fn span_events(trace_id: &str, span_id: &str, span: &Span, now: Timestamp) -> Vec<(u64, NewEvent)> {
    let attrs = &span.attributes;
    let mut events = Vec::new();
    let (start, end) = (span.start_unix_nano, span.end_unix_nano.max(span.start_unix_nano));
    let message = |role: &str, text: String, at: u64| {
        let key = format!("otlp/msg/{}", &hex::encode(Sha256::digest(format!("{role}\0{text}")))[..32]);
        NewEvent {
            key: Some(key),
            at: Some(time(at, now)),
            ..NewEvent::new(EventType::Message, Some(role.into()), bounded_text(&text))
        }
    };
    if is_tool(span) {
        let name = text_attr(attrs, "gen_ai.tool.name")
            .or_else(|| text_attr(attrs, "tool.name"))
            .unwrap_or_else(|| span.name.trim_start_matches("execute_tool ").to_owned());
        let arguments = text_attr(attrs, "gen_ai.tool.call.arguments")
            .or_else(|| text_attr(attrs, "input.value"))
            .or_else(|| text_attr(attrs, "tool.parameters"));
        let result = text_attr(attrs, "gen_ai.tool.call.result").or_else(|| text_attr(attrs, "output.value"));
        let mut content = format!("Called `{}`", name.replace('`', "'"));
        if let Some(error) = &span.error {
            content.push_str(&format!(", which failed: {}", if error.is_empty() { "error" } else { error }));
        }
        if let Some(arguments) = arguments {
            content.push_str("\n\nArguments:\n\n");
            content.push_str(&fenced(&arguments));
        }
        if let Some(result) = result {
            content.push_str("\n\nResult:\n\n");
            content.push_str(&fenced(&result));
        }
        let event = NewEvent {
            key: Some(format!("otlp/{trace_id}/{span_id}/tool")),
            at: Some(time(end, now)),
            ..NewEvent::new(EventType::Log, Some(label(&format!("tool: {name}"))), bounded_text(&content))
        };
        events.push((end, event));
        return events;
    }
    for (role, text) in input_messages(span) {
        if role == "user" {
            events.push((start, message("user", text, start)));
        }
    }
    for (role, text) in output_messages(span) {
        if role == ASSISTANT {
            events.push((end, message(ASSISTANT, text, end)));
        }
    }
    events
}

/// Whether a span is a tool's execution.
fn is_tool(span: &Span) -> bool {
    let attrs = &span.attributes;
    text_attr(attrs, "gen_ai.operation.name").as_deref() == Some("execute_tool")
        || kind(attrs).as_deref() == Some("TOOL")
}

/// OpenInference's span kind, upper case.
fn kind(attrs: &BTreeMap<String, Value>) -> Option<String> {
    text_attr(attrs, "openinference.span.kind").map(|k| k.to_uppercase())
}

fn agent_name(span: &Span) -> Option<String> {
    let attrs = &span.attributes;
    if let Some(name) = text_attr(attrs, "gen_ai.agent.name") {
        return Some(name);
    }
    let operation = text_attr(attrs, "gen_ai.operation.name");
    if kind(attrs).as_deref() == Some("AGENT") || operation.as_deref() == Some("invoke_agent") {
        let name = span.name.trim_start_matches("invoke_agent ").trim();
        return (!name.is_empty()).then(|| name.to_owned());
    }
    None
}

/// The messages a span read, as (role, text), in order.
fn input_messages(span: &Span) -> Vec<(String, String)> {
    let attrs = &span.attributes;
    if let Some(messages) = structured(attrs.get("gen_ai.input.messages")) {
        return messages;
    }
    let mut found = flattened(attrs, "llm.input_messages", "message.role", "message.content");
    if found.is_empty() {
        found = flattened(attrs, "gen_ai.prompt", "role", "content");
    }
    if found.is_empty() {
        for event in &span.events {
            let role = match event.name.as_str() {
                "gen_ai.user.message" => "user",
                "gen_ai.system.message" => "system",
                _ => continue,
            };
            if let Some(text) = event_text(&event.attributes) {
                found.push((role.into(), text));
            }
        }
    }
    found
}

/// The messages a span wrote, as (role, text), in order.
fn output_messages(span: &Span) -> Vec<(String, String)> {
    let attrs = &span.attributes;
    if let Some(messages) = structured(attrs.get("gen_ai.output.messages")) {
        return messages;
    }
    let mut found = flattened(attrs, "llm.output_messages", "message.role", "message.content");
    if found.is_empty() {
        found = flattened(attrs, "gen_ai.completion", "role", "content");
    }
    if found.is_empty() {
        for event in &span.events {
            if matches!(event.name.as_str(), "gen_ai.choice" | "gen_ai.assistant.message") {
                if let Some(text) = event_text(&event.attributes) {
                    found.push((ASSISTANT.into(), text));
                }
            }
        }
    }
    found
}

/// The run's answer, when its root span carries one.
fn answer_of(root: &Span) -> Option<String> {
    let said =
        output_messages(root).into_iter().rev().find(|(role, _)| role == ASSISTANT).map(|(_, text)| text);
    said.or_else(|| text_attr(&root.attributes, "output.value")).map(|text| bounded_text(&text))
}

/// `gen_ai.input.messages` / `gen_ai.output.messages`: a JSON array (or its text)
/// of `{role, parts: [{type: "text", content}…]}`; the text parts of each message.
fn structured(value: Option<&Value>) -> Option<Vec<(String, String)>> {
    let parsed;
    let messages = match value? {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        other => other,
    };
    let messages = messages.as_array()?;
    Some(
        messages
            .iter()
            .filter_map(|m| {
                let role = m.get("role")?.as_str()?.to_owned();
                let text = match m.get("parts").and_then(Value::as_array) {
                    Some(parts) => parts
                        .iter()
                        .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                        .filter_map(|p| p.get("content").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join("\n\n"),
                    None => m.get("content").and_then(Value::as_str).unwrap_or_default().to_owned(),
                };
                (!text.trim().is_empty()).then_some((role, text))
            })
            .collect(),
    )
}

/// Messages flattened into attributes: `{prefix}.{i}.{role}` and
/// `{prefix}.{i}.{content}`, for i = 0, 1, 2…
fn flattened(
    attrs: &BTreeMap<String, Value>,
    prefix: &str,
    role: &str,
    content: &str,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for i in 0.. {
        let (Some(r), Some(c)) = (
            text_attr(attrs, &format!("{prefix}.{i}.{role}")),
            text_attr(attrs, &format!("{prefix}.{i}.{content}")),
        ) else {
            // OpenInference may give a message's role without plain content.
            if attrs.contains_key(&format!("{prefix}.{i}.{role}")) {
                continue;
            }
            break;
        };
        if !c.trim().is_empty() {
            found.push((r, c));
        }
        if i > 10_000 {
            break;
        }
    }
    found
}

/// The text of a span event's message: `content`, or the `content` of a
/// `message` object (or its JSON text).
fn event_text(attrs: &BTreeMap<String, Value>) -> Option<String> {
    if let Some(text) = text_attr(attrs, "content") {
        return Some(text);
    }
    let message = attrs.get("message")?;
    let parsed;
    let message = match message {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        other => other,
    };
    message.get("content").and_then(Value::as_str).map(str::to_owned).filter(|t| !t.trim().is_empty())
}

/// Tokens a model call read and wrote.
fn tokens(attrs: &BTreeMap<String, Value>) -> (i64, i64) {
    let number =
        |keys: &[&str]| keys.iter().find_map(|k| attrs.get(*k).and_then(Value::as_i64)).unwrap_or(0).max(0);
    (
        number(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"]),
        number(&[
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.token_count.completion",
        ]),
    )
}

fn model(attrs: &BTreeMap<String, Value>) -> Option<String> {
    ["gen_ai.response.model", "gen_ai.request.model", "llm.model_name"]
        .iter()
        .find_map(|k| text_attr(attrs, k))
        .map(|m| label(&m))
}

/// An attribute as text: a string as it is, anything else as JSON.
fn text_attr(attrs: &BTreeMap<String, Value>, key: &str) -> Option<String> {
    match attrs.get(key)? {
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A conversation id as an external id: as it is when it fits, else its hash.
fn external_id(id: &str) -> String {
    let clean = label(id);
    if clean == id && id.chars().count() <= task::MAX_EXTERNAL_ID_CHARS {
        clean
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(id)))
    }
}

/// One line of at most 200 characters, never blank.
fn label(text: &str) -> String {
    let line: String =
        text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(task::MAX_LABEL_CHARS).collect();
    let line = line.trim().to_owned();
    if line.is_empty() {
        "-".into()
    } else {
        line
    }
}

/// Text within the bounds of an event, cut with a note when longer.
fn bounded_text(text: &str) -> String {
    let text: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r')).collect();
    if text.chars().count() <= MAX_TEXT_CHARS {
        return if text.trim().is_empty() { "-".into() } else { text };
    }
    let mut cut: String = text.chars().take(MAX_TEXT_CHARS).collect();
    cut.push_str("\n\n… (cut: longer than 100,000 characters)");
    cut
}

/// `text` in a code block no backtick run inside can close.
fn fenced(text: &str) -> String {
    let text = bounded_text(text);
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}\n{text}\n{fence}")
}

/// A span's time as a timestamp, never in the future (nor before 1970).
fn time(unix_nano: u64, now: Timestamp) -> Timestamp {
    if unix_nano == 0 {
        return now;
    }
    let millis = i64::try_from(unix_nano / 1_000_000).unwrap_or(i64::MAX);
    Timestamp(millis.min(now.millis()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(trace: u8, id: u8, parent: u8, name: &str, start: u64, end: u64, attrs: Value) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: if parent == 0 { vec![] } else { vec![parent; 8] },
            name: name.into(),
            start_unix_nano: start * 1_000_000_000,
            end_unix_nano: end * 1_000_000_000,
            error: None,
            attributes: attrs.as_object().unwrap().clone().into_iter().collect(),
            events: vec![],
        }
    }

    const NOW: Timestamp = Timestamp(4_000_000_000_000);

    fn contents(run: &RunUpdate) -> Vec<(String, String)> {
        run.spans
            .iter()
            .flat_map(|s| &s.events)
            .map(|e| (e.name.clone().unwrap_or_default(), e.content.clone()))
            .collect()
    }

    /// An agent run as the GenAI conventions describe it: agent, model and tool
    /// spans, in any order.
    fn agent_run() -> Vec<Span> {
        let question =
            json!([{"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}]).to_string();
        vec![
            span(
                1,
                4,
                1,
                "chat gpt-4o",
                14,
                15,
                json!({
                    "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                    "gen_ai.input.messages": json!([
                        {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]},
                        {"role": "tool", "parts": [{"type": "tool_call_response", "response": "4"}]}]).to_string(),
                    "gen_ai.output.messages": json!([{"role": "assistant", "parts": [{"type": "text", "content": "It is 4."}]}]).to_string(),
                    "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 5,
                }),
            ),
            span(
                1,
                1,
                0,
                "invoke_agent Calculator",
                10,
                16,
                json!({
                    "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Calculator",
                    "gen_ai.conversation.id": "conv-7",
                }),
            ),
            span(
                1,
                2,
                1,
                "chat gpt-4o",
                11,
                12,
                json!({
                    "gen_ai.operation.name": "chat", "gen_ai.response.model": "gpt-4o-2024",
                    "gen_ai.input.messages": question,
                    "gen_ai.usage.input_tokens": 20, "gen_ai.usage.output_tokens": 8,
                }),
            ),
            span(
                1,
                3,
                1,
                "execute_tool add",
                12,
                13,
                json!({
                    "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "add",
                    "gen_ai.tool.call.arguments": "{\"a\": 2, \"b\": 2}", "gen_ai.tool.call.result": "4",
                }),
            ),
        ]
    }

    #[test]
    fn an_agent_run_becomes_one_run_with_its_conversation_in_order() {
        let (runs, report) = runs_of(agent_run(), NOW);
        assert_eq!(report, Report::default());
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        assert_eq!(run.external_id, "conv-7");
        assert_eq!(run.title, ("Calculator".into(), AGENT_NAME));
        let seen = contents(run);
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(seen[0], ("user".into(), "What is 2+2?".into()));
        assert_eq!(seen[1].0, "tool: add");
        assert!(seen[1].1.contains("{\"a\": 2, \"b\": 2}") && seen[1].1.contains("Result:"), "{}", seen[1].1);
        assert_eq!(
            seen[2],
            ("user".into(), "What is 2+2?".into()),
            "the same question again (appended once, by key)"
        );
        assert_eq!(seen[3], ("assistant".into(), "It is 4.".into()));
        let keys: Vec<_> = run.spans.iter().flat_map(|s| &s.events).filter_map(|e| e.key.clone()).collect();
        assert_eq!(keys[0], keys[2], "a message repeated by a later model call has one key");
        let root = run.root.as_ref().unwrap();
        assert!(!root.failed);
        assert_eq!(root.duration_ms, 6000);
        assert_eq!(root.answer, None, "the agent span carries no answer: the last assistant message will do");
        let tokens: (i64, i64) =
            run.spans.iter().fold((0, 0), |(i, o), s| (i + s.input_tokens, o + s.output_tokens));
        assert_eq!(tokens, (50, 13));
    }

    #[test]
    fn spans_without_a_conversation_are_runs_of_their_trace() {
        let mut spans = agent_run();
        for span in &mut spans {
            span.attributes.remove("gen_ai.conversation.id");
        }
        spans.push(span(2, 9, 0, "other trace", 1, 2, json!({})));
        let (runs, _) = runs_of(spans, NOW);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].external_id, "01".repeat(16));
        assert_eq!(runs[1].title, ("other trace".into(), ROOT_NAME));
    }

    #[test]
    fn openinference_spans_map_alike() {
        let spans = vec![
            span(
                3,
                1,
                0,
                "Assistant",
                1,
                9,
                json!({
                    "openinference.span.kind": "AGENT", "output.value": "Done: 42", "session.id": "s-1",
                }),
            ),
            span(
                3,
                2,
                1,
                "response",
                2,
                3,
                json!({
                    "openinference.span.kind": "LLM", "llm.model_name": "gpt-4.1",
                    "llm.input_messages.0.message.role": "system", "llm.input_messages.0.message.content": "Be brief",
                    "llm.input_messages.1.message.role": "user", "llm.input_messages.1.message.content": "Answer?",
                    "llm.output_messages.0.message.role": "assistant", "llm.output_messages.0.message.content": "42",
                    "llm.token_count.prompt": 12, "llm.token_count.completion": 2,
                }),
            ),
            span(
                3,
                3,
                1,
                "lookup",
                4,
                5,
                json!({
                    "openinference.span.kind": "TOOL", "tool.name": "lookup", "input.value": "{\"q\": 1}", "output.value": "```x```",
                }),
            ),
        ];
        let (runs, _) = runs_of(spans, NOW);
        let run = &runs[0];
        assert_eq!(run.external_id, "s-1");
        assert_eq!(run.title.0, "Assistant");
        let seen = contents(run);
        assert_eq!(seen[0], ("user".into(), "Answer?".into()), "system prompts are not messages: {seen:?}");
        assert_eq!(seen[1], ("assistant".into(), "42".into()));
        assert!(seen[2].1.contains("````\n```x```\n````"), "a fence its content can't close: {}", seen[2].1);
        assert_eq!(run.root.as_ref().unwrap().answer.as_deref(), Some("Done: 42"));
        assert_eq!(run.spans[0].model.as_deref(), Some("gpt-4.1"), "spans in the order of their first event");
    }

    #[test]
    fn older_conventions_carry_messages_in_span_events_and_flat_attributes() {
        let mut chat = span(
            4,
            2,
            1,
            "chat",
            2,
            3,
            json!({"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Hi"}),
        );
        chat.events.push(SpanEvent {
            name: "gen_ai.choice".into(),
            time_unix_nano: 3_000_000_000,
            attributes: [(
                "message".to_owned(),
                json!({"role": "assistant", "content": "Hello!"}).to_string().into(),
            )]
            .into_iter()
            .collect(),
        });
        let (runs, _) = runs_of(vec![chat], NOW);
        assert_eq!(
            contents(&runs[0]),
            vec![("user".into(), "Hi".into()), ("assistant".into(), "Hello!".into())]
        );
        assert!(runs[0].root.is_none(), "no root yet: the run goes on");
    }

    #[test]
    fn bad_ids_are_refused_and_bounds_hold() {
        let mut bad = span(5, 1, 0, "x", 1, 2, json!({}));
        bad.trace_id = vec![0; 16];
        let mut short = span(5, 1, 0, "x", 1, 2, json!({}));
        short.span_id = vec![1; 3];
        let huge = "x".repeat(300_000);
        let failed = Span {
            error: Some("boom".into()),
            ..span(
                6,
                1,
                0,
                &"n".repeat(500),
                1,
                2,
                json!({"gen_ai.conversation.id": huge.clone(), "gen_ai.operation.name": "execute_tool", "gen_ai.tool.call.result": huge}),
            )
        };
        let (runs, report) = runs_of(vec![bad, short, failed], NOW);
        assert_eq!(report.rejected_spans, 2);
        assert!(report.error.unwrap().contains("trace id"));
        let run = &runs[0];
        assert!(run.external_id.starts_with("sha256:") && run.external_id.len() == 71);
        assert_eq!(run.title.0.chars().count(), 200);
        assert!(run.root.as_ref().unwrap().failed);
        let log = &run.spans[0].events[0];
        assert!(
            log.content.chars().count() < 100_200 && log.content.contains("which failed: boom"),
            "{}",
            &log.content[..100]
        );
        let too_many = (0..MAX_SPANS_PER_REQUEST + 5)
            .map(|i| span(7, 1, 0, "x", i as u64, i as u64, json!({})))
            .collect();
        let (_, report) = runs_of(too_many, NOW);
        assert_eq!(report.rejected_spans, 5);
    }

    #[test]
    fn times_never_lie_in_the_future() {
        assert_eq!(time(u64::MAX, NOW), NOW);
        assert_eq!(time(0, NOW), NOW);
        assert_eq!(time(1_500_000_000, NOW), Timestamp(1_500));
    }
}
