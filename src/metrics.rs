//! Operator metrics at `GET /metrics` in the Prometheus (OpenMetrics) text format.
//!
//! Counters and histograms are this process's (this node's) since it started: HTTP
//! requests by route, method and status, task durations by kind, queue-to-start
//! latency, changes refused in maintenance mode, SQLite lock waits. Gauges are read
//! from the database at each scrape and describe the whole cluster: the maintenance
//! flag, tasks by state, executing tasks per node.
//!
//! Readable without signing in from loopback only, or from anywhere with
//! `Authorization: Bearer <metrics_token>` when a token is configured.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Status};
use rocket::request::{FromRequest, Outcome};
use rocket::{Request, Response, State};

use crate::error::{Error, Result};
use crate::store::{self, system, tasks};
use crate::App;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
}

fn task_duration_histogram() -> Histogram {
    // 10 ms to about 45 minutes.
    Histogram::new(exponential_buckets(0.01, 2.0, 18))
}

/// This process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Counter>,
    task_duration: Family<KindLabels, Histogram, fn() -> Histogram>,
    queue_to_start: Histogram,
    refused: Counter,
    maintenance: Gauge,
    tasks_by_state: Family<StateLabels, Gauge>,
    executing_per_node: Family<NodeLabels, Gauge>,
    sqlite_writes: Counter,
    sqlite_busy_waits: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("drydock");
        let http = Family::<HttpLabels, Counter>::default();
        let task_duration: Family<KindLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(task_duration_histogram);
        // 1 ms to about 65 s.
        let queue_to_start = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let refused = Counter::default();
        let maintenance = Gauge::default();
        let tasks_by_state = Family::<StateLabels, Gauge>::default();
        let executing_per_node = Family::<NodeLabels, Gauge>::default();
        let sqlite_writes = Counter::default();
        let sqlite_busy_waits = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests answered by this node, by route, method and status",
            http.clone(),
        );
        registry.register(
            "task_duration_seconds",
            "Run time of tasks this node ran, by kind (Deploy, Retention, Backup, ...)",
            task_duration.clone(),
        );
        registry.register(
            "queue_to_start_seconds",
            "Time from a task's queue time to its start, for tasks this node started",
            queue_to_start.clone(),
        );
        registry.register(
            "maintenance_refused_changes",
            "Changes refused by this node because maintenance mode was on",
            refused.clone(),
        );
        registry.register(
            "maintenance_mode",
            "1 while maintenance mode is on (cluster-wide)",
            maintenance.clone(),
        );
        registry.register(
            "tasks",
            "Tasks by state (cluster-wide)",
            tasks_by_state.clone(),
        );
        registry.register(
            "executing_tasks",
            "Executing or cancelling tasks per server node",
            executing_per_node.clone(),
        );
        registry.register(
            "sqlite_write_transactions",
            "Write transactions begun by this node",
            sqlite_writes.clone(),
        );
        registry.register(
            "sqlite_busy_waits",
            "Waits for another process's write lock (SQLITE_BUSY retries) by this node",
            sqlite_busy_waits.clone(),
        );
        Metrics {
            registry,
            http,
            task_duration,
            queue_to_start,
            refused,
            maintenance,
            tasks_by_state,
            executing_per_node,
            sqlite_writes,
            sqlite_busy_waits,
        }
    }

    pub fn count_refusal(&self) {
        self.refused.inc();
    }

    pub fn refusals(&self) -> u64 {
        self.refused.get()
    }

    pub fn observe_task(&self, kind: &str, seconds: f64) {
        self.task_duration
            .get_or_create(&KindLabels {
                kind: kind.to_string(),
            })
            .observe(seconds);
    }

    pub fn observe_queue_to_start(&self, seconds: f64) {
        self.queue_to_start.observe(seconds.max(0.0));
    }

    fn count_request(&self, method: &str, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// Reads the cluster-wide gauges from the database and encodes everything.
    fn render(&self, snapshot: Snapshot) -> Result<String> {
        self.maintenance.set(i64::from(snapshot.maintenance));
        self.tasks_by_state.clear();
        for (state, n) in snapshot.states {
            self.tasks_by_state
                .get_or_create(&StateLabels { state })
                .set(n);
        }
        self.executing_per_node.clear();
        for (node, n) in snapshot.executing {
            self.executing_per_node
                .get_or_create(&NodeLabels { node })
                .set(n);
        }
        let busy = store::busy::stats();
        catch_up(&self.sqlite_writes, busy.writes);
        catch_up(&self.sqlite_busy_waits, busy.retries);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .map_err(|e| Error::Internal(format!("encoding metrics: {e}")))?;
        Ok(out)
    }
}

/// Moves a counter up to a total kept elsewhere.
fn catch_up(counter: &Counter, total: u64) {
    let now = counter.get();
    if total > now {
        counter.inc_by(total - now);
    }
}

struct Snapshot {
    maintenance: bool,
    states: Vec<(String, i64)>,
    executing: Vec<(String, i64)>,
}

/// Counts every answered request by its route template (`/api/tasks/<id>`, so that ids
/// do not make new series), method and status.
pub struct RequestCounter;

#[rocket::async_trait]
impl Fairing for RequestCounter {
    fn info(&self) -> Info {
        Info {
            name: "request metrics",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if let Some(app) = req.rocket().state::<App>() {
            let route = req
                .route()
                .map(|r| r.uri.as_str().to_string())
                .unwrap_or_else(|| "unmatched".into());
            app.metrics
                .count_request(req.method().as_str(), &route, res.status().code);
        }
    }
}

/// Loopback, or the configured bearer token.
pub struct MetricsReader;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsReader {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let Some(app) = req.rocket().state::<App>() else {
            return Outcome::Error((Status::InternalServerError, ()));
        };
        let token = &app.config.metrics_token;
        let bearer = req
            .headers()
            .get_one("Authorization")
            .and_then(|h| h.strip_prefix("Bearer "));
        let token_ok = !token.is_empty() && bearer.is_some_and(|b| same(b, token));
        let loopback = req.client_ip().is_some_and(|ip| ip.is_loopback());
        if token_ok || loopback {
            Outcome::Success(MetricsReader)
        } else {
            let error = Error::Forbidden(
                "Metrics are readable from loopback, or with Authorization: Bearer <metrics_token>."
                    .into(),
            );
            Outcome::Error((crate::auth::guards::remember(req, error), ()))
        }
    }
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[rocket::get("/metrics")]
async fn metrics(_reader: MetricsReader, app: &State<App>) -> Result<(ContentType, String)> {
    let snapshot = app
        .store
        .read(|c| {
            // One read transaction: the gauges agree with each other.
            let tx = c.unchecked_transaction()?;
            let snapshot = Snapshot {
                maintenance: store::maintenance::is_on(&tx)?,
                states: tasks::counts(&tx)?,
                executing: system::nodes(&tx)?
                    .into_iter()
                    .map(|n| (n.name, n.running))
                    .collect(),
            };
            tx.finish()?;
            Ok(snapshot)
        })
        .await?;
    let body = app.metrics.render(snapshot)?;
    let content_type = ContentType::new("application", "openmetrics-text")
        .with_params([("version", "1.0.0"), ("charset", "utf-8")]);
    Ok((content_type, body))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![metrics]
}

/// Shared with the queue, which observes task durations and start latency.
pub type Shared = Arc<Metrics>;
