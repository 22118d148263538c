//! Password hashing: argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1),
//! stored as a PHC string. Hashing runs on the blocking pool, at most
//! `hash_concurrency` at a time, so a burst of sign-ins cannot stall other requests.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks a new password against the policy; `field` names it in the error.
pub fn check_policy(field: &str, password: &str) -> Result<()> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        return Err(Error::bad(
            field,
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if chars > MAX_LENGTH {
        return Err(Error::bad(
            field,
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

pub fn hash_now(password: &str) -> Result<String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("hashing a password: {e}")))
}

/// True when `password` matches the PHC string `phc`.
pub fn verify_now(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of nothing in particular, verified against when a username does not exist so
/// that a wrong username takes as long as a wrong password.
fn decoy() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_now("decoy password that matches nothing").unwrap_or_default())
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(concurrency: usize) -> Hasher {
        Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Internal(format!("hasher closed: {e}")))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::Internal(format!("hashing task: {e}")))
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || hash_now(&password)).await?
    }

    /// Verifies against `phc`, or against a decoy when there is no such user.
    pub async fn verify(&self, password: String, phc: Option<String>) -> Result<bool> {
        self.run(move || match phc {
            Some(phc) => verify_now(&password, &phc),
            None => {
                verify_now(&password, decoy());
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let phc = hash_now("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_now("correct horse battery", &phc));
        assert!(!verify_now("wrong horse battery", &phc));
        assert!(!verify_now("x", "not a phc string"));
    }

    #[test]
    fn policy_names_the_field() {
        let err = check_policy("Password", "short").unwrap_err();
        assert!(err.to_string().starts_with("Password:"));
        assert!(check_policy("Password", "long enough password").is_ok());
    }
}
