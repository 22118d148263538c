//! A project's approval rules page (`/projects/{id}/approvals`): the rules in words, and
//! forms to add one or delete one, each a change of the project's rules as they are
//! when it commits.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};
use serde_json::json;

use super::forms::{field, Field, FormErrors, FormResult};
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::approvals::rules;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::deploy::{self, RuleEdit};
use crate::error::{Error, Result};
use crate::model::Role;
use crate::store::approvals as stored;
use crate::store::projects::{self, Environment, Project};
use crate::store::users;

pub fn routes() -> Vec<Route> {
    rocket::routes![page, add, delete]
}

const RULE_FIELDS: &[Field] = &[
    field(
        "ApprovalRules[0].EnvironmentIds",
        "environments",
        "Environments",
    ),
    field("ApprovalRules[0].RoleNames", "roles", "Roles"),
    field("ApprovalRules[0].UserIds", "users", "Users"),
    field("Users", "users", "Users"),
];

/// The add form, as typed.
#[derive(FromForm, Clone)]
pub struct RuleForm {
    environments: Vec<String>,
    roles: Vec<String>,
    /// Usernames, separated by commas or spaces.
    #[field(default = String::new())]
    users: String,
    #[field(default = false)]
    not_by_requester: bool,
    #[field(default = false)]
    note_required: bool,
}

impl RuleForm {
    fn blank() -> RuleForm {
        RuleForm {
            environments: Vec::new(),
            roles: Vec::new(),
            users: String::new(),
            not_by_requester: true,
            note_required: false,
        }
    }
}

struct RuleRow {
    id: i64,
    text: String,
}

#[derive(Template)]
#[template(path = "projects/approvals.html")]
struct RulesPage {
    layout: Layout,
    project: Project,
    rules: Vec<RuleRow>,
    environments: Vec<Environment>,
    roles: Vec<&'static str>,
    can_edit: bool,
    form: RuleForm,
    errors: FormErrors,
}

impl RulesPage {
    fn env_checked(&self, id: &i64) -> bool {
        self.form.environments.contains(&id.to_string())
    }

    fn role_checked(&self, role: &str) -> bool {
        self.form.roles.iter().any(|r| r == role)
    }
}

async fn rules_page(
    app: &App,
    caller: &Caller,
    id: i64,
    flash: Option<FlashMessage<'_>>,
    typed: Option<(RuleForm, FormErrors)>,
) -> Result<RawHtml<String>> {
    let project = super::find_project(app, id).await?;
    let (rules, environments) = app
        .store
        .read(move |c| {
            let rows = stored::rules_of(c, id)?
                .iter()
                .map(|r| {
                    let (envs, people) = rules::names(c, r)?;
                    Ok(RuleRow {
                        id: r.id,
                        text: rules::describe(r, &envs, &people),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((rows, projects::list_environments(c, 0, 1000)?.0))
        })
        .await?;
    let (form, errors) = typed.unwrap_or_else(|| (RuleForm::blank(), FormErrors::none()));
    render(&RulesPage {
        layout: Layout::new(
            &format!("Approval rules of {}", project.name),
            caller,
            flash,
        )
        .at("/projects"),
        project,
        rules,
        environments,
        roles: Role::ALL.map(Role::name).to_vec(),
        can_edit: caller.can(Permission::ProjectEdit),
        form,
        errors,
    })
}

#[rocket::get("/projects/<id>/approvals")]
async fn page(
    caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("Projects", id)?;
    rules_page(app, &caller, id, flash, None).await
}

/// The form as a rule to check: its usernames looked up.
async fn draft(app: &App, form: &RuleForm) -> Result<rules::Draft> {
    let names: Vec<String> = form
        .users
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    let ids = app
        .store
        .read(move |c| {
            let mut ids = Vec::new();
            for name in &names {
                match users::find_by_username(c, name)? {
                    Some(u) => ids.push(format!("Users-{}", u.id)),
                    None => {
                        return Err(Error::bad(
                            "Users",
                            format!("no user is named '{}'", crate::error::shown(name)),
                        ))
                    }
                }
            }
            Ok(ids)
        })
        .await?;
    let environments: Vec<String> = form
        .environments
        .iter()
        .map(|e| format!("Environments-{}", e.trim()))
        .collect();
    let rule = json!([{
        "EnvironmentIds": environments,
        "RoleNames": form.roles,
        "UserIds": ids,
        "NotByRequester": form.not_by_requester,
        "NoteRequired": form.note_required,
    }]);
    let mut drafts = rules::parse(&rule)?;
    drafts
        .pop()
        .ok_or_else(|| Error::internal("a parsed rule went missing"))
}

#[rocket::post("/projects/<id>/approvals", data = "<change>")]
async fn add(
    change: FormChange<need::ProjectEdit, RuleForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Projects", id)?;
    let typed = change.form.clone();
    let result = async {
        let draft = draft(app, &change.form).await?;
        deploy::edit_approval_rules(&app.store, &change.proof, id, RuleEdit::Add(draft)).await
    }
    .await;
    match result {
        Ok(p) => FormResult::done(done(
            format!("/projects/{id}/approvals"),
            format!("Added an approval rule to {}.", p.name),
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, RULE_FIELDS);
            FormResult::again(
                rules_page(app, &change.caller, id, None, Some((typed, errors))).await,
            )
        }
    }
}

#[rocket::post("/projects/<id>/approvals/<rule>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::ProjectEdit, NoFields>,
    id: &str,
    rule: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Projects", id)?;
    let rule = page_id("ApprovalRules", rule)?;
    let back = format!("/projects/{id}/approvals");
    Ok(
        match deploy::edit_approval_rules(&app.store, &change.proof, id, RuleEdit::Remove(rule))
            .await
        {
            Ok(_) => done(
                back,
                format!(
                    "Deleted ApprovalRules-{rule}. Deployments waiting under it still wait for it."
                ),
            ),
            Err(e) => refused(back, &e),
        },
    )
}
