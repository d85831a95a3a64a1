//! Claude Code session transcripts (`~/.claude/projects/<project>/<session>.jsonl`):
//! one JSON object a line. There is no published schema, so reading is lenient:
//! `user` and `assistant` lines become events (their `message.content` is a string
//! or a list of `text`, `tool_use` and `tool_result` parts), and everything else —
//! `summary` lines (which give the title), `system` lines, meta and sidechain
//! (sub-agent) lines, thinking, unknown line and part types, lines that are not
//! JSON — is skipped and counted.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use crate::client::text;

/// Most bytes of one tool call or tool result kept in its event.
const MAX_TOOL_BYTES: usize = 64 * 1024;
/// Most bytes of one message kept in its event.
const MAX_MESSAGE_BYTES: usize = 512 * 1024;
/// The prefix of the keys of every event an import appends.
const KEY_PREFIX: &str = "claude-code";

/// An event to append, with a key that names its place in the transcript (the
/// line's `uuid` and the part's index), so that importing again adds nothing twice.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    /// `message` or `log` (`output` for the final answer).
    pub event_type: &'static str,
    pub name: Option<String>,
    pub content: String,
    /// When it happened (RFC 3339), when the line says.
    pub at: Option<String>,
}

impl Entry {
    /// The body of `POST /v1/tasks/{id}/events`.
    pub fn body(&self) -> Value {
        let mut body = json!({"type": self.event_type, "content": self.content, "key": self.key});
        if let Some(name) = &self.name {
            body["name"] = json!(name);
        }
        if let Some(at) = &self.at {
            body["created_at"] = json!(at);
        }
        body
    }
}

/// What a transcript holds.
#[derive(Debug, Default)]
pub struct Session {
    /// `sessionId` of its first message.
    pub session_id: Option<String>,
    /// The first `summary` line's summary.
    pub summary: Option<String>,
    /// The first thing the user asked.
    pub first_prompt: Option<String>,
    /// Claude Code's `version`, the `model` last used, the working directory and
    /// git branch.
    pub version: Option<String>,
    pub model: Option<String>,
    pub cwd: Option<String>,
    pub git_branch: Option<String>,
    /// Messages and tool calls, in transcript order.
    pub entries: Vec<Entry>,
    /// The last assistant reply, as an `output` event.
    pub final_answer: Option<Entry>,
    /// Numbers of the lines that were not JSON objects.
    pub malformed: Vec<usize>,
    /// Lines and parts of kinds that are not imported.
    pub skipped: usize,
}

impl Session {
    /// The task's title: the summary, else the first prompt, else the session.
    pub fn title(&self) -> String {
        self.summary
            .as_deref()
            .and_then(|s| text::label(s, crate::domain::task::MAX_TITLE_CHARS))
            .or_else(|| {
                self.first_prompt
                    .as_deref()
                    .and_then(|p| text::label(p, crate::domain::task::MAX_TITLE_CHARS))
            })
            .unwrap_or_else(|| {
                format!("Claude Code session {}", self.session_id.as_deref().unwrap_or("(unnamed)"))
            })
    }

    /// Facts about the session for the task's metadata.
    pub fn metadata(&self) -> Value {
        let mut metadata = serde_json::Map::new();
        for (name, value) in [
            ("session_id", &self.session_id),
            ("claude_code_version", &self.version),
            ("model", &self.model),
            ("cwd", &self.cwd),
            ("git_branch", &self.git_branch),
        ] {
            if let Some(value) = value {
                metadata.insert(name.to_owned(), json!(text::cut(value, 500)));
            }
        }
        metadata.insert("entries".to_owned(), json!(self.entries.len()));
        Value::Object(metadata)
    }
}

/// Reads a transcript.
pub fn parse(transcript: &str) -> Session {
    let mut session = Session::default();
    let mut tools: HashMap<String, String> = HashMap::new();
    let now = Utc::now();
    for (index, line) in transcript.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = match serde_json::from_str(line) {
            Ok(value @ Value::Object(_)) => value,
            _ => {
                session.malformed.push(number);
                continue;
            }
        };
        let kind = value["type"].as_str().unwrap_or_default();
        match kind {
            "summary" => {
                if session.summary.is_none() {
                    session.summary = value["summary"].as_str().map(str::to_owned);
                }
                continue;
            }
            "user" | "assistant" => {}
            _ => {
                session.skipped += 1;
                continue;
            }
        }
        if value["isSidechain"] == Value::Bool(true) || value["isMeta"] == Value::Bool(true) {
            session.skipped += 1;
            continue;
        }
        let Some(message) = value.get("message").filter(|m| m.is_object()) else {
            session.skipped += 1;
            continue;
        };
        remember(&mut session.session_id, &value["sessionId"]);
        remember(&mut session.version, &value["version"]);
        remember(&mut session.cwd, &value["cwd"]);
        remember(&mut session.git_branch, &value["gitBranch"]);
        if let Some(model) = message["model"].as_str().filter(|m| !m.starts_with('<')) {
            session.model = Some(model.to_owned());
        }
        let id = match value["uuid"].as_str() {
            Some(uuid) if !uuid.trim().is_empty() && uuid.len() <= 100 => uuid.to_owned(),
            _ => format!("h{}", hex::encode(&Sha256::digest(line.as_bytes())[..12])),
        };
        let at = value["timestamp"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .filter(|t| *t <= now)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true));
        let parts: Vec<Value> = match &message["content"] {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(parts) => parts.clone(),
            _ => {
                session.skipped += 1;
                continue;
            }
        };
        let assistant = kind == "assistant";
        let mut reply = Vec::new();
        for (part_index, part) in parts.iter().enumerate() {
            let key = format!("{KEY_PREFIX}/{id}/{part_index}");
            let entry = match part["type"].as_str().unwrap_or_default() {
                "text" => {
                    let said = text::clean(part["text"].as_str().unwrap_or_default());
                    if said.trim().is_empty() || (!assistant && is_command_noise(&said)) {
                        session.skipped += 1;
                        continue;
                    }
                    if assistant {
                        reply.push(said.trim().to_owned());
                    } else if session.first_prompt.is_none() {
                        session.first_prompt =
                            Some(text::cut(said.trim(), crate::domain::task::MAX_PROMPT_CHARS));
                    }
                    let who = if assistant { "Assistant" } else { "User" };
                    Entry {
                        key,
                        event_type: "message",
                        name: None,
                        content: text::truncate_bytes(
                            &format!("**{who}:**\n\n{}", said.trim()),
                            MAX_MESSAGE_BYTES,
                        ),
                        at: at.clone(),
                    }
                }
                "tool_use" => {
                    let name = part["name"].as_str().unwrap_or("tool");
                    if let Some(tool_id) = part["id"].as_str() {
                        tools.insert(tool_id.to_owned(), name.to_owned());
                    }
                    Entry {
                        key,
                        event_type: "log",
                        name: text::label(name, 200),
                        content: tool_call(name, &part["input"]),
                        at: at.clone(),
                    }
                }
                "tool_result" => {
                    let tool = part["tool_use_id"].as_str().and_then(|id| tools.get(id)).map(String::as_str);
                    let name = format!("{} result", tool.unwrap_or("tool"));
                    Entry {
                        key,
                        event_type: "log",
                        name: text::label(&name, 200),
                        content: tool_result(&part["content"], part["is_error"] == Value::Bool(true)),
                        at: at.clone(),
                    }
                }
                // Thinking, images, and whatever later versions add.
                _ => {
                    session.skipped += 1;
                    continue;
                }
            };
            session.entries.push(entry);
        }
        if assistant && !reply.is_empty() {
            session.final_answer = Some(Entry {
                key: format!("{KEY_PREFIX}/{id}/final"),
                event_type: "output",
                name: Some("Final answer".to_owned()),
                content: text::truncate_bytes(&reply.join("\n\n"), MAX_MESSAGE_BYTES),
                at: at.clone(),
            });
        }
    }
    session
}

fn remember(slot: &mut Option<String>, value: &Value) {
    if slot.is_none() {
        if let Some(text) = value.as_str().filter(|t| !t.trim().is_empty()) {
            *slot = Some(text.to_owned());
        }
    }
}

/// Slash commands and their local output, which Claude Code writes as user text.
fn is_command_noise(text: &str) -> bool {
    let text = text.trim_start();
    ["<command-name>", "<command-message>", "<local-command-stdout>", "<local-command-stderr>"]
        .iter()
        .any(|tag| text.starts_with(tag))
}

/// A tool call: a shell command as a shell block, anything else as its JSON input.
fn tool_call(name: &str, input: &Value) -> String {
    let body = match input["command"].as_str() {
        Some(command) => text::fenced(&text::clean(command), "sh"),
        None => text::fenced(&text::clean(&serde_json::to_string_pretty(input).unwrap_or_default()), "json"),
    };
    let description =
        input["description"].as_str().map(|d| format!("{}\n\n", text::clean(d))).unwrap_or_default();
    let content = format!("**{}**\n\n{description}{body}", text::clean(name));
    text::truncate_bytes(&content, MAX_TOOL_BYTES)
}

/// A tool's result: its text (a string or text parts), verbatim.
fn tool_result(content: &Value, is_error: bool) -> String {
    let output = match content {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .map(|part| match part["type"].as_str() {
                Some("text") => part["text"].as_str().unwrap_or_default().to_owned(),
                Some(other) => format!("[{other}]"),
                None => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let output = text::clean(&output);
    let output = if output.trim().is_empty() { "(no output)".to_owned() } else { output };
    let head = if is_error { "**Error**\n\n" } else { "" };
    let cut = text::truncate_bytes(&output, MAX_TOOL_BYTES);
    format!("{head}{}", text::fenced(&cut, "text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSCRIPT: &str = r#"{"type":"summary","summary":"Fix the flaky test","leafUuid":"u4"}
{"parentUuid":null,"isSidechain":false,"type":"user","message":{"role":"user","content":"Fix the flaky test"},"uuid":"u1","timestamp":"2025-06-20T10:00:00.000Z","sessionId":"s-1","version":"1.0.33","cwd":"/home/dev/app","gitBranch":"main"}
{"type":"assistant","message":{"role":"assistant","model":"claude-sonnet-4","content":[{"type":"thinking","thinking":"hmm"},{"type":"text","text":"Running the tests."},{"type":"tool_use","id":"toolu_1","name":"Bash","input":{"command":"cargo test","description":"Run tests"}}]},"uuid":"u2","timestamp":"2025-06-20T10:00:05.000Z","sessionId":"s-1"}
{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"test result: \u001b[32mok\u001b[0m","is_error":false}]},"uuid":"u3","timestamp":"2025-06-20T10:00:09.000Z","sessionId":"s-1"}
not json at all
{"type":"system","content":"compacted","uuid":"x"}
{"type":"user","isMeta":true,"message":{"role":"user","content":"Caveat: local commands"},"uuid":"m1"}
{"type":"assistant","isSidechain":true,"message":{"role":"assistant","content":[{"type":"text","text":"sub-agent chatter"}]},"uuid":"sc1"}
{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"All tests pass now."}]},"uuid":"u4","timestamp":"2025-06-20T10:00:12.000Z","sessionId":"s-1"}
"#;

    #[test]
    fn messages_tools_and_the_final_answer_are_read_and_the_rest_skipped() {
        let session = parse(TRANSCRIPT);
        assert_eq!(session.session_id.as_deref(), Some("s-1"));
        assert_eq!(session.title(), "Fix the flaky test");
        assert_eq!(session.model.as_deref(), Some("claude-sonnet-4"));
        assert_eq!(session.malformed, [5]);
        let kinds: Vec<(&str, Option<&str>)> =
            session.entries.iter().map(|e| (e.event_type, e.name.as_deref())).collect();
        assert_eq!(
            kinds,
            [
                ("message", None),
                ("message", None),
                ("log", Some("Bash")),
                ("log", Some("Bash result")),
                ("message", None),
            ]
        );
        assert!(session.entries[2].content.contains("cargo test"));
        assert!(session.entries[3].content.contains("test result: ok"), "colours removed");
        assert!(!session
            .entries
            .iter()
            .any(|e| e.content.contains("sub-agent") || e.content.contains("Caveat")));
        let answer = session.final_answer.unwrap();
        assert_eq!(answer.content, "All tests pass now.");
        assert_eq!(answer.key, "claude-code/u4/final");
        assert_eq!(session.entries[0].at.as_deref(), Some("2025-06-20T10:00:00.000Z"));
    }

    #[test]
    fn keys_are_stable_across_readings() {
        let first = parse(TRANSCRIPT);
        let longer = format!(
            "{TRANSCRIPT}{}\n",
            r#"{"type":"user","message":{"role":"user","content":"Thanks"},"uuid":"u5","sessionId":"s-1"}"#
        );
        let second = parse(&longer);
        assert_eq!(first.entries[..], second.entries[..first.entries.len()]);
        assert_eq!(second.entries.len(), first.entries.len() + 1);
    }
}
