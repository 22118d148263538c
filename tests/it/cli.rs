//! The real binary: first start, `user create`, `user set-password`, `apikey create`,
//! configuration errors, and a served port.

use crate::common;

use common::server::{run_cli, Server};
use common::*;
use rocket::http::{Method, Status};

fn client_for(dir: &std::path::Path) -> rocket::local::blocking::Client {
    let mut config = db::config_for(dir);
    config.log_level = "off".into();
    let opened = drydock::App::open(config).unwrap();
    rocket::local::blocking::Client::tracked(drydock::rocket(opened.app).unwrap()).unwrap()
}

#[test]
fn user_create_then_the_user_can_sign_in_and_it_is_audited_as_command_line() {
    let dir = data_dir();
    let (code, out, err) = run_cli(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "dana",
            "--password-stdin",
            "--role",
            "Project Deployer",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("created Users-2 dana [Project Deployer]"),
        "{out}"
    );
    // The first start printed the admin's password, which is also in the file.
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    assert!(out.contains(&password), "{out}");

    let client = client_for(dir.path());
    assert_eq!(login(&client, "dana", PASSWORD).status(), Status::SeeOther);
    let (_, me) = json_of(client.get("/api/users/me").dispatch());
    assert_eq!(me["Roles"], serde_json::json!(["Project Deployer"]));

    let db = db::Db::for_dir(dir.path());
    let row = &db.rows(
        "SELECT username, identity FROM events WHERE category = 'UserCreated' AND message LIKE '%dana%'",
        &[],
    )[0];
    let (who, how): (String, String) = (row.get(0).unwrap(), row.get(1).unwrap());
    // The OS user and process that made the change.
    let uid = nix_uid();
    assert!(
        who.starts_with("command line (") && who.contains(&format!("uid {uid}, pid ")),
        "{who}"
    );
    assert_eq!(how, "Command line");
}

#[test]
fn user_create_rejects_bad_input_with_a_clear_message() {
    let dir = data_dir();
    let (code, _, err) = run_cli(
        dir.path(),
        &[
            "user",
            "create",
            "--username",
            "x",
            "--password-stdin",
            "--role",
            "Emperor",
        ],
        "long enough password\n",
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown role 'Emperor'"), "{err}");
    let (code, _, err) = run_cli(
        dir.path(),
        &["user", "create", "--username", "x", "--password-stdin"],
        "short\n",
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("Password: must be at least 12 characters"),
        "{err}"
    );
    let (code, _, err) = run_cli(
        dir.path(),
        &["user", "create", "--username", "admin", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn set_password_and_apikey_create() {
    let dir = data_dir();
    let (code, _, err) = run_cli(
        dir.path(),
        &[
            "user",
            "set-password",
            "--username",
            "admin",
            "--password-stdin",
        ],
        "my new admin password\n",
    );
    assert_eq!(code, 0, "{err}");
    let (code, key, err) = run_cli(
        dir.path(),
        &[
            "apikey",
            "create",
            "--username",
            "admin",
            "--purpose",
            "upgrade script",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let key = key.trim().lines().last().unwrap().to_string();
    assert!(key.starts_with("API-") && key.len() == 36, "{key}");

    let client = client_for(dir.path());
    assert_eq!(
        login(&client, "admin", "my new admin password").status(),
        Status::SeeOther
    );
    let other = client_for(dir.path());
    let (status, me) = json_of(with_key(&other, Method::Get, "/api/users/me", &key, None));
    assert_eq!(status, Status::Ok);
    assert_eq!(me["Username"], "admin");
    let (code, _, err) = run_cli(
        dir.path(),
        &["apikey", "create", "--username", "ghost", "--purpose", "x"],
        "",
    );
    assert_eq!(code, 1);
    assert!(err.contains("No user named 'ghost'"), "{err}");
}

#[test]
fn invalid_configuration_fails_fast_naming_the_key() {
    let dir = data_dir();
    dir.configure("port = \"eighty\"\n");
    let (code, _, err) = run_cli(dir.path(), &["serve"], "");
    assert_eq!(code, 1);
    assert!(err.contains("port"), "{err}");
    dir.configure("synchronous = \"sometimes\"\n");
    let (code, _, err) = run_cli(dir.path(), &["serve"], "");
    assert_eq!(code, 1);
    assert!(
        err.contains("synchronous") || err.contains("sometimes"),
        "{err}"
    );
    dir.configure("db_pool_size = 0\n");
    let (code, _, err) = run_cli(dir.path(), &["serve"], "");
    assert_eq!(code, 1);
    assert!(err.contains("db_pool_size"), "{err}");
    for nice in ["-5", "20"] {
        dir.configure(format!("script_nice = {nice}\n"));
        let (code, _, err) = run_cli(dir.path(), &["serve"], "");
        assert_eq!(code, 1);
        assert!(
            err.contains("script_nice must be between 0 and 19"),
            "{err}"
        );
    }
}

#[test]
fn serve_listens_on_the_given_port_and_prints_the_admin_password_once() {
    let dir = data_dir();
    let server = Server::start(dir.path());
    let (status, body) = server.get("/api/health").unwrap();
    assert_eq!(status, 200, "{body}");
    let (status, _) = server.get("/api/users/me").unwrap();
    assert_eq!(status, 401);
    let log = std::fs::read_to_string(&server.log).unwrap();
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    assert!(log.contains(&format!("password: {password}")), "{log}");
    assert!(
        log.contains(&format!("listening on http://127.0.0.1:{}", server.port)),
        "{log}"
    );
    drop(server);
    // A second start does not print a password.
    let server = Server::start(dir.path());
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(!log.contains("password:"), "{log}");
}

#[test]
fn serve_takes_a_node_name() {
    let dir = data_dir();
    let port = server::free_port().to_string();
    let mut child = std::process::Command::new(server::binary())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--port", &port, "--node-name", "node-b"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answer = poll_for(
        30,
        || "the node never answered".into(),
        || {
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
            .ok()
            .and_then(|mut s| {
                use std::io::{Read, Write};
                s.write_all(b"GET /api/octopusservernodes/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").ok()?;
                let mut text = String::new();
                s.read_to_string(&mut text).ok()?;
                Some(text)
            })
            .filter(|text| text.starts_with("HTTP/1.1 200"))
        },
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"Name\":\"node-b\""), "{answer}");
}

fn nix_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .unwrap()
}
