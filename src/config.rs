//! Typed configuration: defaults, then `<data-dir>/drydock.toml`, then `DRYDOCK_*`
//! environment variables, then command-line flags. Loaded once, validated, and passed
//! around as a value (never a global), so tests build as many apps as they like.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// This drydock's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The name of the optional configuration file inside the data directory.
pub const CONFIG_FILE: &str = "drydock.toml";

/// Keys that may be set in `drydock.toml` or as `DRYDOCK_<KEY>`.
const KEYS: &[&str] = &[
    "address",
    "port",
    "synchronous",
    "db_pool_size",
    "db_wait_ms",
    "busy_timeout_ms",
    "session_idle_secs",
    "session_absolute_secs",
    "login_max_failures",
    "login_window_secs",
    "hash_concurrency",
    "secure_cookies",
    "ip_header",
    "node_name",
    "task_cap",
    "queue_poll_ms",
    "pickup_check_ms",
    "cancel_grace_ms",
    "shutdown_grace_secs",
    "node_offline_secs",
    "heartbeat_secs",
    "retention_keep_per_kind",
    "retention_keep_days",
    "backup_keep",
    "retention_interval_secs",
    "backup_interval_secs",
    "session_cleanup_interval_secs",
    "node_health_interval_secs",
    "log_level",
    "metrics_token",
    "body_timeout_secs",
    "keep_alive_secs",
    "script_user",
    "script_nice",
    "script_uids",
    "work_dir",
    "database_url",
    "database_url_file",
    "master_key_file",
    "server_url",
    "webhook_allow_private",
    "webhook_retry_base_ms",
    "webhook_retry_for_secs",
    "maintenance_window_notice_secs",
    "drain_overdue_secs",
];

/// SQLite's `synchronous` setting. `Normal` is safe with WAL against application crashes;
/// `Full` also survives power loss at the cost of an fsync per commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Normal,
    Full,
}

impl Synchronous {
    pub fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Not a file key: chosen by `--data-dir` / `DRYDOCK_DATA_DIR` before the file is read.
    #[serde(skip)]
    pub data_dir: PathBuf,
    pub address: IpAddr,
    pub port: u16,
    pub synchronous: Synchronous,
    pub db_pool_size: u32,
    /// Longest a request waits for a pooled database connection before failing with 503.
    pub db_wait_ms: u64,
    pub busy_timeout_ms: u64,
    pub session_idle_secs: i64,
    pub session_absolute_secs: i64,
    pub login_max_failures: u32,
    pub login_window_secs: i64,
    /// At most this many password hashes run at once (each takes 19 MiB and a core), on
    /// threads of the lowest CPU priority.
    pub hash_concurrency: usize,
    /// Mark cookies `Secure`; set it when drydock is served over TLS (e.g. behind a proxy).
    pub secure_cookies: bool,
    /// The header a reverse proxy puts the client's address in (e.g. `X-Real-IP`), used
    /// for sign-in throttling. Empty (the default): the connection's own address, since
    /// without a proxy anyone could send the header.
    pub ip_header: String,
    /// `off`, `critical`, `normal` or `debug`.
    pub log_level: String,
    /// When set, `GET /metrics` is readable from anywhere with
    /// `Authorization: Bearer <token>`; it is always readable from loopback.
    pub metrics_token: String,
    /// A request body that has not fully arrived this many seconds after the server
    /// began reading it is answered 408 and changes nothing.
    pub body_timeout_secs: u64,
    /// An idle keep-alive connection is closed after this many seconds, and a request's
    /// headers must arrive within it (0: no keep-alive; headers then get 30 s).
    pub keep_alive_secs: u32,
    /// When drydock runs as root, deployment scripts run as this (unprivileged) user.
    pub script_user: String,
    /// A range of user ids no account uses (`START-END`): when drydock runs as root,
    /// each running task's script gets one to itself (with `script_user`'s groups), so
    /// that concurrent scripts cannot read each other's variables. Empty (the
    /// default): every script runs as `script_user`.
    pub script_uids: String,
    /// The CPU niceness deployment scripts run at (0-19): requests to the server go
    /// first when scripts keep the cores busy.
    pub script_nice: i32,
    /// Where tasks get their working directories (default: a directory of this data
    /// directory's own under the system's temporary directory; never inside the data
    /// directory, which scripts must not reach).
    pub work_dir: Option<PathBuf>,
    /// A PostgreSQL database shared by nodes on several hosts
    /// (`postgres://user:pass@host:port/db`, as libpq spells it); unset: the SQLite
    /// file in the data directory.
    pub database_url: Option<String>,
    /// A file holding `database_url` (first line), readable by drydock's user alone:
    /// how to give a URL with a password without it appearing in any process's
    /// arguments or environment.
    pub database_url_file: Option<PathBuf>,
    /// The file holding the master key sensitive values are sealed with (64 hex
    /// digits); unset: `master.key` in the data directory, made at the first start.
    /// Nodes on one PostgreSQL database must all have the same key.
    pub master_key_file: Option<PathBuf>,
    /// This server node's name (default: the host name).
    pub node_name: String,
    /// At most this many tasks run at once on this node.
    pub task_cap: usize,
    /// How often the queue looks for work queued elsewhere, scheduled times and expiries.
    pub queue_poll_ms: u64,
    /// How often the queue reads (without writing) whether another node queued work or
    /// a task ended elsewhere; it claims at once when so.
    pub pickup_check_ms: u64,
    /// After SIGTERM, how long a cancelled script's processes get before SIGKILL.
    pub cancel_grace_ms: u64,
    /// On SIGTERM or Ctrl-C, how long this node waits for its running tasks to finish
    /// before it cancels them (which takes up to `cancel_grace_ms` more).
    pub shutdown_grace_secs: u64,
    /// A node not heard from for this long is offline; `NodeHealth` fails its tasks.
    pub node_offline_secs: i64,
    /// How often this node records its heartbeat.
    pub heartbeat_secs: u64,
    /// Retention keeps, per kind of task, this many newest completed tasks...
    pub retention_keep_per_kind: i64,
    /// ...and every task completed within this many days.
    pub retention_keep_days: i64,
    /// `Backup` keeps this many newest backups.
    pub backup_keep: usize,
    /// System task intervals in seconds (0 disables). Unset: keep what the database holds
    /// (changed on the System tasks page); set: applied at every start.
    pub retention_interval_secs: Option<i64>,
    pub backup_interval_secs: Option<i64>,
    pub session_cleanup_interval_secs: Option<i64>,
    pub node_health_interval_secs: Option<i64>,
    /// The address people reach drydock at (`https://drydock.example.com`), for links
    /// in notifications; unset: `http://address:port`.
    pub server_url: Option<String>,
    /// Send webhooks to loopback, private and link-local addresses too (refused
    /// otherwise, so that a subscription cannot reach what only the server can).
    pub webhook_allow_private: bool,
    /// A failed delivery is tried again after this long, doubling each time (at most
    /// an hour between tries)...
    pub webhook_retry_base_ms: i64,
    /// ...for at most this long after its event; then it is marked failed.
    pub webhook_retry_for_secs: i64,
    /// How long before a scheduled maintenance window starts it is announced
    /// (`MaintenanceWindowAnnounced`).
    pub maintenance_window_notice_secs: i64,
    /// How long maintenance mode may be on with deployments still running before that
    /// is told (`MaintenanceDrainOverdue`).
    pub drain_overdue_secs: i64,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "drydock".into())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("drydock-data"),
            address: IpAddr::from([127, 0, 0, 1]),
            port: 8000,
            synchronous: Synchronous::Normal,
            db_pool_size: 16,
            db_wait_ms: 5_000,
            busy_timeout_ms: 5_000,
            session_idle_secs: 12 * 3600,
            session_absolute_secs: 7 * 24 * 3600,
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            // Half the cores: sign-in bursts leave the other half to everything else.
            hash_concurrency: std::thread::available_parallelism()
                .map(|n| (n.get() / 2).max(1))
                .unwrap_or(1),
            secure_cookies: false,
            ip_header: String::new(),
            log_level: "normal".into(),
            metrics_token: String::new(),
            body_timeout_secs: 30,
            keep_alive_secs: 5,
            script_user: "nobody".into(),
            script_uids: String::new(),
            script_nice: 10,
            work_dir: None,
            database_url: None,
            database_url_file: None,
            master_key_file: None,
            node_name: host_name(),
            task_cap: 5,
            queue_poll_ms: 1_000,
            pickup_check_ms: 100,
            cancel_grace_ms: 10_000,
            shutdown_grace_secs: 60,
            node_offline_secs: 60,
            heartbeat_secs: 10,
            retention_keep_per_kind: 100,
            retention_keep_days: 30,
            backup_keep: 7,
            retention_interval_secs: None,
            backup_interval_secs: None,
            session_cleanup_interval_secs: None,
            node_health_interval_secs: None,
            server_url: None,
            webhook_allow_private: false,
            webhook_retry_base_ms: 1_000,
            webhook_retry_for_secs: 24 * 3600,
            maintenance_window_notice_secs: 3600,
            drain_overdue_secs: 1800,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The URL in `file` (its first line): the file must be readable by its owner alone,
/// as it holds a password.
pub fn read_url_file(file: &Path) -> Result<String, ConfigError> {
    use std::os::unix::fs::MetadataExt;
    let bad = |what: String| {
        ConfigError::Invalid(format!("database_url_file {}: {what}", file.display()))
    };
    let meta = std::fs::metadata(file).map_err(|e| bad(e.to_string()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "others may read it (mode {:o}): it holds a password; chmod 600 it",
            meta.mode() & 0o777
        )));
    }
    let text = std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?;
    let url = text.lines().next().unwrap_or("").trim().to_string();
    if url.is_empty() {
        return Err(bad("is empty: it should hold the PostgreSQL URL".into()));
    }
    Ok(url)
}

impl Config {
    /// Loads the configuration for `data_dir`: defaults, `drydock.toml`, `DRYDOCK_*`.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        Self::from_figment(data_dir, Self::figment(data_dir))
    }

    /// Like [`Config::load`] but ignoring the environment: what tests use, so that a
    /// developer's `DRYDOCK_*` variables do not leak into them.
    pub fn for_tests(data_dir: &Path) -> Config {
        Config {
            data_dir: absolute_dir(data_dir).unwrap_or_else(|_| data_dir.to_path_buf()),
            ..Config::default()
        }
    }

    fn figment(data_dir: &Path) -> Figment {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(data_dir.join(CONFIG_FILE)))
            .merge(Env::prefixed("DRYDOCK_").only(KEYS))
    }

    fn from_figment(data_dir: &Path, figment: Figment) -> Result<Config, ConfigError> {
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.data_dir = absolute_dir(data_dir)?;
        if let Some(file) = &config.database_url_file {
            if config.database_url.is_some() {
                return Err(ConfigError::Invalid(
                    "set database_url or database_url_file, not both".into(),
                ));
            }
            config.database_url = Some(read_url_file(file)?);
        }
        if let Some(file) = &mut config.master_key_file {
            if file.is_relative() {
                *file = config.data_dir.join(&*file);
            }
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str| Err(ConfigError::Invalid(what.to_string()));
        if self.db_pool_size == 0 || self.db_pool_size > 256 {
            return bad("db_pool_size must be between 1 and 256");
        }
        if self.db_wait_ms == 0 {
            return bad("db_wait_ms must be positive");
        }
        if self.session_idle_secs <= 0 || self.session_absolute_secs <= 0 {
            return bad("session_idle_secs and session_absolute_secs must be positive");
        }
        if self.login_max_failures == 0 || self.login_window_secs <= 0 {
            return bad("login_max_failures and login_window_secs must be positive");
        }
        if self.hash_concurrency == 0 || self.hash_concurrency > 64 {
            return bad("hash_concurrency must be between 1 and 64");
        }
        if self.node_name.trim().is_empty() || self.node_name.len() > 100 {
            return bad("node_name must be 1 to 100 characters");
        }
        if self.task_cap == 0 || self.task_cap > 1000 {
            return bad("task_cap must be between 1 and 1000");
        }
        if self.queue_poll_ms == 0 || self.queue_poll_ms > 60_000 {
            return bad("queue_poll_ms must be between 1 and 60000");
        }
        if self.node_offline_secs <= 0
            || self.retention_keep_per_kind < 1
            || self.retention_keep_days < 0
        {
            return bad("node_offline_secs and retention_keep_per_kind must be positive, retention_keep_days not negative");
        }
        if self.heartbeat_secs == 0 || self.heartbeat_secs as i64 >= self.node_offline_secs {
            return bad("heartbeat_secs must be positive and shorter than node_offline_secs");
        }
        if let Some(url) = &self.database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return bad(
                    "database_url must be a PostgreSQL URL (postgres://user:pass@host:port/db)",
                );
            }
        }
        if let Some(work_dir) = &self.work_dir {
            if !work_dir.is_absolute() || work_dir.starts_with(&self.data_dir) {
                return bad("work_dir must be an absolute path outside the data directory");
            }
        }
        if self.keep_alive_secs > 3600 {
            return bad("keep_alive_secs must be between 0 and 3600");
        }
        if self.script_user.trim().is_empty() {
            return bad("script_user must name a user");
        }
        if !(0..=19).contains(&self.script_nice) {
            return bad("script_nice must be between 0 and 19");
        }
        if self.body_timeout_secs == 0 || self.body_timeout_secs > 3600 {
            return bad("body_timeout_secs must be between 1 and 3600");
        }
        if self.backup_keep == 0 {
            return bad("backup_keep must be at least 1");
        }
        let intervals = [
            self.retention_interval_secs,
            self.backup_interval_secs,
            self.session_cleanup_interval_secs,
            self.node_health_interval_secs,
        ];
        if intervals.iter().flatten().any(|secs| *secs < 0) {
            return bad(
                "system task intervals must be 0 (disabled) or a positive number of seconds",
            );
        }
        if !["off", "critical", "normal", "debug"].contains(&self.log_level.as_str()) {
            return bad("log_level must be one of off, critical, normal, debug");
        }
        Ok(())
    }

    /// The database file. Absolute: [`Config::load`] resolves the data directory.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("drydock.db")
    }

    pub fn db_wait(&self) -> Duration {
        Duration::from_millis(self.db_wait_ms)
    }
}

/// `dir` as an absolute path with its existing part's symbolic links resolved, as the
/// kernel reports it (`/proc/<pid>/cwd`). Resolved once, at start-up: nothing after it
/// depends on the process's working directory (scripts run in their own, backups are
/// written by SQLite, orphan reaping compares paths under `/proc`). A part that does not
/// exist yet is kept as written, after the resolved existing part.
pub fn absolute_dir(dir: &Path) -> Result<PathBuf, ConfigError> {
    let invalid =
        |e: std::io::Error| ConfigError::Invalid(format!("data directory {}: {e}", dir.display()));
    if dir.as_os_str().is_empty() {
        return Err(ConfigError::Invalid(
            "the data directory must not be empty".into(),
        ));
    }
    let absolute = std::path::absolute(dir).map_err(invalid)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(resolved) => {
                let mut path = resolved;
                path.extend(rest.iter().rev());
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(invalid(e)),
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            // Only the root is left, and it always exists; `..` parts are handled by
            // canonicalize once an existing prefix is found.
            _ => return Ok(absolute),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_override_defaults_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "port = 9001\nsynchronous = \"full\"\n",
        )
        .unwrap();
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(dir.path().join(CONFIG_FILE)));
        let config = Config::from_figment(dir.path(), figment).unwrap();
        assert_eq!(config.port, 9001);
        assert_eq!(config.synchronous, Synchronous::Full);

        std::fs::write(dir.path().join(CONFIG_FILE), "prot = 9001\n").unwrap();
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(dir.path().join(CONFIG_FILE)));
        let err = Config::from_figment(dir.path(), figment).unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn out_of_range_values_fail_fast() {
        let config = Config {
            db_pool_size: 0,
            ..Config::default()
        };
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("db_pool_size"));
    }
}
