//! Time as drydock stores and shows it: milliseconds since the Unix epoch in the
//! database, ISO 8601 with offset (`2026-11-26T15:04:05.123+00:00`) on the wire; and
//! the CPU time of background threads.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const ISO: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3][offset_hour sign:mandatory]:[offset_minute]"
);

/// Gives the calling thread the lowest normal priority (nice 19), for background work
/// (password hashing, system tasks): any other runnable thread of normal priority
/// preempts it, yet it keeps a small share of the CPU under full load, so that work
/// slows down there but does not stop. (`SCHED_IDLE` measured no better and can starve
/// it for seconds on a busy machine.) Lowering one's own priority needs no privilege;
/// should it fail, the thread runs at normal priority.
pub fn lower_thread_priority() {
    let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// ISO 8601 with milliseconds and offset, in UTC.
pub fn iso(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(ISO).ok())
        .unwrap_or_default()
}

/// Parses an ISO 8601 / RFC 3339 time with offset into milliseconds since the epoch.
pub fn parse_iso(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// A short human form for pages: `2026-11-26 15:04:05 UTC`.
pub fn display(ms: i64) -> String {
    let full = iso(ms);
    match (full.get(0..10), full.get(11..19)) {
        (Some(date), Some(clock)) => format!("{date} {clock} UTC"),
        _ => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_offset() {
        assert_eq!(iso(1_795_014_245_123), "2026-11-18T15:04:05.123+00:00");
        assert_eq!(display(1_795_014_245_123), "2026-11-18 15:04:05 UTC");
        assert_eq!(
            parse_iso("2026-11-18T15:04:05.123+00:00"),
            Some(1_795_014_245_123)
        );
        assert_eq!(
            parse_iso("2026-11-18T16:04:05.123+01:00"),
            Some(1_795_014_245_123)
        );
        assert_eq!(parse_iso("yesterday"), None);
    }
}
