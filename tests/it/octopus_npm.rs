//! The npm `octopus-deploy` library's CLI (6.3.1, pinned with every dependency by
//! `tests/octopus-npm/package-lock.json`, installed once into the test cache outside the
//! source tree) against the real binary (issue 30): `release create` by slug, `release
//! deploy` by id, `release promote` by slug. It reads the project's deployment process
//! and variable set, and posts camelCased bodies. It exits 0 even when a step fails
//! (its own defect), so each step is judged by what it logged and what the server holds.

use std::process::Command;

use crate::common::npm;
use crate::common::server::{api_key, Server};
use serde_json::json;

const PACKAGE: &str = include_str!("../octopus-npm/package.json");
const LOCK: &str = include_str!("../octopus-npm/package-lock.json");

fn cli(server: &Server, key: &str, args: &[&str]) -> String {
    let modules = npm::installed("octopus-deploy-npm", PACKAGE, LOCK);
    let out = Command::new("node")
        .arg(modules.join("octopus-deploy/bin/octopus-deploy.js"))
        .args(["release"])
        .args(args)
        .args([
            "--host",
            server.url("").trim_end_matches('/'),
            "--apiKey",
            key,
        ])
        .output()
        .expect("run node: is Node.js installed?");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{args:?}: {log}");
    assert!(
        !log.to_lowercase().contains("error") && !log.contains("not found"),
        "{args:?} reported a failure:\n{log}"
    );
    log
}

#[test]
fn the_npm_cli_creates_deploys_and_promotes_releases() {
    let dir = crate::common::data_dir();
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    for name in ["Production", "Staging"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web shop", "DeploymentScript": "echo shipped"}),
    );
    let deployments = |environment: &str| {
        let (status, list) = server.api(
            &key,
            "GET",
            &format!("/api/deployments?projects=Projects-1&environments={environment}"),
            None,
        );
        assert_eq!(status, 200, "{list}");
        list["Items"].as_array().unwrap().clone()
    };

    // release create, by slug.
    cli(
        &server,
        &key,
        &[
            "create",
            "--projectSlugOrId",
            "web-shop",
            "--releaseVersion",
            "1.0.0",
        ],
    );
    let (status, release) =
        server.api(&key, "GET", "/api/projects/Projects-1/releases/1.0.0", None);
    assert_eq!(status, 200, "release create made no 1.0.0: {release}");

    // release deploy (create and deploy), by id, to an environment not first in order.
    cli(
        &server,
        &key,
        &[
            "deploy",
            "--projectSlugOrId",
            "Projects-1",
            "--releaseVersion",
            "1.1.0",
            "--environmentName",
            "Staging",
        ],
    );
    let staged = deployments("Environments-2");
    assert_eq!(staged.len(), 1, "{staged:?}");
    let (_, release) = server.api(&key, "GET", "/api/projects/Projects-1/releases/1.1.0", None);
    assert_eq!(staged[0]["ReleaseId"], release["Id"]);

    // release promote, by slug: the existing 1.1.0 to Production.
    cli(
        &server,
        &key,
        &[
            "promote",
            "--projectSlugOrId",
            "web-shop",
            "--releaseVersion",
            "1.1.0",
            "--environmentName",
            "Production",
        ],
    );
    let promoted = deployments("Environments-1");
    assert_eq!(promoted.len(), 1, "{promoted:?}");
    assert_eq!(promoted[0]["ReleaseId"], release["Id"]);
}
