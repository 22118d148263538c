//! `Retention`: deletes completed tasks (with their logs and deployments) beyond the
//! policy: per kind of task, the newest `retention_keep_per_kind` completed tasks and
//! anything completed within `retention_keep_days` stay; incomplete tasks always stay.
//! Works in batches of 500, one transaction each, checking for cancellation between them.

use super::{Context, Stopped, Work, NAMES};
use crate::clock;
use crate::model::TaskKind;
use crate::store::{events, retention};

const BATCH: i64 = 500;

pub fn run(ctx: &Context) -> Work {
    let s = ctx.settings;
    let cutoff = clock::now_ms() - s.retention_keep_days * 24 * 3600 * 1000;
    let kinds = std::iter::once(TaskKind::Deploy.as_str()).chain(NAMES.iter().copied());
    let mut total = 0;
    for kind in kinds {
        let Some(bound) = ctx
            .store
            .read_now(|c| retention::retention_bound(c, kind, s.retention_keep_per_kind))?
        else {
            continue;
        };
        let mut deleted = 0;
        loop {
            if ctx.should_stop() {
                ctx.log(format!(
                    "{kind}: deleted {deleted} task(s) before stopping."
                ));
                return Ok(Err(Stopped));
            }
            let n = ctx.store.bookkeeping_now(|tx| {
                retention::delete_retained_batch(tx, kind, bound, cutoff, BATCH)
            })?;
            deleted += n;
            if (n as i64) < BATCH {
                break;
            }
        }
        if deleted > 0 {
            ctx.log(format!("{kind}: deleted {deleted} completed task(s)."));
        }
        total += deleted;
    }
    let summary = format!(
        "Deleted {total} task(s); kept the newest {} of each kind and everything completed in the last {} days.",
        s.retention_keep_per_kind, s.retention_keep_days
    );
    if total > 0 {
        // Its own audit event per run: it deletes product history, in maintenance too.
        let message = format!("Retention (ServerTasks-{}): {summary}", ctx.task_id);
        ctx.store.bookkeeping_now(|tx| {
            events::record_bookkeeping_event(
                tx,
                events::BookkeepingEvent::RetentionDeletedTasks,
                (None, "system"),
                "System",
                &message,
            )
        })?;
    }
    ctx.log(summary);
    Ok(Ok(()))
}
