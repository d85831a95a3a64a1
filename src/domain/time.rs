//! Timestamps: integer milliseconds since the Unix epoch inside, RFC 3339 outside.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// A point in time, UTC, millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the first and last
    /// instants RFC 3339 can write in UTC.
    pub const FIRST: Timestamp = Timestamp(-62_167_219_200_000);
    pub const LAST: Timestamp = Timestamp(253_402_300_799_999);

    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_millis())
    }

    /// Milliseconds since the epoch, as stored.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Parses an ISO 8601 / RFC 3339 timestamp (`2024-12-31T23:59:59Z`,
    /// `2024-12-31T23:59:59.5+08:00`). A time without a zone
    /// (`2027-01-04T01:29:46.339431`, as Python's `datetime.isoformat()` writes it)
    /// is read as UTC; any number of fractional digits is accepted and kept to the
    /// millisecond. Instants outside years 0000–9999 in UTC are refused, since they
    /// could not be written back (`9999-12-31T23:30:00-01:00` is in year 10000).
    pub fn parse(text: &str) -> Option<Timestamp> {
        instant_millis(text).map(Timestamp).filter(|t| (Timestamp::FIRST..=Timestamp::LAST).contains(t))
    }

    pub fn plus_days(self, days: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(days.saturating_mul(86_400_000)))
    }

    /// RFC 3339 in UTC with a `Z` and always three digits of milliseconds
    /// (`2026-12-05T00:38:40.000Z`), so every timestamp has one shape.
    pub fn to_rfc3339(self) -> String {
        DateTime::<Utc>::from_timestamp_millis(self.0)
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

/// The instant a timestamp names, in milliseconds since the epoch, whatever its year.
pub fn instant_millis(text: &str) -> Option<i64> {
    let text = text.trim();
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Some(t.timestamp_millis()),
        Err(_) => without_zone(text).map(|t| t.and_utc().timestamp_millis()),
    }
}

/// A date and a time of day with no zone: `YYYY-MM-DD`, then `T`, `t` or a space (as
/// RFC 3339 allows), then `HH:MM:SS` and an optional fraction of any length.
fn without_zone(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    // Fixed-width digits as in RFC 3339 (chrono alone would also take `2024-1-2`).
    let shape = b"dddd-dd-ddTdd:dd:dd";
    let shaped = bytes.len() >= shape.len()
        && shape.iter().zip(bytes).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            b'T' => matches!(got, b'T' | b't' | b' '),
            _ => want == got,
        });
    let fraction = &bytes[shape.len().min(bytes.len())..];
    let fraction_ok = fraction.is_empty()
        || (fraction.len() > 1 && fraction[0] == b'.' && fraction[1..].iter().all(u8::is_ascii_digit));
    if !shaped || !fraction_ok {
        return None;
    }
    // Every byte checked is ASCII, so these are character boundaries.
    let date = NaiveDate::parse_from_str(&text[..10], "%Y-%m-%d").ok()?;
    let time = NaiveTime::parse_from_str(&text[11..19], "%H:%M:%S").ok()?;
    // Digits past the millisecond change nothing that is stored.
    let millis = fraction.iter().skip(1).chain(b"000").take(3).fold(0, |n, &d| n * 10 + i64::from(d - b'0'));
    Some(date.and_time(time) + chrono::TimeDelta::milliseconds(millis))
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
            .examples([serde_json::json!("2024-01-15T10:30:00.000Z")])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_keep_their_milliseconds() {
        let t = Timestamp::parse("2024-12-31T23:59:59Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-12-31T23:59:59.000Z", "one shape whatever the milliseconds");
    }

    #[test]
    fn normalises_offsets_to_utc() {
        let t = Timestamp::parse("2024-01-01T08:00:00.250+08:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-01T00:00:00.250Z");
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            "tomorrow",
            "2024-13-01T00:00:00Z",
            "2024-01-01",
            "2024-01-01T00:00",
            "2024-1-01T00:00:00",
            "2024-01-01T00:00:00.",
            "2024-01-01T00:00:00.5x",
            "2024-01-01T00:00:00 UTC",
            "2024-01-01X00:00:00",
            "2024-01-01T25:00:00",
            "2024-02-30T00:00:00",
            "２０２４-01-01T00:00:00",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_time_without_a_zone_is_utc_with_any_fraction() {
        // What Python's `(datetime.now() + timedelta(days=30)).isoformat()` writes.
        let t = Timestamp::parse("2027-01-04T01:29:46.339431").unwrap();
        assert_eq!(t.to_rfc3339(), "2027-01-04T01:29:46.339Z");
        assert_eq!(Timestamp::parse("2027-01-04 01:29:46").unwrap().to_rfc3339(), "2027-01-04T01:29:46.000Z");
        assert_eq!(
            Timestamp::parse("2027-01-04t01:29:46.5").unwrap().to_rfc3339(),
            "2027-01-04T01:29:46.500Z"
        );
        assert_eq!(
            Timestamp::parse("2027-01-04T01:29:46.123456789012").unwrap().to_rfc3339(),
            "2027-01-04T01:29:46.123Z",
            "digits past nanoseconds are read and dropped"
        );
        assert_eq!(
            Timestamp::parse("2027-01-04T01:29:46.123456789012Z"),
            Timestamp::parse("2027-01-04T01:29:46.123Z")
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z in milliseconds: the instants
    /// RFC 3339 can write in UTC.
    const FIRST_MS: i64 = -62_167_219_200_000;
    const LAST_MS: i64 = 253_402_300_799_999;

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm),
    /// computed independently of chrono.
    fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn days_in_month(year: i64, month: i64) -> i64 {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }

    /// The parts of an RFC 3339 timestamp.
    #[derive(Debug, Clone)]
    struct Parts {
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
        /// Fractional digits, as written (possibly none).
        fraction: String,
        /// `None` for `Z`, else the offset in minutes east of UTC.
        offset_minutes: Option<i64>,
        /// Written with no zone at all (read as UTC): `offset_minutes` is not written.
        naive: bool,
    }

    impl Parts {
        fn text(&self) -> String {
            let fraction =
                if self.fraction.is_empty() { String::new() } else { format!(".{}", self.fraction) };
            let offset = match self.offset_minutes {
                _ if self.naive => String::new(),
                None => "Z".to_owned(),
                Some(m) => {
                    format!("{}{:02}:{:02}", if m < 0 { '-' } else { '+' }, m.abs() / 60, m.abs() % 60)
                }
            };
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}{offset}",
                self.year, self.month, self.day, self.hour, self.minute, self.second
            )
        }

        /// The instant written, in milliseconds since the epoch (sub-millisecond
        /// digits dropped).
        fn millis(&self) -> i64 {
            let days = days_from_civil(self.year, self.month, self.day);
            let seconds = days * 86_400 + self.hour * 3600 + self.minute * 60 + self.second
                - if self.naive { 0 } else { self.offset_minutes.unwrap_or(0) * 60 };
            let mut digits = self.fraction.clone();
            digits.truncate(3);
            while digits.len() < 3 {
                digits.push('0');
            }
            seconds * 1000 + digits.parse::<i64>().expect("digits")
        }
    }

    fn parts() -> impl Strategy<Value = Parts> {
        // The first and last years, months, days and hours come up often: that is
        // where an offset can carry an instant out of what RFC 3339 can write.
        let year = prop_oneof![6 => 0i64..=9999, 1 => Just(0), 1 => Just(9999)];
        let month = prop_oneof![2 => 1i64..=12, 1 => Just(1), 1 => Just(12)];
        (year, month)
            .prop_flat_map(|(year, month)| {
                let last_day = days_in_month(year, month);
                (
                    Just(year),
                    Just(month),
                    prop_oneof![2 => 1..=last_day, 1 => Just(1), 1 => Just(last_day)],
                    prop_oneof![2 => 0i64..24, 1 => Just(0), 1 => Just(23)],
                    0i64..60,
                    0i64..60,
                    "[0-9]{0,12}",
                    prop_oneof![Just(None), (-(23 * 60 + 59)..=(23 * 60 + 59i64)).prop_map(Some)],
                    prop::bool::weighted(0.2),
                )
            })
            .prop_map(|(year, month, day, hour, minute, second, fraction, offset_minutes, naive)| Parts {
                year,
                month,
                day,
                hour,
                minute,
                second,
                fraction,
                offset_minutes,
                naive,
            })
    }

    proptest! {
        #[test]
        fn every_representable_instant_renders_to_text_that_parses_back(ms in FIRST_MS..=LAST_MS) {
            let text = Timestamp(ms).to_rfc3339();
            prop_assert_eq!(Timestamp::parse(&text), Some(Timestamp(ms)), "{}", text);
            prop_assert!(text.ends_with('Z'), "{}", text);
        }

        #[test]
        fn a_timestamp_parses_to_the_instant_it_names_or_is_refused_when_rfc_3339_cannot_write_it(
            parts in parts()
        ) {
            let text = parts.text();
            let expected = parts.millis();
            let parsed = Timestamp::parse(&text);
            if (FIRST_MS..=LAST_MS).contains(&expected) {
                prop_assert_eq!(parsed, Some(Timestamp(expected)), "{}", text);
            } else {
                prop_assert_eq!(parsed, None, "{} lies outside years 0000-9999 in UTC", text);
            }
        }

        #[test]
        fn instants_just_outside_years_0000_to_9999_are_refused_however_they_are_written(
            edge in prop_oneof![Just(FIRST_MS), Just(LAST_MS)],
            delta in -86_400_000i64..=86_400_000,
            offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59i32),
        ) {
            let ms = edge + delta;
            let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
            let text = DateTime::<Utc>::from_timestamp_millis(ms)
                .unwrap()
                .with_timezone(&offset)
                .to_rfc3339_opts(SecondsFormat::Millis, false);
            // Only texts with a four-digit year are RFC 3339 at all.
            prop_assume!(text.as_bytes()[0].is_ascii_digit());
            let expected = (FIRST_MS..=LAST_MS).contains(&ms).then_some(Timestamp(ms));
            prop_assert_eq!(Timestamp::parse(&text), expected, "{}", text);
        }

        #[test]
        fn whatever_is_accepted_renders_to_text_that_parses_back_to_the_same_millisecond(parts in parts()) {
            if let Some(t) = Timestamp::parse(&parts.text()) {
                let rendered = t.to_rfc3339();
                prop_assert_eq!(
                    Timestamp::parse(&rendered),
                    Some(t),
                    "{} rendered as {}",
                    parts.text(),
                    rendered
                );
            }
        }

        #[test]
        fn surrounding_whitespace_and_lowercase_separators_are_accepted(
            parts in parts(),
            pad in "[ \t]{0,3}",
        ) {
            let text = parts.text();
            let loose = format!("{pad}{}{pad}", text.replace('T', "t").replace('Z', "z"));
            prop_assert_eq!(Timestamp::parse(&loose), Timestamp::parse(&text), "{:?}", loose);
        }

        #[test]
        fn timestamps_without_seconds_or_with_impossible_fields_are_refused(
            parts in parts(),
            defect in 0usize..7,
            bad in 0i64..100,
        ) {
            let good = parts.text();
            let text = match defect {
                // No seconds.
                0 => good[..16].to_owned(),
                // A date alone.
                1 => good[..10].to_owned(),
                // A month, day, hour or minute out of range.
                2 => Parts { month: 13 + bad % 87, ..parts.clone() }.text(),
                3 => {
                    let day = days_in_month(parts.year, parts.month) + 1 + bad % 60;
                    Parts { day, ..parts.clone() }.text()
                }
                4 => Parts { hour: 24 + bad % 76, ..parts.clone() }.text(),
                5 => Parts { minute: 60 + bad % 40, ..parts.clone() }.text(),
                // An offset of a day or more.
                _ => Parts { offset_minutes: Some(24 * 60 + bad), naive: false, ..parts.clone() }.text(),
            };
            prop_assert_eq!(Timestamp::parse(&text), None, "{:?}", text);
        }
    }
}
