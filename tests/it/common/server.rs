//! The real `drydock` binary on a free loopback port, killed when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_drydock"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `drydock --data-dir DIR ARGS...`, with `stdin` fed in; returns (exit code, stdout, stderr).
pub fn run_cli(data_dir: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut command = Command::new(binary());
    command.arg("--data-dir").arg(data_dir).args(args);
    finish_cli(command, stdin)
}

/// `drydock ARGS...` run in `cwd`, as a user types it there: the data directory is the
/// default one or whatever `args` say, relative to `cwd`.
pub fn run_cli_in(cwd: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut command = Command::new(binary());
    command.current_dir(cwd).args(args);
    finish_cli(command, stdin)
}

fn finish_cli(mut command: Command, stdin: &str) -> (i32, String, String) {
    let mut child = command
        .env_remove("DRYDOCK_DATA_DIR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run drydock");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for drydock");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A plain HTTP/1.1 request to a loopback port: (status, body), or None if nothing
/// answered.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// `drydock apikey create` for `username`: the new key.
pub fn api_key(data_dir: &Path, username: &str) -> String {
    let (code, out, err) = run_cli(
        data_dir,
        &[
            "apikey",
            "create",
            "--username",
            username,
            "--purpose",
            "tests",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    out.trim().lines().last().expect("a key").to_string()
}

/// `drydock user create` with one role and `password`.
pub fn create_user(data_dir: &Path, username: &str, role: &str, password: &str) {
    let (code, _, err) = run_cli(
        data_dir,
        &[
            "user",
            "create",
            "--username",
            username,
            "--password-stdin",
            "--role",
            role,
        ],
        &format!("{password}\n"),
    );
    assert_eq!(code, 0, "{err}");
}

/// Drains node `name` (Octopus's `IsInMaintenanceMode` of a node) or undrains it,
/// through `server`.
pub fn drain(server: &Server, key: &str, name: &str, draining: bool) {
    let (status, body) = server.api(
        key,
        "PUT",
        &format!("/api/octopusservernodes/OctopusServerNodes-{name}"),
        Some(serde_json::json!({"IsInMaintenanceMode": draining})),
    );
    assert_eq!(status, 200, "{body}");
}

/// Whether process `pid` runs (a zombie, killed but not yet reaped, does not).
pub fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.split(") ").nth(1).unwrap_or("").starts_with('Z'))
        .unwrap_or(false)
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    /// Starts `drydock serve` on a free port and waits until `/api/health` answers.
    /// A server on a fresh data directory with an admin API key, and the admin's
    /// initial password (for the pages).
    pub fn with_admin(data_dir: &Path) -> (Server, String, String) {
        let key = api_key(data_dir, "admin");
        let server = Server::start(data_dir);
        let password = std::fs::read_to_string(data_dir.join("initial-admin-password"))
            .expect("the initial admin password");
        (server, key, password)
    }

    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// Starts one node of a cluster: `drydock serve --node-name NAME`.
    pub fn node(data_dir: &Path, name: &str) -> Server {
        Server::start_with(data_dir, &["--node-name", name])
    }

    /// `drydock serve --port P ARGS...`, waiting until `/api/health` answers.
    pub fn start_with(data_dir: &Path, args: &[&str]) -> Server {
        Server::start_full(data_dir, args, &[])
    }

    /// `drydock serve` with extra environment variables for the server process.
    pub fn start_env(data_dir: &Path, vars: &[(&str, &str)]) -> Server {
        Server::start_full(data_dir, &[], vars)
    }

    fn start_full(data_dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Server {
        Server::start_program(&binary(), data_dir, args, vars)
    }

    /// `drydock serve` from a copy of the binary at `program`.
    pub fn start_program(
        program: &Path,
        data_dir: &Path,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Server {
        let port = free_port();
        let log = data_dir.join(format!("serve-{port}.log"));
        let mut command = Command::new(program);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--port", &port.to_string()])
            .args(args)
            .envs(vars.iter().copied());
        Server::spawn(command, port, log)
    }

    /// `drydock serve ARGS...` allowed at most `files` open files (`prlimit`), as a
    /// service manager's limit holds it.
    pub fn start_with_open_files(data_dir: &Path, files: u32, args: &[&str]) -> Server {
        let port = free_port();
        let log = data_dir.join(format!("serve-{port}.log"));
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={files}:{files}"))
            .arg("--")
            .arg(binary())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--port", &port.to_string()])
            .args(args);
        Server::spawn(command, port, log)
    }

    /// `drydock GLOBAL... serve --port P` run in `cwd` with no `--data-dir` unless
    /// `global` gives one, as a new user starts it; its output goes to `log`.
    pub fn start_in(cwd: &Path, global: &[&str], log: PathBuf) -> Server {
        let port = free_port();
        let mut command = Command::new(binary());
        command
            .current_dir(cwd)
            .args(global)
            .args(["serve", "--port", &port.to_string()]);
        Server::spawn(command, port, log)
    }

    fn spawn(mut command: Command, port: u16, log: PathBuf) -> Server {
        let out = std::fs::File::create(&log).expect("log file");
        let child = command
            .env_remove("DRYDOCK_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start drydock serve");
        let server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if matches!(server.get("/api/health"), Some((200, _))) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "drydock did not start: {}",
            std::fs::read_to_string(&server.log).unwrap_or_default()
        );
    }

    /// A JSON API call with an API key: (status, body as JSON, or as a string).
    pub fn api(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, text) = self
            .request(
                method,
                path,
                &[
                    ("X-Octopus-ApiKey", key),
                    ("Content-Type", "application/json"),
                ],
                &body,
            )
            .unwrap_or_else(|| panic!("{method} {path}: no answer from port {}", self.port));
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// POSTs `body` and returns the new resource's `Id`, asserting 201.
    pub fn create(&self, key: &str, path: &str, body: serde_json::Value) -> String {
        let (status, json) = self.api(key, "POST", path, Some(body));
        assert_eq!(status, 201, "{path}: {json}");
        json["Id"].as_str().expect("an Id").to_string()
    }

    /// Polls a task until it reaches one of `states`, for at most `secs`.
    pub fn wait_task(&self, key: &str, id: &str, states: &[&str], secs: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, t) = self.api(key, "GET", &format!("/api/tasks/{id}"), None);
            if states.iter().any(|s| t["State"] == *s) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never reached {states:?}: {t}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's own output so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `secs` for the process to exit; fails with what it wrote.
    pub fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let log = self.log.clone();
        let child = &mut self.child;
        super::poll_for(
            secs,
            || {
                format!(
                    "did not exit: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            },
            || child.try_wait().unwrap(),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A plain HTTP/1.1 GET: (status, body), or None if nothing answered.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        self.request("GET", path, &[], "")
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Option<(u16, String)> {
        request(self.port, method, path, headers, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
