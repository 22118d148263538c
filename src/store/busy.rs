//! SQLite's busy handler, counted: when another process holds the write lock, a
//! connection of this one waits and retries (`SQLITE_BUSY`), up to `busy_timeout_ms`,
//! and each wait is counted so that an operator (and the cluster benchmark) can see how
//! often nodes meet each other's lock. The first waits are far shorter than SQLite's
//! own (1, 2, 5, 10 ms ...): drydock's write transactions hold the lock for well under
//! a millisecond, so sleeping a whole one wastes most of it.
//!
//! The counters are per process. Writers of one process never meet each other here:
//! they take turns on the store's writer mutex first.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static TIMEOUT_MS: AtomicU64 = AtomicU64::new(5_000);
static WRITES: AtomicU64 = AtomicU64::new(0);
static WRITES_THAT_WAITED: AtomicU64 = AtomicU64::new(0);
static RETRIES: AtomicU64 = AtomicU64::new(0);
static GAVE_UP: AtomicU64 = AtomicU64::new(0);

/// Microseconds to sleep before each retry; then 100 ms each.
const DELAYS_US: [u64; 14] = [
    50, 100, 200, 300, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 25_000, 50_000, 50_000, 100_000,
];

/// How often this process met another's write lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct BusyStats {
    /// Write transactions begun.
    pub writes: u64,
    /// Of those, how many had to wait at least once.
    pub writes_that_waited: u64,
    /// Waits in all (each followed by a retry, unless the timeout was reached).
    pub retries: u64,
    /// Times the timeout was reached and the statement failed with `SQLITE_BUSY`.
    pub gave_up: u64,
}

pub fn stats() -> BusyStats {
    BusyStats {
        writes: WRITES.load(Ordering::Relaxed),
        writes_that_waited: WRITES_THAT_WAITED.load(Ordering::Relaxed),
        retries: RETRIES.load(Ordering::Relaxed),
        gave_up: GAVE_UP.load(Ordering::Relaxed),
    }
}

pub(super) fn set_timeout(timeout: Duration) {
    TIMEOUT_MS.store(timeout.as_millis() as u64, Ordering::Relaxed);
}

pub(super) fn count_write() {
    WRITES.fetch_add(1, Ordering::Relaxed);
}

/// The handler SQLite calls with the number of times it was already called for this
/// lock; `true` means "try again".
pub(super) fn handler(attempt: i32) -> bool {
    let attempt = attempt.max(0) as usize;
    let slept: u64 = if attempt < DELAYS_US.len() {
        DELAYS_US[..attempt].iter().sum()
    } else {
        DELAYS_US.iter().sum::<u64>() + 100_000 * (attempt - DELAYS_US.len()) as u64
    };
    let timeout = TIMEOUT_MS.load(Ordering::Relaxed) * 1000;
    if slept >= timeout {
        GAVE_UP.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    if attempt == 0 {
        WRITES_THAT_WAITED.fetch_add(1, Ordering::Relaxed);
    }
    RETRIES.fetch_add(1, Ordering::Relaxed);
    let delay = DELAYS_US.get(attempt).copied().unwrap_or(100_000);
    std::thread::sleep(Duration::from_micros(delay.min(timeout - slept)));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_gives_up_once_the_timeout_is_slept() {
        set_timeout(Duration::from_millis(1));
        for attempt in 0..5 {
            assert!(handler(attempt)); // 50 + 100 + 200 + 300 + 500 µs: 1150 in all
        }
        assert!(!handler(5));
        set_timeout(Duration::from_millis(5_000));
    }
}
