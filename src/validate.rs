//! The checks every input shares, whichever way it came (API body, form, command line):
//! texts, names, times and windows. Each names its field in a 400 (`Field: problem`);
//! domain code collects several into one answer with [`Error::all`].

use crate::clock;
use crate::error::{shown, Error, Result};

/// A text field: present when `required`, at most `max` characters, no NUL (which
/// PostgreSQL cannot store).
pub fn text(field: &str, value: &str, max: usize, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(Error::bad(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(Error::bad(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(Error::bad(field, "must not contain NUL characters"));
    }
    Ok(())
}

/// A name: a required text of at most `max` characters without control characters.
pub fn name(field: &str, value: &str, max: usize) -> Result<()> {
    text(field, value, max, true)?;
    if value.chars().any(char::is_control) {
        return Err(Error::bad(field, "must not contain control characters"));
    }
    Ok(())
}

/// An ISO 8601 time with its offset, as Unix milliseconds.
pub fn iso_time(field: &str, value: &str) -> Result<i64> {
    clock::parse_iso(value).ok_or_else(|| {
        Error::bad(
            field,
            format!(
                "'{}' is not an ISO 8601 time with offset, e.g. 2026-11-26T15:04:05+00:00",
                shown(value)
            ),
        )
    })
}

/// An optional ISO 8601 time: empty is none.
pub fn optional_time(field: &str, value: Option<&str>) -> Result<Option<i64>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| iso_time(field, v))
        .transpose()
}

/// A window's `end` comes after its `start` (the fields named `Start` and `End`).
pub fn window(start: i64, end: i64) -> Result<()> {
    if end <= start {
        return Err(Error::bad("End", "must be after Start"));
    }
    Ok(())
}

/// A time that must not have passed at `now`.
pub fn not_past(field: &str, at: i64, now: i64) -> Result<()> {
    if at <= now {
        return Err(Error::bad(field, "is in the past"));
    }
    Ok(())
}
