//! Event subscriptions and their deliveries as stored. Each audit event raises, in the
//! transaction that records it, one delivery per enabled subscription whose filter it
//! passes ([`enqueue`]); senders claim due deliveries under a lease ([`claim`]) and
//! record what became of them ([`finish`]). What a subscription's fields mean, and the
//! sending, are the domain's (`crate::notify`).

use serde::{Deserialize, Serialize};

use super::sql::{Conn, Param, Row};
use super::{BookTx, ChangeTx};
use crate::error::Result;

/// A subscription's filter: the ids and names the API gives (`Projects-1`,
/// `Environments-2`, `Users-3`, categories and groups by name); an empty list is any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub projects: Vec<String>,
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub event_groups: Vec<String>,
    #[serde(default)]
    pub event_categories: Vec<String>,
}

/// The categories each event group stands for.
pub fn group_categories(group: &str) -> Option<&'static [&'static str]> {
    GROUPS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(group))
        .map(|(_, categories)| *categories)
}

/// drydock's event groups, by name, with the categories each holds.
pub const GROUPS: &[(&str, &[&str])] = &[
    (
        "Deployment",
        &[
            "DeploymentQueued",
            "DeploymentStarted",
            "DeploymentSucceeded",
            "DeploymentFailed",
            "DeploymentTimedOut",
            "DeploymentCanceled",
        ],
    ),
    (
        "DeploymentCriticalEvents",
        &["DeploymentFailed", "DeploymentTimedOut"],
    ),
    (
        "Approval",
        &[
            "ApprovalRequested",
            "DeploymentApproved",
            "DeploymentRejected",
        ],
    ),
    (
        "Maintenance",
        &[
            "MaintenanceModeEnabled",
            "MaintenanceModeDisabled",
            "MaintenanceWindowScheduled",
            "MaintenanceWindowCanceled",
            "MaintenanceWindowAnnounced",
            "MaintenanceWindowStarted",
            "MaintenanceSafeToStop",
            "MaintenanceDrainOverdue",
        ],
    ),
    (
        "Freeze",
        &["DeploymentFreezeStarted", "DeploymentFreezeEnded"],
    ),
    (
        "Node",
        &[
            "NodeOffline",
            "NodeDrained",
            "NodeUndrained",
            "NodeOutdated",
        ],
    ),
    ("Task", &["TaskStuck", "TaskCanceled"]),
];

impl Filter {
    /// Whether an event passes: every non-empty list must hold what the event has.
    pub fn passes(&self, category: &str, user: Option<i64>, related: &[String]) -> bool {
        let any = |list: &[String], wanted: &dyn Fn(&String) -> bool| {
            list.is_empty() || list.iter().any(wanted)
        };
        let category_ok = (self.event_categories.is_empty() && self.event_groups.is_empty())
            || self
                .event_categories
                .iter()
                .any(|c| c.eq_ignore_ascii_case(category))
            || self
                .event_groups
                .iter()
                .any(|g| group_categories(g).is_some_and(|cs| cs.contains(&category)));
        category_ok
            && any(&self.users, &|u| {
                user.is_some_and(|id| u.eq_ignore_ascii_case(&format!("Users-{id}")))
            })
            && any(&self.projects, &|p| related.iter().any(|r| r == p))
            && any(&self.environments, &|e| related.iter().any(|r| r == e))
    }
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: i64,
    pub name: String,
    pub is_disabled: bool,
    pub filter: Filter,
    pub webhook_uri: String,
    /// `Octopus` or `Slack`.
    pub payload: String,
    pub timeout_secs: i64,
    pub header_key: Option<String>,
    pub header_value: Option<String>,
    /// Sealed.
    pub secret: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
}

/// What a subscription is saved as (the secret already sealed; `None` keeps it on an
/// update).
pub struct Fields {
    pub name: String,
    pub is_disabled: bool,
    pub filter: Filter,
    pub webhook_uri: String,
    pub payload: String,
    pub timeout_secs: i64,
    pub header_key: Option<String>,
    pub header_value: Option<String>,
    pub secret: Option<String>,
}

const COLUMNS: &str = "id, name, is_disabled, filter, webhook_uri, payload, timeout_secs, \
     header_key, header_value, secret, created_at, modified_at";

fn subscription(r: &Row) -> Result<Subscription> {
    let filter: String = r.col("filter")?;
    Ok(Subscription {
        id: r.col("id")?,
        name: r.col("name")?,
        is_disabled: r.col("is_disabled")?,
        filter: serde_json::from_str(&filter).unwrap_or_default(),
        webhook_uri: r.col("webhook_uri")?,
        payload: r.col("payload")?,
        timeout_secs: r.col("timeout_secs")?,
        header_key: r.col("header_key")?,
        header_value: r.col("header_value")?,
        secret: r.col("secret")?,
        created_at: r.col("created_at")?,
        modified_at: r.col("modified_at")?,
    })
}

fn filter_text(f: &Filter) -> String {
    serde_json::to_string(f).unwrap_or_else(|_| "{}".into())
}

pub fn list(conn: &Conn, skip: i64, take: i64) -> Result<(Vec<Subscription>, i64)> {
    let items = conn.all(
        &format!("SELECT {COLUMNS} FROM subscriptions ORDER BY name, id LIMIT ?1 OFFSET ?2"),
        &[&take, &skip],
        subscription,
    )?;
    let total = conn
        .query_one("SELECT COUNT(*) FROM subscriptions", &[])?
        .get(0)?;
    Ok((items, total))
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<Subscription>> {
    conn.first(
        &format!("SELECT {COLUMNS} FROM subscriptions WHERE id = ?1"),
        &[&id],
        subscription,
    )
}

/// What a create or an update binds: a subscription's fields as `?1` to `?9`, then
/// `now` as `?10`, then `extra` (an update's id, `?11`).
fn bind<'a>(
    f: &'a Fields,
    filter: &'a String,
    now: &'a i64,
    extra: Option<&'a i64>,
) -> Vec<&'a dyn Param> {
    let mut params: Vec<&dyn Param> = vec![
        &f.name,
        &f.is_disabled,
        filter,
        &f.webhook_uri,
        &f.payload,
        &f.timeout_secs,
        &f.header_key,
        &f.header_value,
        &f.secret,
        now,
    ];
    params.extend(extra.map(|e| e as &dyn Param));
    params
}

const NAME_TAKEN: &str = "Name: a subscription with that name exists";

pub fn create(tx: &ChangeTx, f: &Fields, now: i64) -> Result<i64> {
    let filter = filter_text(&f.filter);
    tx.query_one_unique(
        "INSERT INTO subscriptions (name, is_disabled, filter, webhook_uri, payload, timeout_secs,
             header_key, header_value, secret, created_at, modified_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) RETURNING id",
        &bind(f, &filter, &now, None),
        || NAME_TAKEN.into(),
    )?
    .get(0)
}

pub fn update(tx: &ChangeTx, id: i64, f: &Fields, now: i64) -> Result<()> {
    let filter = filter_text(&f.filter);
    tx.execute_unique(
        "UPDATE subscriptions SET name = ?1, is_disabled = ?2, filter = ?3, webhook_uri = ?4,
             payload = ?5, timeout_secs = ?6, header_key = ?7, header_value = ?8,
             secret = COALESCE(?9, secret), modified_at = ?10
         WHERE id = ?11",
        &bind(f, &filter, &now, Some(&id)),
        || NAME_TAKEN.into(),
    )?;
    Ok(())
}

pub fn set_disabled(tx: &ChangeTx, id: i64, disabled: bool, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE subscriptions SET is_disabled = ?2, modified_at = ?3 WHERE id = ?1",
        &[&id, &disabled, &now],
    )?;
    Ok(())
}

pub fn delete(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM subscriptions WHERE id = ?1", &[&id])?;
    Ok(())
}

/// Raises the deliveries event `event` owes: one per enabled subscription whose filter
/// it passes, due now, in the event's own transaction. Returns how many.
pub fn enqueue(
    conn: &Conn,
    event: i64,
    (category, user, related): (&str, Option<i64>, &[String]),
    now: i64,
) -> Result<usize> {
    let subscribed: Vec<(i64, String)> = conn.all(
        "SELECT id, filter FROM subscriptions WHERE is_disabled = 0",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut raised = 0;
    for (id, filter) in subscribed {
        let filter: Filter = serde_json::from_str(&filter).unwrap_or_default();
        if filter.passes(category, user, related) {
            raise(conn, id, event, now)?;
            raised += 1;
        }
    }
    Ok(raised)
}

/// One delivery of `event` to subscription `id`, due now (also "send a test event").
pub fn raise(conn: &Conn, subscription: i64, event: i64, now: i64) -> Result<i64> {
    super::wake::raised();
    conn.query_one(
        "INSERT INTO deliveries (subscription_id, event_id, created_at, state, next_attempt_at)
         VALUES (?1, ?2, ?3, 'Pending', ?3) RETURNING id",
        &[&subscription, &event, &now],
    )?
    .get(0)
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    pub event_id: i64,
    pub created_at: i64,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub claimed_by: Option<String>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub last_ms: Option<i64>,
    pub finished_at: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "id, subscription_id, event_id, created_at, state, attempts, \
     next_attempt_at, claimed_by, last_status, last_error, last_ms, finished_at";

fn delivery(r: &Row) -> Result<Delivery> {
    Ok(Delivery {
        id: r.col("id")?,
        subscription_id: r.col("subscription_id")?,
        event_id: r.col("event_id")?,
        created_at: r.col("created_at")?,
        state: r.col("state")?,
        attempts: r.col("attempts")?,
        next_attempt_at: r.col("next_attempt_at")?,
        claimed_by: r.col("claimed_by")?,
        last_status: r.col("last_status")?,
        last_error: r.col("last_error")?,
        last_ms: r.col("last_ms")?,
        finished_at: r.col("finished_at")?,
    })
}

/// Takes up to `limit` due deliveries for `node`, each until `margin` ms past its
/// subscription's timeout from `now`: pending ones whose time has come and whose last
/// lease (if any) ran out. One statement, so that two nodes never take the same one
/// (SQLite's single writer; PostgreSQL's `SKIP LOCKED`).
pub fn claim(tx: &BookTx, node: &str, now: i64, margin: i64, limit: i64) -> Result<Vec<Delivery>> {
    let chosen = tx.dialect(
        "SELECT id FROM deliveries INDEXED BY deliveries_due
         WHERE state = 'Pending' AND next_attempt_at <= ?2
           AND (lease_until IS NULL OR lease_until < ?2)
         ORDER BY next_attempt_at, id LIMIT ?4",
        "SELECT id FROM deliveries
         WHERE state = 'Pending' AND next_attempt_at <= ?2
           AND (lease_until IS NULL OR lease_until < ?2)
         ORDER BY next_attempt_at, id LIMIT ?4 FOR UPDATE SKIP LOCKED",
    );
    tx.all(
        &format!(
            "UPDATE deliveries SET claimed_by = ?1, attempts = attempts + 1,
                 lease_until = ?2 + ?3 + 1000 * COALESCE((SELECT s.timeout_secs
                     FROM subscriptions s WHERE s.id = deliveries.subscription_id), 60)
             WHERE id IN ({chosen}) RETURNING {DELIVERY_COLUMNS}"
        ),
        &[&node, &now, &margin, &limit],
        delivery,
    )
}

/// What became of one attempt.
pub enum Outcome<'a> {
    Delivered {
        status: i64,
        ms: i64,
    },
    /// Try again at `retry_at`, or give up (`None`).
    Failed {
        status: Option<i64>,
        error: &'a str,
        ms: i64,
        retry_at: Option<i64>,
    },
}

/// Records an attempt's outcome, if `node` still holds the delivery's lease.
pub fn finish(tx: &BookTx, id: i64, node: &str, outcome: &Outcome<'_>, now: i64) -> Result<bool> {
    let changed = match outcome {
        Outcome::Delivered { status, ms } => tx.execute(
            "UPDATE deliveries SET state = 'Delivered', last_status = ?3, last_error = NULL,
                 last_ms = ?4, finished_at = ?5, lease_until = NULL
             WHERE id = ?1 AND claimed_by = ?2 AND state = 'Pending'",
            &[&id, &node, status, ms, &now],
        )?,
        Outcome::Failed {
            status,
            error,
            ms,
            retry_at,
        } => tx.execute(
            "UPDATE deliveries
                 SET state = CASE WHEN CAST(?6 AS BIGINT) IS NULL THEN 'Failed' ELSE 'Pending' END,
                 next_attempt_at = COALESCE(CAST(?6 AS BIGINT), next_attempt_at),
                 last_status = CAST(?3 AS BIGINT), last_error = ?4, last_ms = ?5,
                 lease_until = NULL,
                 finished_at = CASE WHEN CAST(?6 AS BIGINT) IS NULL THEN CAST(?7 AS BIGINT) END
             WHERE id = ?1 AND claimed_by = ?2 AND state = 'Pending'",
            &[&id, &node, status, error, ms, retry_at, &now],
        )?,
    };
    Ok(changed == 1)
}

/// A subscription's latest deliveries, newest first.
pub fn recent(conn: &Conn, subscription: i64, limit: i64) -> Result<Vec<Delivery>> {
    conn.all(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries INDEXED BY deliveries_by_subscription
             WHERE subscription_id = ?1 ORDER BY id DESC LIMIT ?2"
        ),
        &[&subscription, &limit],
        delivery,
    )
}

/// How many deliveries are pending, and when the soonest is due.
pub fn pending(conn: &Conn) -> Result<(i64, Option<i64>)> {
    let row = conn.query_one(
        "SELECT COUNT(*), MIN(next_attempt_at) FROM deliveries INDEXED BY deliveries_due
         WHERE state = 'Pending'",
        &[],
    )?;
    Ok((row.get(0)?, row.get(1)?))
}
