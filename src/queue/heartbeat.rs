//! This node's heartbeat, and what hangs on it.
//!
//! Each heartbeat is a short transaction of its own, never behind the claim lock: it
//! writes `last_seen`, reconciles this node's tasks against the database's
//! ([`super::reconcile`]), sees whether the schema moved past this node, and fails the
//! tasks of nodes silent for `node_offline_secs` — when this node has itself been in
//! touch with the database that long without a break ([`offline::InTouch`]). Every
//! node checks, at every heartbeat: no check waits for another node's.
//!
//! A node whose heartbeats stop committing (cut off from the database) is about to be
//! declared dead by the others, who then fail its tasks: before that happens, the
//! watchdog thread has this node stop its own scripts ([`Settings::cut_off`]), so a task
//! failed as "node offline" really stopped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{notices, offline, outdated, reconcile, Inner, Settings};
use crate::error::Result;
use crate::store::{nodes, Store};

/// Writes this node's heartbeat taken at `now` (epoch ms) and does what hangs on it.
pub(super) fn beat(inner: &Inner, store: &Store, settings: &Settings, now: i64) -> Result<()> {
    let taken = Instant::now();
    let node = &settings.node;
    let offline = Duration::from_millis(settings.node_offline_ms.max(0) as u64);
    let judge = settings.in_touch.unbroken_for(offline);
    let dead = store.bookkeeping_now(|tx| {
        nodes::heartbeat(tx, node, now)?;
        reconcile::reconcile(inner, tx, node, now)?;
        if let Some(why) = outdated::outdated_by(tx, settings)? {
            if let Ok(mut outdated) = inner.outdated.lock() {
                if outdated.is_none() {
                    eprintln!("drydock: {why}");
                }
                *outdated = Some(why);
            }
        }
        if judge {
            offline::fail_silent_nodes(tx, node, now, settings.node_offline_ms)
        } else {
            Ok(Vec::new())
        }
    })?;
    settings.in_touch.committed(taken, gap(settings));
    let rules = notices::Watch {
        node: node.clone(),
        window_notice_ms: settings.window_notice_ms,
        drain_overdue_ms: settings.drain_overdue_ms,
        stuck_margin_ms: stuck_margin(settings),
        offline_ms: judge.then_some(settings.node_offline_ms),
    };
    if let Err(e) = notices::watch(store, &rules, now) {
        eprintln!("drydock: node {node}: watching for notices: {e}");
    }
    for (silent, ids) in dead {
        let killed = offline::stop_leftovers(settings, &ids);
        eprintln!(
            "drydock: node {silent} is offline: failed {} task(s) it left running, stopped {killed} leftover process(es)",
            ids.len()
        );
    }
    Ok(())
}

/// The longest time between two heartbeats of an unbroken run: two intervals and a
/// round.
pub(super) fn gap(settings: &Settings) -> Duration {
    settings.heartbeat * 2 + settings.poll
}

/// How long after its last committed heartbeat a node stops its own scripts: as late
/// as it can while they are still dead (SIGTERM, then SIGKILL [`cut_off_grace`] later)
/// a second before the others can take the node for offline at `node_offline_secs`;
/// never before three quarters of it (heartbeats slowed by a busy database are not a
/// cut).
pub fn give_up_after(settings: &Settings) -> Duration {
    let offline = Duration::from_millis(settings.node_offline_ms.max(0) as u64);
    offline
        .saturating_sub(cut_off_grace(settings) + Duration::from_secs(1))
        .max(offline * 3 / 4)
}

/// How far past its timeout a running deployment is stuck: its runner stops it at the
/// timeout (SIGTERM, then SIGKILL after `cancel_grace_ms`) and records the end at once,
/// so with two heartbeats more it has had every chance.
pub fn stuck_margin(settings: &Settings) -> i64 {
    (settings.cancel_grace + settings.heartbeat * 2 + settings.poll).as_millis() as i64
}

/// How long a script stopped for a cut-off node gets between SIGTERM and SIGKILL.
pub fn cut_off_grace(settings: &Settings) -> Duration {
    settings.cancel_grace.min(settings.heartbeat)
}

/// Watches this node's heartbeats while its queue lives: sets [`Settings::cut_off`] to
/// the time once none has committed for [`give_up_after`], and clears it when one does
/// again.
pub(super) fn watch(weak: Weak<Inner>, settings: Settings) {
    let give_up = give_up_after(&settings);
    let every =
        (settings.heartbeat / 4).clamp(Duration::from_millis(50), Duration::from_millis(500));
    loop {
        let Some(inner) = weak.upgrade() else { return };
        // A stopping node's runners may still run scripts: watched until they end.
        let idle = inner.running.lock().map_or(true, |r| r.is_empty());
        if inner.stopping.load(Ordering::SeqCst) && idle {
            return;
        }
        drop(inner);
        let age = settings.in_touch.last_beat_age();
        let cut = age >= give_up;
        let was = settings.cut_off.load(Ordering::SeqCst) != 0;
        if was != cut {
            let since = if cut { crate::clock::now_ms() } else { 0 };
            settings.cut_off.store(since, Ordering::SeqCst);
            if cut {
                eprintln!(
                    "drydock: node {}: no heartbeat has committed for {} s; stopping this node's scripts before the cluster takes it for offline",
                    settings.node,
                    age.as_secs()
                );
            } else {
                eprintln!("drydock: node {}: heartbeats commit again", settings.node);
            }
        }
        std::thread::sleep(every);
    }
}

/// Starts the watchdog thread.
pub(super) fn start_watchdog(inner: &Arc<Inner>, settings: &Settings) -> Result<()> {
    let weak = Arc::downgrade(inner);
    let settings = settings.clone();
    std::thread::Builder::new()
        .name("drydock-watchdog".into())
        .spawn(move || watch(weak, settings))
        .map(|_| ())
        .map_err(|e| crate::error::Error::internal_from("starting the heartbeat watchdog", e))
}
