//! Extractors that turn every malformed request into an [`ApiError`] naming what is
//! wrong: bodies, query strings and the bearer key.

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::app::{access, AppState};
use crate::domain::page::Cursor;
use crate::storage::Owner;

/// A JSON body, deserialized with the path of the first offending field kept for
/// the error. An empty body counts as `{}`, so routes whose fields are all optional
/// accept a bare POST.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !is_json_or_unspecified(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.settings().max_body_bytes;
        let bytes = read_body(req, limit).await?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        parse_json(bytes).map(ApiJson)
    }
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit).await.map_err(|err| {
        let too_large = std::error::Error::source(&err)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::PayloadTooLarge { limit_bytes: limit }
        } else {
            ApiError::InvalidRequest { field: None, issue: "The request body could not be read".into() }
        }
    })
}

fn is_json_or_unspecified(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(mime) = value.to_str().unwrap_or_default().parse::<mime::Mime>() else {
        return false;
    };
    mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON)
}

/// Deserializes `bytes`, a JSON object, as `T`, describing the first problem as
/// `details.field` / `details.issue`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde would also read a struct from an array of its fields' values.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let issue = match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => "The body must be a JSON object".to_owned(),
            Err(err) => format!("The body is not valid JSON: {}", strip_position(&err.to_string())),
        };
        return Err(ApiError::InvalidRequest { field: None, issue });
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::InvalidRequest {
                field: None,
                issue: format!("The body is not valid JSON: {inner}"),
            };
        }
        describe(&path, &strip_position(&inner.to_string()))
    })?;
    // Nothing may follow the object but whitespace (`{}{` is no JSON).
    de.end().map_err(|err| ApiError::InvalidRequest {
        field: None,
        issue: format!("The body is not valid JSON: {}", strip_position(&err.to_string())),
    })?;
    Ok(value)
}

/// An integer of a JSON body, also when written with a zero fraction (`5.0`), which
/// JSON Schema counts as an integer too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeNumber(pub i64);

impl<'de> serde::Deserialize<'de> for WholeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        use serde::de::{Error, Unexpected};

        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = WholeNumber;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer")
            }

            fn visit_i64<E: Error>(self, v: i64) -> Result<WholeNumber, E> {
                Ok(WholeNumber(v))
            }

            fn visit_u64<E: Error>(self, v: u64) -> Result<WholeNumber, E> {
                i64::try_from(v)
                    .map(WholeNumber)
                    .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }

            fn visit_f64<E: Error>(self, v: f64) -> Result<WholeNumber, E> {
                // i64::MAX as f64 rounds up to 2^63, which is out of range.
                if v.fract() == 0.0 && v >= i64::MIN as f64 && v < i64::MAX as f64 {
                    Ok(WholeNumber(v as i64))
                } else {
                    Err(E::invalid_value(Unexpected::Float(v), &self))
                }
            }
        }

        de.deserialize_any(Visitor)
    }
}

/// Query-string parameters, with the same error reporting as [`ApiJson`]; a value
/// holding a NUL character answers 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some((key, _)) =
            form_urlencoded::parse(query.as_bytes()).find(|(_, value)| value.contains('\0'))
        {
            return Err(no_nul(&key));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            describe(&path, &err.into_inner().to_string())
        })
    }
}

/// Path parameters, with the same error reporting as [`ApiJson`]: a parameter that
/// does not parse (a pull request number out of range, bytes that are not UTF-8, a
/// NUL character) answers 400 `INVALID_REQUEST` naming it.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if let Ok(params) = RawPathParams::from_request_parts(parts, state).await {
            if let Some((key, _)) = params.iter().find(|(_, value)| value.contains('\0')) {
                return Err(no_nul(key));
            }
        }
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(err)) if err.status().is_client_error() => {
                let field = match err.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
                    _ => None,
                };
                let issue = match err.kind() {
                    ErrorKind::ParseErrorAtKey { key, expected_type, .. } => {
                        format!("{key} must be {}", describe_type(expected_type))
                    }
                    ErrorKind::InvalidUtf8InPathParam { key } => format!("{key} is not valid UTF-8"),
                    kind => capitalise(&kind.to_string()),
                };
                Err(ApiError::InvalidRequest { field, issue })
            }
            // The route and the extractor disagree: a fault of the service.
            Err(err) => {
                Err(crate::app::Error::internal(anyhow::anyhow!("path parameters: {}", err.body_text()))
                    .into())
            }
        }
    }
}

/// Distinguishes a field set to `null` (`Some(None)`) from an absent one (`None`).
pub fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}

/// Checks a `limit` query parameter: 1..=`max`, `default` when absent.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid("limit", format!("limit must be between 1 and {max}"))),
    }
}

/// Reads a `cursor` query parameter (a `next_cursor` this API handed out).
pub fn decode_cursor(text: &str) -> Result<Cursor, ApiError> {
    Cursor::decode(text).ok_or_else(|| ApiError::invalid("cursor", "cursor is not one this API handed out"))
}

/// 400 for a parameter holding a NUL character: nothing the API names contains one,
/// and PostgreSQL can't even compare text with it.
pub fn no_nul(field: &str) -> ApiError {
    ApiError::invalid(field, format!("{} must not contain NUL characters", shown(field)))
}

/// A name for an issue: as it is when it is a plain identifier, else quoted, so the
/// issue shows where it begins and ends.
fn shown(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

fn describe_type(rust_type: &str) -> &'static str {
    match rust_type {
        "i64" | "i32" | "u64" | "u32" => "an integer in range",
        _ => "of the documented type",
    }
}

/// Turns serde's message about the value at `path` into an `INVALID_REQUEST`.
fn describe(path: &str, message: &str) -> ApiError {
    let parent = if path == "." { String::new() } else { format!("{path}.") };
    // The whole message, not a part of it: a client's field name can hold any text,
    // serde's own words included. A missing field is one of ours.
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        return ApiError::invalid(format!("{parent}{name}"), format!("{name} is required"));
    }
    // serde writes "unknown field `NAME`, expected …" (the list of our fields, which
    // are plain identifiers) or "…`, there are no fields"; NAME itself may hold
    // backticks and those very words.
    let unknown = message.strip_prefix("unknown field `").and_then(|rest| {
        rest.strip_suffix("`, there are no fields")
            .or_else(|| rest.rfind("`, expected").map(|end| &rest[..end]))
    });
    if let Some(name) = unknown {
        // The path already ends at the unknown field itself.
        let field = if path == "." { name.to_owned() } else { path.to_owned() };
        return ApiError::invalid(field, format!("{} is not a known field", shown(name)));
    }
    if path == "." {
        return ApiError::InvalidRequest { field: None, issue: capitalise(message) };
    }
    ApiError::invalid(path, capitalise(message))
}

/// serde_json appends " at line 1 column 17"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The bearer credential of a request, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| credential.trim())
}

/// The owner whose API key authorised the request; 401 `UNAUTHORIZED` otherwise.
pub struct AuthOwner(pub Owner);

impl FromRequestParts<AppState> for AuthOwner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = bearer(&parts.headers).ok_or(crate::app::Error::Unauthenticated)?;
        Ok(AuthOwner(access::owner_by_api_key(state, key).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        permissions: Option<Perms>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Perms {
        allow_download: Option<bool>,
    }

    fn details(err: ApiError) -> (Option<String>, String) {
        match err {
            ApiError::InvalidRequest { field, issue } => (field, issue),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_the_missing_field() {
        let (field, issue) = details(parse_json::<Body>(b"{}").unwrap_err());
        assert_eq!(field.as_deref(), Some("title"));
        assert_eq!(issue, "title is required");
    }

    #[test]
    fn names_nested_fields_of_the_wrong_type() {
        let err = parse_json::<Body>(br#"{"title":"t","permissions":{"allow_download":"yes"}}"#).unwrap_err();
        let (field, issue) = details(err);
        assert_eq!(field.as_deref(), Some("permissions.allow_download"));
        assert!(issue.starts_with("Invalid type: string \"yes\", expected a boolean"), "{issue}");
    }

    #[test]
    fn names_unknown_fields() {
        let (field, _) = details(parse_json::<Body>(br#"{"title":"t","extra":1}"#).unwrap_err());
        assert_eq!(field.as_deref(), Some("extra"));
    }

    #[test]
    fn unknown_fields_that_are_not_identifiers_are_quoted() {
        // Found by fuzzing (`json_bodies`): the issues read " is not a known field",
        // " - is not a known field" and, for a name with a backtick, "CCC, is not…".
        for (body, name, issue) in [
            (&br#"{"title":"t","":1}"#[..], "", r#""" is not a known field"#),
            (br#"{"title":"t"," -":1}"#, " -", r#"" -" is not a known field"#),
            (br#"{"title":"t","extra_1":1}"#, "extra_1", "extra_1 is not a known field"),
            (br#"{"title":"t","CCC,` ":1}"#, "CCC,` ", r#""CCC,` " is not a known field"#),
            // Also found by fuzzing: names holding serde's own words were read as
            // serde's message ("…, expected one of  is required").
            (
                br#"{"title":"t","s[- missing field `task_id`":1}"#,
                "s[- missing field `task_id`",
                r#""s[- missing field `task_id`" is not a known field"#,
            ),
            (
                br#"{"title":"t","x`, expected one of `title`":1}"#,
                "x`, expected one of `title`",
                r#""x`, expected one of `title`" is not a known field"#,
            ),
        ] {
            let (field, got) = details(parse_json::<Body>(body).unwrap_err());
            assert_eq!((field.as_deref(), got.as_str()), (Some(name), issue));
        }
    }

    #[test]
    fn whole_numbers_may_carry_a_zero_fraction() {
        let read = |json: &str| serde_json::from_str::<WholeNumber>(json).map(|n| n.0).ok();
        assert_eq!(read("5"), Some(5));
        assert_eq!(read("5.0"), Some(5));
        assert_eq!(read("-3.0"), Some(-3));
        assert_eq!(read("5.5"), None);
        assert_eq!(read("1e300"), None);
        assert_eq!(read("\"5\""), None);
    }

    #[test]
    fn bodies_are_json_objects() {
        let (field, issue) = details(parse_json::<Body>(br#"["t", null]"#).unwrap_err());
        assert_eq!(field, None);
        assert_eq!(issue, "The body must be a JSON object");
        let (_, issue) = details(parse_json::<Body>(b"nul").unwrap_err());
        assert!(issue.starts_with("The body is not valid JSON"), "{issue}");
    }

    #[test]
    fn query_values_with_nul_are_refused_naming_the_parameter() {
        // Found by fuzzing (`json_bodies`): an empty name read " must not contain…".
        let (field, issue) = details(no_nul(""));
        assert_eq!((field.as_deref(), issue.as_str()), (Some(""), r#""" must not contain NUL characters"#));
        let (_, issue) = details(no_nul("task_id"));
        assert_eq!(issue, "task_id must not contain NUL characters");
    }

    #[test]
    fn nothing_may_follow_the_object() {
        // Found by fuzzing (`json_bodies`): `{}{` and `{"title":"t"} x` were accepted.
        for body in [&br#"{"title":"t"}{"#[..], br#"{"title":"t"} x"#, br#"{"title":"t"}{"title":"u"}"#] {
            let (field, issue) = details(parse_json::<Body>(body).unwrap_err());
            assert_eq!(field, None);
            assert!(issue.starts_with("The body is not valid JSON"), "{issue}");
        }
        assert!(parse_json::<Body>(b"{\"title\":\"t\"}\n \t").is_ok(), "whitespace may follow");
    }

    #[test]
    fn malformed_json_has_no_field() {
        let (field, issue) = details(parse_json::<Body>(b"{\"title\":").unwrap_err());
        assert_eq!(field, None);
        assert!(issue.starts_with("The body is not valid JSON"), "{issue}");
    }
}
