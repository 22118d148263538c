//! The data directory's files: the database's siblings that hold secrets.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

pub const SECRET_KEY_FILE: &str = "secret.key";

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Internal(format!("{}: {e}", path.display()))
}

/// Creates the data directory (and `backups/`) if missing.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir.join("backups")).map_err(|e| io_error(dir, e))
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
                return Err(Error::Internal(format!(
                    "{} must hold 64 hex digits; delete it to have a new one generated",
                    path.display()
                )));
            }
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = crate::auth::tokens::random_hex(32);
            write_private(&path, key.as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(io_error(&path, e)),
    }
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
