//! `SessionCleanup`: removes expired sessions, old sign-in throttling records and
//! idempotency keys older than a day.

use super::{Context, Work};
use crate::clock;
use crate::store::{idempotency, sessions};

pub fn run(ctx: &Context) -> Work {
    let now = clock::now_ms();
    let s = ctx.settings;
    let (idle_before, created_before) = (now - s.session_idle_ms, now - s.session_absolute_ms);
    let removed = ctx
        .store
        .bookkeeping_now(|tx| sessions::delete_expired(tx, idle_before, created_before))?;
    ctx.log(format!("Removed {removed} expired session(s)."));
    let window = now - s.login_window_ms;
    let cleared = ctx
        .store
        .bookkeeping_now(|tx| sessions::delete_old_failures(tx, window))?;
    ctx.log(format!("Removed {cleared} old sign-in failure record(s)."));
    let forgotten = ctx
        .store
        .bookkeeping_now(|tx| idempotency::expire(tx, now))?;
    ctx.log(format!(
        "Forgot {forgotten} idempotency key(s) older than a day."
    ));
    Ok(Ok(()))
}
