//! The application as one value: [`App`] holds what requests, the queue and the
//! command line share (configuration, store, hasher, queue, metrics), and
//! [`App::open`] prepares a data directory into one. [`crate::server::rocket`] builds
//! the web server around it; the binary and every test go through these two.

use crate::config::{self, Config};
use crate::error::{self, Result};
use crate::password::Hasher;
use crate::store::{self, Store};
use crate::{accounts, files, metrics, queue, system_tasks, tokens};

/// Everything a request handler needs, managed as Rocket state.
pub struct App {
    pub config: Config,
    pub store: Store,
    pub hasher: Hasher,
    pub queue: queue::Queue,
    /// This node's webhook sender (started with the queue).
    pub sender: crate::notify::sender::Sender,
    /// This node's metrics (`GET /metrics`), shared with its queue.
    pub metrics: metrics::Shared,
    /// A stable id of this installation (its data directory), GUID-shaped as Octopus's
    /// `InstallationId`: derived from `secret.key`, so it reveals nothing of it.
    pub installation_id: String,
    /// The key that signs and encrypts cookies: `secret.key` in the data directory, or
    /// on PostgreSQL the cluster's, from the database (every node the same).
    secret_key: String,
    /// The key sensitive variables are sealed with (never in the database; see
    /// [`crate::secrets`]).
    pub master_key: std::sync::Arc<crate::secrets::MasterKey>,
    /// The newest migration this node knows: recorded as its schema level, and what
    /// its queue compares the database's schema with while it runs.
    pub schema_level: i64,
    /// The queue's settings, made once: the stopping node's heartbeats must reach the
    /// same `InTouch` (and cut-off flag) that its watchdog and runners read.
    queue_settings: std::sync::OnceLock<queue::Settings>,
}

/// An opened data directory, and the first administrator's password if this start
/// created them.
pub struct Opened {
    pub app: App,
    pub initial_admin_password: Option<String>,
}

impl App {
    /// Creates the data directory if needed, opens and migrates the database, and on a
    /// database without users creates the first administrator.
    pub fn open(config: Config) -> Result<Opened> {
        App::open_with(config, store::migrate::Migrations::shipped())
    }

    /// [`App::open`] with the migrations a node knows: this binary's, or (a test's
    /// stand-in for a newer binary) more.
    pub fn open_with(mut config: Config, migrations: store::migrate::Migrations) -> Result<Opened> {
        files::prepare_data_dir(&config.data_dir)?;
        // Normally resolved already by `Config::load`; a caller that built its own
        // `Config` with a relative path gets it resolved here, before anything uses it.
        config.data_dir = config::absolute_dir(&config.data_dir)
            .map_err(|e| error::Error::internal_from("resolving the data directory", e))?;
        if config.work_dir.is_none() {
            config.work_dir = Some(files::default_work_dir(&config.data_dir)?);
        }
        let store = Store::open_node(&config, &migrations)?;
        let secret_key = if store.is_postgres() {
            let fresh = tokens::random_hex(32);
            store.bookkeeping_now(|tx| store::settings::shared_setting(tx, "secret_key", &fresh))?
        } else {
            files::secret_key(&config.data_dir)?
        };
        let installation_id = files::installation_id(&secret_key);
        let master_key = crate::secrets::MasterKey::load(&config)?;
        let check = store.bookkeeping_now(|tx| {
            store::settings::shared_setting(
                tx,
                crate::secrets::CHECK_SETTING,
                master_key.check_value(),
            )
        })?;
        if check != master_key.check_value() {
            return Err(crate::secrets::mismatch(&master_key, &check));
        }
        let initial_admin_password = accounts::bootstrap_admin(&store, &config.data_dir)?;
        let hasher = Hasher::new(config.hash_concurrency);
        let metrics = std::sync::Arc::new(metrics::Metrics::new());
        Ok(Opened {
            app: App {
                config,
                store,
                hasher,
                queue: queue::Queue::new(metrics.clone()),
                sender: crate::notify::sender::Sender::new(),
                metrics,
                installation_id,
                secret_key,
                master_key: std::sync::Arc::new(master_key),
                schema_level: migrations.newest(),
                queue_settings: std::sync::OnceLock::new(),
            },
            initial_admin_password,
        })
    }

    /// This node's queue settings, with the built-in system tasks as its jobs (the
    /// queue runs them without naming them).
    pub fn queue_settings(&self) -> queue::Settings {
        self.queue_settings
            .get_or_init(|| {
                let jobs = std::sync::Arc::new(system_tasks::Jobs::from_config(&self.config));
                queue::Settings::from_config(&self.config, jobs)
                    .at_level(self.schema_level)
                    .with_master_key(self.master_key.clone())
            })
            .clone()
    }

    /// This node's webhook sender settings.
    pub fn sender_settings(&self) -> crate::notify::sender::Settings {
        crate::notify::sender::Settings::from_config(
            &self.config,
            self.master_key.clone(),
            self.metrics.clone(),
        )
    }

    /// The key that signs and encrypts cookies (see the field).
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }
}

impl Drop for App {
    /// Whatever owned the server is gone: stop this node's queue and its scripts.
    fn drop(&mut self) {
        self.sender.shutdown();
        self.queue.shutdown();
    }
}

/// The most blocking threads the runtime keeps: one per pooled database connection,
/// and a few for files and hashing hand-offs.
pub fn blocking_threads(config: &Config) -> usize {
    config.db_pool_size as usize + 4
}
