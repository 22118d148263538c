//! Sensitive values at rest: sealed with AES-256-GCM under the node's master key, a
//! key that is never in the database. It lives in the data directory (`master.key`,
//! 64 hex digits, made at the first start) or in the file `master_key_file` names.
//! The database keeps only a check value (a digest of the key, which reveals nothing of
//! it), so a node whose key differs from the one the values were sealed with refuses to
//! start instead of failing later, value by value.
//!
//! A sealed value is `v1:` and the hex of a random 96-bit nonce followed by the
//! ciphertext and its tag: every sealing of the same value differs, and a changed byte
//! fails to open.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::config::Config;
use crate::error::{Error, Result};

pub use crate::files::MASTER_KEY_FILE;
/// The cluster setting that holds the master key's check value.
pub const CHECK_SETTING: &str = "master_key_check";

const NONCE_BYTES: usize = 12;
const PREFIX: &str = "v1:";

/// The key sensitive values are sealed with.
pub struct MasterKey {
    cipher: Aes256Gcm,
    check: String,
    path: PathBuf,
    hex: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("path", &self.path)
            .field("check", &self.check)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// This node's key: the file `master_key_file` names (which must exist: a key the
    /// operator gives is never made up), else `master.key` in the data directory,
    /// made on first start.
    pub fn load(config: &Config) -> Result<MasterKey> {
        match &config.master_key_file {
            Some(path) => MasterKey::read(path)?.ok_or_else(|| {
                Error::internal(format!(
                    "master_key_file {} does not exist: copy the master key there from a \
                     node that has it (`drydock master-key` on that node shows it)",
                    path.display()
                ))
            }),
            None => {
                let path = config.data_dir.join(MASTER_KEY_FILE);
                if let Some(key) = MasterKey::read(&path)? {
                    return Ok(key);
                }
                let hex = crate::tokens::random_hex(32);
                crate::files::write_private(&path, format!("{hex}\n").as_bytes())?;
                MasterKey::from_hex(&hex, path)
            }
        }
    }

    /// The key in `path`, or `None` when there is no such file.
    fn read(path: &Path) -> Result<Option<MasterKey>> {
        match std::fs::read_to_string(path) {
            Ok(text) => MasterKey::from_hex(text.trim(), path.to_path_buf()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::internal_from(format!("{}", path.display()), e)),
        }
    }

    fn from_hex(hex: &str, path: PathBuf) -> Result<MasterKey> {
        let bytes = hex::decode(hex)
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| {
                Error::internal(format!(
                    "{} must hold the master key as 64 hex digits",
                    path.display()
                ))
            })?;
        let cipher = Aes256Gcm::new_from_slice(&bytes)
            .map_err(|_| Error::internal("the master key is not 32 bytes"))?;
        let check = crate::tokens::sha256_hex(&format!("drydock master key check\n{hex}"))[..32]
            .to_string();
        Ok(MasterKey {
            cipher,
            check,
            path,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// A key for a test or a tool, from its 64 hex digits.
    pub fn from_text(hex: &str) -> Result<MasterKey> {
        MasterKey::from_hex(hex, PathBuf::from("(given)"))
    }

    /// The digest the database keeps to recognise this key.
    pub fn check_value(&self) -> &str {
        &self.check
    }

    /// Where the key was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The key itself, as the file holds it (for `drydock master-key`).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Seals `plain`: `v1:` and hex.
    pub fn seal(&self, plain: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_BYTES];
        crate::tokens::fill(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| Error::internal("sealing a sensitive value failed"))?;
        let mut out = String::with_capacity(PREFIX.len() + 2 * (NONCE_BYTES + sealed.len()));
        out.push_str(PREFIX);
        out.push_str(&hex::encode(nonce));
        out.push_str(&hex::encode(sealed));
        Ok(out)
    }

    /// Opens what [`MasterKey::seal`] made with this key.
    pub fn open(&self, sealed: &str) -> Result<String> {
        let refused = || {
            Error::internal(
                "a sensitive value could not be decrypted with this node's master key \
                 (another key sealed it, or the stored value was changed)",
            )
        };
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > NONCE_BYTES)
            .ok_or_else(refused)?;
        let (nonce, body) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| refused())?;
        String::from_utf8(plain).map_err(|_| refused())
    }
}

/// What a node says when its key is not the one the database's values were sealed
/// with.
pub fn mismatch(key: &MasterKey, expected: &str) -> Error {
    Error::internal(format!(
        "this node's master key ({}, check value {}) is not the one this database's \
         sensitive values were sealed with (check value {expected}): every node of a \
         cluster needs the same master key. Copy it from a node that runs (`drydock \
         master-key` there shows it and how) to {}, or set master_key_file; a database \
         restored without its master key cannot decrypt its sensitive values",
        key.path().display(),
        key.check_value(),
        key.path().display(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_text(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_with_its_key_and_no_other() {
        let k = key();
        let sealed = k.seal("hunter2 secret").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("hunter2"));
        assert_ne!(
            sealed,
            k.seal("hunter2 secret").unwrap(),
            "a fresh nonce every time"
        );
        assert_eq!(k.open(&sealed).unwrap(), "hunter2 secret");
        let other = MasterKey::from_text(&"cd".repeat(32)).unwrap();
        assert!(other.open(&sealed).is_err());
        assert_ne!(other.check_value(), k.check_value());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert!(k.open(&String::from_utf8(tampered).unwrap()).is_err());
        assert!(k.open("plain").is_err());
    }

    #[test]
    fn a_key_file_that_is_not_64_hex_digits_is_refused() {
        assert!(MasterKey::from_text("abc").is_err());
        assert!(MasterKey::from_text(&"zz".repeat(32)).is_err());
    }
}
