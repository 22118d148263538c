//! The JSON API, in Octopus's resource shapes: one file per area. Helpers here: the JSON
//! body guard that turns every malformed body into a 400 naming the problem, Octopus's
//! paged collection, and id parsing.

mod any_case;
pub mod dashboard;
pub mod deployments;
pub mod environments;
pub mod events;
pub mod executions;
pub mod freezes;
pub mod interruptions;
pub mod maintenance;
pub mod missing;
pub mod nodes;
pub mod processes;
pub mod projects;
pub mod spaces;
pub mod status;
pub mod subscriptions;
pub mod tasks;
pub mod users;
pub mod variables;

use rocket::data::{Data, FromData, ToByteUnit};
use rocket::outcome::Outcome;
use rocket::request::Request;
use rocket::serde::json::Json;
use rocket::Route;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

pub fn routes() -> Vec<Route> {
    let mut routes = Vec::new();
    routes.extend(status::routes());
    routes.extend(users::routes());
    routes.extend(events::routes());
    routes.extend(projects::routes());
    routes.extend(environments::routes());
    routes.extend(deployments::routes());
    routes.extend(tasks::routes());
    routes.extend(dashboard::routes());
    routes.extend(maintenance::routes());
    routes.extend(nodes::routes());
    routes.extend(spaces::routes());
    routes.extend(executions::routes());
    routes.extend(freezes::routes());
    routes.extend(interruptions::routes());
    routes.extend(subscriptions::routes());
    routes.extend(processes::routes());
    routes.extend(variables::routes());
    routes.extend(missing::routes());
    routes
}

/// A JSON request body. Never fails as a guard: a body that is not UTF-8, too large, not
/// JSON, or not of the expected shape becomes `Err(400)` with serde's description (which
/// names the field), for the handler to return.
pub struct Body<T>(pub Result<T>);

impl<T> Body<T> {
    pub fn into_inner(self) -> Result<T> {
        self.0
    }
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Send + 'static> FromData<'r> for Body<T> {
    type Error = ();
    async fn from_data(
        req: &'r Request<'_>,
        data: Data<'r>,
    ) -> rocket::data::Outcome<'r, Self, ()> {
        let limit = req.limits().get("json").unwrap_or_else(|| 256.kibibytes());
        let parsed = match crate::http::body::read(req, data, limit).await {
            Err(e) => Err(e),
            Ok(None) => Err(Error::bad(
                "body",
                format!("is larger than the limit of {limit}"),
            )),
            Ok(Some(bytes)) => match std::str::from_utf8(&bytes) {
                Err(_) => Err(Error::bad("body", "is not valid UTF-8")),
                Ok(text) if text.trim().is_empty() => {
                    Err(Error::bad("body", "is empty; a JSON object is required"))
                }
                Ok(text) => parse_json(text),
            },
        };
        Outcome::Success(Body(parsed))
    }
}

/// The request's `Idempotency-Key` header, if it has one. Never fails as a guard: a key
/// that is empty, longer than [`MAX_IDEMPOTENCY_KEY`] bytes, sent twice, or not visible
/// ASCII becomes `Err(400)` naming the header, for the handler to return.
pub struct IdempotencyKey(pub Result<Option<String>>);

/// The longest idempotency key taken.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for IdempotencyKey {
    type Error = ();
    async fn from_request(req: &'r Request<'_>) -> rocket::request::Outcome<Self, ()> {
        let mut values = req.headers().get("Idempotency-Key");
        let key = match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(Error::bad("Idempotency-Key", "was sent more than once")),
            (Some(key), None) if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY => {
                Err(Error::bad(
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
                ))
            }
            (Some(key), None) if !key.bytes().all(|b| b.is_ascii_graphic()) => Err(Error::bad(
                "Idempotency-Key",
                "may hold only visible ASCII characters (no spaces)",
            )),
            (Some(key), None) => Ok(Some(key.to_string())),
        };
        Outcome::Success(IdempotencyKey(key))
    }
}

/// Parses a JSON body, its field names in any case ([`any_case`]); an error names where
/// in the body it is (`EnvironmentNames[1]: invalid type ...`), since serde alone names
/// only missing and unknown fields.
fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let tree = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(any_case::located)
        .and_then(|any_case::Strict(tree)| {
            deserializer.end().map(|()| tree).map_err(|e| e.to_string())
        });
    tree.and_then(any_case::from_value)
        .map_err(|e| Error::BadRequest(format!("The request body is not valid: {e}"), vec![e]))
}

/// Octopus's paged collection.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Collection<T: Serialize> {
    pub item_type: &'static str,
    pub total_results: i64,
    pub items_per_page: i64,
    pub number_of_pages: i64,
    pub last_page_number: i64,
    pub items: Vec<T>,
}

impl<T: Serialize> Collection<T> {
    pub fn new(
        item_type: &'static str,
        items: Vec<T>,
        total: i64,
        take: i64,
    ) -> Json<Collection<T>> {
        let pages = if take == 0 {
            0
        } else {
            (total + take - 1) / take
        };
        Json(Collection {
            item_type,
            total_results: total,
            items_per_page: take,
            number_of_pages: pages,
            last_page_number: (pages - 1).max(0),
            items,
        })
    }
}

/// drydock's one space, project group or lifecycle as Octopus's paged collection, with
/// the filters its clients send: `partialName` (of the name, without case), `ids`
/// (comma-separated), `skip`, `take`.
pub fn one_resource_collection<T: Serialize>(
    item_type: &'static str,
    resource: T,
    (id, name): (&str, &str),
    (partial_name, ids, skip, take): (Option<&str>, Option<&str>, Option<&str>, Option<&str>),
) -> Result<Json<Collection<T>>> {
    let (skip, take) = paging(skip, take)?;
    let name_matches =
        partial_name.is_none_or(|p| name.to_lowercase().contains(&p.trim().to_lowercase()));
    let id_matches = ids.is_none_or(|ids| {
        ids.split(',')
            .map(str::trim)
            .any(|i| i.is_empty() || i == id)
    });
    let matching = if name_matches && id_matches { 1 } else { 0 };
    let items = if matching > skip && take > 0 {
        vec![resource]
    } else {
        Vec::new()
    };
    Ok(Collection::new(item_type, items, matching, take))
}

/// At most this many ids in one `ids` filter.
pub const MAX_IDS: usize = 1000;

/// Comma-separated ids with `prefix` as numbers (`Environments-1,Environments-3`, in any
/// order; an id that names nothing is simply not found); another id is a 400 naming
/// `field`, and so are more than [`MAX_IDS`].
pub fn id_list(field: &str, prefix: &str, value: Option<&str>) -> Result<Option<Vec<i64>>> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let ids = value
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|i| {
            parse_id(prefix, i)
                .map_err(|_| Error::bad(field, format!("'{i}' is not a {prefix} id")))
        })
        .collect::<Result<Vec<_>>>()?;
    if ids.len() > MAX_IDS {
        return Err(Error::bad(field, format!("at most {MAX_IDS} ids at once")));
    }
    Ok(Some(ids))
}

/// Octopus's `ids` and `partialName` over a list of named things.
pub fn named(
    prefix: &str,
    ids: Option<&str>,
    partial_name: Option<&str>,
) -> Result<crate::store::filter::Named> {
    Ok(crate::store::filter::Named {
        ids: id_list("ids", prefix, ids)?,
        partial_name: partial_name.map(str::to_string),
    })
}

/// An optional text field of a body: blank is as good as absent.
pub fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

pub const DEFAULT_TAKE: i64 = 30;
pub const MAX_TAKE: i64 = 1000;

/// Parses Octopus's `skip` and `take` query parameters.
pub fn paging(skip: Option<&str>, take: Option<&str>) -> Result<(i64, i64)> {
    let number = |name: &str, value: Option<&str>, default: i64| -> Result<i64> {
        match value {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    Error::bad(name, format!("must be a non-negative integer, not '{v}'"))
                }),
        }
    };
    let skip = number("skip", skip, 0)?;
    let take = number("take", take, DEFAULT_TAKE)?.min(MAX_TAKE);
    Ok((skip, take))
}

/// What a `{idOrSlug}` path segment names: an id with `prefix` (`Projects-3`) as its
/// number, else a slug (lower-cased: slugs are lower case). An id with `prefix` whose
/// number is not one is a 404.
pub fn id_or_slug(prefix: &str, text: &str) -> Result<std::result::Result<i64, String>> {
    let looks_like_id = text
        .get(..prefix.len() + 1)
        .is_some_and(|head| head.eq_ignore_ascii_case(&format!("{prefix}-")));
    if looks_like_id {
        let number = &text[prefix.len() + 1..];
        return parse_id(prefix, &format!("{prefix}-{number}")).map(Ok);
    }
    Ok(Err(text.to_lowercase()))
}

/// Parses an Octopus id such as `Users-12` into its number; anything else is a 404.
pub fn parse_id(prefix: &str, id: &str) -> Result<i64> {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| Error::NotFound(format!("No {prefix} resource has the id '{id}'.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paging() {
        assert_eq!(parse_id("Users", "Users-12").unwrap(), 12);
        assert!(parse_id("Users", "Users-x").is_err());
        assert!(parse_id("Users", "Events-1").is_err());
        assert!(parse_id("Users", "Users-0").is_err());
        assert_eq!(paging(None, None).unwrap(), (0, DEFAULT_TAKE));
        assert_eq!(paging(Some("5"), Some("5000")).unwrap(), (5, MAX_TAKE));
        assert!(paging(Some("-1"), None)
            .unwrap_err()
            .to_string()
            .starts_with("skip:"));
    }
}
