//! Timestamps: integer milliseconds since the Unix epoch inside, RFC 3339 outside.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// A point in time, UTC, millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// Milliseconds since the epoch, as stored.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses an ISO 8601 / RFC 3339 timestamp with an offset (`2024-12-31T23:59:59Z`).
    pub fn parse(text: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| Timestamp(t.with_timezone(&Utc).timestamp_millis()))
    }

    pub fn plus_days(self, days: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(days.saturating_mul(86_400_000)))
    }

    /// RFC 3339 in UTC with a `Z`, fractional seconds only when there are some.
    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .examples([serde_json::json!("2024-01-15T10:30:00Z")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_whole_seconds_exactly() {
        let t = Timestamp::parse("2024-12-31T23:59:59Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn normalises_offsets_to_utc() {
        let t = Timestamp::parse("2024-01-01T08:00:00.250+08:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-01T00:00:00.250Z");
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in ["", "tomorrow", "2024-13-01T00:00:00Z", "2024-01-01", "2024-01-01T00:00:00"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
