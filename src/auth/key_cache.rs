//! A short-lived cache of API key → caller, so that a script polling the API with its
//! key does not cost two database reads (key, then user and roles) per request.
//!
//! An entry is used only while nothing at all has been committed to the database since
//! it was read: each request asks SQLite's `data_version` ([`Store::data_version`],
//! microseconds), which changes with every commit by any connection of any process on
//! the same file. So a revoked key, a deactivated user or a changed role is never let
//! through from the cache — not even when another node or the command line made the
//! change — and there is no list of writes that must remember to invalidate it. The
//! version is read *before* the lookup whose result is remembered, so a change that
//! commits during the lookup makes the entry stale at once. Under steady writes (a busy
//! queue) entries rarely survive; read-mostly API use is what gains. Entries also
//! expire after [`TTL`], and the cache holds at most [`CAPACITY`] keys (by their
//! SHA-256; the key itself is never kept).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::session::{self, Caller};
use crate::error::Result;
use crate::store::Store;
use crate::tokens;

pub const TTL: Duration = Duration::from_secs(10);
pub const CAPACITY: usize = 1024;

struct Entry {
    caller: Caller,
    /// The database's `data_version` read before the lookup that found `caller`.
    version: i64,
    at: Instant,
}

#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, Entry>>,
    hits: AtomicU64,
}

impl KeyCache {
    /// The caller behind an API key, if the key exists and its user is active.
    pub async fn caller(&self, store: &Store, key: &str) -> Result<Option<Caller>> {
        if !session::is_api_key_shaped(key) {
            return Ok(None);
        }
        let key_hash = tokens::sha256_hex(key);
        // When SQLite is busy and cannot say (rare), the key is looked up and not kept.
        let version = store.data_version().ok();
        if let Some(caller) = version.and_then(|v| self.get(&key_hash, v)) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(caller));
        }
        let caller = session::from_api_key_hash(store, key_hash.clone()).await?;
        if let (Some(caller), Some(version)) = (&caller, version) {
            self.put(key_hash, caller.clone(), version);
        }
        Ok(caller)
    }

    /// How many requests were answered from the cache (for tests and benchmarks).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn get(&self, key_hash: &str, version: i64) -> Option<Caller> {
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get(key_hash)?;
        if entry.version == version && entry.at.elapsed() < TTL {
            return Some(entry.caller.clone());
        }
        entries.remove(key_hash);
        None
    }

    fn put(&self, key_hash: String, caller: Caller, version: i64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= CAPACITY {
            // Stale entries first; if all are fresh, start over (a burst of many keys).
            entries.retain(|_, e| e.version == version && e.at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key_hash,
            Entry {
                caller,
                version,
                at: Instant::now(),
            },
        );
    }
}
