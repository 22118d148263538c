//! Waking this process's webhook sender the moment a transaction that raised
//! deliveries commits, instead of at its next look (`pickup_check_ms`): a delivery
//! raised ([`super::webhooks::raise`]) marks the thread's transaction, and the store
//! rings after its `COMMIT` (`committed`). A rolled-back transaction rings nothing:
//! the mark is cleared when the next one begins (`begun`). Other nodes' senders
//! still find the deliveries at their next look.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

thread_local! {
    static RAISED: Cell<bool> = const { Cell::new(false) };
}

/// How many times the bell has rung in this process.
static RUNG: Mutex<u64> = Mutex::new(0);
static BELL: Condvar = Condvar::new();

/// A delivery was raised in this thread's open transaction.
pub(super) fn raised() {
    RAISED.with(|r| r.set(true));
}

/// A write transaction begins on this thread.
pub(super) fn begun() {
    RAISED.with(|r| r.set(false));
}

/// This thread's write transaction committed: rings if it raised a delivery.
pub(super) fn committed() {
    if RAISED.with(|r| r.replace(false)) {
        ring();
    }
}

/// Wakes every sender waiting in [`wait`] (also to have one see it should stop).
pub fn ring() {
    if let Ok(mut rung) = RUNG.lock() {
        *rung = rung.wrapping_add(1);
        BELL.notify_all();
    }
}

/// How many times the bell has rung: what a sender passes to [`wait`].
pub fn rung() -> u64 {
    RUNG.lock().map_or(0, |r| *r)
}

/// Waits until the bell rings past `seen`, or `timeout`.
pub fn wait(seen: u64, timeout: Duration) {
    let Ok(rung) = RUNG.lock() else { return };
    let _ = BELL.wait_timeout_while(rung, timeout, |r| *r == seen);
}
