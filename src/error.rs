//! The one error type, with no HTTP in it but the status code each kind is answered
//! with. Domain and store code return it; `http` turns it into a response (JSON under
//! `/api`, an HTML page elsewhere).

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
    /// A change by a non-administrator while maintenance mode is on.
    #[error("{}", MAINTENANCE_REFUSAL)]
    Maintenance(Box<Refusal>),
    /// Any other client error Rocket itself answers (405, 406, 411, 415, ...).
    #[error("{1}")]
    Client(u16, String),
    /// A fault of drydock or its host: what it was doing, and the error that stopped
    /// it (its `source`, for the log); clients see only a generic message.
    #[error("internal error: {0}")]
    Internal(#[source] Internal),
}

/// What an internal error was about, and what caused it.
#[derive(Debug, Clone)]
pub struct Internal {
    pub what: String,
    /// Shared, so that an error can be cloned (a guard keeps its failure for the catcher).
    pub cause: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl std::fmt::Display for Internal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{}: {cause}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for Internal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    /// An internal error with no underlying cause (an invariant that did not hold).
    pub fn internal(what: impl Into<String>) -> Error {
        Error::Internal(Internal {
            what: what.into(),
            cause: None,
        })
    }

    /// An internal error caused by `cause`, kept as its source.
    pub fn internal_from(
        what: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Internal(Internal {
            what: what.into(),
            cause: Some(std::sync::Arc::new(cause)),
        })
    }

    /// The 403 for a caller without `permission` (the one place the sentence is written).
    pub fn missing_permission(permission: impl std::fmt::Display) -> Error {
        Error::Forbidden(format!(
            "You do not have permission to do that: it requires the {permission} permission."
        ))
    }

    pub fn bad(field: &str, problem: impl std::fmt::Display) -> Error {
        let message = format!("{field}: {problem}");
        Error::BadRequest(message.clone(), vec![message])
    }

    /// The HTTP status code this error is answered with.
    /// Every problem of a validation at once: `Ok` when there are none, else one 400
    /// whose details list each (`Field: problem`), its message the first.
    pub fn all(problems: Vec<Error>) -> Result<()> {
        let mut details = Vec::new();
        let mut first = None;
        for problem in problems {
            first.get_or_insert_with(|| problem.to_string());
            match problem {
                Error::BadRequest(_, list) if !list.is_empty() => details.extend(list),
                other => details.push(other.to_string()),
            }
        }
        match first {
            None => Ok(()),
            Some(message) => {
                let message = if details.len() > 1 {
                    format!("{message} (and {} more problems)", details.len() - 1)
                } else {
                    message
                };
                Err(Error::BadRequest(message, details))
            }
        }
    }

    pub fn code(&self) -> u16 {
        match self {
            Error::BadRequest(..) => 400,
            Error::Unauthorized => 401,
            Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::TooManyRequests { .. } => 429,
            Error::Unavailable(_) | Error::Maintenance(_) => 503,
            Error::Client(code, _) => *code,
            Error::Internal(_) => 500,
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

    /// The error for a status Rocket produced itself (`reason`: its reason phrase).
    pub fn for_code(code: u16, reason: &str) -> Error {
        match code {
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
                format!("The request was refused: {reason}."),
            ),
            _ => Error::internal(format!("unexpected status {code} {reason}")),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match storage_failure(&e) {
            Some(cause) => Error::Unavailable(unwritable_message(cause)),
            None => Error::internal_from("database", e),
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

/// Text a caller sent, as a message quotes it: control characters escaped (`\u{0}`),
/// at most 100 characters (then `...`).
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == 100 {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}
