//! The variables pages: a project's Variables tab and the library variable sets under
//! Configuration, one editor for both. A variable is added, changed or deleted one at
//! a time, each a replacement of the whole set under the version the page was read at
//! (a stale one is refused, saying so). A sensitive value is never shown: the page says
//! "Sensitive", its input is a password field left empty (empty keeps the value), and
//! a refused form keeps everything typed but it.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, Field, FormErrors, FormResult};
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment};
use crate::store::variables::{self as stored, LibrarySet, Owner};
use crate::variables::{self, Prompt, Variable, VariableInput, VariableSet};

pub fn routes() -> Vec<Route> {
    rocket::routes![
        project_page,
        project_save,
        project_delete,
        library_list,
        library_create,
        library_page,
        library_save,
        library_delete_variable,
        library_delete,
    ]
}

const VARIABLE_FIELDS: &[Field] = &[
    field("Name", "name", "Name"),
    field("Value", "value", "Value"),
    field("Description", "description", "Description"),
    field("Scope.Environment", "environments", "Environments"),
    field("Scope", "environments", "Scope"),
    field("Prompt.Label", "prompt_label", "Prompt label"),
    field("Prompt.Description", "prompt_label", "Prompt"),
    field("Id", "name", "Variable"),
];

/// The add or edit form, as typed (or as the variable being edited is).
#[derive(FromForm, Clone, Default)]
pub struct VariableForm {
    /// The set's version the page was read at.
    version: i64,
    /// The variable edited; empty: a new one.
    #[field(default = String::new())]
    variable: String,
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    value: String,
    /// A sensitive value: never shown again, not kept by a refused form.
    #[field(default = String::new())]
    secret_password: String,
    #[field(default = false)]
    sensitive: bool,
    #[field(default = String::new())]
    description: String,
    environments: Vec<String>,
    #[field(default = false)]
    prompt: bool,
    #[field(default = String::new())]
    prompt_label: String,
    #[field(default = false)]
    prompt_required: bool,
}

#[derive(FromForm)]
pub struct DeleteForm {
    version: i64,
    variable: String,
}

/// One row of the table.
struct Row {
    variable: Variable,
    environments: Vec<String>,
}

#[derive(Template)]
#[template(path = "variables/set.html")]
struct SetPage {
    layout: Layout,
    /// `project Billing`, `library variable set Shared`.
    title: String,
    /// Where its forms post (`/projects/1/variables`, `/library/1/variables`).
    action: String,
    back: (String, String),
    version: i64,
    rows: Vec<Row>,
    environments: Vec<Environment>,
    can_edit: bool,
    form: VariableForm,
    /// Whether the form edits a sensitive variable (its value is kept when left empty).
    editing_sensitive: bool,
    errors: FormErrors,
    /// For a library set: the projects that include it, and whether it may be deleted.
    included_by: Vec<String>,
    library: Option<LibrarySet>,
}

impl SetPage {
    fn checked(&self, environment: &i64) -> bool {
        self.form.environments.contains(&environment.to_string())
    }
}

fn where_of(owner: Owner) -> (String, (String, String)) {
    match owner {
        Owner::Project(id) => (
            format!("/projects/{id}/variables"),
            (format!("/projects/{id}"), "← Project".into()),
        ),
        Owner::Library(id) => (
            format!("/library/{id}/variables"),
            ("/library".into(), "← Library variable sets".into()),
        ),
    }
}

/// The page of `owner`'s set; `edit` names a variable to load into the form, `typed`
/// a refused form to show again.
async fn set_page(
    app: &App,
    caller: &Caller,
    owner: Owner,
    flash: Option<FlashMessage<'_>>,
    edit: Option<String>,
    typed: Option<(VariableForm, FormErrors)>,
) -> Result<RawHtml<String>> {
    let (title, set, environments, included_by, library) = app
        .store
        .read(move |c| {
            let title = variables::owner_name(c, owner)?;
            let set = variables::read(c, owner)?;
            let (environments, _) = projects::list_environments(c, 0, 1000)?;
            let (included_by, library) = match owner {
                Owner::Library(id) => {
                    let names = stored::projects_including(c, id)?
                        .into_iter()
                        .map(|p| {
                            projects::find(c, p).map(|f| f.map(|p| p.name).unwrap_or_default())
                        })
                        .collect::<Result<Vec<_>>>()?;
                    (names, stored::find_library_set(c, id)?)
                }
                Owner::Project(_) => (Vec::new(), None),
            };
            Ok((title, set, environments, included_by, library))
        })
        .await?;
    let name_of = |id: &i64| {
        environments.iter().find(|e| e.id == *id).map_or_else(
            || format!("Environments-{id} (deleted)"),
            |e| e.name.clone(),
        )
    };
    let rows = set
        .variables
        .iter()
        .map(|v| Row {
            environments: v.environments.iter().map(name_of).collect(),
            variable: v.clone(),
        })
        .collect();
    let (form, errors) = match (typed, edit) {
        (Some(typed), _) => typed,
        (None, Some(id)) => match set.variables.iter().find(|v| v.id == id) {
            Some(v) => (form_of(v, set.version), FormErrors::none()),
            None => (blank(set.version), FormErrors::none()),
        },
        (None, None) => (blank(set.version), FormErrors::none()),
    };
    let editing_sensitive = set
        .variables
        .iter()
        .any(|v| v.id == form.variable && v.is_sensitive());
    let can_edit = caller.can(match owner {
        Owner::Project(_) => Permission::ProjectEdit,
        Owner::Library(_) => Permission::LibraryVariableSetEdit,
    });
    let (action, back) = where_of(owner);
    render(&SetPage {
        layout: Layout::new(&format!("Variables of {title}"), caller, flash).at(match owner {
            Owner::Project(_) => "/projects",
            Owner::Library(_) => "/library",
        }),
        title,
        action,
        back,
        version: set.version,
        rows,
        environments,
        can_edit,
        form,
        editing_sensitive,
        errors,
        included_by,
        library,
    })
}

fn blank(version: i64) -> VariableForm {
    VariableForm {
        version,
        ..<VariableForm as Default>::default()
    }
}

/// The form filled in with `v` (never its sensitive value).
fn form_of(v: &Variable, version: i64) -> VariableForm {
    VariableForm {
        version,
        variable: v.id.clone(),
        name: v.name.clone(),
        value: v.value.clone().unwrap_or_default(),
        secret_password: String::new(),
        sensitive: v.is_sensitive(),
        description: v.description.clone(),
        environments: v.environments.iter().map(i64::to_string).collect(),
        prompt: v.prompt.is_some(),
        prompt_label: v
            .prompt
            .as_ref()
            .map(|p| p.label.clone())
            .unwrap_or_default(),
        prompt_required: v.prompt.as_ref().is_some_and(|p| p.required),
    }
}

/// What each stored variable is as an input that keeps it unchanged.
fn kept(v: &Variable) -> VariableInput {
    VariableInput {
        id: Some(v.id.clone()),
        name: v.name.clone(),
        value: v.value.clone(),
        sensitive: v.is_sensitive(),
        description: v.description.clone(),
        environments: v.environments.clone(),
        prompt: v.prompt.clone(),
    }
}

/// The set's inputs with the form's variable added or put in its place; the index of
/// the form's variable.
fn with_form(set: &VariableSet, form: &VariableForm) -> Result<(Vec<VariableInput>, usize)> {
    let environments = form
        .environments
        .iter()
        .map(|e| {
            e.trim().parse::<i64>().map_err(|_| {
                Error::bad(
                    "Scope.Environment",
                    format!("'{}' is not an environment", crate::error::shown(e)),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let value = if form.sensitive {
        // Left empty: the value it has (a sensitive one) stays.
        Some(form.secret_password.clone()).filter(|v| !v.is_empty())
    } else {
        Some(form.value.clone())
    };
    let input = VariableInput {
        id: Some(form.variable.clone()).filter(|v| !v.is_empty()),
        name: form.name.clone(),
        value,
        sensitive: form.sensitive,
        description: form.description.clone(),
        environments,
        prompt: form.prompt.then(|| Prompt {
            label: form.prompt_label.trim().to_string(),
            description: String::new(),
            required: form.prompt_required,
        }),
    };
    let mut inputs: Vec<VariableInput> = set.variables.iter().map(kept).collect();
    let at = match inputs
        .iter()
        .position(|v| input.id.is_some() && v.id == input.id)
    {
        Some(at) => {
            inputs[at] = input;
            at
        }
        None => {
            if input.id.is_some() {
                return Err(Error::Conflict(
                    "That variable was deleted meanwhile; nothing was saved.".into(),
                ));
            }
            inputs.push(input);
            inputs.len() - 1
        }
    };
    Ok((inputs, at))
}

/// An error of a set's save as the form's own: `Variables[at].Name: ...` as `Name: ...`.
fn for_form(error: Error, at: usize) -> Error {
    let prefix = format!("Variables[{at}].");
    match error {
        Error::BadRequest(message, details) => Error::BadRequest(
            message.replace(&prefix, ""),
            details
                .into_iter()
                .map(|d| d.replace(&prefix, ""))
                .collect(),
        ),
        other => other,
    }
}

async fn save<R: crate::access::Requirement>(
    app: &App,
    change: FormChange<R, VariableForm>,
    owner: Owner,
) -> Result<FormResult> {
    let form = change.form.clone();
    let set = app.store.read(move |c| variables::read(c, owner)).await?;
    let result = match with_form(&set, &form) {
        Ok((inputs, at)) => variables::save(
            &app.store,
            &change.proof,
            app.master_key.clone(),
            owner,
            form.version,
            inputs,
        )
        .await
        .map_err(|e| for_form(e, at)),
        Err(e) => Err(e),
    };
    let (action, _) = where_of(owner);
    match result {
        Ok(_) => FormResult::done(done(
            action,
            format!("Saved {}.", crate::error::shown(form.name.trim())),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, VARIABLE_FIELDS);
            let mut typed = form;
            // Never shown again, not even to who typed it.
            typed.secret_password.clear();
            FormResult::again(
                set_page(
                    app,
                    &change.caller,
                    owner,
                    None,
                    None,
                    Some((typed, errors)),
                )
                .await,
            )
        }
    }
}

async fn delete_variable(
    app: &App,
    proof: &crate::access::Proof,
    owner: Owner,
    form: &DeleteForm,
) -> Flash<Redirect> {
    let (action, _) = where_of(owner);
    let id = form.variable.clone();
    let set = match app.store.read(move |c| variables::read(c, owner)).await {
        Ok(set) => set,
        Err(e) => return refused(action, &e),
    };
    let name = set
        .variables
        .iter()
        .find(|v| v.id == id)
        .map(|v| v.name.clone())
        .unwrap_or_default();
    let inputs = set
        .variables
        .iter()
        .filter(|v| v.id != id)
        .map(kept)
        .collect();
    match variables::save(
        &app.store,
        proof,
        app.master_key.clone(),
        owner,
        form.version,
        inputs,
    )
    .await
    {
        Ok(_) => done(action, format!("Deleted {}.", crate::error::shown(&name))),
        Err(e) => refused(action, &e),
    }
}

#[rocket::get("/projects/<id>/variables?<edit>")]
async fn project_page(
    caller: Allowed<need::ProjectView>,
    id: &str,
    edit: Option<String>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let owner = Owner::Project(page_id("Projects", id)?);
    set_page(app, &caller, owner, flash, edit, None).await
}

#[rocket::post("/projects/<id>/variables", data = "<change>")]
async fn project_save(
    change: FormChange<need::ProjectEdit, VariableForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let owner = Owner::Project(page_id("Projects", id)?);
    save(app, change, owner).await
}

#[rocket::post("/projects/<id>/variables/delete", data = "<change>")]
async fn project_delete(
    change: FormChange<need::ProjectEdit, DeleteForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let owner = Owner::Project(page_id("Projects", id)?);
    Ok(delete_variable(app, &change.proof, owner, &change.form).await)
}

#[derive(Template)]
#[template(path = "variables/library.html")]
struct LibraryPage {
    layout: Layout,
    sets: Vec<(LibrarySet, usize)>,
    can_edit: bool,
    form: LibraryForm,
    errors: FormErrors,
}

#[derive(FromForm, Clone, Default)]
pub struct LibraryForm {
    name: String,
    #[field(default = String::new())]
    description: String,
}

const LIBRARY_FIELDS: &[Field] = &[
    field("Name", "name", "Name"),
    field("Description", "description", "Description"),
];

async fn library_list_page(
    app: &App,
    caller: &Caller,
    flash: Option<FlashMessage<'_>>,
    form: LibraryForm,
    errors: FormErrors,
) -> Result<RawHtml<String>> {
    let sets = app
        .store
        .read(|c| {
            stored::library_sets(c)?
                .into_iter()
                .map(|s| Ok((variables::read(c, Owner::Library(s.id))?.variables.len(), s)))
                .map(|r: Result<(usize, LibrarySet)>| r.map(|(n, s)| (s, n)))
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    render(&LibraryPage {
        layout: Layout::new("Library variable sets", caller, flash).at("/library"),
        sets,
        can_edit: caller.can(Permission::LibraryVariableSetEdit),
        form,
        errors,
    })
}

#[rocket::get("/library")]
async fn library_list(
    caller: Allowed<need::LibraryVariableSetView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    library_list_page(
        app,
        &caller,
        flash,
        <LibraryForm as Default>::default(),
        FormErrors::none(),
    )
    .await
}

#[rocket::post("/library", data = "<change>")]
async fn library_create(
    change: FormChange<need::LibraryVariableSetEdit, LibraryForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let form = change.form.clone();
    match variables::library::create(
        &app.store,
        &change.proof,
        form.name.clone(),
        form.description.clone(),
    )
    .await
    {
        Ok(set) => FormResult::done(done(
            format!("/library/{}/variables", set.id),
            format!("Created library variable set {}.", set.name),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, LIBRARY_FIELDS);
            FormResult::again(library_list_page(app, &change.caller, None, form, errors).await)
        }
    }
}

#[rocket::get("/library/<id>/variables?<edit>")]
async fn library_page(
    caller: Allowed<need::LibraryVariableSetView>,
    id: &str,
    edit: Option<String>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let owner = Owner::Library(page_id("LibraryVariableSets", id)?);
    set_page(app, &caller, owner, flash, edit, None).await
}

#[rocket::post("/library/<id>/variables", data = "<change>")]
async fn library_save(
    change: FormChange<need::LibraryVariableSetEdit, VariableForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let owner = Owner::Library(page_id("LibraryVariableSets", id)?);
    save(app, change, owner).await
}

#[rocket::post("/library/<id>/variables/delete", data = "<change>")]
async fn library_delete_variable(
    change: FormChange<need::LibraryVariableSetEdit, DeleteForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let owner = Owner::Library(page_id("LibraryVariableSets", id)?);
    Ok(delete_variable(app, &change.proof, owner, &change.form).await)
}

#[rocket::post("/library/<id>/delete", data = "<change>")]
async fn library_delete(
    change: FormChange<need::LibraryVariableSetEdit, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("LibraryVariableSets", id)?;
    Ok(
        match variables::library::delete(&app.store, &change.proof, id).await {
            Ok(()) => done(
                "/library".into(),
                "The library variable set has been deleted.",
            ),
            Err(e) => refused(format!("/library/{id}/variables"), &e),
        },
    )
}
