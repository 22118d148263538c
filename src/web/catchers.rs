//! Error catchers. One default catcher answers every status: JSON under `/api`, a page
//! elsewhere (see `Error`'s responder); a page that needs sign-in redirects to `/login`.
//! When a guard refused, its precise error (kept in the request's local cache) is used.

use rocket::http::Status;
use rocket::request::Request;
use rocket::response::Redirect;
use rocket::Catcher;

use crate::error::Error;
use crate::http::GuardFailure;
use crate::http::{error_for, is_api_path};

pub fn all() -> Vec<Catcher> {
    rocket::catchers![default_catcher]
}

#[derive(rocket::Responder)]
pub enum Caught {
    Redirect(Box<Redirect>),
    Error(Error),
}

#[rocket::catch(default)]
async fn default_catcher(status: Status, req: &Request<'_>) -> Caught {
    let error = GuardFailure::take(req)
        .or_else(|| {
            (status == Status::NotFound)
                .then(|| crate::http::UnknownSpace::error(req))
                .flatten()
        })
        .unwrap_or_else(|| error_for(status));
    // Resolve the caller (if not yet) so that the error page has the navigation and the
    // maintenance banner like every other page.
    let _ = crate::auth::guards::caller_of(req).await;
    let path = req.uri().path();
    if matches!(error, Error::Unauthorized) && !is_api_path(path.as_str()) {
        let next = req.uri().to_string();
        let target = rocket::uri!(crate::web::login::login_page(next = Some(next)));
        return Caught::Redirect(Box::new(Redirect::to(target)));
    }
    Caught::Error(error)
}
