//! Octopus's official TypeScript client, `@octopusdeploy/api-client` at the version pinned
//! in `tests/octopus/package.json` (every dependency pinned by its `package-lock.json`),
//! against the real binary: `tests/octopus/client.js` uses the client's own classes only.
//!
//! The client is installed with `npm ci` into a cache outside the source tree
//! (`$DRYDOCK_TEST_CACHE`, else `~/.cache/drydock-tests`), keyed by the lock file's
//! digest, once per machine. Node and npm must be on the PATH (`.ci/run` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::common::server::{api_key, create_user, Server};

const PACKAGE: &str = include_str!("../octopus/package.json");
const LOCK: &str = include_str!("../octopus/package-lock.json");

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("DRYDOCK_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("drydock-tests")
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it ({e}); are node and npm installed?"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// The pinned client installed (once) in the cache: its `node_modules` directory.
fn installed_client() -> PathBuf {
    let digest = Sha256::digest(format!("{PACKAGE}\n{LOCK}").as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let dir = cache_root().join(format!("octopus-api-client-{key}"));
    let modules = dir.join("node_modules");
    let done = dir.join("installed");
    if done.exists() {
        return modules;
    }
    // Installed beside, then renamed into place: a half-finished install never counts.
    let parent = cache_root();
    std::fs::create_dir_all(&parent).expect("make the test cache");
    let staging = tempfile::tempdir_in(&parent).expect("a staging directory");
    std::fs::write(staging.path().join("package.json"), PACKAGE).unwrap();
    std::fs::write(staging.path().join("package-lock.json"), LOCK).unwrap();
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(staging.path()),
        "npm ci (the pinned @octopusdeploy/api-client)",
    );
    std::fs::write(staging.path().join("installed"), "").unwrap();
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another run installed it first.
        let _ = std::fs::remove_dir_all(&staged);
    }
    assert!(
        done.exists(),
        "the client is not installed in {}",
        dir.display()
    );
    modules
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/octopus/client.js")
}

#[test]
fn octopus_client_works_unchanged() {
    let modules = installed_client();
    let data = tempfile::tempdir().unwrap();
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
