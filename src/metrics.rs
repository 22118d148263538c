//! Operator metrics, rendered for `GET /metrics` (served by `web::metrics`) in the
//! Prometheus (OpenMetrics) text format.
//!
//! Counters and histograms are this process's (this node's) since it started: HTTP
//! requests by route, method and status, task durations by kind, queue-to-start
//! latency, changes refused in maintenance mode, SQLite lock waits, webhook delivery
//! attempts by result. Gauges are read from the database at each scrape and describe
//! the whole cluster: the maintenance flag, tasks by state, executing tasks per node,
//! webhook deliveries waiting.
//!

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::{self, nodes, tasks};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

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
struct ResultLabels {
    result: String,
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
    webhook_deliveries: Family<ResultLabels, Counter>,
    webhook_pending: Gauge,
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
        let webhook_deliveries = Family::<ResultLabels, Counter>::default();
        let webhook_pending = Gauge::default();
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
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by this node, by result (delivered, retry, failed)",
            webhook_deliveries.clone(),
        );
        registry.register(
            "webhook_pending_deliveries",
            "Webhook deliveries waiting to be sent or tried again (cluster-wide)",
            webhook_pending.clone(),
        );
        Metrics {
            webhook_deliveries,
            webhook_pending,
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

    /// One webhook delivery attempt's result: `delivered`, `retry` or `failed`.
    pub fn count_delivery(&self, result: &str) {
        self.webhook_deliveries
            .get_or_create(&ResultLabels {
                result: result.to_string(),
            })
            .inc();
    }

    pub fn count_request(&self, method: &str, route: &str, status: u16) {
        self.http
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
    }

    /// Reads the cluster-wide gauges from the database and encodes everything.
    pub fn render(&self, snapshot: Snapshot) -> Result<String> {
        self.maintenance.set(i64::from(snapshot.maintenance));
        self.webhook_pending.set(snapshot.pending_deliveries);
        self.tasks_by_state.clear();
        for (state, n) in snapshot.states {
            self.tasks_by_state
                .get_or_create(&StateLabels {
                    state: state.to_string(),
                })
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
            .map_err(|e| Error::internal_from("encoding metrics", e))?;
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

pub struct Snapshot {
    maintenance: bool,
    states: Vec<(crate::model::TaskState, i64)>,
    executing: Vec<(String, i64)>,
    pending_deliveries: i64,
}

/// Shared with the queue, which observes task durations and start latency.
pub type Shared = Arc<Metrics>;

/// The gauges, read in one transaction so that they agree with each other.
pub async fn snapshot(store: &store::Store) -> Result<Snapshot> {
    store
        .read_consistent(|c| {
            Ok(Snapshot {
                maintenance: store::maintenance::is_on(c)?,
                states: tasks::counts(c)?,
                executing: nodes::nodes(c)?
                    .into_iter()
                    .map(|n| (n.name, n.running))
                    .collect(),
                pending_deliveries: store::webhooks::pending(c)?.0,
            })
        })
        .await
}
