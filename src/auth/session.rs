//! Who is calling: sign-in with throttling, sessions, API keys.

use std::net::IpAddr;

use crate::access::permissions::{permissions_of, Permission, PermissionSet};
use crate::access::{Actor, Via};
use crate::clock;
use crate::config::Config;
use crate::error::Result;
use crate::password::Hasher;
use crate::store::users::User;
use crate::store::{api_keys, events, sessions, users, Store};
use crate::tokens;

pub const SESSION_COOKIE: &str = "drydock_session";

/// Sessions are touched at most this often, so reads do not each cost a write.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, Clone)]
pub struct SessionRef {
    pub token_hash: String,
    pub csrf_token: String,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub permissions: PermissionSet,
    pub via: Via,
    pub session: Option<SessionRef>,
    /// Maintenance mode as it stood when this page request began (pages only; the
    /// change guard reads the mode itself).
    pub banner: Option<crate::maintenance::Banner>,
    /// Why this node is stopping because the schema moved past it (pages only).
    pub outdated: Option<String>,
}

impl Caller {
    fn new(user: User, via: Via, session: Option<SessionRef>) -> Caller {
        Caller {
            permissions: permissions_of(&user.roles),
            user,
            via,
            session,
            banner: None,
            outdated: None,
        }
    }

    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id),
            username: self.user.username.clone(),
            permissions: self.permissions,
        }
    }

    pub fn csrf_token(&self) -> &str {
        self.session.as_ref().map_or("", |s| s.csrf_token.as_str())
    }
}

pub enum LoginOutcome {
    Success { token: String, user: User },
    Invalid,
    Throttled { retry_after_secs: i64 },
}

/// Signs in: refuses with `Throttled` after `login_max_failures` failures for the
/// username or the address within `login_window_secs` (reserved before the password is
/// checked, see [`crate::accounts::reserve_password_check`]); otherwise verifies the password (against
/// a decoy for unknown users, so both failures look and take the same) and starts a
/// session.
pub async fn login(
    store: &Store,
    hasher: &Hasher,
    config: &Config,
    username: &str,
    password: String,
    ip: Option<IpAddr>,
) -> Result<LoginOutcome> {
    let username: String = username
        .trim()
        .chars()
        .take(crate::accounts::MAX_USERNAME + 1)
        .collect();
    // Without an address the address key is "unknown", shared by all such callers.
    let reservation = match crate::accounts::reserve_password_check(
        store,
        config,
        &username,
        Some(ip.unwrap_or(UNKNOWN_IP)),
    )
    .await?
    {
        Ok(reservation) => reservation,
        Err(retry_after_secs) => return Ok(LoginOutcome::Throttled { retry_after_secs }),
    };
    let now = clock::now_ms();
    let name = username.clone();
    let credentials = store.read(move |c| users::credentials(c, &name)).await?;
    let (user_id, phc, active) = match credentials {
        Some(c) => (Some(c.user_id), Some(c.password_hash), c.is_active),
        None => (None, None, false),
    };
    let verified = hasher.verify(password, phc).await? && active;
    match (verified, user_id) {
        (true, Some(user_id)) => {
            let token = tokens::random_hex(32);
            let token_hash = tokens::sha256_hex(&token);
            let csrf = tokens::random_hex(32);
            let user = store
                .bookkeeping(move |tx| {
                    sessions::create(tx, &token_hash, user_id, &csrf, now)?;
                    reservation.release(tx)?;
                    let user =
                        users::find(tx, user_id)?.ok_or(crate::error::Error::Unauthorized)?;
                    events::record_bookkeeping_event(
                        tx,
                        events::BookkeepingEvent::LoginSucceeded,
                        (Some(user_id), &user.username),
                        "Session cookie",
                        &format!("{} signed in", user.username),
                    )?;
                    Ok(user)
                })
                .await?;
            Ok(LoginOutcome::Success { token, user })
        }
        _ => {
            // The reserved attempt becomes the failure.
            store
                .bookkeeping(move |tx| {
                    reservation.settle(tx)?;
                    events::record_bookkeeping_event(
                        tx,
                        events::BookkeepingEvent::LoginFailed,
                        (user_id, &username),
                        "Session cookie",
                        &format!("Failed sign-in as '{username}'"),
                    )?;
                    Ok(())
                })
                .await?;
            Ok(LoginOutcome::Invalid)
        }
    }
}

/// The address sign-ins without a known client address are throttled under.
const UNKNOWN_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// Ends the session whose token hashes to `token_hash`.
pub async fn logout(store: &Store, token_hash: String) -> Result<()> {
    store
        .bookkeeping(move |tx| sessions::delete(tx, &token_hash))
        .await
}

/// The caller behind a session token, if the session is live and the user active.
pub async fn from_session(store: &Store, config: &Config, token: &str) -> Result<Option<Caller>> {
    if token.len() != 64 {
        return Ok(None);
    }
    let token_hash = tokens::sha256_hex(token);
    let now = clock::now_ms();
    let idle_ms = config.session_idle_secs * 1000;
    let absolute_ms = config.session_absolute_secs * 1000;
    let hash = token_hash.clone();
    let found = store
        .read(move |c| {
            let Some(session) = sessions::find(c, &hash)? else {
                return Ok(None);
            };
            let user = users::find(c, session.user_id)?;
            Ok(Some((session, user)))
        })
        .await?;
    let Some((session, user)) = found else {
        return Ok(None);
    };
    let expired = now - session.last_seen_at > idle_ms || now - session.created_at > absolute_ms;
    let user = user.filter(|u| u.is_active);
    if expired || user.is_none() {
        store
            .bookkeeping(move |tx| sessions::delete(tx, &token_hash))
            .await?;
        return Ok(None);
    }
    if now - session.last_seen_at > TOUCH_EVERY_MS {
        let hash = token_hash.clone();
        store
            .bookkeeping(move |tx| sessions::touch(tx, &hash, now))
            .await?;
    }
    let session_ref = SessionRef {
        token_hash,
        csrf_token: session.csrf_token,
    };
    Ok(user.map(|u| Caller::new(u, Via::SessionCookie, Some(session_ref))))
}

/// Whether `key` has an API key's shape (`API-` and 32 more characters).
pub fn is_api_key_shaped(key: &str) -> bool {
    key.len() == 36 && key.starts_with("API-")
}

/// The caller behind an API key (by its SHA-256), if the key exists and its user is
/// active. Requests go through [`super::key_cache::KeyCache`], which remembers it.
pub async fn from_api_key_hash(store: &Store, key_hash: String) -> Result<Option<Caller>> {
    let user = store
        .read(move |c| match api_keys::user_for(c, &key_hash)? {
            Some(user_id) => users::find(c, user_id),
            None => Ok(None),
        })
        .await?;
    Ok(user
        .filter(|u| u.is_active)
        .map(|u| Caller::new(u, Via::ApiKey, None)))
}
