//! Octopus's generated Python client, `octopus-deploy-swagger-client` 1.1.0 (pinned with
//! its dependencies in `tests/python/requirements.txt`, installed once into the test
//! cache outside the source tree), reading the real binary (issue 30): a project by
//! slug (under `/api` and the space), a release by version, the deployments list.
//! Python 3 and pip must be on the PATH (`scripts/test.sh` installs them when missing).

use std::path::Path;
use std::process::Command;

use crate::common::npm;
use crate::common::server::{api_key, Server};
use serde_json::json;

const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

#[test]
fn the_python_client_reads_projects_by_slug_releases_by_version_and_deployments() {
    let packages = npm::pip_installed("octopus-python-client", REQUIREMENTS);
    let dir = crate::common::data_dir();
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    server.create(&key, "/api/environments", json!({"Name": "Staging"}));
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web shop", "DeploymentScript": "true"}),
    );
    server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.2.3"}),
    );
    server.create(
        &key,
        "/api/deployments",
        json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"}),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("PYTHONPATH", &packages)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("DRYDOCK_URL", server.url(""))
        .env("DRYDOCK_KEY", &key)
        .output()
        .expect("run python3: is it installed?");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the Python client failed:\n{text}");
    let source = std::fs::read_to_string(&script).unwrap();
    let steps = source.matches("step(\n").count();
    let passed = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, steps, "{text}");
    assert!(text.contains("all python client steps passed"), "{text}");
}
