//! Spaces, as Octopus (2019+) has them. drydock has one space, `Spaces-1`, named
//! `Default`: everything is in it. Octopus's clients resolve a space first and then
//! call `/api/{spaceId}/...`, so every route is also served under `/api/Spaces-1/`
//! (`http::SpacePrefix` rewrites the path once, before routing); another space id
//! answers 404 naming it.

use rocket::serde::json::Json;
use rocket::Route;
use serde::Serialize;
use serde_json::{json, Value};

use super::Collection;
use crate::auth::Caller;
use crate::error::{Error, Result};

pub use crate::http::SPACE_ID;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, all, get]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SpaceResource {
    id: &'static str,
    name: &'static str,
    slug: &'static str,
    description: &'static str,
    is_default: bool,
    is_private: bool,
    task_queue_stopped: bool,
    space_managers_teams: Vec<String>,
    space_managers_team_members: Vec<String>,
    extension_settings: Vec<Value>,
    links: Value,
}

fn default_space() -> SpaceResource {
    SpaceResource {
        id: SPACE_ID,
        name: "Default",
        slug: "default",
        description: "drydock has one space; everything is in it.",
        is_default: true,
        is_private: false,
        task_queue_stopped: false,
        space_managers_teams: Vec::new(),
        space_managers_team_members: Vec::new(),
        extension_settings: Vec::new(),
        links: json!({
            "Self": format!("/api/spaces/{SPACE_ID}"),
            "SpaceHome": format!("/api/{SPACE_ID}"),
            "Web": "/",
        }),
    }
}

fn not_found(id: &str) -> Error {
    crate::http::space_not_found(id)
}

/// `GET /api/spaces?partialName&ids&skip&take`, Octopus's paged collection.
#[rocket::get("/spaces?<partialName>&<ids>&<skip>&<take>")]
#[allow(non_snake_case)]
fn list(
    _caller: Caller,
    partialName: Option<&str>,
    ids: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
) -> Result<Json<Collection<SpaceResource>>> {
    super::one_resource_collection(
        "Space",
        default_space(),
        (SPACE_ID, "Default"),
        (partialName, ids, skip, take),
    )
}

/// `GET /api/spaces/all`: every space, as a plain list.
#[rocket::get("/spaces/all")]
fn all(_caller: Caller) -> Json<Vec<SpaceResource>> {
    Json(vec![default_space()])
}

#[rocket::get("/spaces/<id>", rank = 2)]
fn get(_caller: Caller, id: &str) -> Result<Json<SpaceResource>> {
    if id == SPACE_ID {
        Ok(Json(default_space()))
    } else {
        Err(not_found(id))
    }
}
