//! Variables in Octopus's shapes: a variable set (`/api/variables/{id}`: a project's
//! `variableset-Projects-1`, a library set's `variableset-LibraryVariableSets-1`) read
//! and replaced whole under its `Version`, and the library variable sets
//! (`/api/libraryvariablesets`). A sensitive value is never returned: `Value` is
//! `null` with `IsSensitive: true`, as Octopus answers.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::access::Permission;
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::error::{shown, Error, Result};
use crate::http::SPACE_ID;
use crate::store::projects;
use crate::store::variables::{self as stored, LibrarySet, Owner};
use crate::variables::{self, Prompt, VariableInput, VariableSet};

pub fn routes() -> Vec<Route> {
    rocket::routes![
        get_set,
        put_set,
        project_set,
        library_sets,
        library_sets_all,
        create_library_set,
        get_library_set,
        update_library_set,
        delete_library_set,
    ]
}

/// The permission reading (`edit` false) or changing a set needs: its project's, or the
/// library sets'.
fn permission(owner: Owner, edit: bool) -> Permission {
    match (owner, edit) {
        (Owner::Project(_), false) => Permission::ProjectView,
        (Owner::Project(_), true) => Permission::ProjectEdit,
        (Owner::Library(_), false) => Permission::LibraryVariableSetView,
        (Owner::Library(_), true) => Permission::LibraryVariableSetEdit,
    }
}

fn owner(id: &str) -> Result<Owner> {
    variables::owner_of(id).ok_or_else(|| {
        Error::NotFound(format!(
            "No variable set has the id '{}'; they are named variableset-Projects-N or \
             variableset-LibraryVariableSets-N.",
            shown(id)
        ))
    })
}

/// A set as Octopus answers it.
fn resource(set: &VariableSet, environments: &[projects::Environment]) -> Value {
    let variables: Vec<Value> = set
        .variables
        .iter()
        .map(|v| {
            let sensitive = v.is_sensitive();
            json!({
                "Id": v.id,
                "Name": v.name,
                "Value": if sensitive { None } else { v.value.clone() },
                "Description": v.description,
                "Scope": if v.environments.is_empty() {
                    json!({})
                } else {
                    json!({"Environment": v.environments.iter()
                        .map(|e| format!("Environments-{e}")).collect::<Vec<_>>()})
                },
                "IsEditable": true,
                "Prompt": v.prompt.as_ref().map(|p| json!({
                    "Label": p.label,
                    "Description": p.description,
                    "Required": p.required,
                    "DisplaySettings": {},
                })),
                "Type": if sensitive { "Sensitive" } else { "String" },
                "IsSensitive": sensitive,
            })
        })
        .collect();
    let id = variables::set_id(set.owner);
    json!({
        "Id": id,
        "OwnerId": set.owner.id(),
        "SpaceId": SPACE_ID,
        "Version": set.version,
        "Variables": variables,
        "ScopeValues": {
            "Environments": environments.iter()
                .map(|e| json!({"Id": format!("Environments-{}", e.id), "Name": e.name}))
                .collect::<Vec<_>>(),
            "Machines": [],
            "Actions": [],
            "Roles": [],
            "Channels": [],
            "TenantTags": [],
            "Processes": [],
        },
        "Links": {"Self": format!("/api/variables/{id}")},
    })
}

async fn read_set(app: &App, owner: Owner) -> Result<Json<Value>> {
    app.store
        .read(move |c| {
            variables::owner_name(c, owner)?;
            let set = variables::read(c, owner)?;
            let (environments, _) = projects::list_environments(c, 0, i64::MAX)?;
            Ok(Json(resource(&set, &environments)))
        })
        .await
}

/// `GET /api/variables/{id}`.
#[rocket::get("/variables/<id>")]
async fn get_set(
    caller: Allowed<need::SignedIn>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let owner = owner(id)?;
    let needed = permission(owner, false);
    if !caller.can(needed) {
        return Err(Error::missing_permission(needed));
    }
    read_set(app, owner).await
}

/// `GET /api/projects/{id}/variables`: the project's set.
#[rocket::get("/projects/<id>/variables")]
async fn project_set(
    _caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    read_set(app, Owner::Project(parse_id("Projects", id)?)).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ScopeBody {
    #[serde(default)]
    environment: Vec<String>,
    /// Octopus's other scopes: drydock has no machines, roles, channels, steps or
    /// tenants, so a variable scoped by one is refused rather than applied everywhere.
    #[serde(flatten)]
    other: std::collections::BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PromptBody {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VariableBody {
    #[serde(default)]
    id: Option<String>,
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default, rename = "Type")]
    kind: Option<String>,
    #[serde(default)]
    is_sensitive: Option<bool>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    scope: Option<ScopeBody>,
    #[serde(default)]
    prompt: Option<PromptBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SetBody {
    version: Option<i64>,
    #[serde(default)]
    variables: Vec<VariableBody>,
}

fn input(i: usize, v: VariableBody) -> Result<VariableInput> {
    let field = |name: &str| format!("Variables[{i}].{name}");
    let sensitive = match (v.kind.as_deref().map(str::trim), v.is_sensitive) {
        (None | Some(""), flag) => flag.unwrap_or(false),
        (Some(t), flag) if t.eq_ignore_ascii_case("String") => {
            if flag == Some(true) {
                return Err(Error::bad(
                    &field("Type"),
                    "is String but IsSensitive is true; send Type Sensitive",
                ));
            }
            false
        }
        (Some(t), flag) if t.eq_ignore_ascii_case("Sensitive") => {
            if flag == Some(false) {
                return Err(Error::bad(
                    &field("Type"),
                    "is Sensitive but IsSensitive is false",
                ));
            }
            true
        }
        (Some(other), _) => {
            return Err(Error::bad(
                &field("Type"),
                format!(
                    "'{}' is not a type drydock has: String or Sensitive",
                    shown(other)
                ),
            ))
        }
    };
    let scope = v.scope.unwrap_or_default();
    if let Some((kind, _)) = scope.other.iter().find(|(_, value)| match value {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }) {
        return Err(Error::bad(
            &field(&format!("Scope.{}", shown(kind))),
            "drydock scopes variables by Environment only",
        ));
    }
    let environments = scope
        .environment
        .iter()
        .map(|e| {
            parse_id("Environments", e.trim()).map_err(|_| {
                Error::bad(
                    &field("Scope.Environment"),
                    format!("'{}' is not an environment id", shown(e)),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VariableInput {
        id: v.id.filter(|id| !id.trim().is_empty()),
        name: v.name,
        value: v.value,
        sensitive,
        description: v.description.unwrap_or_default(),
        environments,
        prompt: v.prompt.map(|p| Prompt {
            label: p.label.unwrap_or_default().trim().to_string(),
            description: p.description.unwrap_or_default().trim().to_string(),
            required: p.required,
        }),
    })
}

/// `PUT /api/variables/{id}`: replaces the set; its `Version` must be the one stored.
#[rocket::put("/variables/<id>", data = "<body>")]
async fn put_set(
    change: Change<need::SignedIn>,
    id: &str,
    body: Body<SetBody>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let owner = owner(id)?;
    let proof = change
        .proof
        .needing(permission(owner, true))
        .map_err(Error::missing_permission)?;
    let body = body.into_inner()?;
    let version = body.version.ok_or_else(|| {
        Error::bad(
            "Version",
            "is required: send the Version you read, so that no one's change is lost",
        )
    })?;
    let inputs = body
        .variables
        .into_iter()
        .enumerate()
        .map(|(i, v)| input(i, v))
        .collect::<Result<Vec<_>>>()?;
    let set = variables::save(
        &app.store,
        &proof,
        app.master_key.clone(),
        owner,
        version,
        inputs,
    )
    .await?;
    let (environments, _) = app
        .store
        .read(|c| projects::list_environments(c, 0, i64::MAX))
        .await?;
    Ok(Json(resource(&set, &environments)))
}

fn library_resource(s: &LibrarySet) -> Value {
    let id = format!("LibraryVariableSets-{}", s.id);
    let set = variables::set_id(Owner::Library(s.id));
    json!({
        "Id": id,
        "Name": s.name,
        "Description": s.description,
        "VariableSetId": set,
        "ContentType": "Variables",
        "Templates": [],
        "SpaceId": SPACE_ID,
        "Links": {
            "Self": format!("/api/libraryvariablesets/{id}"),
            "Variables": format!("/api/variables/{set}"),
        },
    })
}

/// `GET /api/libraryvariablesets?skip&take&ids&partialName&contentType`.
#[rocket::get("/libraryvariablesets?<skip>&<take>&<ids>&<partialName>&<contentType>")]
#[allow(non_snake_case)]
async fn library_sets(
    _caller: Allowed<need::LibraryVariableSetView>,
    skip: Option<&str>,
    take: Option<&str>,
    ids: Option<&str>,
    partialName: Option<&str>,
    contentType: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<Value>>> {
    let (skip, take) = paging(skip, take)?;
    let ids = super::id_list("ids", "LibraryVariableSets", ids)?;
    let part = partialName.map(|p| p.trim().to_lowercase());
    // drydock's library sets hold variables; it has no script modules.
    let modules = contentType.is_some_and(|c| c.trim().eq_ignore_ascii_case("ScriptModule"));
    let all = app.store.read(stored::library_sets).await?;
    let matching: Vec<&LibrarySet> = all
        .iter()
        .filter(|_| !modules)
        .filter(|s| ids.as_ref().is_none_or(|ids| ids.contains(&s.id)))
        .filter(|s| {
            part.as_ref()
                .is_none_or(|p| s.name.to_lowercase().contains(p.as_str()))
        })
        .collect();
    let total = matching.len() as i64;
    let items = matching
        .into_iter()
        .skip(skip as usize)
        .take(take as usize)
        .map(library_resource)
        .collect();
    Ok(Collection::new("LibraryVariableSet", items, total, take))
}

#[rocket::get("/libraryvariablesets/all")]
async fn library_sets_all(
    _caller: Allowed<need::LibraryVariableSetView>,
    app: &State<App>,
) -> Result<Json<Vec<Value>>> {
    let all = app.store.read(stored::library_sets).await?;
    Ok(Json(all.iter().map(library_resource).collect()))
}

#[rocket::get("/libraryvariablesets/<id>", rank = 2)]
async fn get_library_set(
    _caller: Allowed<need::LibraryVariableSetView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("LibraryVariableSets", id)?;
    app.store
        .read(move |c| stored::find_library_set(c, id))
        .await?
        .map(|s| Json(library_resource(&s)))
        .ok_or_else(|| {
            Error::NotFound(format!(
                "Library variable set LibraryVariableSets-{id} was not found."
            ))
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LibraryBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
}

impl LibraryBody {
    fn checked(self) -> Result<(String, String)> {
        if let Some(kind) = self.content_type.as_deref().map(str::trim) {
            if !kind.is_empty() && !kind.eq_ignore_ascii_case("Variables") {
                return Err(Error::bad(
                    "ContentType",
                    format!(
                        "'{}': drydock's library sets hold Variables (it has no script modules)",
                        shown(kind)
                    ),
                ));
            }
        }
        Ok((self.name, self.description.unwrap_or_default()))
    }
}

#[rocket::post("/libraryvariablesets", data = "<body>")]
async fn create_library_set(
    change: Change<need::LibraryVariableSetEdit>,
    body: Body<LibraryBody>,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let (name, description) = body.into_inner()?.checked()?;
    let set = variables::library::create(&app.store, &change.proof, name, description).await?;
    Ok((Status::Created, Json(library_resource(&set))))
}

#[rocket::put("/libraryvariablesets/<id>", data = "<body>")]
async fn update_library_set(
    change: Change<need::LibraryVariableSetEdit>,
    id: &str,
    body: Body<LibraryBody>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("LibraryVariableSets", id)?;
    let (name, description) = body.into_inner()?.checked()?;
    let set = variables::library::update(&app.store, &change.proof, id, name, description).await?;
    Ok(Json(library_resource(&set)))
}

#[rocket::delete("/libraryvariablesets/<id>")]
async fn delete_library_set(
    change: Change<need::LibraryVariableSetEdit>,
    id: &str,
    app: &State<App>,
) -> Result<Status> {
    let id = parse_id("LibraryVariableSets", id)?;
    variables::library::delete(&app.store, &change.proof, id).await?;
    Ok(Status::NoContent)
}
