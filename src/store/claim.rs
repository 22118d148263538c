//! Claims: which queued tasks a node may start now (due, their concurrency tag free),
//! taken in FIFO order inside one write transaction under the queue's lock, so that a
//! task runs once whatever the nodes. Re-exported by `tasks`.

use super::sql::Conn;
use super::tasks::{task, Task, COLUMNS, Q_EXECUTING, Q_QUEUED};
use super::BookTx;
use crate::error::Result;
use crate::model::sql::RUNNING;
use const_format::concatcp;

/// A queued task not waiting for an approval, due by `?1`, not held by a freeze past
/// `?1`, and whose concurrency tag no task is running: one a claim could take now.
/// (Tasks with a busy tag are skipped by SQLite, not read out and dropped: a backlog
/// behind one busy tag costs a claim little. Tasks waiting for an approval are not in
/// the `tasks_claim` index at all: any number of them cost a claim nothing.)
const CLAIMABLE: &str = concatcp!(
    "state = ",
    Q_QUEUED,
    " AND awaiting_approval = 0 AND queue_time <= ?1 AND (held_until IS NULL OR held_until <= ?1)
     AND (concurrency_tag IS NULL OR concurrency_tag NOT IN
          (SELECT concurrency_tag FROM tasks WHERE state IN ",
    RUNNING,
    " AND concurrency_tag IS NOT NULL))"
);

/// Whether a round would find work: a queued task a claim could take now (due, its
/// concurrency tag free), or one whose expiry passed. Read-only: the queue asks it
/// before it takes the write lock for a round, so a deployment queued behind a running
/// one of the same project and environment costs no write.
pub fn work_due(conn: &Conn, now: i64) -> Result<(bool, bool)> {
    let row = conn.query_one(
        concatcp!(
            "SELECT EXISTS(SELECT 1 FROM tasks INDEXED BY tasks_claim WHERE ",
            CLAIMABLE,
            "),
                    EXISTS(SELECT 1 FROM tasks INDEXED BY tasks_expiry WHERE state = ",
            Q_QUEUED,
            " AND queue_time_expiry IS NOT NULL AND queue_time_expiry < ?1)"
        ),
        &[&now],
    )?;
    Ok((row.get(0)?, row.get(1)?))
}

/// The claimable queue in FIFO order, straight from the `tasks_claim` index.
const CLAIM_QUERY: &str = concatcp!(
    "SELECT id, concurrency_tag FROM tasks INDEXED BY tasks_claim WHERE ",
    CLAIMABLE,
    " ORDER BY queue_time, id"
);

/// [`CLAIM_QUERY`], at most `?2` rows: on PostgreSQL, which sends every row a query
/// finds before the first is read, a claim asks for a few more than it takes.
const CLAIM_QUERY_LIMITED: &str = concatcp!(
    "SELECT id, concurrency_tag FROM tasks INDEXED BY tasks_claim WHERE ",
    CLAIMABLE,
    " ORDER BY queue_time, id LIMIT ?2"
);

/// The advisory lock claim rounds take on PostgreSQL (any number, the same on every
/// node): rounds of all nodes run one at a time, as SQLite's single writer makes them.
const CLAIM_LOCK: i64 = 0x6472_7964_0001;

/// Takes the queue's lock for the rest of `tx` (on PostgreSQL; SQLite's write
/// transaction holds every writer off already): claims, and the system-task timer in
/// the same round, run one at a time across every node. Take it first thing in a
/// transaction that will claim, before it changes any task: a transaction holding a
/// task row while it waited for the lock could deadlock with the round holding it.
pub fn lock_queue(tx: &BookTx) -> Result<()> {
    tx.exclusive(CLAIM_LOCK)
}

/// [`lock_queue`] without waiting: false while another node's round holds it.
pub fn try_lock_queue(tx: &BookTx) -> Result<bool> {
    tx.try_exclusive(CLAIM_LOCK)
}

/// Takes one chosen task, and reads it back in the same statement.
const TAKE: &str = concatcp!(
    "UPDATE tasks SET state = ",
    Q_EXECUTING,
    ", start_time = ?2, last_updated_time = ?2, server_node = ?3
     WHERE id = ?1 AND state = ",
    Q_QUEUED,
    " RETURNING ",
    COLUMNS
);

/// Claims up to `slots` due tasks for `node`, in FIFO order (queue time, then id),
/// skipping any whose concurrency tag is executing or already taken in this claim.
/// Runs inside one write transaction, so no task is claimed twice, whatever the number
/// of processes: SQLite's `BEGIN IMMEDIATE` excludes every other writer; on PostgreSQL,
/// whose transactions run side by side, claim rounds of every node take one advisory
/// lock first, and read the running tags as committed when they hold it.
pub fn claim(tx: &BookTx, node: &str, now: i64, slots: usize) -> Result<Vec<Task>> {
    if slots == 0 {
        return Ok(Vec::new());
    }
    lock_queue(tx)?;
    let chosen = if tx.is_postgres() {
        choose_limited(tx, now, slots)?
    } else {
        choose_streaming(tx, now, slots)?
    };
    let mut claimed = Vec::with_capacity(chosen.len());
    for id in chosen {
        if let Some(t) = tx.first(TAKE, &[&id, &now, &node], task)? {
            claimed.push(t);
        }
    }
    Ok(claimed)
}

/// Picks from `rows` (id, tag) in order, one task per tag (those of running tasks are
/// left out by the query), until `slots` are chosen.
struct Picks {
    taken: std::collections::HashSet<String>,
    chosen: Vec<i64>,
    slots: usize,
}

impl Picks {
    fn new(slots: usize) -> Picks {
        Picks {
            taken: std::collections::HashSet::new(),
            chosen: Vec::new(),
            slots,
        }
    }

    /// Considers one row; whether more are wanted.
    fn offer(&mut self, id: i64, tag: Option<String>) -> bool {
        let free = match tag {
            Some(tag) => self.taken.insert(tag),
            None => true,
        };
        if free {
            self.chosen.push(id);
        }
        self.chosen.len() < self.slots
    }
}

/// SQLite: the rows come in the index's order (no sort), one step at a time: a claim
/// reads the rows it takes and the few it skips, however long the queue.
fn choose_streaming(tx: &BookTx, now: i64, slots: usize) -> Result<Vec<i64>> {
    let mut picks = Picks::new(slots);
    tx.scan(CLAIM_QUERY, &[&now], |row| {
        Ok(picks.offer(row.get(0)?, row.get(1)?))
    })?;
    Ok(picks.chosen)
}

/// PostgreSQL: a page of a few more rows than slots, a larger one only when tags
/// repeated in the queue's head left slots free and the page was full.
fn choose_limited(tx: &BookTx, now: i64, slots: usize) -> Result<Vec<i64>> {
    let mut limit = (slots as i64).saturating_mul(2).max(16);
    loop {
        let rows = tx.query(CLAIM_QUERY_LIMITED, &[&now, &limit])?;
        let mut picks = Picks::new(slots);
        for row in &rows {
            if !picks.offer(row.get(0)?, row.get(1)?) {
                break;
            }
        }
        if picks.chosen.len() == slots || (rows.len() as i64) < limit {
            return Ok(picks.chosen);
        }
        limit = limit.saturating_mul(8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_claim_walks_the_queue_index_and_skips_busy_tags() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&crate::config::Config::for_tests(dir.path())).unwrap();
        store
            .bookkeeping_now(|tx| {
                for (at, tag) in [(1, "a"), (2, "a"), (3, "b"), (4, "c")] {
                    tx.execute(
                        "INSERT INTO tasks (name, description, state, queue_time,
                                            last_updated_time, concurrency_tag)
                         VALUES ('Deploy', 'claim', 'Queued', ?1, ?1, ?2)",
                        &[&at, &tag],
                    )?;
                }
                let ids = |tasks: Vec<Task>| tasks.iter().map(|t| t.id).collect::<Vec<_>>();
                assert_eq!(ids(claim(tx, "n", 10, 1)?), vec![1]);
                // "a" runs: its second task waits; one claim takes one task per tag.
                assert_eq!(ids(claim(tx, "n", 11, 5)?), vec![3, 4]);
                assert_eq!(ids(claim(tx, "n", 12, 5)?), Vec::<i64>::new());
                // The rows come straight from the queue's index, in its order: no sort
                // of the whole queue before the first row.
                let plan: Vec<String> =
                    tx.all(&format!("EXPLAIN QUERY PLAN {CLAIM_QUERY}"), &[&12], |r| {
                        r.get(3)
                    })?;
                // A task waiting for an approval is skipped, and once approved is taken
                // in its place: before a later task.
                tx.execute("UPDATE tasks SET state = 'Success'", &[])?;
                for (at, awaiting) in [(20, 1), (21, 0), (22, 0)] {
                    tx.execute(
                        "INSERT INTO tasks (name, description, state, queue_time,
                                            last_updated_time, awaiting_approval)
                         VALUES ('Deploy', 'approval', 'Queued', ?1, ?1, ?2)",
                        &[&at, &awaiting],
                    )?;
                }
                let first: Vec<i64> = ids(claim(tx, "n", 30, 1)?);
                assert_eq!(first, vec![6], "the waiting one (5) is skipped");
                tx.execute("UPDATE tasks SET awaiting_approval = 0 WHERE id = 5", &[])?;
                assert_eq!(
                    ids(claim(tx, "n", 31, 1)?),
                    vec![5],
                    "approved: in its place"
                );
                assert_eq!(ids(claim(tx, "n", 32, 1)?), vec![7]);
                assert!(
                    plan.iter().any(|p| p.contains("tasks_claim"))
                        && !plan.iter().any(|p| p.contains("ORDER BY")),
                    "{plan:?}"
                );
                Ok(())
            })
            .unwrap();
    }
}
