//! All SQL lives under `store`. This file owns the pool, the per-connection pragmas and
//! the three ways in: [`Store::read`], [`Store::change`] (a product change, which needs a
//! [`Proof`](crate::access::Proof)) and [`Store::bookkeeping`] (sessions, throttling, login audit: state that
//! drydock keeps for itself and that maintenance mode must not freeze).
//!
//! Every entry point runs its closure on tokio's blocking pool, so SQLite never blocks
//! the async runtime, and waits at most `db_wait_ms` for a connection.

pub mod api_keys;
pub mod approvals;
pub mod backup;
pub mod busy;
pub mod claim;
pub mod copy;
pub mod deployments;
pub mod events;
pub mod filter;
pub mod freezes;
pub mod idempotency;
pub mod maintenance;
pub mod migrate;
pub mod nodes;
pub mod notices;
pub mod notify;
pub mod projects;
pub mod retention;
pub mod schedules;
pub mod sessions;
pub mod settings;
pub mod slugs;
pub mod sql;
pub mod task_list;
pub mod task_log;
pub mod tasks;
pub mod users;
pub mod variables;
pub mod wake;
pub mod webhooks;

use std::any::Any;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use crate::config::Config;
use crate::error::{Error, Result};
pub use sql::Conn;

#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    wait: Duration,
    /// Why the last write failed because the database could not be written (full disk,
    /// read-only); cleared by the next write that commits. `/api/health` reports it.
    unwritable: Arc<Mutex<Option<String>>>,
}

/// Where the data lives: the SQLite file in the data directory (the default), or a
/// PostgreSQL database that nodes on several hosts share (`database_url`).
enum Backend {
    Sqlite {
        pool: Pool<SqliteConnectionManager>,
        /// SQLite runs one write transaction at a time. Writers of this process queue
        /// here instead of in SQLite's busy handler, which sleeps in steps of
        /// milliseconds and so caps a busy server at a few hundred writes a second.
        /// (Writers in other processes still meet `busy_timeout`.)
        writer: Mutex<()>,
        /// A connection that never writes, kept to ask SQLite whether anything was
        /// committed since ([`Store::data_version`]).
        watch: Mutex<Connection>,
    },
    Postgres {
        pool: PgPool,
        /// Makes the connections that `LISTEN` ([`notify::Listener`]).
        listen: sql::PgManager,
    },
}

/// The PostgreSQL pool. The `postgres` crate's connections run a runtime of their own
/// and must not be closed on a thread that drives async tasks (where the last `Store`
/// often goes, with the `App`): they are then closed on a thread of their own.
struct PgPool(Option<Pool<sql::PgManager>>);

impl PgPool {
    fn get(&self, wait: Duration) -> Result<PooledConnection<sql::PgManager>> {
        let pool = self
            .0
            .as_ref()
            .ok_or_else(|| Error::internal("the PostgreSQL pool is closed"))?;
        Ok(pool.get_timeout(wait)?)
    }
}

impl Drop for PgPool {
    fn drop(&mut self) {
        let Some(pool) = self.0.take() else { return };
        if tokio::runtime::Handle::try_current().is_err() {
            drop(pool);
        } else {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// A connection taken from the pool, of either backend.
enum Pooled {
    Sqlite(PooledConnection<SqliteConnectionManager>),
    Postgres(Box<PooledConnection<sql::PgManager>>),
}

impl Pooled {
    fn conn(&self) -> Conn<'_> {
        match self {
            Pooled::Sqlite(c) => Conn::Sqlite(c),
            Pooled::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// An open transaction, rolled back unless committed (an error, a panic, a failed
/// `COMMIT`), so a pooled connection never goes back to the pool inside one.
struct Open<'c> {
    db: Conn<'c>,
    open: bool,
}

impl<'c> Open<'c> {
    fn begin(db: Conn<'c>, sqlite: &str, postgres: &str) -> Result<Open<'c>> {
        db.batch(db.dialect(sqlite, postgres))?;
        Ok(Open { db, open: true })
    }

    fn commit(mut self) -> Result<()> {
        self.db.batch("COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.batch("ROLLBACK");
        }
    }
}

/// Who makes a change, as the audit log records it: what an [`Admit`] returns.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Option<i64>,
    pub username: String,
    /// How the identity was established (`Session cookie`, `API key`, `Command line`).
    pub via: &'static str,
    /// Whether the actor was an administrator when the change's transaction began.
    pub administrator: bool,
}

/// What a change must pass inside its own transaction. The domain supplies it
/// (`access::Proof` is the one implementation): the store runs it right after the
/// transaction begins, before the change, and knows nothing itself of roles or
/// maintenance mode.
pub trait Admit: Clone + Send + Sync + 'static {
    /// Decides with the database as it is inside the transaction. On success: who the
    /// change is by, and what the change may consult ([`ChangeTx::admitted`]).
    fn admit(&self, conn: &Conn) -> Result<(Identity, Box<dyn Any + Send + Sync>)>;
}

/// A write transaction that an [`Admit`] let through (SQLite: `BEGIN IMMEDIATE`;
/// PostgreSQL: `BEGIN`, with the locks ARCHITECTURE.md lists). Store functions that
/// make product changes take `&ChangeTx`; it reads like a [`Conn`].
pub struct ChangeTx<'c> {
    db: Conn<'c>,
    identity: Identity,
    admitted: Box<dyn Any + Send + Sync>,
}

impl ChangeTx<'_> {
    /// Who makes this change.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// What the admission let the change see (for `access::Proof`: the proof with the
    /// caller's permissions as they were when the transaction began).
    pub fn admitted<T: 'static>(&self) -> Option<&T> {
        self.admitted.downcast_ref()
    }
}

impl<'c> Deref for ChangeTx<'c> {
    type Target = Conn<'c>;
    fn deref(&self) -> &Conn<'c> {
        &self.db
    }
}

/// A write transaction for drydock's own bookkeeping, which maintenance mode does not
/// freeze: sessions, sign-in throttling and the password-check audit events, heartbeats
/// and node records, the task queue's state changes and logs, the system-task schedule,
/// and the system tasks' own work (Retention's deletions among them). Who may open one
/// is a closed list (ARCHITECTURE.md, checked by the architecture test); the store
/// functions that write bookkeeping take `&BookTx`, so a change's data cannot be
/// written through one.
pub struct BookTx<'c>(Conn<'c>);

impl<'c> Deref for BookTx<'c> {
    type Target = Conn<'c>;
    fn deref(&self) -> &Conn<'c> {
        &self.0
    }
}

const CACHE_KIB: i64 = 512;
const SQLITE_HEAP_LIMIT: i64 = 2 << 20;
const STATEMENT_CACHE: usize = 64;

impl Store {
    /// Opens the database `config` names (`database_url`, else the SQLite file in the
    /// data directory), applies pending migrations in one transaction, and builds the
    /// pool.
    /// A command's open: migrations are applied as any command would (an
    /// incompatible one is refused while older nodes run).
    pub fn open(config: &Config) -> Result<Store> {
        Store::open_as(config, &migrate::Migrations::shipped(), None)
    }

    /// A node's open as it starts (`serve`), with the migrations it knows: its own
    /// name's row does not count as a node running beside it.
    pub fn open_node(config: &Config, migrations: &migrate::Migrations) -> Result<Store> {
        Store::open_as(config, migrations, Some(&config.node_name))
    }

    fn open_as(
        config: &Config,
        migrations: &migrate::Migrations,
        node: Option<&str>,
    ) -> Result<Store> {
        let starting = migrate::Starting {
            node,
            offline_ms: config.node_offline_secs * 1000,
            now: crate::clock::now_ms(),
        };
        let backend = match &config.database_url {
            Some(url) => Store::open_postgres(config, url, migrations, &starting)?,
            None => Store::open_sqlite(config, migrations, &starting)?,
        };
        Ok(Store {
            backend: Arc::new(backend),
            wait: config.db_wait(),
            unwritable: Arc::new(Mutex::new(None)),
        })
    }

    /// Creates the SQLite file if needed and sets WAL once.
    fn open_sqlite(
        config: &Config,
        migrations: &migrate::Migrations,
        starting: &migrate::Starting<'_>,
    ) -> Result<Backend> {
        let path = config.db_path();
        let busy = Duration::from_millis(config.busy_timeout_ms);
        let sync = config.synchronous.pragma_value();
        {
            let mut conn = Connection::open(&path)?;
            busy::set_timeout(busy);
            conn.busy_handler(Some(busy::handler))?;
            let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(Error::internal(format!(
                    "could not switch {} to WAL (got {mode})",
                    path.display()
                )));
            }
            conn.pragma_update(None, "foreign_keys", "ON")?;
            // All of SQLite's memory in this process (page caches, statements, schemas
            // of every pooled connection), past which it reuses cached pages instead
            // of growing: the pool's caches cannot add up to more than this.
            conn.query_row(
                &format!("PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT}"),
                [],
                |_| Ok(()),
            )?;
            migrate::apply_set(&mut conn, migrations, starting)?;
        }
        let manager = SqliteConnectionManager::file(&path).with_init(move |c| {
            c.busy_handler(Some(busy::handler))?;
            // rusqlite keeps 16 prepared statements per connection by default: fewer
            // than the queue's round and a page's reads use, so each round parsed its
            // SQL again.
            c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            // A 512 KiB page cache per pooled connection (SQLite's default is 2 MiB):
            // with 16 connections the defaults alone could hold 32 MiB; the OS page
            // cache keeps the file warm anyway.
            c.execute_batch(&format!(
                "PRAGMA foreign_keys=ON; PRAGMA synchronous={sync}; PRAGMA temp_store=MEMORY;
                 PRAGMA cache_size=-{CACHE_KIB};"
            ))
        });
        let pool = Pool::builder()
            .max_size(config.db_pool_size)
            .min_idle(Some(1))
            .connection_timeout(config.db_wait())
            .build(manager)
            .map_err(|e| Error::internal_from(format!("opening {}", path.display()), e))?;
        let watch = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // No busy handler: a caller on the async runtime must never wait on it; when
        // SQLite says busy, callers take the pooled path instead.
        Ok(Backend::Sqlite {
            pool,
            writer: Mutex::new(()),
            watch: Mutex::new(watch),
        })
    }

    /// Connects to PostgreSQL and migrates (one transaction, under a lock, so nodes
    /// starting together migrate once).
    fn open_postgres(
        config: &Config,
        url: &str,
        migrations: &migrate::Migrations,
        starting: &migrate::Starting<'_>,
    ) -> Result<Backend> {
        let manager = sql::PgManager::new(url)?.for_node(&config.node_name);
        let mut first = manager.connect_client()?;
        migrate::apply_postgres_set(&mut first, migrations, starting)?;
        drop(first);
        let pool = Pool::builder()
            .max_size(config.db_pool_size)
            .min_idle(Some(1))
            .connection_timeout(config.db_wait())
            .build(manager)
            .map_err(|e| Error::internal_from(format!("opening {}", sql::redacted(url)), e))?;
        Ok(Backend::Postgres {
            pool: PgPool(Some(pool)),
            listen: sql::PgManager::new(url)?.for_node(&config.node_name),
        })
    }

    /// What makes a listening connection, on PostgreSQL.
    fn listen_manager(&self) -> Option<&sql::PgManager> {
        match &*self.backend {
            Backend::Postgres { listen, .. } => Some(listen),
            Backend::Sqlite { .. } => None,
        }
    }

    /// Whether the database is PostgreSQL (else the SQLite file).
    pub fn is_postgres(&self) -> bool {
        matches!(*self.backend, Backend::Postgres { .. })
    }

    /// SQLite's `data_version` on a connection that never writes: it changes whenever
    /// any connection — of this process or another one on the same file — commits.
    /// Microseconds (it reads SQLite's shared WAL index, no pages), so callers may ask
    /// it on every request, on the async runtime, to tell whether something they
    /// remember may be stale. It never waits for a lock: `Err` when SQLite is busy, and
    /// always on PostgreSQL, which has no such counter (callers then read afresh).
    pub fn data_version(&self) -> Result<i64> {
        match &*self.backend {
            Backend::Sqlite { watch, .. } => {
                let watch = watch
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                Ok(watch.query_row("PRAGMA data_version", [], |r| r.get(0))?)
            }
            Backend::Postgres { .. } => Err(Error::Unavailable(
                "PostgreSQL has no data version to compare".into(),
            )),
        }
    }

    fn pooled(&self) -> Result<Pooled> {
        Ok(match &*self.backend {
            Backend::Sqlite { pool, .. } => Pooled::Sqlite(pool.get_timeout(self.wait)?),
            Backend::Postgres { pool, .. } => Pooled::Postgres(Box::new(pool.get(self.wait)?)),
        })
    }

    /// This process's turn to write on SQLite (a panic in another writer does not block
    /// it); on PostgreSQL writers do not queue in the process.
    fn write_turn(&self) -> Option<MutexGuard<'_, ()>> {
        match &*self.backend {
            Backend::Sqlite { writer, .. } => Some(
                writer
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            ),
            Backend::Postgres { .. } => None,
        }
    }

    /// How long a request's database work may take: bounded on PostgreSQL (a server
    /// across the network may stop answering), not on SQLite (a local file).
    fn answer_within(&self) -> Option<Duration> {
        self.is_postgres().then_some(REQUEST_DB_WITHIN)
    }

    /// Runs `f` on a pooled connection, off the async runtime.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Conn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        let deadline = self.answer_within();
        blocking(deadline, move || store.read_now(f)).await
    }

    /// [`Store::read`] inside one read transaction, so that what `f` reads is one
    /// snapshot (several reads that must agree, e.g. the metrics' gauges).
    pub async fn read_consistent<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&Conn) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        self.read(|c| {
            let tx = Open::begin(
                *c,
                "BEGIN",
                "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            )?;
            let out = f(c)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// Makes a product change: the transaction begins, then `admission` decides inside
    /// it ([`Admit`]), then `f`, then commit.
    pub async fn change<A, T, F>(&self, admission: &A, f: F) -> Result<T>
    where
        A: Admit,
        F: FnOnce(&ChangeTx) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        let admission = admission.clone();
        let deadline = self.answer_within();
        blocking(deadline, move || store.change_now(&admission, f)).await
    }

    /// Writes drydock's own bookkeeping (sessions, throttling, login events).
    pub async fn bookkeeping<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&BookTx) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        let deadline = self.answer_within();
        blocking(deadline, move || store.bookkeeping_now(f)).await
    }

    /// [`Store::read`] for callers that are not async (the command line).
    pub fn read_now<T>(&self, f: impl FnOnce(&Conn) -> Result<T>) -> Result<T> {
        let pooled = self.pooled()?;
        f(&pooled.conn())
    }

    /// [`Store::change`] for callers that are not async (the command line).
    pub fn change_now<A: Admit, T>(
        &self,
        admission: &A,
        f: impl FnOnce(&ChangeTx) -> Result<T>,
    ) -> Result<T> {
        let pooled = self.pooled()?;
        let _turn = self.write_turn();
        busy::count_write();
        let result = (|| {
            let open = Open::begin(pooled.conn(), "BEGIN IMMEDIATE", "BEGIN")?;
            wake::begun();
            let (identity, admitted) = admission.admit(&open.db)?;
            let tx = ChangeTx {
                db: open.db,
                identity,
                admitted,
            };
            let out = f(&tx)?;
            open.commit()?;
            wake::committed();
            Ok(out)
        })();
        self.note_write(result)
    }

    pub fn bookkeeping_now<T>(&self, f: impl FnOnce(&BookTx) -> Result<T>) -> Result<T> {
        let pooled = self.pooled()?;
        let _turn = self.write_turn();
        busy::count_write();
        let result = (|| {
            let open = Open::begin(pooled.conn(), "BEGIN IMMEDIATE", "BEGIN")?;
            wake::begun();
            let out = f(&BookTx(open.db))?;
            open.commit()?;
            wake::committed();
            Ok(out)
        })();
        self.note_write(result)
    }

    /// Remembers whether the database could be written, for `/api/health`.
    fn note_write<T>(&self, result: Result<T>) -> Result<T> {
        let failure = match &result {
            Ok(_) => None,
            Err(e) if e.is_unwritable() => Some(e.to_string()),
            // Refused for another reason (bad input, permissions): says nothing.
            Err(_) => return result,
        };
        if let Ok(mut slot) = self.unwritable.lock() {
            if slot.is_some() != failure.is_some() {
                match &failure {
                    Some(why) => eprintln!("drydock: {why}"),
                    None => println!("drydock: the database can be written again"),
                }
            }
            *slot = failure;
        }
        result
    }

    /// Why the database could not be written at the last attempt, if it could not.
    pub fn unwritable(&self) -> Option<String> {
        self.unwritable.lock().ok().and_then(|slot| slot.clone())
    }

    /// Whether the database answers, for `/api/health`: on SQLite a read transaction on
    /// the watching connection ([`Store::data_version`]), or, when that finds SQLite
    /// busy (and always on PostgreSQL), `SELECT 1` through the pool.
    pub async fn ping(&self) -> Result<()> {
        if self.data_version().is_ok() {
            return Ok(());
        }
        self.read(|c| c.query_one("SELECT 1", &[]).map(|_| ()))
            .await
    }
}

/// How long a request waits for PostgreSQL before it answers 503: a server that stops
/// answering (hung, or its network cut where TCP has not given up yet) holds no
/// request longer. What the request asked may still commit afterwards (docs/cluster.md,
/// "Running across machines": a 5xx on a POST may have committed).
pub const REQUEST_DB_WITHIN: Duration = Duration::from_secs(15);

/// Runs `f` off the async runtime, for at most `deadline` when one is given.
async fn blocking<T: Send + 'static>(
    deadline: Option<Duration>,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let task = tokio::task::spawn_blocking(f);
    let joined = match deadline {
        Some(deadline) => tokio::time::timeout(deadline, task).await.map_err(|_| {
            Error::Unavailable(format!(
                "The database did not answer within {} s; try again shortly.",
                deadline.as_secs()
            ))
        })?,
        None => task.await,
    };
    joined.map_err(|e| Error::internal_from("database task", e))?
}
