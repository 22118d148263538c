//! What a deployment gets from the variables: for each name the one value that applies
//! to its environment (an environment-scoped value beats an unscoped one; at the same
//! specificity the project's own beats a library set's, and among library sets the one
//! included first), prompted values in place of their defaults, and Octopus's own
//! `Octopus.*` names; then `#{Name}` substituted into the script, and sensitive values
//! masked in its output.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Variable;
use crate::error::{shown, Error, Result};
use crate::secrets::MasterKey;

/// What masks a sensitive value in a task log.
pub const MASK: &str = "********";
/// Shorter values (or lines of a value) are not masked: they would hide ordinary words.
pub const MASK_FROM: usize = 4;

/// One set a deployment reads, with where it comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Source {
    /// `Projects-1`, `LibraryVariableSets-2`.
    pub owner: String,
    /// The project's, or the library set's, name.
    pub name: String,
    pub version: i64,
    pub variables: Vec<Variable>,
}

impl Source {
    fn is_project(&self) -> bool {
        self.owner.starts_with("Projects-")
    }
}

/// A value a deployment uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub name: String,
    pub value: String,
    pub sensitive: bool,
    /// Where it comes from: a set's owner id, `Prompted`, or `Octopus`.
    pub from: String,
    /// The environment it was scoped to, if any.
    pub scoped: bool,
}

/// A variable that applies to `environment`, and how specific it is.
fn applies(v: &Variable, environment: i64) -> Option<u8> {
    if v.environments.is_empty() {
        Some(0)
    } else if v.environments.contains(&environment) {
        Some(1)
    } else {
        None
    }
}

/// The winning variable of each name for `environment`, in first-seen order, with its
/// source.
fn winners(sources: &[Source], environment: i64) -> Vec<(&Variable, &Source)> {
    let mut best: Vec<(&Variable, &Source, (u8, u8))> = Vec::new();
    for source in sources {
        let own = u8::from(source.is_project());
        for v in &source.variables {
            let Some(specific) = applies(v, environment) else {
                continue;
            };
            let rank = (specific, own);
            match best
                .iter_mut()
                .find(|(w, ..)| w.name.eq_ignore_ascii_case(&v.name))
            {
                Some(slot) if rank > slot.2 => *slot = (v, source, rank),
                Some(_) => {}
                None => best.push((v, source, rank)),
            }
        }
    }
    best.into_iter().map(|(v, s, _)| (v, s)).collect()
}

/// A prompted variable a deployment asks a value for.
#[derive(Debug, Clone, PartialEq)]
pub struct Asked {
    /// The variable's id: Octopus's `FormValues` name a prompted variable by it.
    pub id: String,
    pub name: String,
    pub label: String,
    pub description: String,
    pub required: bool,
    pub sensitive: bool,
    pub default: String,
}

impl Asked {
    /// Whether `given` names this variable: its name (without case) or its id.
    fn names(&self, given: &str) -> bool {
        self.name.eq_ignore_ascii_case(given) || self.id == given
    }
}

pub fn prompted(sources: &[Source], environment: i64) -> Vec<Asked> {
    winners(sources, environment)
        .into_iter()
        .filter_map(|(v, _)| {
            let p = v.prompt.as_ref()?;
            Some(Asked {
                id: v.id.clone(),
                name: v.name.clone(),
                label: if p.label.trim().is_empty() {
                    v.name.clone()
                } else {
                    p.label.clone()
                },
                description: p.description.clone(),
                required: p.required,
                sensitive: v.is_sensitive(),
                default: v.value.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Checks the prompted values `given` for a deployment to each of `environments`: a
/// name that is no prompted variable there, or a required one left empty, is a 400
/// naming it (under `field`). The values given are returned keyed as the variables
/// spell their names.
pub fn check_prompted(
    field: &str,
    sources: &[Source],
    environments: &[i64],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let mut problems = Vec::new();
    let mut kept = BTreeMap::new();
    for (name, value) in given {
        if value.len() > super::MAX_VALUE {
            problems.push(Error::bad(
                &format!("{field}.{}", shown(name)),
                format!("must be at most {} bytes", super::MAX_VALUE),
            ));
        } else if value.contains('\0') {
            problems.push(Error::bad(
                &format!("{field}.{}", shown(name)),
                "must not contain NUL characters",
            ));
        }
    }
    for env in environments {
        let asked = prompted(sources, *env);
        for name in given.keys() {
            if !asked.iter().any(|a| a.names(name)) {
                problems.push(Error::bad(
                    &format!("{field}.{}", shown(name)),
                    "is not a prompted variable of this project for this environment",
                ));
            }
        }
        for a in &asked {
            let value = given.iter().find(|(n, _)| a.names(n)).map(|(_, v)| v);
            if let Some(v) = value {
                kept.insert(a.name.clone(), v.clone());
            }
            let empty = match value {
                Some(v) => v.trim().is_empty(),
                None => a.sensitive || a.default.trim().is_empty(),
            };
            if a.required && empty {
                problems.push(Error::bad(
                    &format!("{field}.{}", shown(&a.name)),
                    "is required: a prompted variable that needs a value",
                ));
            }
        }
    }
    problems.dedup_by(|a, b| a.to_string() == b.to_string());
    Error::all(problems)?;
    Ok(kept)
}

/// The facts Octopus gives every deployment by name.
#[derive(Debug, Clone)]
pub struct Facts {
    pub project_id: i64,
    pub project: String,
    pub environment_id: i64,
    pub environment: String,
    pub release_id: i64,
    pub release: String,
    pub deployment_id: i64,
    pub task_id: i64,
}

impl Facts {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "Octopus.Project.Id",
                format!("Projects-{}", self.project_id),
            ),
            ("Octopus.Project.Name", self.project.clone()),
            (
                "Octopus.Environment.Id",
                format!("Environments-{}", self.environment_id),
            ),
            ("Octopus.Environment.Name", self.environment.clone()),
            (
                "Octopus.Release.Id",
                format!("Releases-{}", self.release_id),
            ),
            ("Octopus.Release.Number", self.release.clone()),
            (
                "Octopus.Deployment.Id",
                format!("Deployments-{}", self.deployment_id),
            ),
            ("Octopus.Task.Id", format!("ServerTasks-{}", self.task_id)),
        ]
    }
}

/// Every value a deployment to `facts.environment_id` uses: the winners with the
/// prompted values in place, sensitive ones opened with `key`, then the `Octopus.*`
/// names.
pub fn resolve(
    sources: &[Source],
    facts: &Facts,
    prompted: &BTreeMap<String, String>,
    key: Option<&MasterKey>,
) -> Result<Vec<Resolved>> {
    let mut out = Vec::new();
    for (v, source) in winners(sources, facts.environment_id) {
        let given = v
            .prompt
            .as_ref()
            .and_then(|_| prompted.get(&v.name))
            .cloned();
        let (value, from) = match given {
            Some(value) => (value, "Prompted".to_string()),
            None => {
                let value = match &v.sealed {
                    Some(sealed) => key.ok_or_else(no_key)?.open(sealed)?,
                    None => v.value.clone().unwrap_or_default(),
                };
                (value, source.owner.clone())
            }
        };
        out.push(Resolved {
            name: v.name.clone(),
            value,
            sensitive: v.is_sensitive(),
            from,
            scoped: !v.environments.is_empty(),
        });
    }
    for (name, value) in facts.pairs() {
        out.push(Resolved {
            name: name.into(),
            value,
            sensitive: false,
            from: "Octopus".into(),
            scoped: false,
        });
    }
    Ok(out)
}

/// Why a sensitive value cannot be opened on a node without a master key.
pub fn no_key() -> Error {
    Error::internal("this node has no master key to open sensitive values with")
}

/// `script` with each `#{Name}` of a known name replaced by its value (names without
/// case, spaces around them ignored); an unknown name is left as written, and `##{`
/// stands for a literal `#{`, as Octopus has them.
pub fn substitute<'s>(script: &'s str, values: &[Resolved]) -> Cow<'s, str> {
    if !script.contains("#{") {
        return Cow::Borrowed(script);
    }
    let mut out = String::with_capacity(script.len());
    let mut rest = script;
    while let Some(at) = rest.find("#{") {
        if at > 0 && rest.as_bytes()[at - 1] == b'#' {
            out.push_str(&rest[..at - 1]);
            out.push_str("#{");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[at..]);
            rest = "";
            break;
        };
        let name = after[..end].trim();
        match values.iter().find(|v| v.name.eq_ignore_ascii_case(name)) {
            Some(v) => out.push_str(&v.value),
            None => out.push_str(&rest[at..at + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// What a task's log hides: every line of every sensitive value of at least
/// [`MASK_FROM`] characters, longest first.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

impl Masker {
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Masker {
        let mut secrets: Vec<String> = values
            .into_iter()
            .flat_map(|v| v.lines())
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| l.chars().count() >= MASK_FROM)
            .map(str::to_string)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        secrets.dedup();
        Masker { secrets }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `line` with every secret in it replaced by [`MASK`].
    pub fn mask<'l>(&self, line: &'l str) -> Cow<'l, str> {
        let mut out = Cow::Borrowed(line);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        out
    }
}

/// What a task page lists of what a deployment used: names, where from, scoped or not,
/// sensitive or not — never a value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Used {
    pub name: String,
    pub from: String,
    pub scoped: bool,
    pub sensitive: bool,
}

pub fn used(values: &[Resolved]) -> Vec<Used> {
    values
        .iter()
        .filter(|v| v.from != "Octopus")
        .map(|v| Used {
            name: v.name.clone(),
            from: v.from.clone(),
            scoped: v.scoped,
            sensitive: v.sensitive,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::variables::Prompt;

    fn var(name: &str, value: &str, envs: &[i64]) -> Variable {
        Variable {
            id: format!("{name}-{value}"),
            name: name.into(),
            value: Some(value.into()),
            sealed: None,
            description: String::new(),
            environments: envs.to_vec(),
            prompt: None,
        }
    }

    fn source(owner: &str, variables: Vec<Variable>) -> Source {
        Source {
            owner: owner.into(),
            name: owner.into(),
            version: 1,
            variables,
        }
    }

    fn facts(environment_id: i64) -> Facts {
        Facts {
            project_id: 1,
            project: "Billing".into(),
            environment_id,
            environment: "Production".into(),
            release_id: 3,
            release: "1.2.3".into(),
            deployment_id: 4,
            task_id: 5,
        }
    }

    fn value_of(values: &[Resolved], name: &str) -> Option<String> {
        values
            .iter()
            .find(|v| v.name == name)
            .map(|v| v.value.clone())
    }

    #[test]
    fn the_most_specific_value_wins_then_the_project_over_a_library() {
        let key = MasterKey::from_text(&"02".repeat(32)).unwrap();
        let sources = [
            source(
                "Projects-1",
                vec![
                    var("Db", "project-any", &[]),
                    var("Url", "project-any", &[]),
                ],
            ),
            source(
                "LibraryVariableSets-1",
                vec![
                    var("Db", "library-prod", &[2]),
                    var("Url", "library-any", &[]),
                    var("Only", "library", &[]),
                    var("Elsewhere", "x", &[3]),
                ],
            ),
        ];
        let got = resolve(&sources, &facts(2), &BTreeMap::new(), Some(&key)).unwrap();
        assert_eq!(
            value_of(&got, "Db").unwrap(),
            "library-prod",
            "scoped beats unscoped"
        );
        assert_eq!(
            value_of(&got, "Url").unwrap(),
            "project-any",
            "project beats library"
        );
        assert_eq!(value_of(&got, "Only").unwrap(), "library");
        assert_eq!(value_of(&got, "Elsewhere"), None);
        assert_eq!(value_of(&got, "Octopus.Release.Number").unwrap(), "1.2.3");
        assert_eq!(value_of(&got, "Octopus.Task.Id").unwrap(), "ServerTasks-5");
        let got = resolve(&sources, &facts(1), &BTreeMap::new(), Some(&key)).unwrap();
        assert_eq!(value_of(&got, "Db").unwrap(), "project-any");
    }

    #[test]
    fn prompted_values_replace_defaults_and_are_checked() {
        let mut asked = var("Reason", "default", &[]);
        asked.prompt = Some(Prompt {
            label: "Why".into(),
            description: String::new(),
            required: true,
        });
        let sources = [source("Projects-1", vec![asked, var("Plain", "p", &[])])];
        let given = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let kept =
            check_prompted("Variables", &sources, &[1], &given(&[("reason", "hotfix")])).unwrap();
        assert_eq!(kept.get("Reason").unwrap(), "hotfix");
        let e = check_prompted("Variables", &sources, &[1], &given(&[("Plain", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Variables.Plain") && e.contains("not a prompted"),
            "{e}"
        );
        let e = check_prompted("Variables", &sources, &[1], &given(&[("Reason", " ")]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Variables.Reason") && e.contains("required"),
            "{e}"
        );
        // The default counts when nothing is given.
        check_prompted("Variables", &sources, &[1], &BTreeMap::new()).unwrap();
        let key = MasterKey::from_text(&"02".repeat(32)).unwrap();
        let got = resolve(&sources, &facts(1), &kept, Some(&key)).unwrap();
        assert_eq!(value_of(&got, "Reason").unwrap(), "hotfix");
    }

    #[test]
    fn substitution_replaces_known_names_and_leaves_the_rest() {
        let values = vec![Resolved {
            name: "Db.Url".into(),
            value: "pg://x".into(),
            sensitive: false,
            from: "Projects-1".into(),
            scoped: false,
        }];
        assert_eq!(
            substitute(
                "a #{Db.Url} b #{ db.url } #{Unknown} ##{Db.Url} #{open",
                &values
            ),
            "a pg://x b pg://x #{Unknown} #{Db.Url} #{open"
        );
        assert!(matches!(substitute("plain", &values), Cow::Borrowed(_)));
    }

    #[test]
    fn masking_hides_every_line_of_a_secret_but_not_short_ones() {
        let m = Masker::new(["hunter22", "ab", "line-one\nline-two\nx"]);
        assert_eq!(m.mask("pw=hunter22!"), "pw=********!");
        assert_eq!(m.mask("ab cd"), "ab cd");
        assert_eq!(m.mask("line-two"), "********");
        assert_eq!(m.mask("x"), "x");
        assert!(matches!(m.mask("nothing"), Cow::Borrowed(_)));
    }
}
