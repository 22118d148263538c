//! Each task's own user id. With `script_uids` (a range of user ids no account uses),
//! every running deployment script gets a user id of that range to itself, with
//! `script_user`'s groups: another task's script cannot read its directory, its
//! standard input (the variables), its memory or `/proc` entries, nor signal it, and
//! everything a task left running is found by its user id alone when it ends.
//!
//! A task's directory is the record of its id: its owner. An id is free when no entry
//! of the work directory is owned by it; choosing one and handing the directory over
//! happen under a lock file, so nodes on one host never choose the same id. An id goes
//! back to the range when its task's directory is removed, after every process of it
//! was killed.

use std::fs;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::{Gid, Uid};

/// The user ids tasks may run as, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    pub first: u32,
    pub last: u32,
}

impl UidRange {
    /// `script_uids` as written: `START-END`; empty is none.
    pub fn parse(text: &str) -> Result<Option<UidRange>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let bad = || {
            format!(
                "script_uids '{text}' must be a range of unused user ids, START-END (e.g. \
                 2000000000-2000065535)"
            )
        };
        let (first, last) = text.split_once('-').ok_or_else(bad)?;
        let first: u32 = first.trim().parse().map_err(|_| bad())?;
        let last: u32 = last.trim().parse().map_err(|_| bad())?;
        if first < 1000 || last < first || last == u32::MAX {
            return Err(bad());
        }
        Ok(Some(UidRange { first, last }))
    }

    fn count(self) -> u64 {
        u64::from(self.last - self.first) + 1
    }

    pub fn contains(self, uid: u32) -> bool {
        (self.first..=self.last).contains(&uid)
    }
}

/// Chooses a free id of `range` for task `task_id` and hands `dir` (its fresh
/// directory in `work_dir`) to it and `gid`; the id.
pub fn allocate(
    range: UidRange,
    work_dir: &Path,
    dir: &Path,
    task_id: i64,
    gid: u32,
) -> std::io::Result<u32> {
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(work_dir.join(".uids.lock"))?;
    let _held =
        Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))?;
    let taken: std::collections::BTreeSet<u32> = fs::read_dir(work_dir)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.uid())
        .filter(|uid| range.contains(*uid))
        .collect();
    let start = task_id.unsigned_abs() % range.count();
    let uid = (0..range.count())
        .map(|k| range.first + ((start + k) % range.count()) as u32)
        .find(|uid| !taken.contains(uid))
        .ok_or_else(|| {
            std::io::Error::other(format!(
                "every user id of script_uids ({}-{}) is in use by a running task",
                range.first, range.last
            ))
        })?;
    nix::unistd::chown(dir, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_two_ids_in_order_clear_of_the_system_ones() {
        assert_eq!(
            UidRange::parse(" 2000000000-2000000009 ").unwrap(),
            Some(UidRange {
                first: 2_000_000_000,
                last: 2_000_000_009
            })
        );
        assert_eq!(UidRange::parse("").unwrap(), None);
        for bad in ["5", "0-100", "10-20", "3000-2000", "a-b", "2000-4294967295"] {
            assert!(UidRange::parse(bad).is_err(), "{bad}");
        }
    }
}
