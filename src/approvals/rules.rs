//! Approval rules as a caller gives them (`ApprovalRules` on the project resource, the
//! project's settings page): checked field by field, every problem named at once, then
//! against the database inside the change that saves them.

use serde_json::Value;

use crate::error::{shown, Error, Result};
use crate::model::Role;
use crate::store::approvals::Rule;
use crate::store::{projects, users, ChangeTx};

/// At most this many rules per project.
pub const MAX_RULES: usize = 50;
/// At most this many entries in each of a rule's lists.
pub const MAX_LIST: usize = 100;

const FIELDS: [&str; 6] = [
    "Id",
    "EnvironmentIds",
    "RoleNames",
    "UserIds",
    "NotByRequester",
    "NoteRequired",
];

/// A rule as given: `id` 0 for a new one. Checked against the database by [`check`].
pub type Draft = Rule;

/// Parses `ApprovalRules` from a request body: a list of rules, each an object of
/// `FIELDS`. `null` lists are empty; `NotByRequester` is on unless given as false.
pub fn parse(value: &Value) -> Result<Vec<Draft>> {
    let Some(items) = value.as_array() else {
        return Err(Error::bad(
            "ApprovalRules",
            "must be a list of approval rules",
        ));
    };
    if items.len() > MAX_RULES {
        return Err(Error::bad(
            "ApprovalRules",
            format!("a project has at most {MAX_RULES} approval rules"),
        ));
    }
    let mut problems = Vec::new();
    let mut drafts = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_one(&format!("ApprovalRules[{i}]"), item) {
            Ok(d) => drafts.push(d),
            Err(mut p) => problems.append(&mut p),
        }
    }
    Error::all(problems)?;
    Ok(drafts)
}

fn parse_one(at: &str, item: &Value) -> std::result::Result<Draft, Vec<Error>> {
    let Some(fields) = item.as_object() else {
        return Err(vec![Error::bad(at, "must be an object (an approval rule)")]);
    };
    let mut problems = Vec::new();
    for key in fields.keys() {
        if !FIELDS.contains(&key.as_str()) {
            problems.push(Error::bad(
                &format!("{at}.{}", shown(key)),
                format!(
                    "is not a field of an approval rule; they are {}",
                    FIELDS.join(", ")
                ),
            ));
        }
    }
    let field = |name: &str| fields.get(name).filter(|v| !v.is_null());
    let mut draft = Rule {
        id: 0,
        project_id: 0,
        environment_ids: Vec::new(),
        role_names: Vec::new(),
        user_ids: Vec::new(),
        not_by_requester: true,
        note_required: false,
    };
    if let Some(id) = field("Id") {
        match id.as_str().and_then(|s| ids("ApprovalRules", s)) {
            Some(id) => draft.id = id,
            None => problems.push(Error::bad(
                &format!("{at}.Id"),
                "must be the id of one of this project's rules (ApprovalRules-N), or absent for a new rule",
            )),
        }
    }
    let strings = |name: &str, problems: &mut Vec<Error>| -> Vec<(String, String)> {
        let Some(v) = field(name) else {
            return Vec::new();
        };
        let Some(list) = v.as_array() else {
            problems.push(Error::bad(&format!("{at}.{name}"), "must be a list"));
            return Vec::new();
        };
        if list.len() > MAX_LIST {
            problems.push(Error::bad(
                &format!("{at}.{name}"),
                format!("has more than {MAX_LIST} entries"),
            ));
            return Vec::new();
        }
        let mut out = Vec::new();
        for (j, entry) in list.iter().enumerate() {
            let here = format!("{at}.{name}[{j}]");
            match entry.as_str() {
                Some(s) => out.push((here, s.trim().to_string())),
                None => problems.push(Error::bad(&here, "must be a string")),
            }
        }
        out
    };
    for (here, s) in strings("EnvironmentIds", &mut problems) {
        match ids("Environments", &s) {
            Some(id) if !draft.environment_ids.contains(&id) => draft.environment_ids.push(id),
            Some(_) => {}
            None => problems.push(Error::bad(
                &here,
                format!("'{}' is not an environment id", shown(&s)),
            )),
        }
    }
    for (here, s) in strings("RoleNames", &mut problems) {
        match Role::by_name(&s) {
            Some(role) if !draft.role_names.iter().any(|r| r == role.name()) => {
                draft.role_names.push(role.name().to_string())
            }
            Some(_) => {}
            None => problems.push(Error::bad(
                &here,
                format!(
                    "'{}' is not a role; the roles are {}",
                    shown(&s),
                    Role::ALL.map(Role::name).join(", ")
                ),
            )),
        }
    }
    for (here, s) in strings("UserIds", &mut problems) {
        match ids("Users", &s) {
            Some(id) if !draft.user_ids.contains(&id) => draft.user_ids.push(id),
            Some(_) => {}
            None => problems.push(Error::bad(
                &here,
                format!("'{}' is not a user id", shown(&s)),
            )),
        }
    }
    for (name, slot) in [
        ("NotByRequester", &mut draft.not_by_requester),
        ("NoteRequired", &mut draft.note_required),
    ] {
        if let Some(v) = field(name) {
            match v.as_bool() {
                Some(b) => *slot = b,
                None => problems.push(Error::bad(&format!("{at}.{name}"), "must be true or false")),
            }
        }
    }
    let lists_ok = !problems
        .iter()
        .any(|p| p.to_string().contains(".RoleNames") || p.to_string().contains(".UserIds"));
    if lists_ok && draft.role_names.is_empty() && draft.user_ids.is_empty() {
        problems.push(Error::bad(
            &format!("{at}.RoleNames"),
            "a rule needs at least one role (RoleNames) or user (UserIds) who may approve",
        ));
    }
    if problems.is_empty() {
        Ok(draft)
    } else {
        Err(problems)
    }
}

/// `Prefix-N` as N (N ≥ 1).
fn ids(prefix: &str, text: &str) -> Option<i64> {
    text.trim()
        .strip_prefix(prefix)?
        .strip_prefix('-')?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// Checks `drafts` against the database inside the change that saves them for
/// `project`: every environment and user exists, every id is one of the project's own
/// rules. Returns them ready to save.
pub fn check(tx: &ChangeTx, project: i64, drafts: Vec<Draft>) -> Result<Vec<Rule>> {
    let own: Vec<i64> = crate::store::approvals::rules_of(tx, project)?
        .iter()
        .map(|r| r.id)
        .collect();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (i, d) in drafts.iter().enumerate() {
        let at = format!("ApprovalRules[{i}]");
        if d.id > 0 && (!own.contains(&d.id) || seen.contains(&d.id)) {
            problems.push(Error::bad(
                &format!("{at}.Id"),
                format!(
                    "ApprovalRules-{} is not a rule of Projects-{project} (or is named twice)",
                    d.id
                ),
            ));
        }
        seen.push(d.id);
        for (j, env) in d.environment_ids.iter().enumerate() {
            if projects::find_environment(tx, *env)?.is_none() {
                problems.push(Error::bad(
                    &format!("{at}.EnvironmentIds[{j}]"),
                    format!("Environments-{env} does not exist"),
                ));
            }
        }
        for (j, user) in d.user_ids.iter().enumerate() {
            if users::find(tx, *user)?.is_none() {
                problems.push(Error::bad(
                    &format!("{at}.UserIds[{j}]"),
                    format!("Users-{user} does not exist"),
                ));
            }
        }
    }
    Error::all(problems)?;
    Ok(drafts
        .into_iter()
        .map(|mut d| {
            d.project_id = project;
            d
        })
        .collect())
}

/// A rule in words, for the audit trail, the pages and an interruption's instructions:
/// "Production: a Project Lead or dana, not the person who queued it, with a note".
pub fn describe(rule: &Rule, environments: &[String], users: &[String]) -> String {
    let wher = if environments.is_empty() {
        "every environment".to_string()
    } else {
        environments.join(", ")
    };
    let mut who: Vec<String> = rule.role_names.iter().map(|r| format!("a {r}")).collect();
    who.extend(users.iter().cloned());
    let mut text = format!("{wher}: approved by {}", who.join(" or "));
    if rule.not_by_requester {
        text.push_str(", not the person who queued it");
    }
    if rule.note_required {
        text.push_str(", with a note");
    }
    text
}

/// The names of a rule's environments and users as they are now (ids whose row is gone
/// are shown as ids).
pub fn names(conn: &crate::store::Conn, rule: &Rule) -> Result<(Vec<String>, Vec<String>)> {
    let mut envs = Vec::new();
    for id in &rule.environment_ids {
        envs.push(
            projects::find_environment(conn, *id)?
                .map_or_else(|| format!("Environments-{id}"), |e| e.name),
        );
    }
    let mut people = Vec::new();
    for id in &rule.user_ids {
        people.push(users::find(conn, *id)?.map_or_else(|| format!("Users-{id}"), |u| u.username));
    }
    Ok((envs, people))
}
