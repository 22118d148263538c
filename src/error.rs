//! The one error type. Domain and store code return it; it turns itself into a response:
//! JSON `{"ErrorMessage", "Errors"}` under `/api`, an HTML error page elsewhere.

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde::Serialize;
use std::io::Cursor;

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub const MAINTENANCE_REFUSAL: &str =
    "The server is in maintenance mode. Changes are disabled for non-administrators.";

/// What a maintenance refusal tells the client.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    /// The administrator's message, if any.
    pub message: Option<String>,
    /// Seconds until a scheduled end, when one is known.
    pub retry_after_secs: Option<i64>,
    /// A refused form's action and the fields the user typed (passwords left out), so
    /// the refusal page can keep them.
    pub form: Option<(String, Vec<(String, String)>)>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Bad input: the message names the field or the problem.
    #[error("{0}")]
    BadRequest(String, Vec<String>),
    #[error("You must be signed in to do that.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Too many failed sign-in attempts. Try again later.")]
    TooManyRequests { retry_after_secs: i64 },
    /// The server cannot take the request now (e.g. no database connection within the wait).
    #[error("{0}")]
    Unavailable(String),
    /// A change by a non-administrator while maintenance mode is on (SPEC 4.2).
    #[error("{}", MAINTENANCE_REFUSAL)]
    Maintenance(Box<Refusal>),
    /// Any other client error Rocket itself answers (405, 406, 411, 415, ...).
    #[error("{1}")]
    Client(u16, String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn bad(field: &str, problem: impl std::fmt::Display) -> Error {
        let message = format!("{field}: {problem}");
        Error::BadRequest(message.clone(), vec![message])
    }

    pub fn status(&self) -> Status {
        match self {
            Error::BadRequest(..) => Status::BadRequest,
            Error::Unauthorized => Status::Unauthorized,
            Error::Forbidden(_) => Status::Forbidden,
            Error::NotFound(_) => Status::NotFound,
            Error::Conflict(_) => Status::Conflict,
            Error::TooManyRequests { .. } => Status::TooManyRequests,
            Error::Unavailable(_) | Error::Maintenance(_) => Status::ServiceUnavailable,
            Error::Client(code, _) => Status::from_code(*code).unwrap_or(Status::BadRequest),
            Error::Internal(_) => Status::InternalServerError,
        }
    }

    /// The message shown to the client; internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "An internal error occurred; it has been logged.".into(),
            other => other.to_string(),
        }
    }

    pub fn details(&self) -> Vec<String> {
        match self {
            Error::BadRequest(_, errors) => errors.clone(),
            _ => Vec::new(),
        }
    }

    pub fn for_status(status: Status) -> Error {
        match status.code {
            400 => Error::BadRequest("The request could not be understood.".into(), Vec::new()),
            401 => Error::Unauthorized,
            403 => Error::Forbidden("You do not have permission to do that.".into()),
            404 => Error::NotFound("The resource you requested was not found.".into()),
            413 => Error::BadRequest("The request body is too large.".into(), Vec::new()),
            422 => Error::BadRequest(
                "The request body could not be processed.".into(),
                Vec::new(),
            ),
            429 => Error::TooManyRequests {
                retry_after_secs: 60,
            },
            415 => Error::Client(
                415,
                "The request body has a content type this route does not take: send application/json to the API and application/x-www-form-urlencoded from forms.".into(),
            ),
            503 => Error::Unavailable("The server is unavailable; try again shortly.".into()),
            code @ 400..=499 => Error::Client(
                code,
                format!("The request was refused: {}.", status.reason_lossy()),
            ),
            _ => Error::Internal(format!("unexpected status {status}")),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match storage_failure(&e) {
            Some(cause) => Error::Unavailable(unwritable_message(cause)),
            None => Error::Internal(format!("database: {e}")),
        }
    }
}

/// Why the database cannot be written, when `e` says it cannot (a full disk, a
/// read-only file or filesystem, an I/O error, permissions): not a bug in drydock but
/// a condition of the host, answered 503 and recovered from by itself.
pub fn storage_failure(e: &rusqlite::Error) -> Option<&'static str> {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code()? {
        ErrorCode::DiskFull => Some("the disk is full"),
        ErrorCode::ReadOnly => Some("the database file or its filesystem is read-only"),
        ErrorCode::SystemIoFailure => Some("the disk reported an I/O error"),
        ErrorCode::CannotOpen => Some("the database file cannot be opened"),
        ErrorCode::PermissionDenied => Some("drydock may not write the database file"),
        _ => None,
    }
}

/// The message of a change refused because the database cannot be written.
pub fn unwritable_message(cause: &str) -> String {
    format!(
        "The database cannot be written: {cause}. Nothing was changed; drydock recovers by itself once it can write again."
    )
}

impl Error {
    /// Whether this is the refusal of a database that cannot be written.
    pub fn is_unwritable(&self) -> bool {
        matches!(self, Error::Unavailable(m) if m.starts_with("The database cannot be written"))
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Error {
        Error::Unavailable(format!("The database is busy; try again shortly ({e})."))
    }
}

impl From<askama::Error> for Error {
    fn from(e: askama::Error) -> Error {
        Error::Internal(format!("template: {e}"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub error_message: String,
    pub errors: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MaintenanceBody<'a> {
    error_message: &'a str,
    errors: Vec<String>,
    maintenance_message: Option<&'a str>,
}

pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

impl<'r> Responder<'r, 'static> for Error {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Error::Internal(detail) = &self {
            eprintln!("error: {} {}: {detail}", req.method(), req.uri().path());
        }
        let status = self.status();
        if let Error::Maintenance(refusal) = &self {
            crate::maintenance::count_refusal(req);
            return maintenance_response(req, refusal);
        }
        let mut response = if is_api_path(req.uri().path().as_str()) {
            let body = ErrorBody {
                error_message: self.public_message(),
                errors: self.details(),
            };
            let json = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
            Response::build()
                .header(ContentType::JSON)
                .sized_body(json.len(), Cursor::new(json))
                .finalize()
        } else {
            let html = crate::web::error_page(req, status, &self.public_message());
            Response::build()
                .header(ContentType::HTML)
                .sized_body(html.len(), Cursor::new(html))
                .finalize()
        };
        response.set_status(status);
        if let Error::TooManyRequests { retry_after_secs } = &self {
            response.set_raw_header("Retry-After", retry_after_secs.max(&1).to_string());
        }
        Ok(response)
    }
}

/// 503 with `Retry-After` when a scheduled end is known: JSON under `/api`, otherwise a
/// page that says why and keeps what the user typed.
fn maintenance_response(req: &Request<'_>, refusal: &Refusal) -> response::Result<'static> {
    let (content_type, body) = if is_api_path(req.uri().path().as_str()) {
        let body = MaintenanceBody {
            error_message: MAINTENANCE_REFUSAL,
            errors: Vec::new(),
            maintenance_message: refusal.message.as_deref(),
        };
        (
            ContentType::JSON,
            serde_json::to_string(&body).unwrap_or_else(|_| "{}".into()),
        )
    } else {
        (
            ContentType::HTML,
            crate::web::maintenance_refused_page(req, refusal),
        )
    };
    let mut response = Response::build()
        .header(content_type)
        .sized_body(body.len(), Cursor::new(body))
        .finalize();
    response.set_status(Status::ServiceUnavailable);
    if let Some(secs) = refusal.retry_after_secs {
        response.set_raw_header("Retry-After", secs.max(1).to_string());
    }
    Ok(response)
}
