//! drydock the way README.md tells a new user to run it: the real binary started in an
//! empty directory with the default data directory (and with a relative one), the
//! README's "The same from a script" block taken from README.md itself and run with
//! curl, a deployment that must succeed, and a backup to a relative path.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{run_cli_in, Server};

/// The README's "The same from a script" block, as written there.
fn readme_script() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let after = readme
        .split_once("The same from a script:")
        .expect("README.md has a block introduced by 'The same from a script:'")
        .1;
    let block = after
        .split_once("```sh\n")
        .expect("the block is a ```sh fence")
        .1;
    block
        .split_once("```")
        .expect("the fence is closed")
        .0
        .to_string()
}

/// Runs the README block in `cwd` with bash and curl against `server`, with the API
/// key and address the README leaves for the reader to fill in. Every call must
/// succeed: curl fails the script on any HTTP error, and each call says it finished.
/// Returns what the calls printed.
fn run_readme_script(cwd: &Path, server: &Server, key: &str) -> String {
    let script = readme_script();
    for placeholder in ["API-...", "http://127.0.0.1:8000/api"] {
        assert!(
            script.contains(placeholder),
            "the README block no longer has the placeholder {placeholder}:\n{script}"
        );
    }
    let calls = script
        .lines()
        .filter(|l| l.trim_start().starts_with("curl "))
        .count();
    assert!(
        calls >= 4,
        "the README block makes {calls} calls:\n{script}"
    );
    let script = script
        .replace("API-...", key)
        .replace("http://127.0.0.1:8000/api", &server.url("/api"));
    let wrapped = format!(
        "set -euo pipefail\n\
         curl() {{ command curl --fail-with-body --show-error \"$@\"; echo; echo CALL-SUCCEEDED; }}\n\
         {script}"
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&wrapped)
        .current_dir(cwd)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the README block failed ({}):\n{stdout}\n{stderr}\nscript:\n{script}",
        out.status
    );
    assert_eq!(
        stdout.matches("CALL-SUCCEEDED").count(),
        calls,
        "not every README call ran:\n{stdout}\n{stderr}"
    );
    stdout
}

/// A fresh, empty working directory (and a place for the server's output outside it).
fn fresh_directory() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("temporary directory");
    let cwd = root.path().join("new-user");
    std::fs::create_dir(&cwd).expect("working directory");
    (root, cwd)
}

/// As the README: serve in `cwd` with `global` flags, an API key from the command line
/// in the same directory, the README's calls, and the deployment they queue succeeds
/// with its output in the log. Then a backup to a relative path. Returns the data
/// directory the server said it used.
fn new_user_flow(cwd: &Path, log: PathBuf, global: &[&str], expected_data_dir: &Path) {
    let server = Server::start_in(cwd, global, log);
    let expected = expected_data_dir
        .canonicalize()
        .expect("the data directory exists once the server runs");
    assert!(expected.is_absolute());

    // The start-up lines name the absolute data directory and the password file in it.
    let output = server.output();
    assert!(
        output.contains(&format!("(data directory {})", expected.display())),
        "the start-up line does not name {}:\n{output}",
        expected.display()
    );
    assert!(
        output.contains(&format!(
            "also written to {}",
            expected.join("initial-admin-password").display()
        )),
        "{output}"
    );

    let mut args: Vec<&str> = global.to_vec();
    args.extend([
        "apikey",
        "create",
        "--username",
        "admin",
        "--purpose",
        "readme",
    ]);
    let (code, out, err) = run_cli_in(cwd, &args, "");
    assert_eq!(code, 0, "{out}{err}");
    let key = out.trim().lines().last().expect("a key").to_string();

    let printed = run_readme_script(cwd, &server, &key);
    assert!(
        printed.contains("\"Id\": \"Environments-1\"")
            || printed.contains("\"Id\":\"Environments-1\""),
        "{printed}"
    );

    let task = server.wait_task(
        &key,
        "ServerTasks-1",
        &["Success", "Failed", "TimedOut", "Canceled"],
        30,
    );
    let (_, raw) = server.api(&key, "GET", "/api/tasks/ServerTasks-1/raw", None);
    let raw = raw.as_str().unwrap_or_default().to_string();
    assert_eq!(task["State"], "Success", "{task}\nlog:\n{raw}");
    assert!(
        raw.lines().any(|l| l.ends_with("hi")),
        "the script's output is not in the log:\n{raw}"
    );

    // A backup to a path relative to where the user is.
    let mut args: Vec<&str> = global.to_vec();
    args.extend(["backup", "--out", "relative.db"]);
    let (code, out, err) = run_cli_in(cwd, &args, "");
    assert_eq!(code, 0, "{out}{err}");
    let copy = cwd.join("relative.db");
    assert!(
        out.contains(&copy.display().to_string()),
        "the backup line names the absolute file: {out}"
    );
    let db = rusqlite::Connection::open(&copy).expect("the backup opens");
    let ok: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let deployments: i64 = db
        .query_row("SELECT count(*) FROM deployments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(deployments, 1);
}

#[test]
fn a_new_user_following_the_readme_with_the_default_data_directory_deploys() {
    let (root, cwd) = fresh_directory();
    new_user_flow(
        &cwd,
        root.path().join("serve.log"),
        &[],
        &cwd.join("drydock-data"),
    );
}

#[test]
fn a_relative_data_directory_works_for_the_server_and_every_subcommand() {
    let (root, cwd) = fresh_directory();
    new_user_flow(
        &cwd,
        root.path().join("serve.log"),
        &["--data-dir", "data"],
        &cwd.join("data"),
    );
    // Nothing was written under the default name instead.
    assert!(!cwd.join("drydock-data").exists());
}

#[test]
fn the_data_directory_is_resolved_through_symbolic_links_for_the_orphan_reaper() {
    // /proc reports a script's working directory with links resolved; the server must
    // compare against the same spelling, so it resolves the data directory the same way.
    let root = tempfile::tempdir().unwrap();
    let real = root.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, root.path().join("link")).unwrap();
    let resolved = drydock::config::absolute_dir(&root.path().join("link/data")).unwrap();
    assert_eq!(resolved, real.canonicalize().unwrap().join("data"));
    let resolved = drydock::config::absolute_dir(Path::new("relative/./x")).unwrap();
    assert!(resolved.is_absolute(), "{}", resolved.display());
}

#[test]
fn a_restarted_node_on_a_relative_linked_data_directory_stops_what_its_dead_scripts_left() {
    // The script replaces itself with `sleep`: no process names deploy.sh any more, so
    // only its working directory (as /proc reports it: absolute, links resolved) ties
    // it to its task.
    let (root, cwd) = fresh_directory();
    std::fs::create_dir(root.path().join("real")).unwrap();
    std::os::unix::fs::symlink(root.path().join("real"), cwd.join("link")).unwrap();
    let global = ["--data-dir", "link/data"];
    let mut server = Server::start_in(&cwd, &global, root.path().join("serve-1.log"));
    let mut args = global.to_vec();
    args.extend(["apikey", "create", "--username", "admin", "--purpose", "t"]);
    let (code, out, err) = run_cli_in(&cwd, &args, "");
    assert_eq!(code, 0, "{out}{err}");
    let key = out.trim().lines().last().unwrap().to_string();
    let shared = common::shared_dir();
    let pid_file = shared.path().join("script.pid");
    let script = format!("echo $$ > {}; exec sleep 300", pid_file.display());
    let env = server.create(
        &key,
        "/api/environments",
        serde_json::json!({"Name": "Prod"}),
    );
    let project = server.create(
        &key,
        "/api/projects",
        serde_json::json!({"Name": "Orphan", "DeploymentScript": script}),
    );
    let release = server.create(
        &key,
        "/api/releases",
        serde_json::json!({"ProjectId": project, "Version": "1"}),
    );
    server.create(
        &key,
        "/api/deployments",
        serde_json::json!({"ReleaseId": release, "EnvironmentId": env}),
    );
    let pid = common::poll_for(
        20,
        || "the script never started".into(),
        || {
            let pid = std::fs::read_to_string(&pid_file).unwrap_or_default();
            let pid = pid.trim().to_string();
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (!pid.is_empty() && String::from_utf8_lossy(&cmdline).starts_with("sleep"))
                .then_some(pid)
        },
    );
    server.child.kill().unwrap(); // SIGKILL: the node cannot stop its script
    server.child.wait().unwrap();
    drop(server);
    assert!(common::server::alive(&pid));

    let server = Server::start_in(&cwd, &global, root.path().join("serve-2.log"));
    let task = server.wait_task(&key, "ServerTasks-1", &["Failed"], 20);
    assert_eq!(task["ErrorMessage"], "interrupted: server node stopped");
    common::poll_until(
        10,
        &format!("the dead node's script still runs (pid {pid})"),
        || !common::server::alive(&pid),
    );
}
