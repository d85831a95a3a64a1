//! One agentshare server as the client reaches it: its URL and the owner's API key,
//! requests and their answers, retries while it can't be reached, and what a user
//! is told when a request fails.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where `agentshare serve` listens when given no flags.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";
/// How long a JSON request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First pause before a retry; each later one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(3);

/// Why a request failed, worded for the person who ran the command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach {url}: {cause} — is the server running? check --server")]
    Unreachable { url: String, cause: String },
    #[error("{url} did not answer within {} s — is the server overloaded? check --server", .after.as_secs())]
    TimedOut { url: String, after: Duration },
    #[error(
        "the server at {server} refused the API key (401 Unauthorized): give a valid key with \
         --api-key or AGENTSHARE_API_KEY, or store one with `agentshare login`"
    )]
    KeyRefused { server: String },
    #[error("{message} (HTTP {status}{})", if .code.is_empty() { String::new() } else { format!(" {}", .code) })]
    Api { status: u16, code: String, message: String, details: Value },
    #[error("unexpected answer from {url}: {what}")]
    Unexpected { url: String, what: String },
}

impl Error {
    /// Whether the same request may succeed later: the server is unreachable, slow,
    /// overloaded or restarting.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unreachable { .. } | Error::TimedOut { .. } => true,
            Error::Api { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Error::KeyRefused { .. } | Error::Unexpected { .. } => false,
        }
    }

    /// The API's error code (`TASK_EXISTS`…), when the server answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status the server answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::KeyRefused { .. } => Some(401),
            _ => None,
        }
    }
}

/// A request body.
pub enum Body {
    None,
    Json(Value),
    Bytes { content_type: String, bytes: Vec<u8> },
}

/// A server and the API key to use with it.
#[derive(Clone)]
pub struct Connection {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Connection {
    /// A connection to `base` (an `http://` or `https://` URL, checked by
    /// [`normalize_server`]) with the owner's API key `key`.
    pub fn new(base: &str, key: &str) -> anyhow::Result<Connection> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("agentshare-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Connection { base: normalize_server(base)?, key: key.to_owned(), http })
    }

    /// The server's URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which starts with `/`) on the server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request with the API key and answers the status and the body of a
    /// successful (2xx) answer; any other answer is an [`Error`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body,
        timeout: Duration,
    ) -> Result<(StatusCode, Vec<u8>), Error> {
        let url = self.url(path);
        let mut request = self.http.request(method, &url).bearer_auth(&self.key).timeout(timeout);
        request = match body {
            Body::None => request,
            Body::Json(value) => request.header("content-type", "application/json").body(value.to_string()),
            Body::Bytes { content_type, bytes } => request.header("content-type", content_type).body(bytes),
        };
        let response = request.send().await.map_err(|err| self.failure(&url, err, timeout))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|err| self.failure(&url, err, timeout))?.to_vec();
        if status.is_success() {
            return Ok((status, bytes));
        }
        if status == StatusCode::UNAUTHORIZED && !is_share_code_error(&bytes) {
            return Err(Error::KeyRefused { server: self.base.clone() });
        }
        Err(api_error(status, &bytes))
    }

    /// A JSON request; answers the status and the body as JSON.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), Error> {
        let body = body.map_or(Body::None, Body::Json);
        let (status, bytes) = self.send(method, path, body, REQUEST_TIMEOUT).await?;
        let value = serde_json::from_slice(&bytes).map_err(|err| Error::Unexpected {
            url: self.url(path),
            what: format!("the body is not JSON ({err})"),
        })?;
        Ok((status, value))
    }

    /// A request to the owner API; answers the `data` of its `{"success": true,
    /// "data": …}` envelope.
    pub async fn data(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Error> {
        let (_, mut value) = self.json(method, path, body).await?;
        match value.get_mut("data") {
            Some(data) => Ok(data.take()),
            None => Err(Error::Unexpected { url: self.url(path), what: "no `data` in the answer".into() }),
        }
    }

    fn failure(&self, url: &str, err: reqwest::Error, timeout: Duration) -> Error {
        if err.is_timeout() {
            return Error::TimedOut { url: url.to_owned(), after: timeout };
        }
        // The innermost cause says what happened ("Connection refused (os error 111)").
        let mut cause: &dyn std::error::Error = &err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        Error::Unreachable { url: self.base.clone(), cause: cause.to_string() }
    }
}

/// A 401 of the share-code routes names a code, not the key (`INVALID_SHARE_CODE`).
fn is_share_code_error(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(|c| c == "INVALID_SHARE_CODE"))
        .unwrap_or(false)
}

/// The error of a non-2xx answer: the owner API's `{"success": false, "error":
/// {code, message, details}}`, the share-code routes' `{code, error, message}`, or
/// whatever else came (a proxy's page).
fn api_error(status: StatusCode, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let (code, message, details) = match &parsed {
        Some(value) if value.get("error").is_some_and(Value::is_object) => {
            let error = &value["error"];
            (text(error.get("code")), text(error.get("message")), error.get("details").cloned())
        }
        Some(value) if value.get("message").is_some() => {
            (text(value.get("code")), text(value.get("message")), None)
        }
        _ => {
            let snippet = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned();
            (String::new(), snippet, None)
        }
    };
    let mut message = if message.is_empty() {
        status.canonical_reason().unwrap_or("the request failed").to_owned()
    } else {
        message
    };
    // What was wrong with which field, when the server says.
    if let Some(issue) = details.as_ref().and_then(|d| d.get("issue")).and_then(Value::as_str) {
        message = format!("{message}: {issue}");
    }
    Error::Api { status: status.as_u16(), code, message, details: details.unwrap_or(Value::Null) }
}

/// `text` as a server URL: `http://` or `https://`, without a trailing slash.
pub fn normalize_server(text: &str) -> anyhow::Result<String> {
    let trimmed = text.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    match parsed {
        Some(_) => Ok(trimmed.to_owned()),
        None => anyhow::bail!("{text:?} is not a server URL: give one like http://127.0.0.1:8080 (--server)"),
    }
}

/// How long to keep retrying: until a deadline that can be set while waiting (when
/// a wrapped command ends), or until the user gives up (Ctrl-C).
#[derive(Default)]
pub struct Patience {
    deadline: Mutex<Option<Instant>>,
    abandoned: AtomicBool,
    wake: Notify,
}

impl Patience {
    /// Retries until told otherwise.
    pub fn unbounded() -> Patience {
        Patience::default()
    }

    /// Retries for `duration` from now.
    pub fn within(duration: Duration) -> Patience {
        let patience = Patience::default();
        patience.set_deadline(Instant::now() + duration);
        patience
    }

    /// Retries until `at`, and no longer.
    pub fn set_deadline(&self, at: Instant) {
        *self.deadline.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(at);
        self.wake.notify_waiters();
    }

    /// Stops retrying at once.
    pub fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
        self.wake.notify_waiters();
    }

    /// Whether a retry after `delay` is still wanted.
    pub fn allows(&self, delay: Duration) -> bool {
        if self.abandoned.load(Ordering::SeqCst) {
            return false;
        }
        let deadline = *self.deadline.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        deadline.is_none_or(|at| Instant::now() + delay <= at)
    }

    /// Whether the time for retries is over.
    pub fn is_over(&self) -> bool {
        !self.allows(Duration::ZERO)
    }

    /// Waits `delay`, or less when the deadline moves or the user gives up.
    async fn pause(&self, delay: Duration) {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = self.wake.notified() => {}
        }
    }
}

/// Runs `attempt` until it succeeds, fails for good, or `patience` runs out, pausing
/// longer after each transient failure; `on_retry` hears of each one.
pub async fn with_retries<T, F, Fut>(
    patience: &Patience,
    mut attempt: F,
    mut on_retry: impl FnMut(&Error),
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut delay = FIRST_BACKOFF;
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(err) if err.is_transient() && patience.allows(delay) => {
                on_retry(&err);
                patience.pause(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_http_urls() {
        assert_eq!(normalize_server("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(
            normalize_server("https://share.example.com/base").unwrap(),
            "https://share.example.com/base"
        );
        assert!(normalize_server("127.0.0.1:8080").is_err());
        assert!(normalize_server("ftp://example.com").is_err());
    }

    #[test]
    fn errors_of_both_api_families_are_read() {
        let owner = api_error(
            StatusCode::NOT_FOUND,
            br#"{"success": false, "error": {"code": "TASK_NOT_FOUND", "message": "Task not found", "details": {"task_id": "t"}}}"#,
        );
        assert_eq!(owner.to_string(), "Task not found (HTTP 404 TASK_NOT_FOUND)");
        let invalid = api_error(
            StatusCode::BAD_REQUEST,
            br#"{"success": false, "error": {"code": "INVALID_REQUEST", "message": "Invalid request parameters", "details": {"field": "password", "issue": "Password must be at least 8 characters"}}}"#,
        );
        assert_eq!(
            invalid.to_string(),
            "Invalid request parameters: Password must be at least 8 characters (HTTP 400 INVALID_REQUEST)"
        );
        assert_eq!(owner.code(), Some("TASK_NOT_FOUND"));
        let code = api_error(
            StatusCode::CONFLICT,
            br#"{"code": "TASK_NOT_IN_CLOUD_MODE", "error": "conflict", "message": "Task is not in cloud mode"}"#,
        );
        assert_eq!(code.to_string(), "Task is not in cloud mode (HTTP 409 TASK_NOT_IN_CLOUD_MODE)");
        let proxy = api_error(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert!(proxy.is_transient());
        assert!(!owner.is_transient());
    }
}
