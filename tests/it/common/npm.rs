//! npm and pip packages the tests use (Octopus's clients, axe-core), installed with `npm ci` from
//! a committed package.json and package-lock.json (every version pinned) into a cache
//! outside the source tree: `$DRYDOCK_TEST_CACHE`, else `~/.cache/drydock-tests`, keyed
//! by the files' digest, once per machine. Node and npm must be on the PATH
//! (`scripts/test.sh` installs them when missing).

use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("DRYDOCK_TEST_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache").join("drydock-tests")
}

/// Runs `command`, failing the test with its output if it fails.
pub fn run(command: &mut Command, what: &str) -> String {
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

/// The packages of `package_json` + `package_lock` installed (once): their
/// `node_modules` directory. `name` names the cache entry.
pub fn installed(name: &str, package_json: &str, package_lock: &str) -> PathBuf {
    let digest = Sha256::digest(format!("{package_json}\n{package_lock}").as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let root = cache_root();
    let dir = root.join(format!("{name}-{key}"));
    let modules = dir.join("node_modules");
    let done = dir.join("installed");
    if done.exists() {
        return modules;
    }
    // Installed beside, then renamed into place: a half-finished install never counts.
    std::fs::create_dir_all(&root).expect("make the test cache");
    let staging = tempfile::tempdir_in(&root).expect("a staging directory");
    std::fs::write(staging.path().join("package.json"), package_json).unwrap();
    std::fs::write(staging.path().join("package-lock.json"), package_lock).unwrap();
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(staging.path()),
        &format!("npm ci ({name})"),
    );
    std::fs::write(staging.path().join("installed"), "").unwrap();
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        // Another run installed it first.
        let _ = std::fs::remove_dir_all(&staged);
    }
    assert!(
        done.exists(),
        "{name} is not installed in {}",
        dir.display()
    );
    modules
}

/// The Python packages of `requirements` (every version pinned, dependencies listed, so
/// `--no-deps`) installed (once) with `pip install --target` into the same cache: the
/// directory to put on `PYTHONPATH`. `name` names the cache entry.
pub fn pip_installed(name: &str, requirements: &str) -> PathBuf {
    let digest = Sha256::digest(requirements.as_bytes());
    let key: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let root = cache_root();
    let dir = root.join(format!("{name}-{key}"));
    let packages = dir.join("packages");
    if dir.join("installed").exists() {
        return packages;
    }
    std::fs::create_dir_all(&root).expect("make the test cache");
    let staging = tempfile::tempdir_in(&root).expect("a staging directory");
    let listed = staging.path().join("requirements.txt");
    std::fs::write(&listed, requirements).unwrap();
    run(
        Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "--no-input"])
            .arg("--target")
            .arg(staging.path().join("packages"))
            .arg("-r")
            .arg(&listed),
        &format!("pip install ({name})"),
    );
    std::fs::write(staging.path().join("installed"), "").unwrap();
    let staged = staging.keep();
    if std::fs::rename(&staged, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&staged);
    }
    assert!(
        dir.join("installed").exists(),
        "{name} is not installed in {}",
        dir.display()
    );
    packages
}
