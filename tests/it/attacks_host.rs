//! What an outside attacker tried against the host a real install runs on: a second
//! node under a live node's name, a deployment script run by a root drydock reaching
//! for the data directory or the server, a database that cannot be written.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::raw::{login_form, post_login};
use common::server::{api_key, Server};
use serde_json::{json, Value};
/// `drydock serve` on `dir` that is expected to refuse to start: (exit code, output), or
/// `None` (after killing it) if it was still running after 20 s.
fn serve_expecting_refusal(dir: &Path) -> Option<(i32, String)> {
    let log = dir.join("refused.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = std::process::Command::new(common::server::binary())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--port", &common::server::free_port().to_string()])
        .env_remove("DRYDOCK_DATA_DIR")
        .env_remove("DRYDOCK_NODE_NAME")
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some((
                status.code().unwrap_or(-1),
                std::fs::read_to_string(&log).unwrap_or_default(),
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_node_under_a_live_nodes_name_refuses_to_start_and_a_dead_ones_name_is_taken_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let key = api_key(dir.path(), "admin");
    let mut first = Server::start(dir.path()); // the default name: the host name
    let env = first.create(&key, "/api/environments", json!({"Name": "Prod"}));
    let project = first.create(
        &key,
        "/api/projects",
        json!({"Name": "Slow", "DeploymentScript": "sleep 1; echo finished"}),
    );
    let release = first.create(
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    );
    let (_, deployment) = first.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    let task = deployment["TaskId"].as_str().unwrap().to_string();
    first.wait_task(&key, &task, &["Executing"], 20);

    let (code, output) =
        serve_expecting_refusal(dir.path()).expect("a second node under the same name started");
    assert_ne!(code, 0, "{output}");
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(
        output.contains(&format!("already named '{}'", name.trim()))
            && output.contains("--node-name"),
        "the refusal names the node and the way out: {output}"
    );
    let done = first.wait_task(&key, &task, &["Success", "Failed", "Canceled"], 30);
    assert_eq!(done["State"], "Success", "{done}");

    // A node killed with SIGKILL holds nothing: its name is taken at once (not after
    // node_offline_secs), and what it left running is failed by its successor.
    let (_, deployment) = first.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    let second_task = deployment["TaskId"].as_str().unwrap().to_string();
    first.wait_task(&key, &second_task, &["Executing"], 20);
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    drop(first);
    let restarted = Server::start(dir.path());
    let failed = restarted.wait_task(&key, &second_task, &["Failed"], 20);
    assert_eq!(failed["ErrorMessage"], "interrupted: server node stopped");
}

pub(crate) fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    if uid == "0" {
        return true;
    }
    // CI runs as root, where this must be proved; a developer's machine may not.
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI must run the tests as root to prove that scripts never run as root"
    );
    eprintln!("not root: skipping what only a root-run drydock can show");
    false
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn a_deployment_script_cannot_reach_the_data_directory_or_act_as_the_server() {
    if !running_as_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // Everything above the data directory is open to every local user, and the data
    // directory starts out as wide as an old drydock made it: only drydock's own modes
    // may protect it.
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let key = api_key(&data, "admin");
    let server = Server::start_env(&data, &[("DRYDOCK_TEST_SERVER_SECRET", "hunter2")]);
    assert!(
        server.output().contains("tightened") || mode(&data) == 0o700,
        "{}",
        server.output()
    );

    let (code, out, err) = common::server::run_cli(
        &data,
        &["maintenance", "enable", "--message", "upgrade"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");

    let bin = common::server::binary();
    let d = data.display();
    let script = format!(
        r#"echo "uid=$(id -u) gid=$(id -g)"
for f in {d}/secret.key {d}/initial-admin-password {d}/drydock.db {d}/drydock.db-wal; do
  if head -c 1 "$f" >/dev/null 2>&1; then echo "READ $f"; else echo "DENIED $f"; fi
done
if ls {d} >/dev/null 2>&1; then echo "LISTED data"; else echo "DENIED listing"; fi
for exe in /proc/$PPID/exe /proc/{server_pid}/exe {bin}; do
  if "$exe" --data-dir {d} maintenance disable >/dev/null 2>&1; then echo "RAN maintenance disable with $exe"; else echo "DENIED maintenance disable with $exe"; fi
  if echo 'a long password here' | "$exe" --data-dir {d} user create --username mallory --password-stdin --role 'System Administrator' >/dev/null 2>&1; then echo "RAN user create with $exe"; else echo "DENIED user create with $exe"; fi
done
if kill -0 {server_pid} 2>/dev/null; then echo "SIGNALLED the server"; else echo "DENIED signal"; fi
echo "env: $(env | sort | tr '\n' ' ')"
"#,
        bin = bin.display(),
        // As root the script's parent is the node's script launcher, not the server.
        server_pid = server.child.id(),
    );
    let env = server.create(&key, "/api/environments", json!({"Name": "Prod"}));
    let project = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Turncoat", "DeploymentScript": script}),
    );
    let release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    );
    // An administrator may deploy in maintenance mode; the script is someone else's.
    let (status, deployment) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{deployment}");
    let task = deployment["TaskId"].as_str().unwrap().to_string();
    let done = server.wait_task(&key, &task, &["Success", "Failed", "TimedOut"], 60);
    let (_, raw) = server.api(&key, "GET", &format!("/api/tasks/{task}/raw"), None);
    let log = raw.as_str().unwrap_or_default().to_string();
    assert_eq!(done["State"], "Success", "{done}\n{log}");

    let uid = log
        .split("uid=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the script printed its uid");
    assert_ne!(uid, "0", "the script ran as root:\n{log}");
    for refused in [
        "DENIED ".to_string() + &data.join("secret.key").display().to_string(),
        "DENIED ".to_string() + &data.join("initial-admin-password").display().to_string(),
        "DENIED ".to_string() + &data.join("drydock.db").display().to_string(),
        "DENIED listing".to_string(),
        "DENIED signal".to_string(),
    ] {
        assert!(log.contains(&refused), "missing '{refused}':\n{log}");
    }
    assert!(
        !log.contains("READ ")
            && !log.contains("RAN ")
            && !log.contains("LISTED")
            && !log.contains("SIGNALLED"),
        "{log}"
    );
    assert_eq!(
        log.matches("DENIED maintenance disable").count(),
        3,
        "{log}"
    );
    assert_eq!(log.matches("DENIED user create").count(), 3, "{log}");
    // A clean environment: nothing of the server's own.
    assert!(
        !log.contains("hunter2") && !log.contains("DRYDOCK_TEST_SERVER_SECRET"),
        "{log}"
    );
    assert!(log.contains(&format!("DRYDOCK_TASK_ID={task}")), "{log}");

    let (_, mode_now) = server.api(&key, "GET", "/api/maintenanceconfiguration", None);
    assert_eq!(mode_now["IsInMaintenanceMode"], true);
    let (_, users) = server.api(&key, "GET", "/api/users", None);
    assert!(!users.to_string().contains("mallory"), "{users}");

    // Everything drydock writes in the data directory is its user's alone.
    let (status, backup) = server.api(&key, "POST", "/api/tasks", Some(json!({"Name": "Backup"})));
    assert_eq!(status, 201, "{backup}");
    let backup = backup["Id"].as_str().unwrap().to_string();
    let done = server.wait_task(&key, &backup, &["Success", "Failed"], 60);
    assert_eq!(done["State"], "Success", "{done}");
    let copy = root.path().join("copy.db");
    let (code, out, err) =
        common::server::run_cli(&data, &["backup", "--out", copy.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(mode(&copy), 0o600);
    let mut seen = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(dir) = stack.pop() {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() {
                stack.push(path);
            } else if !name.starts_with("serve-") {
                // (serve-*.log is this test's capture of the server's output.)
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                seen.push(name);
            }
        }
    }
    for expected in [
        "drydock.db",
        "drydock.db-wal",
        "drydock.db-shm",
        "secret.key",
        "initial-admin-password",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected} not found in {seen:?}"
        );
    }
    assert!(
        seen.iter().any(|s| s.ends_with(".db") && s != "drydock.db"),
        "no backup in {seen:?}"
    );
}

#[test]
fn a_database_that_cannot_be_written_answers_503_health_says_why_and_it_recovers() {
    if !running_as_root() {
        return;
    }
    let Some(small) = SmallDisk::serve() else {
        return;
    };
    let (data, key, server) = (&small.data, &small.key, &small.server);
    server.create(key, "/api/environments", json!({"Name": "Before"}));
    let (filler, i, body) = small.fill_until_refused();
    let message = body["ErrorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("cannot be written") && message.contains("disk is full"),
        "{body}"
    );
    let (_, envs) = server.api(key, "GET", "/api/environments?take=1000", None);
    assert!(
        !envs.to_string().contains(&format!("Full {i}\"")),
        "the refused change was kept"
    );

    // A sign-in needs a write too: refused the same way, never a 500.
    let password = std::fs::read_to_string(data.join("initial-admin-password")).unwrap();
    let answer = post_login(
        server.port,
        &login_form(server.port),
        "admin",
        &password,
        "",
    );
    assert_eq!(answer.status, 503, "{}{}", answer.head, answer.body);
    assert!(answer.body.contains("cannot be written"), "{}", answer.body);

    let (status, health) = server.api(key, "GET", "/api/health", None);
    assert_eq!(status, 503, "{health}");
    assert!(
        health["ErrorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("disk is full"),
        "{health}"
    );

    // Space again: health recovers by itself, and so do writes.
    std::fs::remove_file(&filler).unwrap();
    common::poll_until(20, "health never recovered", || {
        server.api(key, "GET", "/api/health", None).0 == 200
    });
    server.create(key, "/api/environments", json!({"Name": "After"}));
}

/// A node whose data directory is on a 16 MiB tmpfs, to fill (root only; `None`
/// elsewhere outside CI): its log is outside the disk. Its fields go in order: the
/// server stops before the disk is unmounted.
pub(crate) struct SmallDisk {
    pub(crate) server: Server,
    pub(crate) key: String,
    pub(crate) data: std::path::PathBuf,
    _outside: tempfile::TempDir,
    pub(crate) disk: Tmpfs,
}

impl SmallDisk {
    pub(crate) fn serve() -> Option<SmallDisk> {
        let disk = Tmpfs::mount("16m")?;
        let data = disk.path().join("data");
        let key = api_key(&data, "admin");
        let outside = tempfile::tempdir().unwrap();
        let server = Server::start_in(
            outside.path(),
            &["--data-dir", data.to_str().unwrap()],
            outside.path().join("serve.log"),
        );
        Some(SmallDisk {
            server,
            key,
            data,
            _outside: outside,
            disk,
        })
    }

    /// Fills the disk, then creates environments until the database refuses one
    /// (503, never 500): the file that fills the disk, the number of the refused
    /// environment (`Full N`) and the refusal.
    pub(crate) fn fill_until_refused(&self) -> (std::path::PathBuf, usize, Value) {
        let filler = self.disk.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        for i in 0..200 {
            let (status, body) = self.server.api(
                &self.key,
                "POST",
                "/api/environments",
                Some(json!({"Name": format!("Full {i}"), "Description": "x".repeat(2000)})),
            );
            assert_ne!(status, 500, "{body}");
            if status == 503 {
                return (filler, i, body);
            }
            assert_eq!(status, 201, "{body}");
        }
        panic!("no write was refused on a full disk");
    }
}

/// A small tmpfs mounted for one test, unmounted when dropped.
pub(crate) struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub(crate) fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs as root and can mount a tmpfs"
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
