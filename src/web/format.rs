//! How pages write sizes, durations and times for people.

use crate::domain::time::Timestamp;

/// `512 B`, `1.5 KB`, `2.0 MB`.
pub fn size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// `42 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// A time as RFC 3339, for a `<time datetime>` attribute.
pub fn time(at: Timestamp) -> String {
    at.to_rfc3339()
}

/// What a `<time>` says: `5 Dec 2026, 08:53 UTC`, its final form (the page's script
/// adds the reader's own time as a title, and changes no text, so nothing on the page
/// moves once it runs). Text that is not a timestamp is shown as it is.
pub fn when(iso: impl AsRef<str>) -> String {
    let iso = iso.as_ref();
    match Timestamp::parse(iso).and_then(|t| chrono::DateTime::from_timestamp_millis(t.millis())) {
        Some(at) => at.format("%-d %b %Y, %H:%M UTC").to_string(),
        None => iso.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_naturally() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(2 * 1024 * 1024), "2.0 MB");
        assert_eq!(duration(42.4), "42 s");
        assert_eq!(duration(185.0), "3 min 5 s");
        assert_eq!(duration(7800.0), "2 h 10 min");
        assert_eq!(duration(-1.0), "0 s");
    }

    #[test]
    fn times_read_as_a_day_and_an_hour_in_utc() {
        assert_eq!(when("2026-12-05T08:53:54.120Z"), "5 Dec 2026, 08:53 UTC");
        assert_eq!(when(String::from("2030-01-15T23:05:00.000Z")), "15 Jan 2030, 23:05 UTC");
        assert_eq!(when("soon"), "soon");
    }
}
