//! The HTTP test harness: each test gets its own data directory and real SQLite file;
//! requests go through Rocket's local client (tracked cookies, one client per user).

pub mod browser;
pub mod db;
pub mod fault_proxy;
pub mod npm;
pub mod pg;
pub mod raw;
pub mod receiver;
pub mod server;

use std::path::{Path, PathBuf};

use drydock::config::Config;
use drydock::App;
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};
use serde_json::{json, Value};
use tempfile::TempDir;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub dir: TempDir,
    /// Where deployment scripts may write (they may run as another user: see
    /// [`shared_dir`]).
    pub shared: TempDir,
    pub config: Config,
    pub admin_password: String,
    /// The PostgreSQL database the app uses when the suite runs on that backend.
    pub _pg: Option<pg::Database>,
}

/// A temporary directory that deployment scripts may write in: when the tests run as
/// root, drydock runs scripts as `script_user` (`nobody`), who can reach neither the
/// data directory nor a private temporary directory.
pub fn shared_dir() -> TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod the shared directory");
    dir
}

/// A data directory for the real binary, on the suite's backend: when the suite runs on
/// PostgreSQL, its `drydock.toml` names a fresh database of its own (dropped with it).
pub struct DataDir {
    dir: TempDir,
    _pg: Option<pg::Database>,
}

impl DataDir {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Where node `name` keeps its files: on PostgreSQL a data directory of its own
    /// (as if on a host of its own: its own work directory, backups and `secret.key`,
    /// the configuration copied, the database shared), on SQLite this one (nodes of one
    /// SQLite cluster share its file, so they run on one host).
    pub fn node_dir(&self, name: &str) -> PathBuf {
        if self._pg.is_none() {
            return self.path().to_path_buf();
        }
        let own = self.path().join(format!("host-{name}"));
        std::fs::create_dir_all(&own).expect("the node's data directory");
        std::fs::copy(
            self.path().join(drydock::config::CONFIG_FILE),
            own.join(drydock::config::CONFIG_FILE),
        )
        .expect("copy drydock.toml");
        own
    }

    /// The name of its PostgreSQL database, when it has one.
    pub fn postgres_name(&self) -> Option<&str> {
        self._pg.as_ref().map(|db| db.name())
    }

    /// The `master_key_file` line of this cluster's nodes on PostgreSQL (each has a data
    /// directory of its own, and they must share one key, as an operator's do); empty
    /// on SQLite, whose nodes share the data directory's `master.key`.
    pub fn master_key_setting(&self) -> String {
        if self._pg.is_none() {
            return String::new();
        }
        cluster_master_key(self.path())
    }

    /// Writes `drydock.toml` with `text`, keeping the suite's database.
    pub fn configure(&self, text: impl AsRef<str>) {
        let database = self
            ._pg
            .as_ref()
            .map(|db| {
                format!(
                    "database_url = \"{}\"\n{}",
                    db.url,
                    self.master_key_setting()
                )
            })
            .unwrap_or_default();
        std::fs::write(
            self.path().join(drydock::config::CONFIG_FILE),
            format!("{database}{}", text.as_ref()),
        )
        .expect("write drydock.toml");
    }
}

pub fn data_dir() -> DataDir {
    data_dir_on(pg::suite_on_postgres())
}

/// [`data_dir`] on PostgreSQL (`true`) or SQLite, whichever backend the suite runs on.
pub fn data_dir_on(postgres: bool) -> DataDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pg = postgres.then(pg::Database::fresh);
    if let Some(db) = &pg {
        std::fs::write(
            dir.path().join(drydock::config::CONFIG_FILE),
            format!(
                "database_url = \"{}\"\n{}",
                db.url,
                cluster_master_key(dir.path())
            ),
        )
        .expect("write drydock.toml");
    }
    DataDir { dir, _pg: pg }
}

/// Writes `<dir>/cluster-master.key` (once) and returns the `master_key_file` line
/// naming it.
pub fn cluster_master_key(dir: &Path) -> String {
    let file = dir.join("cluster-master.key");
    if !file.exists() {
        let key: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + 11) % 256))
            .collect();
        std::fs::write(&file, key).expect("write the cluster's master key");
    }
    format!("master_key_file = \"{}\"\n", file.display())
}

/// One browser-like user: a Rocket client with its own cookie jar.
pub struct Session {
    pub client: Client,
    pub csrf: String,
}

impl TestApp {
    pub fn new() -> TestApp {
        TestApp::with(|_| {})
    }

    /// A fresh data directory whose configuration `adjust` may change.
    pub fn with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config::for_tests(dir.path());
        config.log_level = "off".into();
        config.hash_concurrency = 4;
        let pg = pg::suite_on_postgres().then(pg::Database::fresh);
        if let Some(db) = &pg {
            // Where the command line and the real binary on this data directory read it.
            config.database_url = Some(db.url.clone());
            let key = cluster_master_key(dir.path());
            config.master_key_file = Some(dir.path().join("cluster-master.key"));
            std::fs::write(
                dir.path().join(drydock::config::CONFIG_FILE),
                format!("database_url = \"{}\"\n{key}", db.url),
            )
            .expect("write drydock.toml");
        }
        adjust(&mut config);
        let opened = App::open(config.clone()).expect("open the data directory");
        let admin_password = opened
            .initial_admin_password
            .expect("first start creates admin");
        drop(opened.app);
        TestApp {
            dir,
            shared: shared_dir(),
            config,
            admin_password,
            _pg: pg,
        }
    }

    /// A file in [`TestApp::shared`], for scripts to write and the test to read.
    pub fn shared_file(&self, name: &str) -> PathBuf {
        self.shared.path().join(name)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new client: a separate server instance (its own node name) on the same data
    /// directory.
    pub fn client(&self) -> Client {
        self.client_with(|_| {})
    }

    /// [`TestApp::client`] with its node's configuration changed by `adjust`.
    pub fn client_with(&self, adjust: impl FnOnce(&mut Config)) -> Client {
        static NODES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut config = self.config.clone();
        adjust(&mut config);
        let n = NODES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        config.node_name = format!("test-node-{n}");
        let opened = App::open(config).expect("reopen");
        assert!(opened.initial_admin_password.is_none());
        let rocket = drydock::rocket(opened.app).expect("build rocket");
        Client::tracked(rocket).expect("valid rocket")
    }

    /// Signs in through the login form; panics unless it succeeds.
    pub fn session(&self, username: &str, password: &str) -> Session {
        let client = self.client();
        let response = login(&client, username, password);
        assert_eq!(
            response.status(),
            Status::SeeOther,
            "sign-in of {username} failed"
        );
        drop(response);
        let csrf = csrf_of(&client, "/profile");
        Session { client, csrf }
    }

    pub fn admin(&self) -> Session {
        self.session("admin", &self.admin_password)
    }

    /// Creates a user with `roles` (as the admin, through the API) and returns an API key
    /// for them.
    pub fn user_with_key(&self, username: &str, roles: &[&str]) -> String {
        let admin = self.admin();
        let created = admin.post_json(
            "/api/users",
            json!({"Username": username, "Password": PASSWORD, "Roles": roles}),
        );
        assert_eq!(created.0, Status::Created, "{}", created.1);
        let id = created.1["Id"].as_str().expect("Id").to_string();
        let key = admin.post_json(
            &format!("/api/users/{id}/apikeys"),
            json!({"Purpose": "tests"}),
        );
        assert_eq!(key.0, Status::Created, "{}", key.1);
        key.1["ApiKey"].as_str().expect("ApiKey").to_string()
    }

    /// The store on this app's database, as a node opens it (for assertions).
    pub fn store(&self) -> drydock::store::Store {
        drydock::store::Store::open(&self.config).expect("open the store")
    }

    /// The test's own connection to this app's database (for assertions only).
    pub fn db(&self) -> db::Db {
        db::Db::open(&self.config)
    }

    /// Row counts of every table but `except`: what a refused request must leave as it was.
    pub fn row_counts(&self, except: &[&str]) -> Vec<(String, i64)> {
        let db = self.db();
        db.tables()
            .into_iter()
            .filter(|t| !except.contains(&t.as_str()))
            .map(|t| {
                // task_counts: the tasks it counts (on PostgreSQL its rows are changes
                // in count, folded together by the queue's round).
                let n = if t == "task_counts" {
                    db.one(
                        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM task_counts",
                        &[],
                    )
                } else {
                    db.one(&format!("SELECT COUNT(*) FROM {t}"), &[])
                };
                (t, n)
            })
            .collect()
    }

    pub fn count(&self, table: &str) -> i64 {
        self.db().one(&format!("SELECT COUNT(*) FROM {table}"), &[])
    }
}

/// Posts the login form after fetching it (which sets the login CSRF cookie).
pub fn login<'c>(client: &'c Client, username: &str, password: &str) -> LocalResponse<'c> {
    let csrf = csrf_of(client, "/login");
    client
        .post("/login")
        .header(ContentType::Form)
        .body(form(&[
            ("username", username),
            ("password", password),
            ("csrf_token", &csrf),
            ("next", "/"),
        ]))
        .dispatch()
}

/// The CSRF token in the first form of the page at `path`.
pub fn csrf_of(client: &Client, path: &str) -> String {
    let html = client
        .get(path)
        .dispatch()
        .into_string()
        .unwrap_or_default();
    hidden_value(&html, "csrf_token").unwrap_or_else(|| panic!("no csrf_token on {path}: {html}"))
}

pub fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// `application/x-www-form-urlencoded` encoding of `fields`.
pub fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn json_of(response: LocalResponse<'_>) -> (Status, Value) {
    let status = response.status();
    let body = response.into_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

impl Session {
    pub fn get_json(&self, path: &str) -> (Status, Value) {
        json_of(self.client.get(path.to_string()).dispatch())
    }

    /// A JSON request from the browser session (carries the CSRF header).
    pub fn send_json(
        &self,
        method: rocket::http::Method,
        path: &str,
        body: Value,
    ) -> (Status, Value) {
        json_of(
            self.client
                .req(method, path.to_string())
                .header(ContentType::JSON)
                .header(Header::new("X-CSRF-Token", self.csrf.clone()))
                .body(body.to_string())
                .dispatch(),
        )
    }

    pub fn post_json(&self, path: &str, body: Value) -> (Status, Value) {
        self.send_json(rocket::http::Method::Post, path, body)
    }

    /// Posts an HTML form with this session's CSRF token.
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> LocalResponse<'_> {
        let mut all = vec![("csrf_token", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.client
            .post(path.to_string())
            .header(ContentType::Form)
            .body(form(&all))
            .dispatch()
    }
}

/// Creates project `P` (with `script`), environment `E` and release `1` through the
/// API; returns their ids (as JSON strings, ready for request bodies).
pub fn project_env_release(client: &Client, key: &str, script: &str) -> (Value, Value, Value) {
    let create = |path: &str, body: Value| {
        let (status, json) = json_of(with_key(
            client,
            rocket::http::Method::Post,
            path,
            key,
            Some(body),
        ));
        assert_eq!(status, Status::Created, "{path}: {json}");
        json["Id"].clone()
    };
    let project = create(
        "/api/projects",
        json!({"Name": "P", "DeploymentScript": script}),
    );
    let env = create("/api/environments", json!({"Name": "E"}));
    let release = create(
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    );
    (project, env, release)
}

/// A request authenticated by API key.
pub fn with_key<'c>(
    client: &'c Client,
    method: rocket::http::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> LocalResponse<'c> {
    let mut request = client
        .req(method, path.to_string())
        .header(Header::new("X-Octopus-ApiKey", key.to_string()));
    if let Some(body) = body {
        request = request.header(ContentType::JSON).body(body.to_string());
    }
    request.dispatch()
}

/// Queues a deployment through the API (asserting 201) and returns its task id.
pub fn deploy(client: &Client, key: &str, release: &Value, env: &Value) -> String {
    let (status, d) = json_of(with_key(
        client,
        rocket::http::Method::Post,
        "/api/deployments",
        key,
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    ));
    assert_eq!(status, Status::Created, "{d}");
    d["TaskId"].as_str().expect("TaskId").to_string()
}

/// Polls task `id` until `done` says so, for at most `secs`; returns it.
pub fn wait_task(
    client: &Client,
    key: &str,
    id: &str,
    secs: u64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let (_, task) = json_of(with_key(
            client,
            rocket::http::Method::Get,
            &format!("/api/tasks/{id}"),
            key,
            None,
        ));
        if done(&task) {
            return task;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} never {what}: {task}"
        );
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// Waits until task `id` is completed, whatever its state.
pub fn wait_completed(client: &Client, key: &str, id: &str, secs: u64) -> Value {
    wait_task(client, key, id, secs, "completed", |t| {
        t["IsCompleted"] == true
    })
}

/// Waits until task `id` is in `state`.
pub fn wait_state(client: &Client, key: &str, id: &str, state: &str, secs: u64) -> Value {
    wait_task(client, key, id, secs, &format!("reached {state}"), |t| {
        t["State"] == state
    })
}

/// Every mounted route that is not GET/HEAD, as (method, path pattern), and each API
/// route once more under Octopus's space prefix `/api/Spaces-1/`, which is served by a
/// rewrite rather than routes of its own.
pub fn mutating_routes(client: &Client) -> Vec<(rocket::http::Method, String)> {
    use rocket::http::Method;
    let mounted: Vec<(Method, String)> = client
        .rocket()
        .routes()
        .filter(|r| !matches!(r.method, Method::Get | Method::Head))
        .map(|r| (r.method, r.uri.path().to_string()))
        .collect();
    let prefixed: Vec<(Method, String)> = mounted
        .iter()
        .filter_map(|(m, p)| {
            p.strip_prefix("/api/")
                .map(|rest| (*m, format!("/api/Spaces-1/{rest}")))
        })
        .collect();
    assert!(!prefixed.is_empty());
    mounted.into_iter().chain(prefixed).collect()
}

/// A route pattern with every `<param>` made concrete: `Users-N` under `/api` (the API's
/// ids), `N` for pages.
pub fn concrete(pattern: &str, n: u32) -> String {
    pattern
        .split('/')
        .map(|segment| {
            if !segment.starts_with('<') {
                segment.to_string()
            } else if pattern.starts_with("/api/") {
                format!("Users-{n}")
            } else {
                n.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Polls `done` every 10 ms until it is true; fails naming `what` after `secs` seconds.
/// How a test waits for something: never a fixed sleep.
pub fn poll_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    poll_for(secs, || what.to_string(), || done().then_some(()))
}

/// Polls `probe` every 10 ms until it gives a value, which it returns; after `secs`
/// seconds fails with `what()` (made only then, so it may read a server's output).
pub fn poll_for<T>(
    secs: u64,
    what: impl FnOnce() -> String,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if std::time::Instant::now() >= deadline {
            panic!("after {secs} s: {}", what());
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Checks for `ms` milliseconds, every 20 ms, that something holds: how a test shows
/// that something does *not* happen (watched through the window, not slept through).
pub fn watch_for(ms: u64, mut check: impl FnMut()) {
    let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    while std::time::Instant::now() < until {
        check();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    check();
}
