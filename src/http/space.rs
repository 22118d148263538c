//! Octopus's one space: `/api/Spaces-1/...` served as `/api/...`, and the 404 for any
//! other space.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::uri::Origin;
use rocket::request::Request;
use rocket::Data;

use crate::error::Error;

/// The one space drydock has (Octopus's clients name it in their paths).
pub const SPACE_ID: &str = "Spaces-1";

/// The 404 for a space drydock does not have.
pub fn space_not_found(id: &str) -> Error {
    Error::NotFound(format!(
        "Space {id} was not found; drydock has one space, {SPACE_ID} (Default)."
    ))
}

/// A request for a space drydock does not have, noted for the catcher.
#[derive(Default)]
pub struct UnknownSpace(pub Option<String>);

impl UnknownSpace {
    /// The 404 for a request under another space's prefix, if it was one.
    pub fn error(req: &Request<'_>) -> Option<Error> {
        req.local_cache(UnknownSpace::default)
            .0
            .as_deref()
            .map(space_not_found)
    }
}

/// Serves `/api/Spaces-1/...` as `/api/...`: one rewrite of the path before routing,
/// not a copy of each route. A path under another space's id keeps its path (no route
/// matches it) and the catcher answers 404 naming the space.
pub struct SpacePrefix;

#[rocket::async_trait]
impl Fairing for SpacePrefix {
    fn info(&self) -> Info {
        Info {
            name: "space prefix",
            kind: Kind::Request,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _data: &mut Data<'_>) {
        // Every request passes here: look before allocating anything.
        if !req.uri().path().as_str().starts_with("/api/Spaces-") {
            return;
        }
        let path = req.uri().path().as_str().to_string();
        let Some(rest) = path.strip_prefix("/api/") else {
            return;
        };
        let (segment, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let Some(number) = segment.strip_prefix("Spaces-") else {
            return;
        };
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        if segment != SPACE_ID {
            let id = segment.to_string();
            req.local_cache(|| UnknownSpace(Some(id)));
            return;
        }
        let mut target = if tail.is_empty() {
            "/api".to_string()
        } else {
            format!("/api/{tail}")
        };
        if let Some(query) = req.uri().query() {
            target.push('?');
            target.push_str(query.as_str());
        }
        if let Ok(uri) = Origin::parse_owned(target) {
            req.set_uri(uri);
        }
    }
}
