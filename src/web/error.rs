//! What a page answers when a user action is refused: a page saying so, with the
//! status of the error's kind (and `Retry-After` when the client must wait). Gone
//! share links all answer one identical page.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::page::page;
use crate::app::{self, ErrorKind};
use crate::http::status_of;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: &'a str,
}

#[derive(Template)]
#[template(path = "gone.html")]
pub struct GonePage;

/// A refused action, answered as a page.
#[derive(Debug)]
pub struct PageError(pub app::Error);

impl<E: Into<app::Error>> From<E> for PageError {
    fn from(err: E) -> PageError {
        PageError(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        failure(self.0)
    }
}

/// The page of `err`.
pub fn failure(err: app::Error) -> Response {
    if let app::Error::Internal(cause) = &err {
        tracing::error!(error = format!("{cause:#}"), "request failed");
    }
    if matches!(err, app::Error::ShareUnavailable) {
        return page(StatusCode::NOT_FOUND, &GonePage);
    }
    let kind = err.kind();
    let heading = match kind {
        ErrorKind::Invalid | ErrorKind::Conflict => "That did not work",
        ErrorKind::Unauthenticated => "Not signed in",
        ErrorKind::Forbidden => "Not allowed",
        ErrorKind::NotFound => "Not found",
        ErrorKind::Limited => "Too many attempts",
        ErrorKind::Internal => "Something went wrong",
    };
    let message = err.to_string();
    let mut response = page(status_of(kind), &ErrorPage { heading, message: &message });
    if let Some(secs) = err.retry_after_secs() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// The page of a request whose path could not be read (400).
pub fn bad_path(issue: &str) -> Response {
    page(StatusCode::BAD_REQUEST, &ErrorPage { heading: "That did not work", message: issue })
}
