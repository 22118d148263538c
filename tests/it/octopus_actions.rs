//! Octopus's official GitHub Actions, unchanged (`../shared/octopus-actions`), run as
//! GitHub's runner runs them — `node dist/index.js` with `INPUT_*`, `GITHUB_OUTPUT`,
//! `GITHUB_STEP_SUMMARY`, `RUNNER_TEMP` and `GITHUB_ACTIONS=true` — against the real
//! binary, chained through their outputs as a workflow (issue 30).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{api_key, Server};
use serde_json::json;

/// Where the actions are, as their README says a test finds them.
fn actions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/octopus-actions")
}

/// The defaults `action.yml` gives its inputs (`  name:` then `    default: 'x'`).
fn defaults(action: &Path) -> BTreeMap<String, String> {
    let yml = std::fs::read_to_string(action.join("action.yml")).expect("action.yml");
    let mut defaults = BTreeMap::new();
    let (mut in_inputs, mut current) = (false, None::<String>);
    for line in yml.lines() {
        if !line.starts_with(' ') {
            in_inputs = line.trim_end() == "inputs:";
            continue;
        }
        if !in_inputs {
            continue;
        }
        if let Some(name) = line
            .strip_prefix("  ")
            .filter(|l| !l.starts_with(' '))
            .and_then(|l| l.strip_suffix(':'))
        {
            current = Some(name.to_string());
        } else if let (Some(name), Some(value)) = (&current, line.trim().strip_prefix("default:")) {
            let value = value.trim().trim_matches(|c| c == '\'' || c == '"');
            defaults.insert(name.clone(), value.to_string());
        }
    }
    defaults
}

/// What one step of a workflow did.
pub(crate) struct Step {
    pub ok: bool,
    pub outputs: BTreeMap<String, String>,
    pub log: String,
}

/// Runs `action` as a workflow step against `server` with `inputs` (and the server,
/// key and space a workflow's `with:` would give).
pub(crate) fn run(action: &str, server: &Server, key: &str, inputs: &[(&str, &str)]) -> Step {
    let folder = actions().join(action);
    let work = tempfile::tempdir().unwrap();
    let (output, summary) = (work.path().join("output"), work.path().join("summary"));
    std::fs::write(&output, "").unwrap();
    std::fs::write(&summary, "").unwrap();
    let mut given = defaults(&folder);
    given.insert("server".into(), format!("http://127.0.0.1:{}", server.port));
    given.insert("api_key".into(), key.into());
    given.insert("space".into(), "Default".into());
    for (name, value) in inputs {
        given.insert(name.to_string(), value.to_string());
    }
    let mut command = Command::new("node");
    command
        .arg(folder.join("dist/index.js"))
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", work.path())
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("RUNNER_TEMP", work.path())
        .env("GITHUB_ACTIONS", "true");
    for (name, value) in &given {
        command.env(
            format!("INPUT_{}", name.to_uppercase().replace(' ', "_")),
            value,
        );
    }
    let out = command.output().expect("run node: is Node.js installed?");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Step {
        ok: out.status.success(),
        outputs: outputs(&std::fs::read_to_string(&output).unwrap()),
        log,
    }
}

/// `name=value` lines and `name<<DELIM` ... `DELIM` blocks.
fn outputs(text: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for next in lines.by_ref() {
                if next == delimiter {
                    break;
                }
                value.push(next);
            }
            found.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            found.insert(name.to_string(), value.to_string());
        }
    }
    found
}

/// create-release → deploy-release → await-task for `project` to `environments`: the
/// await steps' outcomes by environment.
fn workflow(
    server: &Server,
    key: &str,
    project: &str,
    environments: &[&str],
) -> BTreeMap<String, Step> {
    let created = run(
        "create-release-action",
        server,
        key,
        &[("project", project)],
    );
    assert!(created.ok, "create-release failed:\n{}", created.log);
    let release = created
        .outputs
        .get("release_number")
        .cloned()
        .unwrap_or_default();
    assert!(
        !release.is_empty(),
        "no release_number: {:?}",
        created.outputs
    );
    let deployed = run(
        "deploy-release-action",
        server,
        key,
        &[
            ("project", project),
            ("release_number", &release),
            ("environments", &environments.join("\n")),
        ],
    );
    assert!(deployed.ok, "deploy-release failed:\n{}", deployed.log);
    let tasks: serde_json::Value = serde_json::from_str(
        deployed
            .outputs
            .get("server_tasks")
            .map(String::as_str)
            .unwrap_or("null"),
    )
    .unwrap_or_else(|e| panic!("server_tasks: {e}: {:?}", deployed.outputs));
    let tasks = tasks.as_array().expect("server_tasks is a list").clone();
    assert_eq!(tasks.len(), environments.len(), "{tasks:?}");
    let mut awaited = BTreeMap::new();
    for task in tasks {
        let id = task["serverTaskId"].as_str().unwrap().to_string();
        let environment = task["environmentName"].as_str().unwrap().to_string();
        let step = run(
            "await-task-action",
            server,
            key,
            &[("server_task_id", &id), ("polling_interval", "1")],
        );
        awaited.insert(environment, step);
    }
    awaited
}

#[test]
fn the_official_actions_create_deploy_and_await_as_a_workflow() {
    let dir = common::data_dir();
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    for name in ["Production", "Staging", "QA west"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    for (name, script) in [
        ("Web shop", "echo shipped"),
        ("Broken build", "echo no; exit 3"),
    ] {
        server.create(
            &key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        );
    }
    // One environment, the first in promotion order.
    let done = workflow(&server, &key, "Web shop", &["Production"]);
    let step = &done["Production"];
    assert!(step.ok, "await-task failed:\n{}", step.log);
    assert_eq!(
        step.outputs.get("task_state").map(String::as_str),
        Some("Success")
    );
    // Several, one of them not first in sort order, a name with a space.
    let done = workflow(&server, &key, "Web shop", &["Staging", "QA west"]);
    assert_eq!(done.len(), 2);
    for (environment, step) in &done {
        assert!(
            step.ok,
            "await-task for {environment} failed:\n{}",
            step.log
        );
        assert_eq!(
            step.outputs.get("task_state").map(String::as_str),
            Some("Success")
        );
    }
    // A script that fails: await-task fails the job, saying so.
    let done = workflow(&server, &key, "Broken build", &["Staging"]);
    let step = &done["Staging"];
    assert!(
        !step.ok,
        "await-task passed a failed deployment:\n{}",
        step.log
    );
    assert_eq!(
        step.outputs.get("task_state").map(String::as_str),
        Some("Failed")
    );
    assert!(step.log.contains("::error::"), "{}", step.log);

    // A scheduled deployment: queued for its time, with its expiry, not run now.
    let created = run(
        "create-release-action",
        &server,
        &key,
        &[("project", "Web shop")],
    );
    assert!(created.ok, "create-release failed:\n{}", created.log);
    let now = drydock::clock::now_ms();
    let (at, expiry) = (
        drydock::clock::iso(now + 3_600_000),
        drydock::clock::iso(now + 7_200_000),
    );
    let scheduled = run(
        "deploy-release-action",
        &server,
        &key,
        &[
            ("project", "Web shop"),
            ("release_number", &created.outputs["release_number"]),
            ("environments", "Production"),
            ("deploy_at", &at),
            ("deploy_at_expiry", &expiry),
        ],
    );
    assert!(
        scheduled.ok,
        "a scheduled deploy-release failed:\n{}",
        scheduled.log
    );
    let tasks: serde_json::Value =
        serde_json::from_str(&scheduled.outputs["server_tasks"]).unwrap();
    let id = tasks[0]["serverTaskId"].as_str().unwrap();
    let (status, task) = server.api(&key, "GET", &format!("/api/tasks/{id}"), None);
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["State"], "Queued", "{task}");
    let queued_for = drydock::clock::parse_iso(task["QueueTime"].as_str().unwrap()).unwrap();
    assert!((queued_for - (now + 3_600_000)).abs() < 1_000, "{task}");
    assert!(task["QueueTimeExpiry"].as_str().is_some(), "{task}");
}

/// deploy-release-action's `variables` input (`name:value` lines) reaches the script
/// as prompted values; a required one left out fails the step, naming it.
#[test]
fn the_official_deploy_action_passes_its_variables_to_the_script() {
    let dir = common::data_dir();
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    server.create(&key, "/api/environments", json!({"Name": "Production"}));
    let project = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Prompted", "DeploymentScript": "echo \"reason=#{Reason} token=$(get_octopusvariable Token)\""}),
    );
    let (status, body) = server.api(
        &key,
        "PUT",
        &format!("/api/variables/variableset-{project}"),
        Some(json!({"Version": 0, "Variables": [
            {"Name": "Reason", "Prompt": {"Label": "Why", "Required": true}},
            {"Name": "Token", "Type": "Sensitive", "Prompt": {"Label": "Token"}},
        ]})),
    );
    assert_eq!(status, 200, "{body}");
    let created = run(
        "create-release-action",
        &server,
        &key,
        &[("project", "Prompted")],
    );
    assert!(created.ok, "create-release failed:\n{}", created.log);
    let release = created.outputs["release_number"].clone();
    let deploy = |variables: &str| {
        run(
            "deploy-release-action",
            &server,
            &key,
            &[
                ("project", "Prompted"),
                ("release_number", &release),
                ("environments", "Production"),
                ("variables", variables),
            ],
        )
    };
    let refused = deploy("Token:pipe-S3CRET-99");
    assert!(
        !refused.ok,
        "a required prompt was left out:\n{}",
        refused.log
    );
    assert!(refused.log.contains("Variables.Reason"), "{}", refused.log);
    let deployed = deploy("Reason:from the pipeline\nToken:pipe-S3CRET-99");
    assert!(deployed.ok, "deploy-release failed:\n{}", deployed.log);
    let tasks: serde_json::Value = serde_json::from_str(&deployed.outputs["server_tasks"]).unwrap();
    let id = tasks[0]["serverTaskId"].as_str().unwrap().to_string();
    let awaited = run(
        "await-task-action",
        &server,
        &key,
        &[("server_task_id", &id), ("polling_interval", "1")],
    );
    assert!(awaited.ok, "await-task failed:\n{}", awaited.log);
    let (_, log) = server.api(&key, "GET", &format!("/api/tasks/{id}/raw"), None);
    let log = log.as_str().unwrap_or_default().to_string();
    assert!(
        log.contains("reason=from the pipeline token=********"),
        "{log}"
    );
    assert!(!log.contains("S3CRET"), "{log}");
}
