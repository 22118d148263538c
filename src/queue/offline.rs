//! Which nodes are offline: every node's queue checks at each of its heartbeats
//! ([`fail_silent_nodes`], in the heartbeat's own short transaction, so no node waits
//! for another's check), and the `NodeHealth` system task does the same on demand or on
//! its timer.
//!
//! A node is offline when it has not written its heartbeat for `node_offline_secs`. A
//! node declares others offline only once it has itself been in touch with the database
//! without a break for that long ([`InTouch`]): after a database restart or a network
//! cut every node's heartbeat is old, and the first node back must not take the live
//! others, still reconnecting, for dead ones.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Settings;
use crate::error::Result;
use crate::store::{nodes, tasks, BookTx};

pub const OFFLINE_MESSAGE: &str = "interrupted: server node offline";

/// This node's own heartbeats as its queue commits them: how long ago the last one was
/// taken, and since when they have come without a break.
#[derive(Debug)]
pub struct InTouch {
    beats: Mutex<Beats>,
}

#[derive(Debug)]
struct Beats {
    /// When the last committed heartbeat was taken (its `last_seen`).
    last: Instant,
    /// When the current unbroken run of heartbeats began; `None` before the first.
    since: Option<Instant>,
    /// The longest time between two heartbeats of one run.
    gap: Duration,
}

impl Default for InTouch {
    fn default() -> InTouch {
        InTouch {
            beats: Mutex::new(Beats {
                last: Instant::now(),
                since: None,
                gap: Duration::ZERO,
            }),
        }
    }
}

impl InTouch {
    /// A heartbeat taken at `at` committed; one taken more than `gap` after the one
    /// before begins a new run.
    pub fn committed(&self, at: Instant, gap: Duration) {
        let Ok(mut beats) = self.beats.lock() else {
            return;
        };
        if beats.since.is_none() || at.saturating_duration_since(beats.last) > gap {
            beats.since = Some(at);
        }
        beats.last = beats.last.max(at);
        beats.gap = gap;
    }

    /// How long ago the last committed heartbeat was taken (or the node started).
    pub fn last_beat_age(&self) -> Duration {
        self.beats
            .lock()
            .map_or(Duration::ZERO, |b| b.last.elapsed())
    }

    /// Whether this node's heartbeats have come without a break for at least `span`
    /// (and still come).
    pub fn unbroken_for(&self, span: Duration) -> bool {
        self.unbroken_at(span, Instant::now())
    }

    fn unbroken_at(&self, span: Duration, now: Instant) -> bool {
        self.beats.lock().is_ok_and(|b| {
            b.since
                .is_some_and(|since| now.saturating_duration_since(since) >= span)
                && now.saturating_duration_since(b.last) <= b.gap
        })
    }
}

/// Fails the tasks of every node other than `node` silent for longer than
/// `offline_ms`, in one statement (nodes checking at once each fail a task at most once:
/// the second finds it ended). Returns the failed tasks' ids by node.
pub fn fail_silent_nodes(
    tx: &BookTx,
    node: &str,
    now: i64,
    offline_ms: i64,
) -> Result<Vec<(String, Vec<i64>)>> {
    let mut by_node: Vec<(String, Vec<i64>)> = Vec::new();
    for silent in nodes::silent_nodes(tx, now - offline_ms, node)? {
        let failed = tasks::fail_interrupted(tx, &silent, OFFLINE_MESSAGE, now)?;
        if !failed.is_empty() {
            by_node.push((silent, failed));
        }
    }
    Ok(by_node)
}

/// Stops what the scripts of a dead node's tasks left running on this host (nodes of
/// one SQLite cluster share it; on PostgreSQL a node stops its own when it comes back).
/// Returns how many processes were stopped.
pub fn stop_leftovers(settings: &Settings, ids: &[i64]) -> usize {
    settings.script_user.as_ref().map_or(0, |user| {
        crate::process::kill_leftovers(&settings.work_dir, ids, user.uid())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_heartbeats_counts_from_its_first_and_a_gap_starts_it_again() {
        let touch = InTouch::default();
        let (gap, ms) = (Duration::from_millis(50), Duration::from_millis);
        let t0 = Instant::now();
        assert!(!touch.unbroken_at(Duration::ZERO, t0), "no heartbeat yet");
        // Beats every 10 ms for 100 ms: unbroken for 100 ms, while they come.
        for i in 0..=10 {
            touch.committed(t0 + ms(10 * i), gap);
        }
        assert!(touch.unbroken_at(ms(100), t0 + ms(100)));
        assert!(!touch.unbroken_at(ms(101), t0 + ms(100)));
        // Beats that stopped coming: not in touch any more.
        assert!(!touch.unbroken_at(ms(100), t0 + ms(151)));
        // A beat 60 ms after the last (a gap) begins a new run.
        touch.committed(t0 + ms(160), gap);
        assert!(!touch.unbroken_at(ms(100), t0 + ms(160)));
        assert!(touch.unbroken_at(Duration::ZERO, t0 + ms(160)));
        assert_eq!(
            touch.last_beat_age(),
            Duration::ZERO,
            "its last beat is ahead of now"
        );
    }
}
