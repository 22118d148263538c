//! The data directory's files: the database's siblings that hold secrets.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

pub const SECRET_KEY_FILE: &str = "secret.key";
/// The master key's file in the data directory, when `master_key_file` names none
/// (see `crate::secrets`).
pub const MASTER_KEY_FILE: &str = "master.key";
/// The file the first administrator's password is written to.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::internal_from(format!("{}", path.display()), e)
}

/// The files drydock keeps in the data directory, readable by its user alone.
const PRIVATE_FILES: &[&str] = &[
    "drydock.db",
    "drydock.db-wal",
    "drydock.db-shm",
    "drydock.db-journal",
    SECRET_KEY_FILE,
    MASTER_KEY_FILE,
    INITIAL_PASSWORD_FILE,
    crate::config::CONFIG_FILE,
    WORK_DIR_RECORD,
];

/// Creates the data directory (and `backups/`) if missing, mode 0700; tightens an
/// existing one, and every file drydock keeps there, to 0700/0600 with a line saying
/// so; and creates an empty database file with mode 0600 so that SQLite's `-wal` and
/// `-shm` files, which take the database's mode, are private from the start. Whoever
/// runs drydock, no other local user can read the password hashes.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    private_dir(dir).map_err(|e| io_error(dir, e))?;
    let backups = dir.join("backups");
    private_dir(&backups).map_err(|e| io_error(&backups, e))?;
    let mut files: Vec<_> = PRIVATE_FILES.iter().map(|f| dir.join(f)).collect();
    if let Ok(entries) = fs::read_dir(&backups) {
        files.extend(entries.flatten().map(|e| e.path()));
    }
    for file in files {
        tighten(&file, 0o600).map_err(|e| io_error(&file, e))?;
    }
    let db = dir.join("drydock.db");
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&db)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(&db, e)),
    }
}

/// Creates `dir` (and its missing parents) with mode 0700, or tightens it to 0700.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    tighten(dir, 0o700)
}

/// Takes group and other permissions off `path` (when it exists and has any), saying so.
fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let old = meta.permissions().mode() & 0o777;
    if old & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        println!(
            "drydock: tightened {} from mode {old:04o} to {mode:04o}: only drydock's user may read it",
            path.display()
        );
    }
    Ok(())
}

/// Writes `bytes` to a new file readable only by its owner (mode 0600), replacing any
/// previous one.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io_error(&tmp, e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| io_error(&tmp, e))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).map_err(|e| io_error(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_error(path, e))
}

/// Reads `<data-dir>/secret.key` (64 hex digits: 256 bits), generating it on first
/// start. Rocket encrypts private cookies with it.
pub fn secret_key(dir: &Path) -> Result<String> {
    let path = dir.join(SECRET_KEY_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_string();
            if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::internal(format!(
                    "{} must hold 64 hex digits; delete it to have a new one generated",
                    path.display()
                )));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = crate::tokens::random_hex(32);
            write_private(&path, key.as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(io_error(&path, e)),
    }
}

/// A stable, GUID-shaped id for the installation whose secret key is `key`: a digest of
/// it (one-way), so the id is the same at every start and tells nothing of the key.
pub fn installation_id(key: &str) -> String {
    let digest = crate::tokens::sha256_hex(&format!("drydock installation id\n{key}"));
    format!(
        "{}-{}-{}-{}-{}",
        &digest[0..8],
        &digest[8..12],
        &digest[12..16],
        &digest[16..20],
        &digest[20..32]
    )
}

/// The file in the data directory naming its tasks' default working directory.
pub const WORK_DIR_RECORD: &str = "work-dir";

/// The tasks' working directory recorded in the data directory (what
/// [`default_work_dir`] made), without making one: a command that opens no node reads
/// the record, or gets a name of none.
pub fn recorded_work_dir(data_dir: &Path) -> std::path::PathBuf {
    fs::read_to_string(data_dir.join(WORK_DIR_RECORD))
        .map(|text| std::path::PathBuf::from(text.trim()))
        .unwrap_or_else(|_| std::env::temp_dir().join("drydock-work-unrecorded"))
}

/// The tasks' default working directory for `data_dir`: `drydock-work-<16 random hex
/// digits>` under the system's temporary directory, its name kept in
/// `<data_dir>/work-dir` (0600) so that every node on the data directory, and a node
/// after its restart, uses the same one. Nobody can make a directory first under a name
/// they cannot guess; when the recorded one exists but is not drydock's own (someone
/// who learnt its name, a script that saw its working directory, made it while it was
/// gone), a new name is taken and recorded, with a line saying so — the node starts.
pub fn default_work_dir(data_dir: &Path) -> Result<std::path::PathBuf> {
    let record = data_dir.join(WORK_DIR_RECORD);
    if let Ok(text) = fs::read_to_string(&record) {
        let dir = std::path::PathBuf::from(text.trim());
        match own_work_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(why) => eprintln!(
                "drydock: the tasks' working directory {} {why}: taking a new one",
                dir.display()
            ),
        }
    }
    for _ in 0..8 {
        let dir =
            std::env::temp_dir().join(format!("drydock-work-{}", crate::tokens::random_hex(8)));
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(&dir, e)),
        }
        write_private(&record, dir.to_string_lossy().as_bytes())?;
        return Ok(dir);
    }
    Err(Error::internal(
        "could not make the tasks' working directory under the temporary directory",
    ))
}

/// Whether `dir` is (or, missing, now is) a directory of drydock's user that no one else
/// may write: why not, if not.
pub fn own_work_dir(dir: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    match fs::DirBuilder::new().mode(0o711).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("cannot be made ({e})")),
    }
    let meta = fs::symlink_metadata(dir).map_err(|e| format!("cannot be read ({e})"))?;
    let me = nix::unistd::Uid::effective().as_raw();
    if !meta.is_dir() {
        return Err("is not a directory".into());
    }
    if meta.uid() != me {
        return Err(format!("belongs to uid {}, not drydock's {me}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "may be written by others (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_key_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let first = secret_key(dir.path()).unwrap();
        assert_eq!(first, secret_key(dir.path()).unwrap());
        let mode = fs::metadata(dir.path().join(SECRET_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
