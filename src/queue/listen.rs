//! The thread that wakes this node's queue when another node changes it (PostgreSQL's
//! `NOTIFY`, `store::notify`).

use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use super::{ring, Inner};
use crate::store::Store;

/// Rings the processor whenever another node (or this one) queues or ends a task or
/// changes a node's limits (PostgreSQL's `NOTIFY`: `store::notify`). A lost connection
/// is opened again after a second; meanwhile the queue's signature check picks up work
/// as on SQLite. Ends with the queue.
pub(super) fn listen(weak: Weak<Inner>, store: Store) {
    let mut listener = None;
    let mut failing = false;
    loop {
        match weak.upgrade() {
            Some(inner) if !inner.stopping.load(Ordering::SeqCst) => {}
            _ => return,
        }
        if listener.is_none() {
            match crate::store::notify::Listener::open(&store) {
                Ok(Some(opened)) => {
                    if failing {
                        println!("drydock: listening for queue changes again");
                    }
                    failing = false;
                    listener = Some(opened);
                }
                Ok(None) => return,
                Err(e) => {
                    if !failing {
                        eprintln!("drydock: cannot listen for queue changes ({e}); checking every pickup_check_ms instead");
                    }
                    failing = true;
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            }
        }
        let Some(open) = listener.as_mut() else {
            continue;
        };
        match open.wait(Duration::from_millis(500)) {
            Ok(true) => {
                if let Some(inner) = weak.upgrade() {
                    ring(&inner);
                }
            }
            Ok(false) => {}
            Err(e) => {
                eprintln!("drydock: stopped listening for queue changes ({e}); checking every pickup_check_ms meanwhile");
                failing = true;
                listener = None;
            }
        }
    }
}
