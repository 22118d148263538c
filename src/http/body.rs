//! Request bodies, read with a size limit and a deadline: a body that has not fully
//! arrived within `body_timeout_secs` is answered 408 and changes nothing. Rocket runs
//! the request guards once the headers (and up to 512 bytes of body) are in, so without
//! a deadline a client could hold a change open indefinitely, and with it the caller's
//! roles as the guards saw them; the deadline bounds that, and the store's `admit`
//! re-decides with the roles as they are at commit time anyway.
//!
//! Every body drydock reads goes through [`read`]: the API's JSON bodies, the change
//! guard's forms and the sign-in form.

use std::time::Duration;

use rocket::data::{ByteUnit, Data};
use rocket::form::{Form, FromForm};
use rocket::http::RawStr;
use rocket::outcome::Outcome;
use rocket::request::Request;

use crate::error::Error;

/// A request body, read whole: `Ok(None)` when it was larger than `limit`.
pub async fn read(
    req: &Request<'_>,
    data: Data<'_>,
    limit: ByteUnit,
) -> Result<Option<Vec<u8>>, Error> {
    let secs = req
        .rocket()
        .state::<crate::app::App>()
        .map_or(30, |app| app.config.body_timeout_secs);
    let reading = data.open(limit).into_bytes();
    match tokio::time::timeout(Duration::from_secs(secs), reading).await {
        Err(_) => Err(timed_out(secs)),
        Ok(Err(e)) => Err(Error::bad("body", format!("could not be read: {e}"))),
        Ok(Ok(bytes)) if !bytes.is_complete() => Ok(None),
        Ok(Ok(bytes)) => Ok(Some(bytes.into_inner())),
    }
}

/// The answer to a body that did not arrive in time.
pub fn timed_out(secs: u64) -> Error {
    Error::Client(
        408,
        format!(
            "The request body did not arrive within {secs} seconds; nothing was changed. Send it again."
        ),
    )
}

/// A form body as UTF-8 text, at most the `form` limit (64 KiB by default).
pub async fn read_form(req: &Request<'_>, data: Data<'_>) -> Result<String, Error> {
    let limit = req
        .limits()
        .get("form")
        .unwrap_or_else(|| ByteUnit::Kibibyte(64));
    let bytes = read(req, data, limit)
        .await?
        .ok_or_else(|| Error::bad("body", "the form is too large"))?;
    String::from_utf8(bytes).map_err(|_| Error::bad("body", "the form is not valid UTF-8"))
}

/// Form errors as one 400 naming the first field.
pub fn form_errors(errors: rocket::form::Errors<'_>) -> Error {
    let messages: Vec<String> = errors
        .iter()
        .map(|e| match e.name.as_ref() {
            Some(name) => format!("{name}: {}", e.kind),
            None => e.kind.to_string(),
        })
        .collect();
    let first = messages
        .first()
        .cloned()
        .unwrap_or_else(|| "invalid form".into());
    Error::BadRequest(format!("The form could not be read: {first}"), messages)
}

/// A form with no change guard (the sign-in form), read by [`read_form`]: in place of
/// Rocket's `Form<T>`, which has no deadline.
pub struct PlainForm<T>(pub T);

#[rocket::async_trait]
impl<'r, T> rocket::data::FromData<'r> for PlainForm<T>
where
    T: for<'a> FromForm<'a> + Send + 'static,
{
    type Error = ();
    async fn from_data(
        req: &'r Request<'_>,
        data: Data<'r>,
    ) -> rocket::data::Outcome<'r, Self, ()> {
        let result = async {
            let body = read_form(req, data).await?;
            Form::<T>::parse_encoded(RawStr::new(&body)).map_err(form_errors)
        }
        .await;
        match result {
            Ok(form) => Outcome::Success(PlainForm(form)),
            Err(e) => Outcome::Error((crate::http::remember(req, e), ())),
        }
    }
}
