//! `Backup`: a consistent online copy of the database into `backups/`, keeping the
//! newest `backup_keep`. `VACUUM INTO` reads one snapshot (WAL lets writers go on
//! meanwhile) and writes a compact copy; it is written under a temporary name and
//! renamed when complete, and a cancel interrupts it and removes the partial file.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{Context, Stopped, Work};
use crate::error::{Error, Result};

const PREFIX: &str = "drydock-";
const SUFFIX: &str = ".db";

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{}: {e}", path.display()))
}

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

pub fn run(ctx: &Context) -> Work {
    let dir = ctx.settings.data_dir.join("backups");
    crate::files::private_dir(&dir).map_err(|e| io(&dir, e))?;
    let stamp = crate::clock::iso(crate::clock::now_ms()).replace([':', '.'], "-");
    let name = format!("{PREFIX}{stamp}-{}{SUFFIX}", ctx.task_id);
    let partial = dir.join(format!(".{name}.partial"));
    let db = ctx.settings.data_dir.join("drydock.db");
    ctx.log(format!(
        "Backing up {} to {}",
        db.display(),
        dir.join(&name).display()
    ));
    if !backup_to(&db, &partial, &|| ctx.should_stop())? {
        return Ok(Err(Stopped));
    }
    let done = dir.join(&name);
    std::fs::rename(&partial, &done).map_err(|e| io(&done, e))?;
    let size = std::fs::metadata(&done).map(|m| m.len()).unwrap_or(0);
    ctx.log(format!("Wrote {} ({} KiB).", done.display(), size / 1024));
    for old in prune(&dir, ctx.settings.backup_keep)? {
        ctx.log(format!("Removed old backup {}", old.display()));
    }
    Ok(Ok(()))
}

/// Deletes all but the newest `keep` backups (by name, which sorts by time).
fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep.max(1));
    let old: Vec<PathBuf> = backups.into_iter().take(excess).collect();
    for path in &old {
        std::fs::remove_file(path).map_err(|e| io(path, e))?;
    }
    Ok(old)
}
