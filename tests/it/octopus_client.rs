//! Octopus's official TypeScript client, `@octopusdeploy/api-client` at the version pinned
//! in `tests/octopus/package.json` (every dependency pinned by its `package-lock.json`),
//! against the real binary: `tests/octopus/client.js` uses the client's own classes only.
//!
//! The client is installed with `npm ci` into a cache outside the source tree
//! (`common::npm`), once per machine. Node and npm must be on the PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::npm;
use crate::common::server::{api_key, create_user, Server};

const PACKAGE: &str = include_str!("../octopus/package.json");
const LOCK: &str = include_str!("../octopus/package-lock.json");

/// The pinned client installed (once) in the cache: its `node_modules` directory.
fn installed_client() -> PathBuf {
    npm::installed("octopus-api-client", PACKAGE, LOCK)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/octopus/client.js")
}

#[test]
fn octopus_client_works_unchanged() {
    let modules = installed_client();
    let data = crate::common::data_dir();
    create_user(
        data.path(),
        "deployer",
        "Project Deployer",
        "deployer-password-1",
    );
    let server = Server::start(data.path());
    let admin = api_key(data.path(), "admin");
    let deployer = api_key(data.path(), "deployer");
    let out = Command::new("node")
        .arg(script())
        .env("NODE_PATH", &modules)
        .env("DRYDOCK_URL", server.url(""))
        .env("ADMIN_KEY", &admin)
        .env("DEPLOYER_KEY", &deployer)
        .output()
        .expect("run node: is Node.js installed?");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "Octopus's client failed against drydock:\n{text}\nserver log:\n{}",
        server.output()
    );
    // Every step ran and passed: the script's steps, counted from its own source.
    let source = std::fs::read_to_string(script()).unwrap();
    let steps = source.matches("await step(").count();
    let passed = text.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, steps, "{text}");
    assert!(text.contains("all client steps passed"), "{text}");
}
