//! Request bodies and query strings, parsed the way the routes parse them
//! (`parse_json`, `ApiQuery`, forms) and then checked by the same domain
//! constructors and `app` checks (`app::events::checked_event`) the user actions
//! apply. Much faster than going through the router, so the fuzzer explores the
//! parsers and validators deeply.
//!
//! - Nothing panics, and every refusal is a 400 `INVALID_REQUEST` that names the
//!   field (or none, for a body that is not a JSON object at all).
//! - Only a JSON object is ever accepted as a body.
//! - What is accepted satisfies the documented limits (README, *Limits*): lengths,
//!   no control characters in single-line text, passwords of 8–32 characters,
//!   `max_views` of 1 to 1,000,000,000, expiries in the future, known event types,
//!   page sizes in range, branch names git accepts.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use agentshare::api::error::ApiError;
use agentshare::api::events::{AppendEventRequest, ListEventsQuery, SendMessageRequest, StreamQuery};
use agentshare::api::extract::{decode_cursor, page_limit, parse_json, ApiQuery, WholeNumber};
use agentshare::api::pull_requests::CreatePullRequestRequest;
use agentshare::api::share_links::{CreateShareLinkRequest, ListShareLinksQuery, UpdateShareLinkRequest};
use agentshare::api::task_shares::{CreateShareCodeRequest, ExchangeQuery};
use agentshare::api::tasks::{CreateTaskRequest, ListTasksQuery, UpdateTaskRequest};
use agentshare::api::viewer::PostCommentRequest;
use agentshare::api::webhooks::{CreateWebhookRequest, DeliveriesQuery, UpdateWebhookRequest};
use agentshare::app;
use agentshare::app::events::{checked_event, EventInput};
use agentshare::domain::page::Cursor;
use agentshare::domain::share::{check_max_views, parse_expiry, Permissions, SharePassword, MAX_VIEWS_LIMIT};
use agentshare::domain::task::{Author, EventType};
use agentshare::domain::text::{bounded, parse_email, FieldError};
use agentshare::domain::time::Timestamp;
use agentshare::domain::webhook::{parse_endpoint_url, parse_event_types};
use agentshare::forge::check_branch_name;
use agentshare::web::comments::VerifyQuery;
use axum::extract::FromRequestParts as _;
use libfuzzer_sys::fuzz_target;

/// Polls a future that never waits (the query extractor reads only the URI).
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the extractor waited"),
    }
}

/// Every refusal of a body, a query or a field a user action checks is a 400
/// `INVALID_REQUEST` naming the field, if any: the extractors' own refusals, or a
/// user action's field error (`ApiError::App(app::Error::Invalid)`), which the API
/// answers the same way.
#[track_caller]
fn refused(err: ApiError) {
    let (field, issue) = match err {
        ApiError::InvalidRequest { field, issue } => (field, issue),
        ApiError::App(app::Error::Invalid(err)) => (Some(err.field), err.issue),
        other => panic!("a malformed request answered {other:?}"),
    };
    assert!(!issue.is_empty() && issue.trim() == issue, "a malformed issue {issue:?} ({field:?})");
    if let Some(field) = field.filter(|f| f.is_empty() || f.trim() != f) {
        // A nested field is named by its path; the issue quotes the name itself.
        assert!(issue.starts_with('"'), "{issue:?} does not quote the field {field:?}");
    }
}

fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    match parse_json::<T>(bytes) {
        Ok(value) => {
            let json: serde_json::Value = serde_json::from_slice(bytes).expect("an accepted body is JSON");
            assert!(json.is_object(), "a body that is not an object was accepted: {json}");
            Some(value)
        }
        Err(err) => {
            refused(err);
            None
        }
    }
}

fn query<T: serde::de::DeserializeOwned>(query: &[u8]) -> Option<T> {
    let text = std::str::from_utf8(query).ok()?;
    let request = axum::http::Request::builder().uri(format!("/x?{text}")).body(()).ok()?;
    let (mut parts, ()) = request.into_parts();
    match ready(ApiQuery::<T>::from_request_parts(&mut parts, &())) {
        Ok(ApiQuery(value)) => Some(value),
        Err(err) => {
            refused(err);
            None
        }
    }
}

/// A single-line label as the handlers check it (titles, names, machine ids).
#[track_caller]
fn label(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let kept = bounded(field, value, 1, max, false)?;
    assert!(!kept.trim().is_empty() && kept == kept.trim() && kept.chars().count() <= max, "{kept:?}");
    assert!(!kept.chars().any(char::is_control), "{kept:?}");
    Ok(kept)
}

#[track_caller]
fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let kept = bounded(field, value, min, max, true)?;
    let count = kept.chars().count();
    assert!(count >= min && count <= max);
    assert!(kept.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')), "{kept:?}");
    Ok(kept)
}

fn password(value: &str) {
    if SharePassword::parse("password", value).is_ok() {
        assert!(
            (8..=32).contains(&value.chars().count()) && !value.chars().any(char::is_control),
            "{value:?}"
        );
    }
}

fn max_views(value: WholeNumber) {
    if let Ok(n) = check_max_views("max_views", value.0) {
        assert!((1..=MAX_VIEWS_LIMIT).contains(&n));
    }
}

fn expiry(value: &str) {
    let now = Timestamp::now();
    if let Ok(at) = parse_expiry("expires_at", value, now) {
        assert!(at > now && at <= Timestamp::LAST, "{value:?}");
    }
}

fn webhook_url(value: &str) {
    if let Ok(url) = parse_endpoint_url("url", value) {
        assert!(matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty()));
    }
}

/// A cursor names an id the API could have handed out.
fn cursor(cursor: Option<&str>) {
    if let Some(Ok(Cursor { id, .. })) = cursor.map(decode_cursor) {
        assert!(!id.contains('\0'), "a cursor names an id with NUL: {id:?}");
    }
}

fn page(limit: Option<u32>, default: u32, max: u32) {
    if let Ok(n) = page_limit(limit, default, max) {
        assert!((1..=max).contains(&n) && limit.is_none_or(|l| l == n));
    } else {
        assert!(limit.is_some_and(|l| l == 0 || l > max));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    match selector % 18 {
        0 => {
            if let Some(b) = body::<CreateTaskRequest>(bytes) {
                let _ = label("title", &b.title, 200);
                b.machine_id.as_deref().map(|m| label("machine_id", m, 200));
                b.agent.as_deref().map(|a| label("agent", a, 200));
                b.prompt.as_deref().map(|p| text("prompt", p, 0, 100_000));
            }
        }
        1 => {
            if let Some(b) = body::<UpdateTaskRequest>(bytes) {
                b.title.as_deref().map(|t| label("title", t, 200));
                if let Some(Some(m)) = &b.machine_id {
                    let _ = label("machine_id", m, 200);
                }
                if let Some(base) = &b.base_branch {
                    let _ = check_branch_name(base.trim());
                }
            }
        }
        2 => {
            if let Some(b) = body::<AppendEventRequest>(bytes) {
                let (event_type, private) = (b.event_type, b.private);
                // The check `app::events::append` applies to the body the route read.
                // An unreadable `created_at` is refused by the route before this.
                let at = match b.created_at.as_deref().map(Timestamp::parse) {
                    Some(None) => return,
                    parsed => parsed.flatten(),
                };
                let input = EventInput {
                    event_type: b.event_type,
                    content: b.content,
                    name: b.name,
                    private: b.private,
                    key: b.key,
                    at,
                };
                match checked_event(input, Author::Owner) {
                    Ok(event) => {
                        if let Some(key) = &event.key {
                            assert!(!key.trim().is_empty() && key.chars().count() <= 200);
                            assert!(!key.chars().any(char::is_control));
                        }
                        assert!(event.at.is_none_or(|at| at.millis() <= Timestamp::now().millis() + 60_000));
                        assert_eq!(event.event_type, event_type);
                        assert_eq!((event.private, event.author), (private, Author::Owner));
                        assert!(event.event_type != EventType::Output || event.name.is_some());
                        let count = event.content.chars().count();
                        assert!((1..=1_000_000).contains(&count));
                        if let Some(name) = &event.name {
                            assert!(!name.trim().is_empty() && name.chars().count() <= 200);
                        }
                    }
                    // Answered by the route as `ApiError::App`.
                    Err(err) => refused(err.into()),
                }
            }
        }
        3 => {
            if let Some(b) = body::<SendMessageRequest>(bytes) {
                let _ = text("content", &b.content, 1, 100_000);
            }
        }
        4 => {
            if let Some(b) = body::<CreateShareLinkRequest>(bytes) {
                b.title.as_deref().map(|t| label("title", t, 200));
                b.description.as_deref().map(|d| text("description", d, 0, 2000));
                b.expires_at.as_deref().map(expiry);
                b.password.as_deref().map(password);
                b.max_views.map(max_views);
                let patch = b.permissions.unwrap_or_default();
                let permissions = patch.apply(Permissions::default());
                let defaults = Permissions::default();
                assert_eq!(
                    permissions.allow_download,
                    patch.allow_download.unwrap_or(defaults.allow_download)
                );
                assert_eq!(
                    permissions.allow_comments,
                    patch.allow_comments.unwrap_or(defaults.allow_comments)
                );
                assert_eq!(permissions.show_metadata, patch.show_metadata.unwrap_or(defaults.show_metadata));
            }
        }
        5 => {
            if let Some(b) = body::<UpdateShareLinkRequest>(bytes) {
                b.title.as_deref().map(|t| label("title", t, 200));
                if let Some(Some(d)) = &b.description {
                    let _ = text("description", d, 0, 2000);
                }
                b.expires_at.as_deref().map(expiry);
                if let Some(Some(p)) = &b.password {
                    password(p);
                }
                if let Some(Some(m)) = b.max_views {
                    max_views(m);
                }
            }
        }
        6 => {
            // Seed 003 bodies: an empty body is `{}`.
            let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
            if let Some(b) = body::<CreateShareCodeRequest>(bytes) {
                let permissions = b.permissions.unwrap_or_default().resolve();
                if b.permissions.is_none() {
                    assert_eq!(permissions, Default::default());
                }
                if let Some(t) = b.expires_at.as_deref().and_then(Timestamp::parse) {
                    assert_eq!(Timestamp::parse(&t.to_rfc3339()), Some(t));
                }
            }
        }
        7 => {
            if let Some(b) = body::<PostCommentRequest>(bytes) {
                let _ = label("name", &b.name, 100);
                let _ = text("content", &b.content, 1, 5000);
                if let Ok(email) = parse_email(&b.email) {
                    assert!(email.len() <= 254 && email.contains('@'));
                }
            }
        }
        8 => {
            // The same body as a browser's form.
            if let Ok(b) = serde_urlencoded::from_bytes::<PostCommentRequest>(bytes) {
                let _ = label("name", &b.name, 100);
                let _ = parse_email(&b.email);
            }
        }
        9 => {
            if let Some(b) = body::<CreatePullRequestRequest>(bytes) {
                let _ = label("title", &b.title, 200);
                let _ = check_branch_name(b.head_branch.trim());
                b.description.as_deref().map(|d| text("description", d, 0, 10_000));
            }
        }
        10 => {
            if let Some(b) = body::<CreateWebhookRequest>(bytes) {
                webhook_url(&b.url);
                if let Ok(events) = parse_event_types("events", &b.events) {
                    assert!(!events.is_empty() && events.len() <= b.events.len());
                }
                b.description.as_deref().map(|d| bounded("description", d, 0, 500, false));
            }
        }
        11 => {
            if let Some(b) = body::<UpdateWebhookRequest>(bytes) {
                b.url.as_deref().map(webhook_url);
                b.events.as_deref().map(|e| parse_event_types("events", e));
            }
        }
        12 => {
            if let Some(q) = query::<ListTasksQuery>(bytes) {
                page(q.limit, 20, 100);
                cursor(q.cursor.as_deref());
            }
        }
        13 => {
            if let Some(q) = query::<ListEventsQuery>(bytes) {
                page(q.limit, 100, 1000);
            }
        }
        14 => {
            if let Some(q) = query::<ListShareLinksQuery>(bytes) {
                page(q.limit, 20, 100);
                cursor(q.cursor.as_deref());
            }
        }
        15 => {
            let _ = query::<StreamQuery>(bytes);
            let _ = query::<DeliveriesQuery>(bytes).map(|q| page(q.limit, 50, 200));
        }
        16 => {
            let _ = query::<ExchangeQuery>(bytes);
            let _ = query::<VerifyQuery>(bytes);
        }
        _ => {
            // Integers written as JSON numbers, `5.0` included.
            if let Ok(n) = serde_json::from_slice::<WholeNumber>(bytes) {
                let value: serde_json::Value = serde_json::from_slice(bytes).expect("JSON");
                let as_f64 = value.as_f64().expect("a number");
                assert!(
                    value.as_i64() == Some(n.0) || (as_f64.fract() == 0.0 && as_f64 as i64 == n.0),
                    "{value}"
                );
            }
        }
    }
});
