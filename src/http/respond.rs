//! Errors as responses: the one responder that turns an [`Error`] into a response (JSON
//! `{"ErrorMessage", "Errors"}` under `/api`, an HTML page elsewhere, Octopus's
//! maintenance refusal with `Retry-After`), and the error a guard refused with, kept for
//! the catcher so that it answers with the precise message. The HTML pages themselves
//! are `web`'s, reached through [`Pages`] (managed by the server), so that nothing here
//! depends on `web`.
use std::io::Cursor;
use std::sync::Mutex;

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde::Serialize;

use crate::error::{Error, Refusal, MAINTENANCE_REFUSAL};

/// The HTML pages an error is answered with outside `/api` (`web` renders them).
pub trait Pages: Send + Sync {
    fn error(&self, req: &Request<'_>, status: Status, message: &str) -> String;
    fn maintenance_refused(&self, req: &Request<'_>, refusal: &Refusal) -> String;
}

/// The page renderer, as Rocket state.
pub struct ErrorPages(pub Box<dyn Pages>);

fn pages<'r>(req: &'r Request<'_>) -> Option<&'r dyn Pages> {
    req.rocket().state::<ErrorPages>().map(|p| p.0.as_ref())
}

/// The status `error` is answered with.
pub fn status_of(error: &Error) -> Status {
    Status::from_code(error.code()).unwrap_or(Status::InternalServerError)
}

/// The error for a status Rocket produced itself (415, 405, 404 for no route, ...).
pub fn error_for(status: Status) -> Error {
    Error::for_code(status.code, status.reason_lossy())
}

/// Counts and logs one change refused in maintenance mode (refusals are not written to
/// the audit log).
fn count_refusal(req: &Request<'_>) {
    if let Some(app) = req.rocket().state::<crate::app::App>() {
        app.metrics.count_refusal();
        if app.config.log_level != "off" {
            println!(
                "drydock: refused in maintenance mode: {} {}",
                req.method(),
                req.uri().path()
            );
        }
    }
}

/// The error a guard refused with, for the catcher.
#[derive(Default)]
pub struct GuardFailure(Mutex<Option<Error>>);

impl GuardFailure {
    pub fn take(req: &Request<'_>) -> Option<Error> {
        req.local_cache(GuardFailure::default)
            .0
            .lock()
            .ok()
            .and_then(|mut e| e.take())
    }
}

/// A form a maintenance refusal answered: its action and its body as sent, kept for
/// the request so that the refusal page can show the form again.
pub struct RefusedForm {
    pub action: String,
    pub body: String,
}

/// Keeps the form body this request was refused with (the first one kept stays).
pub fn keep_refused_form(req: &Request<'_>, body: &str) {
    let action = req.uri().path().to_string();
    let body = body.to_string();
    req.local_cache(|| Some(RefusedForm { action, body }));
}

/// The form body this request was refused with, if one was kept.
pub fn refused_form<'r>(req: &'r Request<'_>) -> Option<&'r RefusedForm> {
    req.local_cache(|| None::<RefusedForm>).as_ref()
}

/// Keeps `error` for the catcher (the first one wins) and returns its status.
pub fn remember(req: &Request<'_>, error: Error) -> Status {
    let status = status_of(&error);
    if let Ok(mut slot) = req.local_cache(GuardFailure::default).0.lock() {
        slot.get_or_insert(error);
    }
    status
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
        let status = status_of(&self);
        if let Error::Maintenance(refusal) = &self {
            count_refusal(req);
            return maintenance_response(req, refusal);
        }
        let mut response = if is_api_path(req.uri().path().as_str()) {
            // The message once: `Errors` lists the problems only when there are
            // several (the message names the first and how many more).
            let details = self.details();
            let body = ErrorBody {
                error_message: self.public_message(),
                errors: if details.len() > 1 {
                    details
                } else {
                    Vec::new()
                },
            };
            let json = serde_json::to_string(&body).unwrap_or_else(|_| "{}".into());
            Response::build()
                .header(ContentType::JSON)
                .sized_body(json.len(), Cursor::new(json))
                .finalize()
        } else {
            let html = pages(req).map_or_else(
                || format!("{} {}", status.code, self.public_message()),
                |pages| pages.error(req, status, &self.public_message()),
            );
            Response::build()
                .header(ContentType::HTML)
                .sized_body(html.len(), Cursor::new(html))
                .finalize()
        };
        response.set_status(status);
        if let Error::TooManyRequests { retry_after_secs } = &self {
            response.set_raw_header("Retry-After", retry_after_secs.max(&1).to_string());
        }
        // The database busy, restarting or out of reach: worth another try shortly.
        if let Error::Unavailable(_) = &self {
            response.set_raw_header("Retry-After", "2");
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
            pages(req).map_or_else(
                || MAINTENANCE_REFUSAL.to_string(),
                |pages| pages.maintenance_refused(req, refusal),
            ),
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
