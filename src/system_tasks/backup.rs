//! `Backup`: a consistent online copy of the database into `backups/`, keeping the
//! newest `backup_keep`. SQLite: `VACUUM INTO` reads one snapshot (WAL lets writers go
//! on meanwhile) and writes a compact copy (`.db`); PostgreSQL: `pg_dump`'s custom
//! format (`.dump`). It is written under a temporary name and renamed when complete,
//! and a cancel interrupts it and removes the partial file.

use std::path::{Path, PathBuf};

use super::{Context, Stopped, Work};
use crate::error::{Error, Result};

const PREFIX: &str = "drydock-";

fn io(path: &Path, e: std::io::Error) -> Error {
    Error::internal_from(format!("{}", path.display()), e)
}

pub fn run(ctx: &Context) -> Work {
    let dir = ctx.settings.data_dir.join("backups");
    crate::files::private_dir(&dir).map_err(|e| io(&dir, e))?;
    let stamp = crate::clock::iso(crate::clock::now_ms()).replace([':', '.'], "-");
    let source = &ctx.settings.database;
    let suffix = source.suffix();
    let name = format!("{PREFIX}{stamp}-{}{suffix}", ctx.task_id);
    let partial = dir.join(format!(".{name}.partial"));
    ctx.log(format!(
        "Backing up {} to {}",
        source.describe(),
        dir.join(&name).display()
    ));
    if !crate::store::backup::backup(source, &partial, &|| ctx.should_stop())? {
        return Ok(Err(Stopped));
    }
    let done = dir.join(&name);
    std::fs::rename(&partial, &done).map_err(|e| io(&done, e))?;
    let size = std::fs::metadata(&done).map(|m| m.len()).unwrap_or(0);
    ctx.log(format!("Wrote {} ({} KiB).", done.display(), size / 1024));
    for old in prune(&dir, suffix, ctx.settings.backup_keep)? {
        ctx.log(format!("Removed old backup {}", old.display()));
    }
    Ok(Ok(()))
}

/// Deletes all but the newest `keep` backups (by name, which sorts by time).
fn prune(dir: &Path, suffix: &str, keep: usize) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(suffix))
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
