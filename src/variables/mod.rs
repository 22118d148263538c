//! Variables as Octopus has them: each project and each library variable set owns a
//! set of named values, each optionally scoped to environments, sensitive (sealed with
//! the master key, never shown again), or prompted (given at deployment). A set is
//! replaced whole, guarded by its `Version`. What a deployment gets from them is
//! [`resolve`]'s.

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{shown, Error, Result};
use crate::secrets::MasterKey;
use crate::store::variables::{self as stored, Owner};
use crate::store::{events, projects, ChangeTx, Store};
use crate::validate;

mod deployment;
pub mod library;
pub mod resolve;

pub use deployment::*;

/// The most variables one set holds.
pub const MAX_VARIABLES: usize = 1000;
/// The longest name, in characters.
pub const MAX_NAME: usize = 200;
/// The longest value, in bytes.
pub const MAX_VALUE: usize = 64 * 1024;
const MAX_DESCRIPTION: usize = 1000;

/// How a prompted variable asks for its value.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Prompt {
    pub label: String,
    pub description: String,
    pub required: bool,
}

/// One variable as its set keeps it.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Variable {
    pub id: String,
    pub name: String,
    /// The value of a variable that is not sensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The sealed value of a sensitive one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Environment ids it is scoped to; none: every environment.
    #[serde(default)]
    pub environments: Vec<i64>,
    #[serde(default)]
    pub prompt: Option<Prompt>,
}

impl Variable {
    pub fn is_sensitive(&self) -> bool {
        self.sealed.is_some()
    }
}

/// A variable as a caller sends it. A sensitive one sent without a value keeps the
/// value it has (clients read it back as `null`).
#[derive(Debug, Clone, Default)]
pub struct VariableInput {
    pub id: Option<String>,
    pub name: String,
    pub value: Option<String>,
    pub sensitive: bool,
    pub description: String,
    pub environments: Vec<i64>,
    pub prompt: Option<Prompt>,
}

/// A set as read: its owner, version and variables.
#[derive(Debug, Clone)]
pub struct VariableSet {
    pub owner: Owner,
    pub version: i64,
    pub variables: Vec<Variable>,
}

/// The variables of a stored set's text.
pub fn parse(text: &str) -> Result<Vec<Variable>> {
    serde_json::from_str(text).map_err(|e| Error::internal_from("reading a stored variable set", e))
}

fn text_of(variables: &[Variable]) -> Result<String> {
    serde_json::to_string(variables).map_err(|e| Error::internal_from("writing a variable set", e))
}

/// `owner`'s set as stored now (version 0 and no variables when never written).
pub fn read(conn: &crate::store::sql::Conn, owner: Owner) -> Result<VariableSet> {
    let set = stored::find_set(conn, owner)?;
    Ok(VariableSet {
        owner,
        version: set.version,
        variables: parse(&set.variables)?,
    })
}

/// Checks one variable's fields, naming them as `Variables[i].Field`.
fn check(i: usize, v: &VariableInput) -> Vec<Error> {
    let field = |name: &str| format!("Variables[{i}].{name}");
    let mut problems = Vec::new();
    let name = v.name.trim();
    if let Err(e) = validate::name(&field("Name"), name, MAX_NAME) {
        problems.push(e);
    } else if name.contains(['{', '}']) {
        problems.push(Error::bad(&field("Name"), "must not contain { or }"));
    } else if name.len() >= 8 && name[..8].eq_ignore_ascii_case("octopus.") {
        problems.push(Error::bad(
            &field("Name"),
            "names beginning with 'Octopus.' are the ones drydock gives every deployment",
        ));
    }
    if let Some(value) = &v.value {
        if value.len() > MAX_VALUE {
            problems.push(Error::bad(
                &field("Value"),
                format!("must be at most {MAX_VALUE} bytes"),
            ));
        } else if value.contains('\0') {
            problems.push(Error::bad(
                &field("Value"),
                "must not contain NUL characters",
            ));
        }
    }
    if let Err(e) = validate::text(
        &field("Description"),
        &v.description,
        MAX_DESCRIPTION,
        false,
    ) {
        problems.push(e);
    }
    if let Some(id) = &v.id {
        let fine = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !fine {
            problems.push(Error::bad(
                &field("Id"),
                format!(
                    "'{}' is not a variable id (letters, digits and -, at most 64)",
                    shown(id)
                ),
            ));
        }
    }
    if let Some(p) = &v.prompt {
        if let Err(e) = validate::text(&field("Prompt.Label"), &p.label, MAX_NAME, false) {
            problems.push(e);
        }
        if let Err(e) = validate::text(
            &field("Prompt.Description"),
            &p.description,
            MAX_DESCRIPTION,
            false,
        ) {
            problems.push(e);
        }
    }
    problems
}

/// A new variable's id, GUID-shaped as Octopus's.
fn new_id() -> String {
    let h = crate::tokens::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What a change did, for its audit event: names only, never a value.
#[derive(Default)]
struct Changes {
    added: Vec<String>,
    changed: Vec<String>,
    removed: Vec<String>,
}

impl Changes {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (what, names) in [
            ("added", &self.added),
            ("changed", &self.changed),
            ("removed", &self.removed),
        ] {
            if !names.is_empty() {
                parts.push(format!("{what} {}", names.join(", ")));
            }
        }
        if parts.is_empty() {
            "nothing changed".into()
        } else {
            parts.join("; ")
        }
    }
}

fn label(v: &Variable) -> String {
    let mut label = shown(&v.name);
    if v.is_sensitive() {
        label.push_str(" (sensitive)");
    }
    label
}

/// Builds the set to store from `inputs` over `old`: sensitive values sealed, a
/// sensitive variable sent without a value keeps the one it has.
fn build(
    key: &MasterKey,
    old: &[Variable],
    inputs: Vec<VariableInput>,
) -> Result<(Vec<Variable>, Changes)> {
    let mut changes = Changes::default();
    let mut out: Vec<Variable> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let before = input
            .id
            .as_deref()
            .and_then(|id| old.iter().find(|o| o.id == id));
        let id = input.id.clone().unwrap_or_else(new_id);
        if out.iter().any(|v| v.id == id) {
            return Err(Error::bad(
                &format!("Variables[{i}].Id"),
                "is given to two variables",
            ));
        }
        let mut environments = input.environments.clone();
        environments.sort_unstable();
        environments.dedup();
        let name = input.name.trim().to_string();
        if let Some(twin) = out.iter().find(|v| {
            v.name.eq_ignore_ascii_case(&name)
                && v.environments == environments
                && v.prompt.is_some() == input.prompt.is_some()
        }) {
            return Err(Error::bad(
                &format!("Variables[{i}].Scope"),
                format!(
                    "'{}' already has a value for this scope ({})",
                    shown(&name),
                    twin.id
                ),
            ));
        }
        let (value, sealed) = if input.sensitive {
            match (&input.value, before) {
                (Some(v), _) => (None, Some(key.seal(v)?)),
                // Kept: clients send back the `null` they read.
                (None, Some(b)) if b.is_sensitive() => (None, b.sealed.clone()),
                (None, _) => (None, Some(key.seal("")?)),
            }
        } else {
            (Some(input.value.clone().unwrap_or_default()), None)
        };
        let variable = Variable {
            id,
            name,
            value,
            sealed,
            description: input.description.trim().to_string(),
            environments,
            prompt: input.prompt.clone(),
        };
        match before {
            None => changes.added.push(label(&variable)),
            Some(b) => {
                let same_value = match (&b.sealed, &variable.sealed) {
                    (None, None) => b.value == variable.value,
                    (Some(x), Some(y)) => x == y,
                    _ => false,
                };
                let same = same_value
                    && b.name == variable.name
                    && b.description == variable.description
                    && b.environments == variable.environments
                    && b.prompt == variable.prompt;
                if !same {
                    changes.changed.push(label(&variable));
                }
            }
        }
        out.push(variable);
    }
    for o in old {
        if !out.iter().any(|v| v.id == o.id) {
            changes.removed.push(label(o));
        }
    }
    Ok((out, changes))
}

/// Replaces `owner`'s variables with `inputs` if its version is still `version` (else a
/// 409), checking every field (all problems in one 400), that the scopes name
/// environments that exist and the owner itself; audited, without values.
pub async fn save(
    store: &Store,
    admission: &impl crate::store::Admit,
    key: std::sync::Arc<MasterKey>,
    owner: Owner,
    version: i64,
    inputs: Vec<VariableInput>,
) -> Result<VariableSet> {
    if inputs.len() > MAX_VARIABLES {
        return Err(Error::bad(
            "Variables",
            format!("a set holds at most {MAX_VARIABLES} variables"),
        ));
    }
    let problems: Vec<Error> = inputs
        .iter()
        .enumerate()
        .flat_map(|(i, v)| check(i, v))
        .collect();
    Error::all(problems)?;
    store
        .change(admission, move |tx| {
            let owner_name = owner_name(tx, owner)?;
            for (i, input) in inputs.iter().enumerate() {
                for env in &input.environments {
                    if projects::find_environment(tx, *env)?.is_none() {
                        return Err(Error::bad(
                            &format!("Variables[{i}].Scope.Environment"),
                            format!("Environments-{env} does not exist"),
                        ));
                    }
                }
            }
            let stale = |now_at: i64| {
                Error::Conflict(format!(
                    "Version: the variables of {owner_name} were changed by someone else \
                     meanwhile (you sent version {version}, they are at version {now_at}); \
                     read them again and reapply your change"
                ))
            };
            let old = read(tx, owner)?;
            if old.version != version {
                return Err(stale(old.version));
            }
            let (variables, changes) = build(&key, &old.variables, inputs)?;
            let now = clock::now_ms();
            // Another change from the same version may have written first meanwhile.
            if !stored::save_set(tx, owner, version, &text_of(&variables)?, now)? {
                return Err(stale(stored::find_set(tx, owner)?.version));
            }
            let version = version + 1;
            record(tx, owner, &owner_name, &changes)?;
            Ok(VariableSet {
                owner,
                version,
                variables,
            })
        })
        .await
}

fn record(tx: &ChangeTx, owner: Owner, owner_name: &str, changes: &Changes) -> Result<()> {
    let related = [owner.id(), set_id(owner)];
    events::record(
        tx,
        "VariablesModified",
        &format!(
            "Modified the variables of {owner_name}: {}",
            changes.describe()
        ),
        &related,
    )?;
    Ok(())
}

/// `variableset-Projects-1`, `variableset-LibraryVariableSets-1`.
pub fn set_id(owner: Owner) -> String {
    format!("variableset-{}", owner.id())
}

/// The owner of set id `id` (`variableset-Projects-1`, any case of the prefix).
pub fn owner_of(id: &str) -> Option<Owner> {
    let rest = id
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("variableset-"))
        .map(|_| &id[12..])?;
    let number = |prefix: &str| -> Option<i64> {
        rest.get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .and_then(|_| rest[prefix.len()..].parse().ok())
            .filter(|n| *n > 0)
    };
    number("Projects-")
        .map(Owner::Project)
        .or_else(|| number("LibraryVariableSets-").map(Owner::Library))
}

/// How an owner is named in messages (`project Billing`), or a 404 when it is gone.
pub fn owner_name(conn: &crate::store::sql::Conn, owner: Owner) -> Result<String> {
    match owner {
        Owner::Project(id) => projects::find(conn, id)?
            .map(|p| format!("project {}", p.name))
            .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found."))),
        Owner::Library(id) => stored::find_library_set(conn, id)?
            .map(|s| format!("library variable set {}", s.name))
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "Library variable set LibraryVariableSets-{id} was not found."
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_ids_name_their_owner() {
        assert_eq!(owner_of("variableset-Projects-3"), Some(Owner::Project(3)));
        assert_eq!(
            owner_of("VariableSet-libraryvariablesets-12"),
            Some(Owner::Library(12))
        );
        for bad in [
            "",
            "variableset-",
            "variableset-Projects-0",
            "Projects-1",
            "variableset-Projects-x",
        ] {
            assert_eq!(owner_of(bad), None, "{bad}");
        }
        assert_eq!(
            set_id(Owner::Library(2)),
            "variableset-LibraryVariableSets-2"
        );
    }

    #[test]
    fn a_sensitive_value_sent_back_as_null_is_kept_and_never_in_the_audit() {
        let key = MasterKey::from_text(&"01".repeat(32)).unwrap();
        let input = |value: Option<&str>, id: Option<&str>| VariableInput {
            id: id.map(str::to_string),
            name: "Token".into(),
            value: value.map(str::to_string),
            sensitive: true,
            ..Default::default()
        };
        let (first, changes) = build(&key, &[], vec![input(Some("s3cr3t-value"), None)]).unwrap();
        assert_eq!(changes.describe(), "added Token (sensitive)");
        let id = first[0].id.clone();
        assert_eq!(
            key.open(first[0].sealed.as_ref().unwrap()).unwrap(),
            "s3cr3t-value"
        );
        let (kept, changes) = build(&key, &first, vec![input(None, Some(&id))]).unwrap();
        assert_eq!(kept[0].sealed, first[0].sealed);
        assert_eq!(changes.describe(), "nothing changed");
        let (changed, changes) =
            build(&key, &first, vec![input(Some("other"), Some(&id))]).unwrap();
        assert_eq!(
            key.open(changed[0].sealed.as_ref().unwrap()).unwrap(),
            "other"
        );
        assert_eq!(changes.describe(), "changed Token (sensitive)");
        assert!(!changes.describe().contains("other"));
    }
}
