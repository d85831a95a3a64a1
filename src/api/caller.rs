//! Who is calling a task route: the task's owner (an API key) or a viewer (a
//! session from a task share code); see [`app::access::Caller`].

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::extract::bearer;
use crate::app::{self, access, AppState};

/// The authenticated caller of a route owners and viewers share.
pub struct Caller(pub access::Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = bearer(&parts.headers).ok_or(app::Error::Unauthenticated)?;
        Ok(Caller(access::caller(state, credential).await?))
    }
}
