//! Octopus's official actions where drydock says no (issue 30): the runbook and package
//! actions, refused naming the feature drydock lacks; a Project Deployer's deployment
//! in maintenance mode, refused while the administrator's goes through; a deployment to
//! a frozen environment, refused naming the freeze. Each step's log is printed when it
//! does not do what is asserted.

use crate::common;
use crate::octopus_actions::run;

use common::server::{api_key, create_user, Server};
use serde_json::json;

#[test]
fn the_official_actions_are_refused_with_the_reason_named() {
    let dir = common::data_dir();
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

    // Runbooks and packages: features drydock does not have, named.
    let runbook = run(
        "run-runbook-action",
        &server,
        &key,
        &[
            ("project", "Web shop"),
            ("runbook", "Restart"),
            ("environments", "Production"),
        ],
    );
    assert!(!runbook.ok, "run-runbook passed:\n{}", runbook.log);
    assert!(
        runbook.log.contains("drydock has no runbooks"),
        "{}",
        runbook.log
    );
    let work = tempfile::tempdir().unwrap();
    let package = work.path().join("shop.1.0.0.zip");
    std::fs::write(&package, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
    let pushed = run(
        "push-package-action",
        &server,
        &key,
        &[("packages", package.to_str().unwrap())],
    );
    assert!(!pushed.ok, "push-package passed:\n{}", pushed.log);
    assert!(
        pushed.log.contains("drydock has no packages"),
        "{}",
        pushed.log
    );

    // Maintenance mode: a Project Deployer's key is refused, the administrator's is not.
    create_user(
        dir.path(),
        "deployer",
        "Project Deployer",
        "a long passphrase here",
    );
    let deployer = api_key(dir.path(), "deployer");
    let created = run(
        "create-release-action",
        &server,
        &key,
        &[("project", "Web shop")],
    );
    assert!(created.ok, "create-release failed:\n{}", created.log);
    let release = created.outputs["release_number"].clone();
    let (status, body) = server.api(
        &key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(status, 200, "{body}");
    let deploy = |key: &str, environment: &str| {
        run(
            "deploy-release-action",
            &server,
            key,
            &[
                ("project", "Web shop"),
                ("release_number", &release),
                ("environments", environment),
            ],
        )
    };
    let refused = deploy(&deployer, "Staging");
    assert!(
        !refused.ok,
        "a deployer deployed in maintenance:\n{}",
        refused.log
    );
    assert!(refused.log.contains("maintenance mode"), "{}", refused.log);
    let allowed = deploy(&key, "Staging");
    assert!(
        allowed.ok,
        "the administrator was refused:\n{}",
        allowed.log
    );
    let (status, body) = server.api(
        &key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": false})),
    );
    assert_eq!(status, 200, "{body}");
    let after = deploy(&deployer, "Staging");
    assert!(
        after.ok,
        "the deployer was refused after maintenance:\n{}",
        after.log
    );

    // A frozen environment: refused, naming the freeze.
    let now = drydock::clock::now_ms();
    let (status, body) = server.api(
        &key,
        "POST",
        "/api/deploymentfreezes",
        Some(json!({
            "Name": "Quarter close",
            "Start": drydock::clock::iso(now - 60_000),
            "End": drydock::clock::iso(now + 3_600_000),
            "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
        })),
    );
    assert_eq!(status, 201, "{body}");
    let frozen = deploy(&deployer, "Production");
    assert!(!frozen.ok, "deployed into a freeze:\n{}", frozen.log);
    assert!(frozen.log.contains("Quarter close"), "{}", frozen.log);
}
