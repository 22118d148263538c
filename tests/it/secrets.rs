//! Sensitive variables: write-only in every answer, masked in every log line, sealed at
//! rest under a master key the database does not hold, and refused by a node whose key
//! differs.

use crate::common;
use crate::variables::{call, created, log_of, put_variables, run};

use common::*;
use rocket::http::{Method, Status};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const SECRET: &str = "tok-S3CRET-0042-zz";

const SCRIPT: &str = r#"T="$(get_octopusvariable Token)"
echo "substituted: #{Token}"
echo "env: $T and more"
echo "to stderr: $T" >&2
{ printf 'split %s' "${T:0:6}"; echo "interleaved" >&2; sleep 0.2; printf '%s end\n' "${T:6}"; }
echo "sha=$(printf %s "$T" | sha256sum | cut -c1-16)"
echo "short: #{Pin}"
echo "failing with $T" >&2
exit 3
"#;

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..16].to_string()
}

/// Every row of every table, as text.
fn everything(app: &TestApp) -> String {
    let db = app.db();
    let mut all = String::new();
    for table in db.tables() {
        for row in db.rows(&format!("SELECT * FROM {table}"), &[]) {
            all.push_str(&format!("{row:?}\n"));
        }
    }
    all
}

#[test]
fn a_sensitive_value_never_leaves_in_an_answer_a_log_line_an_event_or_the_database() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, env, _) = project_env_release(&client, &key, SCRIPT);
    let set = format!("variableset-{}", project.as_str().unwrap());
    let answer = put_variables(
        &client,
        &key,
        &set,
        json!([
            {"Name": "Token", "Value": SECRET, "Type": "Sensitive"},
            {"Name": "Pin", "Value": "123", "IsSensitive": true},
            {"Name": "Plain", "Value": "visible"},
        ]),
    );
    for (i, v) in answer["Variables"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .take(2)
    {
        assert_eq!(v["Value"], Value::Null, "{i}: {v}");
        assert_eq!(v["IsSensitive"], true);
        assert_eq!(v["Type"], "Sensitive");
    }
    assert_eq!(answer["Variables"][2]["Value"], "visible");
    // What a client read, sent back unchanged: the values stay.
    let (_, read) = call(
        &client,
        &key,
        Method::Get,
        &format!("/api/variables/{set}"),
        None,
    );
    assert!(!read.to_string().contains(SECRET), "{read}");
    let (status, again) = call(
        &client,
        &key,
        Method::Put,
        &format!("/api/variables/{set}"),
        Some(read.clone()),
    );
    assert_eq!(status, Status::Ok, "{again}");
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();

    let task = deploy(&client, &key, &release, &env);
    let done = wait_completed(&client, &key, &task, 30);
    let log = log_of(&client, &key, &task);
    assert_eq!(done["State"], "Failed", "{log}");
    assert!(!log.contains(SECRET) && !log.contains("S3CRET"), "{log}");
    for line in [
        "substituted: ********",
        "env: ******** and more",
        "to stderr: ********",
        "split ******** end",
    ] {
        assert!(log.contains(line), "{line}: {log}");
    }
    assert!(
        log.contains(&format!("sha={}", sha(SECRET))),
        "the script got the value: {log}"
    );
    assert!(
        log.contains("short: 123"),
        "a value under four characters is not masked: {log}"
    );
    let message = done["ErrorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("failing with ********"), "{done}");
    let mut seen = String::new();
    for path in [
        format!("/api/tasks/{task}"),
        format!("/api/tasks/{task}/details"),
        format!("/api/tasks/{task}/raw"),
        "/api/events?take=1000".to_string(),
        format!("/api/variables/{set}"),
        format!("/api/projects/{}/variables", project.as_str().unwrap()),
    ] {
        let body = with_key(&client, Method::Get, &path, &key, None)
            .into_string()
            .unwrap_or_default();
        assert!(!body.contains(SECRET), "{path}: {body}");
        seen.push_str(&body);
    }
    assert!(
        seen.contains("Token (sensitive)"),
        "the change is audited by name: {seen}"
    );
    // The database holds it sealed only: no table's text, no byte of SQLite's files.
    let rows = everything(&app);
    assert!(rows.contains("v1:"), "sealed values are stored");
    assert!(!rows.contains(SECRET) && !rows.contains("S3CRET"));
    if app.config.database_url.is_none() {
        for file in ["drydock.db", "drydock.db-wal"] {
            let bytes = std::fs::read(app.data_dir().join(file)).unwrap_or_default();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "{file} holds the value in plain text"
            );
        }
    }
    // After a restart (a new App on the same data directory) it still opens.
    drop(client);
    let client = app.client();
    let (_, log) = run(&client, &key, &release, &env);
    assert!(log.contains(&format!("sha={}", sha(SECRET))), "{log}");
}

#[test]
fn a_prompted_sensitive_value_is_masked_and_kept_sealed() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, env, _) = project_env_release(&client, &key, r#"echo "given #{Password}""#);
    let set = format!("variableset-{}", project.as_str().unwrap());
    put_variables(
        &client,
        &key,
        &set,
        json!([
            {"Name": "Password", "Type": "Sensitive", "Prompt": {"Label": "Password", "Required": true}},
        ]),
    );
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();
    let (status, d) = call(
        &client,
        &key,
        Method::Post,
        "/api/deployments",
        Some(
            json!({"ReleaseId": release, "EnvironmentId": env, "FormValues": {"Password": "typed-in-secret"}}),
        ),
    );
    assert_eq!(status, Status::Created, "{d}");
    let task = d["TaskId"].as_str().unwrap();
    wait_completed(&client, &key, task, 30);
    let log = log_of(&client, &key, task);
    assert!(log.contains("given ********"), "{log}");
    assert!(!everything(&app).contains("typed-in-secret"));
}

/// A child process killed when the test lets go of it (a failed one too).
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The file that holds this app's master key (the cluster's on PostgreSQL).
fn key_file(app: &TestApp) -> std::path::PathBuf {
    app.config
        .master_key_file
        .clone()
        .unwrap_or_else(|| app.data_dir().join("master.key"))
}

#[test]
fn a_node_whose_master_key_differs_refuses_to_start_and_the_command_line_says_why() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, env, _) = project_env_release(
        &client,
        &key,
        "echo sha=$(printf %s \"#{Token}\" | sha256sum | cut -c1-16)",
    );
    put_variables(
        &client,
        &key,
        &format!("variableset-{}", project.as_str().unwrap()),
        json!([{"Name": "Token", "Value": SECRET, "Type": "Sensitive"}]),
    );
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();
    drop(client);
    let file = key_file(&app);
    let ours = std::fs::read_to_string(&file).unwrap();
    let (code, out, err) = server::run_cli(app.data_dir(), &["master-key"], "");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("sealed with this key") && out.contains("apart from"),
        "{out}"
    );
    assert!(
        !out.contains(ours.trim()),
        "the key is shown only with --show"
    );
    let (code, shown, err) = server::run_cli(app.data_dir(), &["master-key", "--show"], "");
    assert_eq!(code, 0, "{err}");
    assert_eq!(shown.trim(), ours.trim(), "--show prints the key alone");

    std::fs::write(&file, "ab".repeat(32)).unwrap();
    let refused = drydock::App::open(app.config.clone())
        .err()
        .expect("another key is refused");
    let message = refused.to_string();
    assert!(
        message.contains("master key") && message.contains("check value"),
        "{message}"
    );
    // The real binary refuses to serve, and says why.
    let out = app.data_dir().join("refused.log");
    let mut node = Stopped(
        std::process::Command::new(server::binary())
            .arg("--data-dir")
            .arg(app.data_dir())
            .args(["serve", "--port", &server::free_port().to_string()])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(app.data_dir().join("refused.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    let status = poll_for(
        30,
        || "a node with another master key kept running".into(),
        || node.0.try_wait().unwrap(),
    );
    assert!(!status.success());
    let err = std::fs::read_to_string(app.data_dir().join("refused.err")).unwrap();
    assert!(
        err.contains("master key") && err.contains("check value"),
        "{err}"
    );
    let (_, out, _) = server::run_cli(app.data_dir(), &["master-key"], "");
    assert!(out.contains("WARNING"), "{out}");
    // A file that is not a key is refused too, saying what it must hold.
    std::fs::write(&file, "not a key").unwrap();
    let message = drydock::App::open(app.config.clone())
        .err()
        .expect("refused")
        .to_string();
    assert!(message.contains("64 hex digits"), "{message}");

    // With its own key back, the node starts and the value opens.
    std::fs::write(&file, &ours).unwrap();
    let client = app.client();
    let (_, log) = run(&client, &key, &release, &env);
    assert!(log.contains(&format!("sha={}", sha(SECRET))), "{log}");
}

#[test]
fn a_second_node_with_the_same_key_opens_the_values_the_first_sealed() {
    let data = data_dir();
    let key = server::api_key(data.path(), "admin");
    let first = server::Server::node(&data.node_dir("one"), "one");
    first.create(&key, "/api/projects", json!({"Name": "P", "DeploymentScript": "echo sha=$(printf %s \"#{Token}\" | sha256sum | cut -c1-16)"}));
    first.create(&key, "/api/environments", json!({"Name": "E"}));
    let (status, body) = first.api(&key, "PUT", "/api/variables/variableset-Projects-1",
        Some(json!({"Version": 0, "Variables": [{"Name": "Token", "Value": SECRET, "Type": "Sensitive"}]})));
    assert_eq!(status, 200, "{body}");
    first.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1"}),
    );
    drop(first);
    let second = server::Server::node(&data.node_dir("two"), "two");
    let (status, d) = second.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})),
    );
    assert_eq!(status, 201, "{d}");
    let task = d["TaskId"].as_str().unwrap().to_string();
    second.wait_task(&key, &task, &["Success"], 30);
    let (_, log) = second.api(&key, "GET", &format!("/api/tasks/{task}/raw"), None);
    assert!(log.to_string().contains(&sha(SECRET)), "{log}");
}
