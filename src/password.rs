//! Password hashing: argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1),
//! stored as a PHC string, computed on dedicated lowest-priority threads ([`Hasher`]).

use std::sync::{Arc, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

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
        .map_err(|e| Error::internal_from("hashing a password", e))
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

type Job = Box<dyn FnOnce() + Send>;

/// Hashing runs on its own few threads at the lowest CPU priority (nice 19), never on the async
/// runtime or the shared blocking pool. So a burst of sign-ins uses at most
/// `hash_concurrency` cores, yields them to every other request, and keeps at most that
/// many 19 MiB work areas in memory.
#[derive(Clone)]
pub struct Hasher {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

/// Pending hashes beyond this are refused with 503 rather than queued without bound.
const QUEUE: usize = 256;

impl Hasher {
    pub fn new(concurrency: usize) -> Hasher {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for n in 0..concurrency.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("drydock-hash-{n}"))
                .spawn(move || {
                    crate::clock::lower_thread_priority();
                    loop {
                        let job = match queue.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // every Hasher is gone
                        }
                    }
                });
            if let Err(e) = spawned {
                eprintln!("drydock: could not start a hashing thread: {e}");
            }
        }
        Hasher { jobs }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => {
                Error::Unavailable("Too many sign-ins at once; try again shortly.".into())
            }
            std::sync::mpsc::TrySendError::Disconnected(_) => {
                Error::internal("the hashing threads have stopped")
            }
        })?;
        result
            .await
            .map_err(|_| Error::internal("a hashing thread failed"))
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

    #[tokio::test]
    async fn hashing_threads_run_at_the_lowest_priority_and_return_results() {
        let hasher = Hasher::new(1);
        let sched = hasher
            .run(|| std::fs::read_to_string("/proc/thread-self/sched").unwrap_or_default())
            .await
            .unwrap();
        // prio = 120 + nice.
        let prio = sched
            .lines()
            .find(|l| l.starts_with("prio"))
            .unwrap_or_default();
        assert!(
            prio.trim_end().ends_with(" 139"),
            "nice 19 is prio 139: {prio}"
        );
        let phc = hasher.hash("correct horse battery".into()).await.unwrap();
        assert!(hasher
            .verify("correct horse battery".into(), Some(phc))
            .await
            .unwrap());
        assert!(!hasher
            .verify("correct horse battery".into(), None)
            .await
            .unwrap());
    }

    #[test]
    fn policy_names_the_field() {
        let err = check_policy("Password", "short").unwrap_err();
        assert!(err.to_string().starts_with("Password:"));
        assert!(check_policy("Password", "long enough password").is_ok());
    }
}
