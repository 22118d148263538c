//! Cross-node wake-ups on PostgreSQL: a transaction that queues a task, ends one or
//! changes a node's limits sends `NOTIFY drydock_queue` ([`queue_changed`], delivered
//! when it commits), and every node's [`Listener`] hears it within milliseconds, so work
//! queued through one node starts on another at once. SQLite has no such channel: its
//! nodes (one host) notice through the queue's signature, read every
//! `pickup_check_ms`, which stays on PostgreSQL as the fallback when a listener's
//! connection is lost.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::sql::Conn;
use super::Store;
use crate::error::{Error, Result};

const CHANNEL: &str = "drydock_queue";

/// Tells every other node's listener, when this transaction commits, that the queue
/// changed (the node that commits wakes its own queue itself). The notification
/// carries the node's name, its connections' `application_name`. Nothing on SQLite.
pub fn queue_changed(conn: &Conn) -> Result<()> {
    if conn.is_postgres() {
        conn.query(
            "SELECT pg_notify(?1, current_setting('application_name'))::TEXT",
            &[&CHANNEL],
        )?;
    }
    Ok(())
}

/// A connection of its own that listens for [`queue_changed`].
pub struct Listener {
    client: postgres::Client,
    /// This node's name: its own notifications are not news to it.
    node: String,
}

impl Listener {
    /// `None` on SQLite.
    pub fn open(store: &Store) -> Result<Option<Listener>> {
        let Some(manager) = store.listen_manager() else {
            return Ok(None);
        };
        let mut client = manager.connect_client()?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(|e| Error::Unavailable(format!("LISTEN {CHANNEL}: {e}")))?;
        Ok(Some(Listener {
            client,
            node: manager.node().to_string(),
        }))
    }

    /// Waits up to `timeout` for a notification from another node; whether one came
    /// (several that came together count once). `Err` when the connection is lost.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let lost = |e: postgres::Error| Error::Unavailable(format!("listening: {e}"));
        let node = self.node.as_str();
        let mut notifications = self.client.notifications();
        let mut heard = match notifications.timeout_iter(timeout).next().map_err(lost)? {
            Some(n) => n.payload() != node,
            None => false,
        };
        // Drain what else has arrived: one wake-up for all of them.
        while let Some(n) = notifications.iter().next().map_err(lost)? {
            heard |= n.payload() != node;
        }
        drop(notifications);
        if self.client.is_closed() {
            return Err(Error::Unavailable(
                "listening: the connection closed".into(),
            ));
        }
        Ok(heard)
    }
}
