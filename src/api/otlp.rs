//! `POST /otlp/v1/traces`: OpenTelemetry traces over OTLP/HTTP, as a stock
//! exporter sends them with `OTEL_EXPORTER_OTLP_ENDPOINT={public-url}/otlp` and
//! `OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<api key>`.
//!
//! Bodies are `application/x-protobuf` or `application/json` (the OTLP JSON
//! encoding), optionally `Content-Encoding: gzip`. Answers follow the OTLP/HTTP
//! specification: 200 with an `ExportTraceServiceResponse` (its `partial_success`
//! names spans that were refused), and errors as a `google.rpc.Status`, both in
//! the request's encoding: 400 for a body that can't be read, 401 without a valid
//! API key, 413 over `--max-otlp-bytes`, 415 for another media type or encoding,
//! 503 with `Retry-After` when the service is busy storing other exports.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use prost::Message as _;
use serde::Deserialize as _;
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::extract::bearer;
use crate::app::ingest::{self, Span, SpanEvent};
use crate::app::{access, AppState, ErrorKind};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_traces))
}

/// How long an export waits for a place among those being stored before it is
/// told to come back.
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// The encoding of a request, which its answer uses too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of OTLP error answers.
#[derive(Clone, PartialEq, prost::Message, serde::Serialize)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// An OTLP answer: a status, a body in the request's encoding, maybe a
/// `Retry-After`.
struct Answer {
    status: StatusCode,
    encoding: Encoding,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl Answer {
    fn error(status: StatusCode, encoding: Encoding, message: impl Into<String>) -> Answer {
        // gRPC codes: INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED,
        // UNAVAILABLE, INTERNAL.
        let code = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
            StatusCode::UNAUTHORIZED => 16,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => 8,
            StatusCode::SERVICE_UNAVAILABLE => 14,
            _ => 13,
        };
        let status_body = Status { code, message: message.into() };
        let body = match encoding {
            Encoding::Protobuf => status_body.encode_to_vec(),
            Encoding::Json => serde_json::to_vec(&status_body).unwrap_or_default(),
        };
        Answer { status, encoding, body, retry_after: None }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let content_type = match self.encoding {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        };
        let mut response = (self.status, [(header::CONTENT_TYPE, content_type)], self.body).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Export traces (OTLP/HTTP)
///
/// Takes an OTLP `ExportTraceServiceRequest` as protobuf or JSON (optionally
/// gzip-compressed) and turns each agent run it describes into a task of the key's
/// owner (`source: otlp`): messages, tool calls, the final answer as an output,
/// model and token usage as metadata. Spans may come in any order and more than
/// once. Answers in the OTLP shapes (`ExportTraceServiceResponse`, or a
/// `google.rpc.Status`), in the request's encoding.
#[utoipa::path(
    post, path = "/otlp/v1/traces", tag = "ingestion",
    request_body(
        description = "An OTLP `ExportTraceServiceRequest`",
        content((Object = "application/json"), (Vec<u8> = "application/x-protobuf")),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Stored; `partialSuccess` names refused spans", content((Object = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 400, description = "The body is not an OTLP export (a `google.rpc.Status`)"),
        (status = 401, description = "No valid API key"),
        (status = 413, description = "Over `--max-otlp-bytes` (sent or decompressed)"),
        (status = 415, description = "Neither protobuf nor JSON, or an encoding other than gzip"),
        (status = 503, description = "Busy storing other exports; send again after `Retry-After`", headers(
            ("Retry-After" = u64, description = "Seconds to wait"),
        )),
    )
)]
async fn export_traces(State(state): State<AppState>, request: Request) -> Answer {
    let headers = request.headers().clone();
    let encoding = match encoding_of(&headers) {
        Some(encoding) => encoding,
        None => {
            return Answer::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Encoding::Json,
                "send application/x-protobuf or application/json",
            )
        }
    };
    let Some(key) = bearer(&headers) else {
        return Answer::error(
            StatusCode::UNAUTHORIZED,
            encoding,
            "send an API key as Authorization: Bearer <key>",
        );
    };
    let owner = match access::owner_by_api_key(&state, key).await {
        Ok(owner) => owner,
        Err(err) if err.kind() == ErrorKind::Unauthenticated => {
            return Answer::error(StatusCode::UNAUTHORIZED, encoding, "the API key is not valid")
        }
        Err(err) => return internal(encoding, err),
    };
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or_default().trim()) {
        None | Some("") | Some("identity") => false,
        Some(value) if value.eq_ignore_ascii_case("gzip") => true,
        Some(_) => {
            return Answer::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                encoding,
                "the only encoding taken is gzip",
            )
        }
    };
    let Ok(_place) = tokio::time::timeout(BUSY_WAIT, state.limits().ingests.acquire()).await else {
        let mut busy = Answer::error(StatusCode::SERVICE_UNAVAILABLE, encoding, "busy; send again shortly");
        busy.retry_after = Some(1);
        return busy;
    };
    let limit = state.settings().max_otlp_bytes;
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(err) => {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            return if too_large {
                Answer::error(StatusCode::PAYLOAD_TOO_LARGE, encoding, format!("larger than {limit} bytes"))
            } else {
                Answer::error(StatusCode::BAD_REQUEST, encoding, "the body could not be read")
            };
        }
    };
    let body = if gzip {
        let mut decoded = Vec::new();
        let read = flate2::read::GzDecoder::new(&body[..]).take(limit as u64 + 1).read_to_end(&mut decoded);
        match read {
            Err(_) => return Answer::error(StatusCode::BAD_REQUEST, encoding, "the body is not valid gzip"),
            Ok(n) if n > limit => {
                return Answer::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    encoding,
                    format!("larger than {limit} bytes once decompressed"),
                )
            }
            Ok(_) => decoded,
        }
    } else {
        body.to_vec()
    };
    let spans = match decode(&body, encoding == Encoding::Json) {
        Ok(spans) => spans,
        Err(err) => {
            return Answer::error(
                StatusCode::BAD_REQUEST,
                encoding,
                format!("not an OTLP trace export: {err}"),
            )
        }
    };
    let report = match ingest::traces(&state, &owner, spans).await {
        Ok(report) => report,
        Err(err) => return internal(encoding, err),
    };
    let partial_success = (report.rejected_spans > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: report.rejected_spans as i64,
        error_message: report.error.unwrap_or_default(),
    });
    let response = ExportTraceServiceResponse { partial_success };
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_default(),
    };
    Answer { status: StatusCode::OK, encoding, body, retry_after: None }
}

fn internal(encoding: Encoding, err: crate::app::Error) -> Answer {
    tracing::error!(error = format!("{err:#}"), "storing spans failed");
    Answer::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        encoding,
        "the spans could not be stored; send them again",
    )
}

/// Protobuf or JSON, by `Content-Type`; `None` for anything else.
fn encoding_of(headers: &HeaderMap) -> Option<Encoding> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime: mime::Mime = value.parse().ok()?;
    match (mime.type_().as_str(), mime.subtype().as_str()) {
        ("application", "x-protobuf") | ("application", "protobuf") => Some(Encoding::Protobuf),
        ("application", "json") => Some(Encoding::Json),
        _ => None,
    }
}

/// The spans of an OTLP trace export, protobuf or (with `json`) the OTLP JSON
/// encoding; why not, for a body that is neither.
pub fn decode(body: &[u8], json: bool) -> Result<Vec<Span>, String> {
    let export = if json {
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err("an export is a JSON object".into());
        }
        match serde_json::from_slice::<ExportTraceServiceRequest>(body) {
            Ok(export) => export,
            // Only a body in another producer's dialect is read twice.
            Err(strict) => {
                let mut value: Value = serde_json::from_slice(body).map_err(|_| strict.to_string())?;
                lenient(&mut value, "");
                ExportTraceServiceRequest::deserialize(&value).map_err(|_| strict.to_string())?
            }
        }
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|err| err.to_string())?
    };
    Ok(spans_of(export))
}

/// What some producers write in the OTLP JSON encoding, taken as the
/// specification writes it: enum names (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`)
/// as their numbers, and base64 ids (protobuf's generic JSON mapping) as hex.
fn lenient(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                lenient(value, key);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| lenient(item, key)),
        Value::String(text) => {
            let number = match (key, text.as_str()) {
                ("kind", name) => [
                    "SPAN_KIND_UNSPECIFIED",
                    "SPAN_KIND_INTERNAL",
                    "SPAN_KIND_SERVER",
                    "SPAN_KIND_CLIENT",
                    "SPAN_KIND_PRODUCER",
                    "SPAN_KIND_CONSUMER",
                ]
                .iter()
                .position(|n| *n == name),
                ("code", name) => ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]
                    .iter()
                    .position(|n| *n == name),
                _ => None,
            };
            if let Some(number) = number {
                *value = Value::from(number);
                return;
            }
            let bytes = match key {
                "traceId" => 16,
                "spanId" | "parentSpanId" => 8,
                _ => return,
            };
            if text.len() != bytes * 2 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
                use base64::Engine as _;
                if let Ok(id) = base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
                    if id.len() == bytes {
                        *text = hex::encode(id);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The spans of an export, as the application takes them.
fn spans_of(export: ExportTraceServiceRequest) -> Vec<Span> {
    let mut spans = Vec::new();
    for resource in export.resource_spans {
        for scope in resource.scope_spans {
            for span in scope.spans {
                let failed = span.status.as_ref().filter(|s| s.code == SpanStatus::Error as i32);
                spans.push(Span {
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                    name: span.name,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                    error: failed.map(|s| s.message.clone()),
                    attributes: attributes(span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| SpanEvent {
                            name: e.name,
                            time_unix_nano: e.time_unix_nano,
                            attributes: attributes(e.attributes),
                        })
                        .collect(),
                });
            }
        }
    }
    spans
}

fn attributes(pairs: Vec<KeyValue>) -> BTreeMap<String, Value> {
    pairs.into_iter().filter_map(|kv| Some((kv.key, json(kv.value?)?))).collect()
}

/// An attribute value as JSON (bytes as base64).
fn json(value: AnyValue) -> Option<Value> {
    use any_value::Value as V;
    Some(match value.value? {
        V::StringValue(text) => Value::String(text),
        V::BoolValue(b) => Value::Bool(b),
        V::IntValue(n) => Value::from(n),
        V::DoubleValue(x) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
        V::ArrayValue(array) => Value::Array(array.values.into_iter().filter_map(json).collect()),
        V::KvlistValue(list) => {
            Value::Object(list.values.into_iter().filter_map(|kv| Some((kv.key, json(kv.value?)?))).collect())
        }
        V::BytesValue(bytes) => {
            use base64::Engine as _;
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        V::StringValueStrindex(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds of the `otlp` fuzz target: the same export as protobuf (first byte
    /// 0) and as OTLP JSON (first byte 1), hex ids and all.
    const PROTOBUF: &[u8] = include_bytes!("../../fuzz/corpus/otlp/seed-protobuf");
    const JSON: &[u8] = include_bytes!("../../fuzz/corpus/otlp/seed-json");

    #[test]
    fn protobuf_and_json_exports_decode_to_the_same_spans() {
        let from_protobuf = decode(&PROTOBUF[1..], false).unwrap();
        let from_json = decode(&JSON[1..], true).unwrap();
        assert_eq!(from_protobuf.len(), 4);
        for (a, b) in from_protobuf.iter().zip(&from_json) {
            assert_eq!(
                (&a.trace_id, &a.span_id, &a.parent_span_id),
                (&b.trace_id, &b.span_id, &b.parent_span_id)
            );
            assert_eq!(
                (&a.name, a.start_unix_nano, &a.error, &a.attributes),
                (&b.name, b.start_unix_nano, &b.error, &b.attributes)
            );
            assert_eq!(a.events.len(), b.events.len());
        }
        assert_eq!(from_json[2].error.as_deref(), Some("boom"));
        assert_eq!(from_json[1].attributes["gen_ai.usage.input_tokens"], 3);
    }

    #[test]
    fn what_is_not_an_export_is_refused_with_a_reason() {
        assert!(decode(b"\xff\xff\xff", false).is_err());
        assert!(decode(b"[]", true).is_err());
        assert!(decode(b"{}", true).unwrap().is_empty());
    }
}
