//! The audit log. Ids come from AUTOINCREMENT inside single-writer transactions, so
//! they grow in commit order.

use super::sql::{Conn, Row};
use super::BookTx;
use super::ChangeTx;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: i64,
    pub category: String,
    pub user_id: Option<i64>,
    pub username: String,
    pub identity: String,
    pub occurred: i64,
    pub message: String,
    pub related_ids: Vec<String>,
}

/// Records an event for the change being made, attributed to the change's actor.
pub fn record(tx: &ChangeTx, category: &str, message: &str, related_ids: &[String]) -> Result<i64> {
    let who = tx.identity();
    insert(
        tx,
        category,
        who.user_id,
        &who.username,
        who.via,
        message,
        related_ids,
    )
}

/// Records an event for the change being made without raising its deliveries: the
/// test event a subscription is sent alone (`crate::notify::send_test`).
pub fn record_unannounced(
    tx: &ChangeTx,
    category: &str,
    message: &str,
    related_ids: &[String],
) -> Result<i64> {
    let who = tx.identity();
    insert_only(
        tx,
        (category, who.user_id, &who.username, who.via),
        message,
        related_ids,
    )
}

/// One event by id.
pub fn find(conn: &Conn, id: i64) -> Result<Option<Event>> {
    conn.first(
        &format!("SELECT {COLUMNS} FROM events WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

/// The audit events written outside a change (as bookkeeping, so that they are
/// written in maintenance mode too): the outcomes of password checks, and Retention's
/// deletions. No other event can be written without a change's admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookkeepingEvent {
    LoginSucceeded,
    LoginFailed,
    /// A wrong current password given to change it (the profile's form).
    PasswordCheckFailed,
    /// A Retention run deleted completed tasks: the one deletion of product history
    /// that runs in maintenance mode.
    RetentionDeletedTasks,
}

impl BookkeepingEvent {
    fn category(self) -> &'static str {
        match self {
            BookkeepingEvent::LoginSucceeded => "LoginSucceeded",
            BookkeepingEvent::LoginFailed => "LoginFailed",
            BookkeepingEvent::PasswordCheckFailed => "PasswordCheckFailed",
            BookkeepingEvent::RetentionDeletedTasks => "RetentionDeletedTasks",
        }
    }
}

/// The events drydock itself raises (no user): how a deployment went, the server
/// becoming safe to stop, and what the nodes' watch of the clock tells
/// (`crate::queue` notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemEvent {
    DeploymentStarted,
    DeploymentSucceeded,
    DeploymentFailed,
    DeploymentTimedOut,
    DeploymentCanceled,
    MaintenanceSafeToStop,
    /// A scheduled maintenance window starts within the announcement lead time.
    MaintenanceWindowAnnounced,
    /// Maintenance mode has been on for the drain's allowance and tasks still run.
    MaintenanceDrainOverdue,
    DeploymentFreezeStarted,
    DeploymentFreezeEnded,
    NodeOffline,
    /// A node runs a binary the schema has moved past: it claims nothing more.
    NodeOutdated,
    /// A task still runs well past its timeout (its script would not stop).
    TaskStuck,
}

impl SystemEvent {
    pub fn category(self) -> &'static str {
        match self {
            SystemEvent::DeploymentStarted => "DeploymentStarted",
            SystemEvent::DeploymentSucceeded => "DeploymentSucceeded",
            SystemEvent::DeploymentFailed => "DeploymentFailed",
            SystemEvent::DeploymentTimedOut => "DeploymentTimedOut",
            SystemEvent::DeploymentCanceled => "DeploymentCanceled",
            SystemEvent::MaintenanceSafeToStop => "MaintenanceSafeToStop",
            SystemEvent::MaintenanceWindowAnnounced => "MaintenanceWindowAnnounced",
            SystemEvent::MaintenanceDrainOverdue => "MaintenanceDrainOverdue",
            SystemEvent::DeploymentFreezeStarted => "DeploymentFreezeStarted",
            SystemEvent::DeploymentFreezeEnded => "DeploymentFreezeEnded",
            SystemEvent::NodeOffline => "NodeOffline",
            SystemEvent::NodeOutdated => "NodeOutdated",
            SystemEvent::TaskStuck => "TaskStuck",
        }
    }
}

/// Records a [`SystemEvent`] in the transaction (bookkeeping or change) whose write
/// makes it true, raising its deliveries as every event does.
pub fn record_system(
    conn: &Conn,
    what: SystemEvent,
    message: &str,
    related_ids: &[String],
) -> Result<i64> {
    insert(
        conn,
        what.category(),
        None,
        "drydock",
        "System",
        message,
        related_ids,
    )
}

/// Records one of the bookkeeping events, outside a change.
pub fn record_bookkeeping_event(
    tx: &BookTx,
    what: BookkeepingEvent,
    user: (Option<i64>, &str),
    identity: &str,
    message: &str,
) -> Result<i64> {
    let related: Vec<String> = user.0.map(|id| format!("Users-{id}")).into_iter().collect();
    insert(
        tx,
        what.category(),
        user.0,
        user.1,
        identity,
        message,
        &related,
    )
}

/// Inserts the event and raises the deliveries it owes, in the same transaction.
fn insert(
    conn: &Conn,
    category: &str,
    user_id: Option<i64>,
    username: &str,
    identity: &str,
    message: &str,
    related_ids: &[String],
) -> Result<i64> {
    let id = insert_only(
        conn,
        (category, user_id, username, identity),
        message,
        related_ids,
    )?;
    super::webhooks::enqueue(
        conn,
        id,
        (category, user_id, related_ids),
        crate::clock::now_ms(),
    )?;
    Ok(id)
}

fn insert_only(
    conn: &Conn,
    (category, user_id, username, identity): (&str, Option<i64>, &str, &str),
    message: &str,
    related_ids: &[String],
) -> Result<i64> {
    let related = serde_json::to_string(related_ids).unwrap_or_else(|_| "[]".into());
    conn.query_one(
        "INSERT INTO events (category, user_id, username, identity, occurred, message, related_ids)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        &[
            &category,
            &user_id,
            &username,
            &identity,
            &crate::clock::now_ms(),
            &message,
            &related,
        ],
    )?
    .get(0)
}

const COLUMNS: &str = "id, category, user_id, username, identity, occurred, message, related_ids";

fn from_row(row: &Row) -> Result<Event> {
    let related: String = row.col("related_ids")?;
    Ok(Event {
        id: row.col("id")?,
        category: row.col("category")?,
        user_id: row.col("user_id")?,
        username: row.col("username")?,
        identity: row.col("identity")?,
        occurred: row.col("occurred")?,
        message: row.col("message")?,
        related_ids: serde_json::from_str(&related).unwrap_or_default(),
    })
}

/// What the audit page filters by; empty fields match everything.
#[derive(Default, Clone)]
pub struct EventFilter {
    /// The username, without case.
    pub username: Option<String>,
    pub category: Option<String>,
    /// From this moment (ms), inclusive.
    pub from: Option<i64>,
    /// Before this moment (ms).
    pub until: Option<i64>,
}

/// One page of matching events, newest first, and how many match.
pub fn search(
    conn: &Conn,
    filter: &EventFilter,
    skip: i64,
    take: i64,
) -> Result<(Vec<Event>, i64)> {
    // Typed parameters: PostgreSQL must know a parameter's type to test it for NULL.
    const MATCHING: &str =
        "WHERE (CAST(?1 AS TEXT) IS NULL OR username = CAST(?1 AS TEXT) COLLATE NOCASE)
          AND (CAST(?2 AS TEXT) IS NULL OR category = CAST(?2 AS TEXT))
          AND (CAST(?3 AS BIGINT) IS NULL OR occurred >= CAST(?3 AS BIGINT))
          AND (CAST(?4 AS BIGINT) IS NULL OR occurred < CAST(?4 AS BIGINT))";
    let db = conn;
    let events = db
        .query(
            &format!("SELECT {COLUMNS} FROM events {MATCHING} ORDER BY id DESC LIMIT ?5 OFFSET ?6"),
            &[
                &filter.username,
                &filter.category,
                &filter.from,
                &filter.until,
                &take,
                &skip,
            ],
        )?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    let total = db
        .query_one(
            &format!("SELECT COUNT(*) FROM events {MATCHING}"),
            &[
                &filter.username,
                &filter.category,
                &filter.from,
                &filter.until,
            ],
        )?
        .get(0)?;
    Ok((events, total))
}

/// The kinds of event recorded so far, by name.
pub fn categories(conn: &Conn) -> Result<Vec<String>> {
    conn.query(
        "SELECT DISTINCT category FROM events ORDER BY category",
        &[],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// One page of events, newest first, and the total count.
pub fn list(conn: &Conn, skip: i64, take: i64) -> Result<(Vec<Event>, i64)> {
    list_ids(conn, None, skip, take)
}

/// One page of the events `ids` names (every event without), newest first, and how
/// many it names.
pub fn list_ids(
    conn: &Conn,
    ids: Option<Vec<i64>>,
    skip: i64,
    take: i64,
) -> Result<(Vec<Event>, i64)> {
    let filter = super::filter::Named {
        ids,
        partial_name: None,
    };
    let clause = filter.clause();
    let events = conn
        .query(
            &format!(
                "SELECT {COLUMNS} FROM events{} ORDER BY id DESC LIMIT ? OFFSET ?",
                clause.sql()
            ),
            &super::filter::params(&clause.paged(skip, take)),
        )?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    let total = conn
        .query_one(
            &format!("SELECT COUNT(*) FROM events{}", clause.sql()),
            &clause.params(),
        )?
        .get(0)?;
    Ok((events, total))
}
