//! Nodes that recover by themselves when the database fails under them (issue 29):
//! what a running task records is retried until it commits.

use crate::common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::server::{api_key, Server};
use serde_json::json;

/// A script's end that could not be recorded (the disk under the database full) is
/// recorded once it can be: the task does not stay Executing for ever, and its log
/// keeps what the script printed meanwhile.
#[test]
fn a_task_whose_end_cannot_be_written_ends_once_the_database_can_be() {
    if !crate::attacks::running_as_root() {
        return;
    }
    let Some(disk) = crate::attacks::Tmpfs::mount("16m") else {
        return;
    };
    let data = disk.path().join("data");
    let key = api_key(&data, "admin");
    let outside = tempfile::tempdir().unwrap();
    let server = Server::start_in(
        outside.path(),
        &["--data-dir", data.to_str().unwrap()],
        outside.path().join("serve.log"),
    );
    let shared = common::shared_dir();
    let go = shared.path().join("go");
    let script = format!(
        "echo started\nfor i in $(seq 600); do [ -e {} ] && break; sleep 0.1; done\necho finished while the disk was full\n",
        go.display()
    );
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": script}),
    );
    server.create(&key, "/api/environments", json!({"Name": "Prod"}));
    let release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1"}),
    );
    let (status, deployment) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": "Environments-1"})),
    );
    assert_eq!(status, 201, "{deployment}");
    let task = deployment["TaskId"].as_str().unwrap().to_string();
    server.wait_task(&key, &task, &["Executing"], 30);

    // Fill the disk, until the database refuses a write.
    let filler = disk.path().join("filler");
    {
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
    }
    let refused = (0..200).any(|i| {
        let (status, body) = server.api(
            &key,
            "POST",
            "/api/environments",
            Some(json!({"Name": format!("Full {i}"), "Description": "x".repeat(2000)})),
        );
        assert_ne!(status, 500, "{body}");
        status == 503
    });
    assert!(refused, "no write was refused on a full disk");

    // The script ends now: its end cannot be written.
    std::fs::write(&go, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server
        .output()
        .contains(&format!("could not record the log of {task}"))
        && !server
            .output()
            .contains(&format!("could not record the end of {task}"))
    {
        assert!(
            Instant::now() < deadline,
            "the end was never tried: {}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::remove_file(&filler).unwrap();
    let ended = server.wait_task(
        &key,
        &task,
        &["Success", "Failed", "Canceled", "TimedOut"],
        30,
    );
    assert_eq!(ended["State"], "Success", "{ended}");
    let (_, log) = server.api(&key, "GET", &format!("/api/tasks/{task}/raw"), None);
    let log = log.as_str().map_or_else(|| log.to_string(), str::to_string);
    assert!(log.contains("finished while the disk was full"), "{log}");
}
