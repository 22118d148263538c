//! User management: validation, the rules that stop privilege escalation, and the audit
//! events, shared by the pages, the API and the command line. No HTTP in here.

use std::net::IpAddr;
use std::path::Path;

use crate::access::{proof_of, Proof};
use crate::clock;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::Role;
use crate::password::{self, Hasher};
use crate::store::{api_keys, events, sessions, users, Store};
use crate::tokens;

pub const MAX_USERNAME: usize = 64;
pub const MAX_DISPLAY_NAME: usize = 200;
pub const MAX_PURPOSE: usize = 200;

pub use crate::files::INITIAL_PASSWORD_FILE;

pub struct NewUserInput {
    pub username: String,
    pub display_name: Option<String>,
    pub password: String,
    pub roles: Vec<String>,
    pub is_active: bool,
}

#[derive(Default)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub is_active: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub password: Option<String>,
}

pub fn check_username(username: &str) -> Result<()> {
    if username.is_empty() {
        return Err(Error::bad("Username", "is required"));
    }
    if username.chars().count() > MAX_USERNAME {
        return Err(Error::bad(
            "Username",
            format!("must be at most {MAX_USERNAME} characters"),
        ));
    }
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
    {
        return Err(Error::bad(
            "Username",
            "may contain only letters, digits and . _ @ -",
        ));
    }
    Ok(())
}

fn check_display_name(name: &str) -> Result<()> {
    if name.chars().count() > MAX_DISPLAY_NAME {
        return Err(Error::bad(
            "DisplayName",
            format!("must be at most {MAX_DISPLAY_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::bad(
            "DisplayName",
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub fn parse_roles(names: &[String]) -> Result<Vec<Role>> {
    let mut roles = Vec::new();
    for name in names {
        let role = Role::by_name(name).ok_or_else(|| {
            let valid: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
            Error::bad(
                "Roles",
                format!("unknown role '{name}'; valid roles: {}", valid.join(", ")),
            )
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles.sort();
    Ok(roles)
}

fn user_ref(user: &users::User) -> Vec<String> {
    vec![format!("Users-{}", user.id)]
}

/// Only a System Administrator may make or touch a System Administrator.
fn check_escalation(proof: &Proof, target_is_admin: bool, grants_admin: bool) -> Result<()> {
    if (target_is_admin || grants_admin) && !proof.actor().is_admin() {
        return Err(Error::Forbidden(
            "Only a System Administrator can grant the System Administrator role or change a System Administrator."
                .into(),
        ));
    }
    Ok(())
}

/// A new password typed twice: every problem at once (the policy, the mismatch).
pub fn check_new_password(new: &str, confirm: &str) -> Result<()> {
    let mismatch =
        (new != confirm).then(|| Error::bad("ConfirmPassword", "does not match the new password"));
    Error::all(
        [password::check_policy("NewPassword", new).err(), mismatch]
            .into_iter()
            .flatten()
            .collect(),
    )
}

pub async fn create_user(
    store: &Store,
    hasher: &Hasher,
    proof: &Proof,
    input: NewUserInput,
) -> Result<users::User> {
    let username = input.username.trim().to_string();
    let display_name = input
        .display_name
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| username.clone());
    let roles = parse_roles(&input.roles);
    // Every problem at once, for the form to show them all.
    Error::all(
        [
            check_username(&username).err(),
            check_display_name(&display_name).err(),
            password::check_policy("Password", &input.password).err(),
            roles.as_ref().err().cloned(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )?;
    let roles = roles?;
    check_escalation(proof, false, roles.contains(&Role::SystemAdministrator))?;
    let password_hash = hasher.hash(input.password).await?;
    let new = users::NewUser {
        username,
        display_name,
        password_hash,
        is_active: input.is_active,
        roles,
    };
    let grants_admin = new.roles.contains(&Role::SystemAdministrator);
    store
        .change(proof, move |tx| {
            // Again with the caller's roles as they are now (see `store::admit`).
            check_escalation(proof_of(tx)?, false, grants_admin)?;
            let user = users::create(tx, &new)?;
            let roles: Vec<&str> = user.roles.iter().map(|r| r.name()).collect();
            events::record(
                tx,
                "UserCreated",
                &format!(
                    "Created user {} with roles [{}]",
                    user.username,
                    roles.join(", ")
                ),
                &user_ref(&user),
            )?;
            Ok(user)
        })
        .await
}

pub async fn update_user(
    store: &Store,
    hasher: &Hasher,
    proof: &Proof,
    user_id: i64,
    update: UserUpdate,
) -> Result<users::User> {
    let display_name = update.display_name.map(|d| d.trim().to_string());
    if let Some(name) = &display_name {
        if name.is_empty() {
            return Err(Error::bad("DisplayName", "must not be empty"));
        }
        check_display_name(name)?;
    }
    let roles = update.roles.as_deref().map(parse_roles).transpose()?;
    let password_hash = match update.password {
        Some(p) => {
            password::check_policy("Password", &p)?;
            Some(hasher.hash(p).await?)
        }
        None => None,
    };
    let is_active = update.is_active;
    store
        .change(proof, move |tx| {
            let user = users::find(tx, user_id)?
                .ok_or_else(|| Error::NotFound(format!("User Users-{user_id} was not found.")))?;
            let grants_admin = roles
                .as_ref()
                .is_some_and(|r| r.contains(&Role::SystemAdministrator));
            check_escalation(
                proof_of(tx)?,
                user.roles.contains(&Role::SystemAdministrator),
                grants_admin,
            )?;
            let loses_admin = user.is_active
                && user.roles.contains(&Role::SystemAdministrator)
                && (is_active == Some(false)
                    || roles
                        .as_ref()
                        .is_some_and(|r| !r.contains(&Role::SystemAdministrator)));
            if loses_admin && users::count_active_with_role(tx, Role::SystemAdministrator)? <= 1 {
                return Err(Error::Conflict(
                    "This is the last active System Administrator; keep at least one.".into(),
                ));
            }
            let related = user_ref(&user);
            if let Some(name) = &display_name {
                if *name != user.display_name {
                    users::set_display_name(tx, user_id, name)?;
                    let message = format!("Changed display name of {} to {name}", user.username);
                    events::record(tx, "UserEdited", &message, &related)?;
                }
            }
            if let Some(roles) = &roles {
                if *roles != user.roles {
                    users::set_roles(tx, user_id, roles)?;
                    let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
                    let message =
                        format!("Set roles of {} to [{}]", user.username, names.join(", "));
                    events::record(tx, "UserRolesChanged", &message, &related)?;
                }
            }
            if let Some(active) = is_active {
                if active != user.is_active {
                    users::set_active(tx, user_id, active)?;
                    let (category, verb) = if active {
                        ("UserActivated", "Activated")
                    } else {
                        ("UserDeactivated", "Deactivated")
                    };
                    events::record(
                        tx,
                        category,
                        &format!("{verb} user {}", user.username),
                        &related,
                    )?;
                }
            }
            if let Some(hash) = &password_hash {
                users::set_password(tx, user_id, hash, None)?;
                let message = format!("Reset the password of {}", user.username);
                events::record(tx, "UserPasswordChanged", &message, &related)?;
            }
            users::find(tx, user_id)?
                .ok_or_else(|| Error::NotFound(format!("User Users-{user_id} was not found.")))
        })
        .await
}

/// A user changing their own password: the current one must match. Checking it counts
/// against the same per-user throttle as signing in (so the form is no password
/// oracle): past `login_max_failures` wrong ones within `login_window_secs` it answers
/// 429, and each wrong one is audited. Other sessions of the user end; `keep_session`
/// (the caller's own) stays.
pub async fn change_own_password(
    store: &Store,
    hasher: &Hasher,
    config: &Config,
    proof: &Proof,
    current: String,
    new: String,
    keep_session: Option<String>,
) -> Result<()> {
    let user_id = proof
        .actor()
        .user_id
        .ok_or_else(|| Error::bad("User", "only a signed-in user has a password to change"))?;
    password::check_policy("NewPassword", &new)?;
    let username = proof.actor().username.clone();
    let via = proof.via().name();
    let reservation = reserve_password_check(store, config, &username, None)
        .await?
        .map_err(|retry_after_secs| Error::TooManyRequests { retry_after_secs })?;
    let stored = store
        .read(move |c| users::password_hash(c, user_id))
        .await?;
    if !hasher.verify(current, stored).await? {
        store
            .bookkeeping(move |tx| {
                reservation.settle(tx)?;
                events::record_bookkeeping_event(
                    tx,
                    events::BookkeepingEvent::PasswordCheckFailed,
                    (Some(user_id), &username),
                    via,
                    &format!("Wrong current password given by {username} to change it"),
                )
            })
            .await?;
        return Err(Error::bad("CurrentPassword", "is not correct"));
    }
    store.bookkeeping(move |tx| reservation.release(tx)).await?;
    let hash = hasher.hash(new).await?;
    store
        .change(proof, move |tx| {
            users::set_password(tx, user_id, &hash, keep_session.as_deref())?;
            let username = tx.identity().username.clone();
            events::record(
                tx,
                "UserPasswordChanged",
                &format!("{username} changed their password"),
                &[format!("Users-{user_id}")],
            )
        })
        .await?;
    Ok(())
}

/// Resets a password by username (the command line's `user set-password`).
pub async fn set_password_by_name(
    store: &Store,
    hasher: &Hasher,
    proof: &Proof,
    username: &str,
    password: String,
) -> Result<()> {
    let name = username.to_string();
    let user = store
        .read(move |c| users::find_by_username(c, &name))
        .await?
        .ok_or_else(|| Error::NotFound(format!("No user named '{username}'.")))?;
    let update = UserUpdate {
        password: Some(password),
        ..UserUpdate::default()
    };
    update_user(store, hasher, proof, user.id, update).await?;
    Ok(())
}

/// Who may manage `target_id`'s API keys: the user themself, or a System Administrator.
fn check_key_owner(proof: &Proof, target_id: i64) -> Result<()> {
    if proof.actor().user_id == Some(target_id) || proof.actor().is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "You can manage only your own API keys; another user's keys need the AdministerSystem permission.".into(),
        ))
    }
}

/// Creates an API key for `user_id`; returns the key, which is shown only this once.
pub async fn create_api_key(
    store: &Store,
    proof: &Proof,
    user_id: i64,
    purpose: &str,
) -> Result<(api_keys::ApiKey, String)> {
    check_key_owner(proof, user_id)?;
    let purpose = purpose.trim().to_string();
    if purpose.is_empty() {
        return Err(Error::bad("Purpose", "is required"));
    }
    if purpose.chars().count() > MAX_PURPOSE {
        return Err(Error::bad(
            "Purpose",
            format!("must be at most {MAX_PURPOSE} characters"),
        ));
    }
    let key = tokens::new_api_key();
    let hash = tokens::sha256_hex(&key);
    let created = store
        .change(proof, move |tx| {
            check_key_owner(proof_of(tx)?, user_id)?;
            let user = users::find(tx, user_id)?
                .ok_or_else(|| Error::NotFound(format!("User Users-{user_id} was not found.")))?;
            let created = api_keys::create(tx, user_id, &purpose, &hash)?;
            let message = format!("Created API key '{purpose}' for {}", user.username);
            events::record(tx, "ApiKeyCreated", &message, &user_ref(&user))?;
            Ok(created)
        })
        .await?;
    Ok((created, key))
}

pub async fn revoke_api_key(store: &Store, proof: &Proof, user_id: i64, key_id: i64) -> Result<()> {
    check_key_owner(proof, user_id)?;
    store
        .change(proof, move |tx| {
            check_key_owner(proof_of(tx)?, user_id)?;
            let purpose = api_keys::delete(tx, user_id, key_id)?
                .ok_or_else(|| Error::NotFound(format!("API key {key_id} was not found.")))?;
            let message = format!("Revoked API key '{purpose}' of Users-{user_id}");
            events::record(tx, "ApiKeyRevoked", &message, &[format!("Users-{user_id}")])?;
            Ok(())
        })
        .await
}

/// On a database without users: creates `admin` as System Administrator with a random
/// password, writes the password to `<data-dir>/initial-admin-password` (mode 0600) and
/// returns it so that the caller can print it once.
pub fn bootstrap_admin(store: &Store, data_dir: &Path) -> Result<Option<String>> {
    if store.read_now(users::count)? > 0 {
        return Ok(None);
    }
    let proof = Proof::system();
    let password = tokens::new_password();
    let new = users::NewUser {
        username: "admin".into(),
        display_name: "Administrator".into(),
        password_hash: password::hash_now(&password)?,
        is_active: true,
        roles: vec![Role::SystemAdministrator],
    };
    let created = store.change_now(&proof, |tx| {
        if users::count(tx)? > 0 {
            return Ok(false);
        }
        let user = users::create(tx, &new)?;
        events::record(
            tx,
            "UserCreated",
            "Created the first administrator, admin",
            &user_ref(&user),
        )?;
        Ok(true)
    })?;
    if !created {
        return Ok(None);
    }
    crate::files::write_private(&data_dir.join(INITIAL_PASSWORD_FILE), password.as_bytes())?;
    Ok(Some(password))
}

// Sign-in throttling: one password check reserved before the slow hash runs.

/// The throttle's key for attempts on `username`: the account it names, as the
/// database matches names (on PostgreSQL ignoring case, width and characters such as
/// zero-width spaces), so that every spelling of one account counts against one limit;
/// a name that matches no account counts under its lower-cased self.
fn user_throttle_key(conn: &crate::store::Conn, username: &str) -> Result<String> {
    Ok(match users::id_by_username(conn, username)? {
        Some(id) => format!("user:#{id}"),
        None => format!("user:{}", username.to_lowercase()),
    })
}

/// One password check reserved against the sign-in throttle (see
/// [`reserve_password_check`]): it counts as a failure unless released.
pub struct Reservation {
    ids: Vec<i64>,
    user_key: String,
}

impl Reservation {
    /// The password was right: the reserved attempt no longer counts, nor do the
    /// username's failures before it.
    pub fn release(&self, tx: &crate::store::BookTx) -> Result<()> {
        sessions::release(tx, &self.ids, &self.user_key)
    }

    /// The password was wrong: the reserved attempt counts as a failure.
    pub fn settle(&self, tx: &crate::store::BookTx) -> Result<()> {
        sessions::settle(tx, &self.ids)
    }
}

/// Reserves one password check for `username` (and `ip`, when given) before the slow
/// hash runs: `Err(retry_after_secs)` once `login_max_failures` checks were made for
/// the username or the address within `login_window_secs`. Reserving is one write
/// transaction, so however many attempts arrive at once, at most the limit are checked.
pub async fn reserve_password_check(
    store: &Store,
    config: &Config,
    username: &str,
    ip: Option<IpAddr>,
) -> Result<std::result::Result<Reservation, i64>> {
    let now = clock::now_ms();
    let window_ms = config.login_window_secs * 1000;
    let max = i64::from(config.login_max_failures);
    let username = username.to_string();
    let reserved = store
        .bookkeeping(move |tx| {
            let user_key = user_throttle_key(tx, &username)?;
            let mut keys = vec![user_key.clone()];
            if let Some(ip) = ip {
                keys.push(format!("ip:{ip}"));
            }
            Ok(
                sessions::reserve_attempt(tx, &keys, now, now - window_ms, max)?
                    .map(|ids| Reservation { ids, user_key }),
            )
        })
        .await?;
    Ok(match reserved {
        Ok(reservation) => Ok(reservation),
        Err(sessions::Throttled::Failures { oldest }) => {
            Err(((oldest + window_ms - now) / 1000).max(1))
        }
        // Checks for this user or address are running right now: not a lockout.
        Err(sessions::Throttled::Busy) => Err(1),
    })
}
