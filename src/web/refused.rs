//! The page for a form refused in maintenance mode: what was not done, in words ("Deploy
//! Payments API 3.2.0 to Production was not queued"), and the original form rebuilt with
//! its own controls and labels holding what was typed, its submit disabled while the
//! mode is on (`static/refused.js` enables it when the mode ends; without JavaScript,
//! reloading the page submits it again). Names come from primary-key reads of the store.

use rocket::form::Form;
use rocket::http::RawStr;

use crate::auth::guards::CSRF_FIELD;
use crate::store::projects;
use crate::store::Conn;
use crate::store::Store;

/// What of a refused form's body is shown again: every field the user typed, decoded,
/// but the CSRF token and any password.
pub fn typed_fields(body: &str) -> Vec<(String, String)> {
    Form::values(body)
        .map(|f| {
            let decode = |s: &str| RawStr::new(s).url_decode_lossy().into_owned();
            (decode(f.name.source()), decode(f.value))
        })
        .filter(|(name, _)| name != CSRF_FIELD && !name.contains("password"))
        .collect()
}

/// One control of a rebuilt form.
pub enum Control {
    Text {
        name: String,
        label: String,
        value: String,
        kind: &'static str,
    },
    Area {
        name: String,
        label: String,
        value: String,
    },
    Select {
        name: String,
        label: String,
        options: Vec<(String, String, bool)>,
    },
    Choices {
        name: String,
        legend: String,
        kind: &'static str,
        options: Vec<(String, String, bool)>,
    },
}

/// The refused form, rebuilt.
pub struct Rebuilt {
    pub summary: String,
    pub back: String,
    pub submit: String,
    pub controls: Vec<Control>,
}

fn typed<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn text(fields: &[(String, String)], name: &str, label: &str) -> Control {
    Control::Text {
        name: name.into(),
        label: label.into(),
        value: typed(fields, name).into(),
        kind: "text",
    }
}

fn area(fields: &[(String, String)], name: &str, label: &str) -> Control {
    Control::Area {
        name: name.into(),
        label: label.into(),
        value: typed(fields, name).into(),
    }
}

/// `/prefix/<n>/rest` → n, when the path has that shape.
fn id_in(path: &str, prefix: &str, rest: &str) -> Option<i64> {
    path.strip_prefix(prefix)?
        .strip_suffix(rest)?
        .parse()
        .ok()
        .filter(|n: &i64| *n > 0)
}

/// The refused form at `path`, with what was typed; a form this page does not know is
/// rebuilt as labelled text fields.
pub fn rebuild(store: Option<&Store>, path: &str, fields: &[(String, String)]) -> Rebuilt {
    // Called by a responder, on a thread that drives async tasks, where a blocking read
    // must not run (PostgreSQL's client refuses to): on a thread of its own.
    let known = store.and_then(|s| {
        std::thread::scope(|scope| {
            scope
                .spawn(|| s.read_now(|c| Ok(known(c, path, fields))))
                .join()
                .ok()?
                .ok()
                .flatten()
        })
    });
    known.unwrap_or_else(|| Rebuilt {
        summary: "Your change was not saved.".into(),
        back: "/".into(),
        submit: "Submit again".into(),
        controls: fields
            .iter()
            .map(|(name, value)| {
                if value.contains('\n') || value.len() > 80 {
                    area(fields, name, name)
                } else {
                    Control::Text {
                        name: name.clone(),
                        label: name.clone(),
                        value: value.clone(),
                        kind: "text",
                    }
                }
            })
            .collect(),
    })
}

fn project_controls(fields: &[(String, String)]) -> Vec<Control> {
    vec![
        text(fields, "name", "Name"),
        text(fields, "description", "Description"),
        area(fields, "deployment_script", "Deployment script (bash)"),
        text(fields, "script_timeout_secs", "Script timeout (seconds)"),
    ]
}

fn known(c: &Conn, path: &str, fields: &[(String, String)]) -> Option<Rebuilt> {
    let rebuilt = |summary: String, back: String, submit: &str, controls: Vec<Control>| {
        Some(Rebuilt {
            summary,
            back,
            submit: submit.into(),
            controls,
        })
    };
    if let Some(id) = id_in(path, "/releases/", "/deploy") {
        let release = projects::find_release(c, id).ok()??;
        let project = projects::find(c, release.project_id).ok()??;
        let (environments, _) = projects::list_environments(c, 0, 1000).ok()?;
        let chosen = typed(fields, "environment");
        let env_name = environments
            .iter()
            .find(|e| e.id.to_string() == chosen)
            .map_or_else(|| "an environment".to_string(), |e| e.name.clone());
        let later = typed(fields, "when") == "later";
        let zone = Some(typed(fields, "zone").trim())
            .filter(|z| !z.is_empty())
            .unwrap_or("UTC")
            .to_string();
        let when = if later {
            format!(
                " at {} {zone}",
                typed(fields, "queue_time").replace('T', " ")
            )
        } else {
            String::new()
        };
        return rebuilt(
            format!(
                "Deploy {} {} to {env_name}{when} was not queued.",
                project.name, release.version
            ),
            format!("/releases/{id}"),
            "Deploy",
            vec![
                Control::Select {
                    name: "environment".into(),
                    label: "Environment".into(),
                    options: environments
                        .iter()
                        .map(|e| (e.id.to_string(), e.name.clone(), e.id.to_string() == chosen))
                        .collect(),
                },
                Control::Choices {
                    name: "when".into(),
                    legend: "When".into(),
                    kind: "radio",
                    options: vec![
                        ("now".into(), "Now".into(), !later),
                        ("later".into(), "Later".into(), later),
                    ],
                },
                Control::Text {
                    name: "queue_time".into(),
                    label: format!("Start at ({zone})"),
                    value: typed(fields, "queue_time").into(),
                    kind: "datetime-local",
                },
                Control::Text {
                    name: "queue_time_expiry".into(),
                    label: format!("Give up if not started by ({zone}, optional)"),
                    value: typed(fields, "queue_time_expiry").into(),
                    kind: "datetime-local",
                },
                Control::Text {
                    name: "zone".into(),
                    label: "Time zone".into(),
                    value: zone.clone(),
                    kind: "text",
                },
            ],
        );
    }
    if let Some(id) = id_in(path, "/projects/", "/releases") {
        let project = projects::find(c, id).ok()??;
        return rebuilt(
            format!(
                "Release {} of {} was not created.",
                typed(fields, "version"),
                project.name
            ),
            format!("/projects/{id}"),
            "Create release",
            vec![
                text(fields, "version", "Version"),
                area(fields, "notes", "Release notes"),
            ],
        );
    }
    if let Some(id) = id_in(path, "/projects/", "/delete") {
        let project = projects::find(c, id).ok()??;
        return rebuilt(
            format!("Project {} was not deleted.", project.name),
            format!("/projects/{id}"),
            "Delete project",
            Vec::new(),
        );
    }
    if let Some(id) = id_in(path, "/projects/", "") {
        let project = projects::find(c, id).ok()??;
        return rebuilt(
            format!("Your changes to project {} were not saved.", project.name),
            format!("/projects/{id}"),
            "Save",
            project_controls(fields),
        );
    }
    if path == "/projects" {
        return rebuilt(
            format!("Project {} was not created.", typed(fields, "name")),
            "/projects".into(),
            "Create project",
            project_controls(fields),
        );
    }
    let environment_controls = || {
        vec![
            text(fields, "name", "Name"),
            text(fields, "description", "Description"),
        ]
    };
    if path == "/environments" {
        return rebuilt(
            format!("Environment {} was not created.", typed(fields, "name")),
            "/environments".into(),
            "Create environment",
            environment_controls(),
        );
    }
    if let Some(id) = id_in(path, "/environments/", "") {
        let env = projects::find_environment(c, id).ok()??;
        return rebuilt(
            format!("Your changes to environment {} were not saved.", env.name),
            format!("/environments/{id}"),
            "Save",
            environment_controls(),
        );
    }
    if let Some(id) = id_in(path, "/tasks/", "/cancel") {
        return rebuilt(
            format!("ServerTasks-{id} was not canceled."),
            format!("/tasks/{id}"),
            "Cancel the task",
            Vec::new(),
        );
    }
    if let Some(id) = id_in(path, "/tasks/", "/redeploy") {
        return rebuilt(
            format!("ServerTasks-{id} was not redeployed."),
            format!("/tasks/{id}"),
            "Redeploy",
            Vec::new(),
        );
    }
    if path == "/profile/apikeys" {
        return rebuilt(
            format!("API key \"{}\" was not created.", typed(fields, "purpose")),
            "/profile".into(),
            "Create API key",
            vec![text(fields, "purpose", "Purpose")],
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_the_paths_shapes() {
        assert_eq!(
            id_in("/releases/12/deploy", "/releases/", "/deploy"),
            Some(12)
        );
        assert_eq!(id_in("/projects/3", "/projects/", ""), Some(3));
        assert_eq!(id_in("/projects/3/releases", "/projects/", ""), None);
        assert_eq!(id_in("/projects/x/delete", "/projects/", "/delete"), None);
    }

    #[test]
    fn an_unknown_form_is_rebuilt_as_labelled_fields() {
        let fields = vec![("purpose".to_string(), "ci".to_string())];
        let rebuilt = rebuild(None, "/somewhere", &fields);
        assert_eq!(rebuilt.controls.len(), 1);
        assert_eq!(rebuilt.summary, "Your change was not saved.");
    }
}
