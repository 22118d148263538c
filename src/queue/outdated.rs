//! A node whose database moved past the schema it knows, with a migration it cannot
//! work beside (a newer drydock migrated while this node was thought offline): it finds
//! out at a heartbeat, claims nothing more, says why (`/api/health`, a page banner, its
//! log) and stops itself once its running tasks have ended.

use std::sync::atomic::Ordering;

use super::{Inner, Settings};
use crate::error::Result;

/// An outdated node stops itself once its last task has ended: SIGTERM to itself, so
/// that it leaves as any graceful stop does (recorded as stopped, nothing left running).
pub(super) fn exit_if_outdated(inner: &Inner) {
    let outdated = inner.outdated.lock().ok().and_then(|o| o.clone());
    let Some(why) = outdated else { return };
    let idle = inner.running.lock().map(|r| r.is_empty()).unwrap_or(false);
    if idle && !inner.exiting.swap(true, Ordering::SeqCst) {
        eprintln!("drydock: stopping: {why}");
        if let Err(e) = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM) {
            eprintln!("drydock: could not stop itself ({e}); stop this node by hand");
        }
    }
}

/// Whether the schema moved past what this node knows with a migration it cannot work
/// beside; then why, in words for pages, `/api/health` and the log.
pub(super) fn outdated_by(
    tx: &crate::store::BookTx,
    settings: &Settings,
) -> Result<Option<String>> {
    Ok(
        match crate::store::migrate::schema_ahead(tx, settings.schema_level)? {
            Some((newest, false)) => Some(format!(
                "the database's schema is at version {newest}, past this node's \
                 {} (drydock {}), with changes this version cannot work with: a newer \
                 drydock migrated it. This node claims no more tasks and stops once its \
                 running ones end; start it again with the new version.",
                settings.schema_level,
                crate::config::VERSION
            )),
            _ => None,
        },
    )
}
