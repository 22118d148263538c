//! The request guards. Only this module reads the session cookie and the API-key
//! headers, and only it (through [`Proof::for_request`]) hands out the proof that the
//! store's `change` demands.
//!
//! - [`Caller`]: who is calling (session cookie, `X-Octopus-ApiKey`, `Authorization: Bearer`).
//! - [`Allowed<R>`]: a caller holding requirement `R` (reads).
//! - [`Change<R>`]: a change without a form body (JSON API): Origin, caller, CSRF header for
//!   cookie sessions, requirement `R`.
//! - [`FormChange<R, T>`]: a change from an HTML form: Origin, caller, the form's CSRF field,
//!   requirement `R`, then the form's fields as `T`.
//!
//! A guard that refuses stores its [`Error`] in the request's local cache, so that the
//! catcher answers with the precise message (see `web::catchers`).

use std::marker::PhantomData;
use std::ops::Deref;

use rocket::data::{Data, FromData};
use rocket::form::{Form, FromForm};
use rocket::http::{RawStr, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};

use super::session::{self, Caller, SESSION_COOKIE};
use crate::access::{Proof, Via};
use crate::app::App;
use crate::error::Error;
use crate::http::remember;
use crate::tokens::constant_time_eq;

pub const CSRF_FIELD: &str = "csrf_token";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

fn app<'r>(req: &'r Request<'_>) -> Result<&'r App, Error> {
    req.rocket()
        .state::<App>()
        .ok_or_else(|| Error::internal("application state is missing"))
}

/// Resolves the caller once per request.
struct Resolved(Result<Option<Caller>, Error>);

async fn resolve(req: &Request<'_>) -> Result<Option<Caller>, Error> {
    let mut caller = identify(req).await?;
    if let Some(caller) = caller.as_mut() {
        if !crate::http::is_api_path(req.uri().path().as_str()) {
            caller.banner = Some(app(req)?.store.read(crate::maintenance::banner).await?);
            caller.outdated = app(req)?.queue.outdated();
        }
    }
    Ok(caller)
}

async fn identify(req: &Request<'_>) -> Result<Option<Caller>, Error> {
    let app = app(req)?;
    let bearer = req
        .headers()
        .get_one("Authorization")
        .and_then(|h| h.strip_prefix("Bearer "));
    if let Some(key) = req.headers().get_one("X-Octopus-ApiKey").or(bearer) {
        // A key that was sent but is wrong is a 401, not a fall-back to the cookie.
        let keys = req
            .rocket()
            .state::<super::key_cache::KeyCache>()
            .ok_or_else(|| Error::internal("the API key cache is missing"))?;
        return match keys.caller(&app.store, key.trim()).await? {
            Some(caller) => Ok(Some(caller)),
            None => Err(Error::Unauthorized),
        };
    }
    match req.cookies().get(SESSION_COOKIE) {
        Some(cookie) => session::from_session(&app.store, &app.config, cookie.value()).await,
        None => Ok(None),
    }
}

/// The caller already resolved for this request, if any (for error pages, which
/// cannot wait).
pub fn resolved_caller(req: &Request<'_>) -> Option<Caller> {
    match &req.local_cache(|| Resolved(Ok(None))).0 {
        Ok(Some(caller)) => Some(caller.clone()),
        _ => None,
    }
}

/// The caller, if any (`Ok(None)` when nobody is signed in).
pub async fn caller_of<'r>(req: &'r Request<'_>) -> &'r Result<Option<Caller>, Error> {
    &req.local_cache_async(async { Resolved(resolve(req).await) })
        .await
        .0
}

async fn signed_in(req: &Request<'_>) -> Result<Caller, Error> {
    match caller_of(req).await {
        Ok(Some(caller)) => Ok(caller.clone()),
        Ok(None) => Err(Error::Unauthorized),
        Err(e) => Err(e.clone()),
    }
}

fn outcome<T>(req: &Request<'_>, result: Result<T, Error>) -> request::Outcome<T, ()> {
    match result {
        Ok(value) => Outcome::Success(value),
        Err(e) => Outcome::Error((remember(req, e), ())),
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Caller {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        outcome(req, signed_in(req).await)
    }
}

pub use crate::access::permissions::{need, Requirement};

fn require<R: Requirement>(caller: &Caller) -> Result<(), Error> {
    match R::PERMISSION {
        Some(p) if !caller.can(p) => Err(Error::missing_permission(p)),
        _ => Ok(()),
    }
}

/// A signed-in caller holding `R`: the guard for reads.
pub struct Allowed<R: Requirement> {
    pub caller: Caller,
    _requirement: PhantomData<R>,
}

impl<R: Requirement> Deref for Allowed<R> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

#[rocket::async_trait]
impl<'r, R: Requirement> FromRequest<'r> for Allowed<R> {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let result = signed_in(req).await.and_then(|caller| {
            require::<R>(&caller)?;
            Ok(Allowed {
                caller,
                _requirement: PhantomData,
            })
        });
        outcome(req, result)
    }
}

/// Refuses a request whose `Origin` is not this server (cross-site form posts).
pub fn check_origin(req: &Request<'_>) -> Result<(), Error> {
    let Some(origin) = req.headers().get_one("Origin") else {
        return Ok(());
    };
    let host = req.headers().get_one("Host").unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "Cross-site request refused: Origin '{origin}' is not this server."
        )))
    }
}

fn check_csrf(caller: &Caller, sent: Option<&str>) -> Result<(), Error> {
    match &caller.session {
        // API keys are not sent automatically by browsers: no CSRF token needed.
        None => Ok(()),
        Some(session) => match sent {
            Some(token) if constant_time_eq(token, &session.csrf_token) => Ok(()),
            _ => Err(Error::Forbidden(
                "The form has expired or did not come from this server (CSRF token missing or wrong). Reload the page and try again."
                    .into(),
            )),
        },
    }
}

/// The one decision "may this request change anything": Origin, caller, CSRF, the
/// requirement, then maintenance mode (administrators pass). The store repeats the
/// last check inside the change's own transaction (`store::admit`).
async fn admit_change<R: Requirement>(
    req: &Request<'_>,
    csrf: Option<&str>,
) -> Result<(Caller, Proof), Error> {
    check_origin(req)?;
    let caller = signed_in(req).await?;
    check_csrf(&caller, csrf)?;
    require::<R>(&caller)?;
    let proof = Proof::for_request(caller.actor(), caller.via, R::PERMISSION);
    if !proof.actor().is_admin() {
        let app = app(req)?;
        if let Some(refusal) = app.store.read(crate::maintenance::refusal).await? {
            return Err(refusal);
        }
    }
    Ok((caller, proof))
}

/// A change without a form body (the JSON API, or a button that posts nothing).
pub struct Change<R: Requirement> {
    pub caller: Caller,
    pub proof: Proof,
    _requirement: PhantomData<R>,
}

#[rocket::async_trait]
impl<'r, R: Requirement> FromRequest<'r> for Change<R> {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let csrf = req.headers().get_one(CSRF_HEADER);
        let result = admit_change::<R>(req, csrf)
            .await
            .map(|(caller, proof)| Change {
                caller,
                proof,
                _requirement: PhantomData,
            });
        outcome(req, result)
    }
}

#[derive(FromForm)]
struct CsrfField {
    csrf_token: Option<String>,
}

/// The form of a button that posts nothing but its CSRF token.
#[derive(FromForm)]
pub struct NoFields {
    pub csrf_token: Option<String>,
}

/// A change from an HTML form, with the form's fields as `T`.
pub struct FormChange<R: Requirement, T> {
    pub caller: Caller,
    pub proof: Proof,
    pub form: T,
    _requirement: PhantomData<R>,
}

#[rocket::async_trait]
impl<'r, R, T> FromData<'r> for FormChange<R, T>
where
    R: Requirement,
    T: for<'a> FromForm<'a> + Send + 'static,
{
    type Error = ();
    async fn from_data(
        req: &'r Request<'_>,
        data: Data<'r>,
    ) -> rocket::data::Outcome<'r, Self, ()> {
        let result = async {
            let body = crate::http::body::read_form(req, data).await?;
            let raw = RawStr::new(&body);
            let csrf = Form::<CsrfField>::parse_encoded(raw)
                .ok()
                .and_then(|f| f.csrf_token);
            let (caller, proof) = admit_change::<R>(req, csrf.as_deref())
                .await
                .map_err(|e| keep_typed(e, req, &body))?;
            let form = Form::<T>::parse_encoded(raw).map_err(crate::http::body::form_errors)?;
            Ok(FormChange {
                caller,
                proof,
                form,
                _requirement: PhantomData,
            })
        }
        .await;
        data_outcome(req, result)
    }
}

/// A maintenance refusal of a form keeps its body for the request, so that the refusal
/// page (`web`'s, which decides what of it to show again) can rebuild the form.
fn keep_typed(error: Error, req: &Request<'_>, body: &str) -> Error {
    if let Error::Maintenance(_) = &error {
        crate::http::keep_refused_form(req, body);
    }
    error
}

fn data_outcome<'r, T>(
    req: &Request<'_>,
    result: Result<T, Error>,
) -> rocket::data::Outcome<'r, T, ()> {
    match result {
        Ok(value) => Outcome::Success(value),
        Err(e) => Outcome::Error((remember(req, e), ())),
    }
}

/// A form post by a signed-in browser session whose only effect is on the session
/// itself (sign out): Origin and CSRF are checked, no proof is issued.
pub struct SessionForm {
    pub caller: Caller,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for SessionForm {
    type Error = ();
    async fn from_data(
        req: &'r Request<'_>,
        data: Data<'r>,
    ) -> rocket::data::Outcome<'r, Self, ()> {
        let result = async {
            check_origin(req)?;
            let body = crate::http::body::read_form(req, data).await?;
            let csrf = Form::<CsrfField>::parse_encoded(RawStr::new(&body))
                .ok()
                .and_then(|f| f.csrf_token);
            let caller = signed_in(req).await?;
            if caller.via != Via::SessionCookie {
                return Err(Error::bad("session", "only a browser session can sign out"));
            }
            check_csrf(&caller, csrf.as_deref())?;
            Ok(SessionForm { caller })
        }
        .await;
        data_outcome(req, result)
    }
}

/// A reader of `GET /metrics`: a loopback client, or one with the configured bearer
/// token (compared in constant time).
pub struct MetricsReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsReader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let token = &app.config.metrics_token;
        let bearer = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        let token_ok = !token.is_empty() && bearer.is_some_and(|b| constant_time_eq(b, token));
        let loopback = req.client_ip().is_some_and(|ip| ip.is_loopback());
        if token_ok || loopback {
            Outcome::Success(MetricsReader)
        } else {
            let error = Error::Forbidden(
                "Metrics are readable from loopback, or with Authorization: Bearer <metrics_token>."
                    .into(),
            );
            Outcome::Error((remember(req, error), ()))
        }
    }
}
