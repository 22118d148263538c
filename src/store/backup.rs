//! Online copies of the database: `VACUUM INTO` reads one snapshot (WAL lets writers
//! go on meanwhile) and writes a compact copy, interruptible.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// Copies the database at `db` into `out` (which must not exist), stopping early when
/// `stop` returns true. Returns false if it stopped.
pub fn backup_to(db: &Path, out: &Path, stop: &(dyn Fn() -> bool + Sync)) -> Result<bool> {
    // Made empty first, readable by drydock's user alone: VACUUM INTO fills an empty
    // file, and a backup holds everything the database does (password hashes too).
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::bad(
                "out",
                format!("{} already exists", out.display()),
            ));
        }
        Err(e) => return Err(Error::bad("out", format!("{}: {e}", out.display()))),
    }
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let interrupt = conn.get_interrupt_handle();
    let finished = AtomicBool::new(false);
    let stopped = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::SeqCst) {
                if stop() {
                    stopped.store(true, Ordering::SeqCst);
                    interrupt.interrupt();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let result = conn.execute("VACUUM INTO ?1", [out.to_string_lossy()]);
        finished.store(true, Ordering::SeqCst);
        result
    });
    if stopped.load(Ordering::SeqCst) {
        let _ = std::fs::remove_file(out);
        return Ok(false);
    }
    if let Err(e) = result {
        let _ = std::fs::remove_file(out);
        return Err(e.into());
    }
    Ok(true)
}
