//! A form that comes back after a refused submission: everything typed kept, each
//! problem under its field in the field's own words (its label, not the API's name),
//! all problems at once, with `aria-invalid` and `aria-describedby` on the inputs.

use rocket::http::Status;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};

use crate::error::Error;

/// How one form names a field: the API's name in error messages, the form's input
/// name, and the label people read.
pub struct Field {
    pub api: &'static str,
    pub input: &'static str,
    pub label: &'static str,
}

pub const fn field(api: &'static str, input: &'static str, label: &'static str) -> Field {
    Field { api, input, label }
}

/// The problems of a refused submission, by input name, worded with the labels.
#[derive(Default)]
pub struct FormErrors {
    by_input: Vec<(&'static str, String)>,
    /// Problems that belong to no one field (a name already taken, a conflict).
    pub general: Vec<String>,
}

impl FormErrors {
    pub fn none() -> FormErrors {
        FormErrors::default()
    }

    /// Sorts an error's problems (`Field: problem` each) onto the form's fields.
    pub fn from_error(error: &Error, fields: &[Field]) -> FormErrors {
        let mut errors = FormErrors::default();
        let details = match error {
            Error::BadRequest(_, details) if !details.is_empty() => details.clone(),
            other => vec![other.public_message()],
        };
        for detail in details {
            let placed = detail.split_once(": ").and_then(|(name, problem)| {
                fields
                    .iter()
                    .find(|f| f.api == name)
                    .map(|f| (f, problem.to_string()))
            });
            match placed {
                Some((f, problem)) => errors.by_input.push((f.input, worded(f.label, &problem))),
                None => errors.general.push(detail),
            }
        }
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.by_input.is_empty() && self.general.is_empty()
    }

    /// How many problems in all.
    pub fn count(&self) -> usize {
        self.by_input.len() + self.general.len()
    }

    /// Every problem, each with the anchor of its field's message (`#name-error`), or
    /// '' for one that belongs to no field: the summaries' links.
    pub fn problems(&self) -> Vec<(String, String)> {
        self.by_input
            .iter()
            .map(|(input, message)| (format!("#{input}-error"), message.clone()))
            .chain(self.general.iter().map(|g| (String::new(), g.clone())))
            .collect()
    }

    /// The problem with input `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.by_input
            .iter()
            .find(|(input, _)| *input == name)
            .map(|(_, message)| message.as_str())
    }

    /// ` aria-invalid="true" aria-describedby="{name}-error"` for an input with a
    /// problem, else nothing. `name` is the template's own literal.
    pub fn attrs(&self, name: &str) -> String {
        if self.get(name).is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{name}-error\"")
        } else {
            String::new()
        }
    }
}

/// A refused value of a one-field form in a table row (a node's task cap, a system
/// task's interval): which row, what was typed, and the problem in the label's words.
pub struct RowError {
    pub row: String,
    pub typed: String,
    pub message: String,
}

impl RowError {
    pub fn new(row: &str, typed: &str, error: &Error, field: Field) -> RowError {
        let input = field.input;
        let errors = FormErrors::from_error(error, &[field]);
        let message = errors
            .get(input)
            .map(str::to_string)
            .or_else(|| errors.general.first().cloned())
            .unwrap_or_else(|| error.public_message());
        RowError {
            row: row.to_string(),
            typed: typed.to_string(),
            message,
        }
    }
}

/// "Script timeout (seconds) must be between 1 and 604800"; a problem that is not a
/// predicate follows a colon: "Start at: '2026-13-01' is not a date and time".
fn worded(label: &str, problem: &str) -> String {
    let predicate = ["is ", "must ", "has ", "does ", "names "]
        .iter()
        .any(|p| problem.starts_with(p));
    if predicate {
        format!("{label} {problem}")
    } else {
        format!("{label}: {problem}")
    }
}

/// A form handler's answer: done (redirect with a flash), or the page again with what
/// was typed and the problems (400).
#[derive(rocket::Responder)]
pub enum FormResult {
    Done(Box<Flash<Redirect>>),
    Again((Status, RawHtml<String>)),
}

impl FormResult {
    pub fn done(flash: Flash<Redirect>) -> crate::error::Result<FormResult> {
        Ok(FormResult::Done(Box::new(flash)))
    }

    pub fn again(page: crate::error::Result<RawHtml<String>>) -> crate::error::Result<FormResult> {
        Ok(FormResult::Again((Status::BadRequest, page?)))
    }

    /// A page that asks before going on (a confirmation), not a refusal.
    pub fn ask(page: RawHtml<String>) -> crate::error::Result<FormResult> {
        Ok(FormResult::Again((Status::Ok, page)))
    }
}

/// A `datetime-local` value (`2026-11-26T15:04`) read in `zone`, or a full ISO 8601
/// time with its offset.
pub fn form_time_in(
    field: &str,
    value: Option<String>,
    zone: &jiff::tz::TimeZone,
) -> crate::error::Result<Option<i64>> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    if matches!(value.len(), 16 | 19) {
        return value
            .parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned_datetime(zone.clone()).ok())
            .map(|z| Some(z.timestamp().as_millisecond()))
            .ok_or_else(|| {
                Error::bad(
                    field,
                    format!("'{}' is not a date and time", crate::error::shown(&value)),
                )
            });
    }
    form_time(field, Some(value))
}

/// A `datetime-local` value (`2026-11-26T15:04`, read as UTC) or a full ISO 8601 time.
pub fn form_time(field: &str, value: Option<String>) -> crate::error::Result<Option<i64>> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let full = match value.len() {
        16 => format!("{value}:00+00:00"),
        19 => format!("{value}+00:00"),
        _ => value.clone(),
    };
    crate::clock::parse_iso(&full)
        .map(Some)
        .ok_or_else(|| Error::bad(field, format!("'{value}' is not a date and time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        field("Name", "name", "Name"),
        field(
            "ScriptTimeoutSeconds",
            "script_timeout_secs",
            "Script timeout (seconds)",
        ),
    ];

    #[test]
    fn problems_land_under_their_fields_in_the_labels_words() {
        let error = Error::all(vec![
            Error::bad("Name", "is required"),
            Error::bad("ScriptTimeoutSeconds", "'x' is not a number of seconds"),
            Error::Conflict("A project named 'web' already exists.".into()),
        ])
        .unwrap_err();
        let errors = FormErrors::from_error(&error, FIELDS);
        assert_eq!(errors.get("name"), Some("Name is required"));
        assert_eq!(
            errors.get("script_timeout_secs"),
            Some("Script timeout (seconds): 'x' is not a number of seconds")
        );
        assert_eq!(
            errors.general,
            vec!["A project named 'web' already exists."]
        );
        assert_eq!(errors.count(), 3);
        assert!(errors
            .attrs("name")
            .contains("aria-describedby=\"name-error\""));
        assert_eq!(errors.attrs("description"), "");
    }
}
