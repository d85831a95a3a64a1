//! How the document states exactly what the handlers accept: the text checks of
//! [`bounded`](crate::domain::text::bounded) as JSON Schema patterns (which the
//! field attributes spell out; a test holds them to these), and the schemas of
//! webhook fields, used through `#[schema(schema_with = …)]`.

use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{Array, SchemaFormat};

use crate::domain::webhook::EVENT_TYPES;

/// Single-line text: no control characters, and not blank (surrounding spaces are
/// trimmed, so something else must remain).
pub const LINE_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";
/// Single-line text that may be empty or blank.
pub const LINE_OR_BLANK_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";
/// Text of several lines: no control characters but tab, line feed and carriage return.
pub const TEXT_PATTERN: &str = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";
/// An absolute http(s) URL without credentials.
pub const ENDPOINT_URL_PATTERN: &str = r"^https?://[^@/?#\s]+([/?#]\S*)?$";
/// A file name: single-line text without `/`, `\`, or invisible and direction-changing
/// characters (zero-width spaces and joiners, bidirectional overrides and isolates, BOM).
pub const FILE_NAME_PATTERN: &str = r"^[^/\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*[^\s/\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff][^/\\\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]*$";

fn string_type(nullable: bool) -> SchemaType {
    if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    }
}

/// Where to send events: an absolute http(s) URL without credentials, of at most
/// 2,000 characters.
pub fn endpoint_url(nullable: bool) -> Object {
    ObjectBuilder::new()
        .schema_type(string_type(nullable))
        .description(Some("Where to send events: an absolute http(s) URL without credentials"))
        .format(Some(SchemaFormat::Custom("uri".into())))
        .max_length(Some(2000))
        .pattern(Some(ENDPOINT_URL_PATTERN))
        .examples([serde_json::json!("https://hooks.example.com/agentshare")])
        .build()
}

/// [`endpoint_url`], required.
pub fn required_endpoint_url() -> Object {
    endpoint_url(false)
}

/// [`endpoint_url`], or null.
pub fn optional_endpoint_url() -> Object {
    endpoint_url(true)
}

/// The event types an endpoint subscribes to: at least one of them.
pub fn webhook_events(nullable: bool) -> Array {
    let subscribable = EVENT_TYPES.iter().copied().filter(|t| *t != "webhook.test");
    let item = ObjectBuilder::new().schema_type(Type::String).enum_values(Some(subscribable)).build();
    let array = ArrayBuilder::new()
        .description(Some("The event types to send to the endpoint (at least one)"))
        .items(item)
        .min_items(Some(1));
    if nullable {
        array.schema_type(SchemaType::from_iter([Type::Array, Type::Null])).build()
    } else {
        array.build()
    }
}

/// [`webhook_events`], required.
pub fn required_webhook_events() -> Array {
    webhook_events(false)
}

/// [`webhook_events`], or null.
pub fn optional_webhook_events() -> Array {
    webhook_events(true)
}

/// What an owner may set an endpoint's status to, or null.
pub fn optional_webhook_status() -> Object {
    ObjectBuilder::new()
        .schema_type(string_type(true))
        .description(Some("`active` (also clears `failing`) or `disabled`"))
        .enum_values(Some(["active", "disabled"]))
        .build()
}
