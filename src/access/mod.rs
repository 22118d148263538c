//! Who may change what: the permissions and what the built-in roles grant
//! (`permissions.rs`), the [`Proof`] every change carries (`proof.rs`), and the
//! admission the store runs inside each change's own transaction: the caller as the
//! database holds them at that moment (active, current roles), maintenance mode's
//! refusal for anyone who is not then an administrator, and the permission the route
//! required.

pub mod permissions;
pub mod proof;

use std::any::Any;

use crate::store::Conn;

pub use permissions::{need, Permission, PermissionSet, Requirement, Role};
pub use proof::{Actor, Proof, Via};

use crate::error::{Error, Result};
use crate::store::{users, Admit, ChangeTx, Identity};

impl Admit for Proof {
    /// The check repeated inside every change transaction (`BEGIN IMMEDIATE`), so that
    /// what the request guard saw cannot have changed by the time the change commits.
    /// It decides with the caller as the database holds them now, not as the request
    /// found them: the user must still exist and be active; unless their *current*
    /// roles make them an administrator, maintenance mode must be off (503); and their
    /// current roles must still grant the permission the route required (403). No
    /// non-administrator's change can commit after the transaction that enabled
    /// maintenance mode, nor any change after the transaction that took its permission
    /// away. The change then sees the proof with the current permissions.
    fn admit(&self, conn: &Conn) -> Result<(Identity, Box<dyn Any + Send + Sync>)> {
        let proof = match self.actor().user_id {
            None => self.clone(),
            Some(user_id) => {
                let user = users::find_for_change(conn, user_id)?.filter(|u| u.is_active);
                let Some(user) = user else {
                    return Err(Error::Forbidden("Your account is not active.".into()));
                };
                self.refreshed(permissions::permissions_of(&user.roles))
            }
        };
        if !proof.actor().is_admin() {
            if let Some(refusal) = crate::maintenance::refusal_in_change(conn)? {
                return Err(refusal);
            }
        }
        if let Some(p) = proof.required() {
            if !proof.actor().can(p) {
                return Err(Error::missing_permission(p));
            }
        }
        let identity = Identity {
            user_id: proof.actor().user_id,
            username: proof.actor().username.clone(),
            via: proof.via().name(),
            administrator: proof.actor().is_admin(),
        };
        Ok((identity, Box::new(proof)))
    }
}

/// The proof a change was admitted with (its permissions as they were when the
/// change's transaction began).
pub fn proof_of<'a>(tx: &'a ChangeTx) -> Result<&'a Proof> {
    tx.admitted::<Proof>()
        .ok_or_else(|| Error::internal("a change was admitted without a proof"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{maintenance, Store};

    /// A store with a user `dana` holding `role`; a proof of her request to a route
    /// that requires `required`.
    fn setup(role: Role, required: Permission) -> (tempfile::TempDir, Store, i64, Proof) {
        setup_on(None, role, required)
    }

    /// A fresh PostgreSQL database on the server `DRYDOCK_TEST_POSTGRES` names (as
    /// `scripts/test.sh` sets it), dropped when this goes; `None` without one (never
    /// under CI).
    struct PgDatabase {
        server: String,
        name: String,
        url: String,
    }

    impl PgDatabase {
        fn fresh() -> Option<PgDatabase> {
            let Ok(server) = std::env::var("DRYDOCK_TEST_POSTGRES") else {
                assert!(
                    std::env::var("CI").map_or(true, |v| v != "true"),
                    "DRYDOCK_TEST_POSTGRES is not set: run the tests with scripts/test.sh"
                );
                return None;
            };
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let name = format!(
                "drydock_unit_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            );
            let mut admin = postgres::Client::connect(&server, postgres::NoTls).unwrap();
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
            let url = format!("{base}/{name}");
            Some(PgDatabase { server, name, url })
        }
    }

    impl Drop for PgDatabase {
        fn drop(&mut self) {
            if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }

    /// [`setup`] on PostgreSQL when `url` is given.
    fn setup_on(
        url: Option<&str>,
        role: Role,
        required: Permission,
    ) -> (tempfile::TempDir, Store, i64, Proof) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = crate::config::Config::for_tests(dir.path());
        config.database_url = url.map(str::to_string);
        let store = Store::open(&config).unwrap();
        let user = store
            .change_now(&Proof::system(), |tx| {
                users::create(
                    tx,
                    &users::NewUser {
                        username: "dana".into(),
                        display_name: "Dana".into(),
                        password_hash: "x".into(),
                        is_active: true,
                        roles: vec![role],
                    },
                )
            })
            .unwrap();
        let actor = Actor {
            user_id: Some(user.id),
            username: "dana".into(),
            permissions: permissions::permissions_of(&[role]),
        };
        let proof = Proof::for_request(actor, Via::ApiKey, Some(required));
        (dir, store, user.id, proof)
    }

    fn set_role(store: &Store, user: i64, role: Role) {
        store
            .change_now(&Proof::system(), |tx| users::set_roles(tx, user, &[role]))
            .unwrap();
    }

    fn set_maintenance(store: &Store, on: bool) {
        store
            .change_now(&Proof::system(), |tx| {
                maintenance::set(tx, on, None, "test", None, crate::clock::now_ms())
            })
            .unwrap();
    }

    #[test]
    fn a_caller_demoted_after_the_guard_ran_is_refused_inside_the_transaction() {
        let (_dir, store, user, proof) = setup(Role::ProjectLead, Permission::ProjectEdit);
        assert!(store.change_now(&proof, |_| Ok(())).is_ok());
        set_role(&store, user, Role::Viewer);
        let refused = store.change_now(&proof, |_| Ok(())).unwrap_err();
        assert!(
            matches!(refused, Error::Forbidden(ref m) if m.contains("ProjectEdit")),
            "{refused:?}"
        );
    }

    #[test]
    fn maintenance_refuses_whoever_is_not_an_administrator_at_commit() {
        let (_dir, store, user, proof) = setup(Role::SystemAdministrator, Permission::ProjectEdit);
        set_maintenance(&store, true);
        // An administrator passes, and the change sees her current permissions.
        let admin = store
            .change_now(&proof, |tx| Ok(proof_of(tx)?.actor().is_admin()))
            .unwrap();
        assert!(admin);
        // Demoted while maintenance is on: the proof still says administrator, the
        // database does not.
        set_role(&store, user, Role::SystemManager);
        let refused = store.change_now(&proof, |_| Ok(())).unwrap_err();
        assert!(matches!(refused, Error::Maintenance(_)), "{refused:?}");
        set_maintenance(&store, false);
        assert!(store.change_now(&proof, |_| Ok(())).is_ok());
    }

    /// A change admitted by `proof` stays open (up to a second) while `meanwhile` runs
    /// on another thread: whether `meanwhile` committed while the change was still
    /// open — which would let the change commit after it, decided by what it undid.
    fn committed_while_open(store: &Store, proof: &Proof, meanwhile: impl FnOnce() + Send) -> bool {
        let done = std::sync::atomic::AtomicBool::new(false);
        let (admitted, wait_admitted) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let change = scope.spawn(|| {
                store.change_now(proof, |_| {
                    admitted.send(()).unwrap();
                    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
                    while !done.load(std::sync::atomic::Ordering::SeqCst)
                        && std::time::Instant::now() < deadline
                    {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Ok(done.load(std::sync::atomic::Ordering::SeqCst))
                })
            });
            wait_admitted.recv().unwrap();
            scope.spawn(|| {
                meanwhile();
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            change.join().unwrap().unwrap()
        })
    }

    /// On both backends (PostgreSQL when the tests have one): a demotion, and turning
    /// maintenance mode on, wait for a change admitted before them to commit. SQLite's
    /// single writer does it by itself; on PostgreSQL (READ COMMITTED) it is the share
    /// locks the admission takes on the caller's user row and on the mode.
    #[test]
    fn a_demotion_or_maintenance_waits_for_a_change_admitted_before_it() {
        let pg = PgDatabase::fresh();
        let mut urls = vec![None];
        urls.extend(pg.as_ref().map(|db| Some(db.url.as_str())));
        for url in &urls {
            let (_dir, store, user, proof) =
                setup_on(*url, Role::ProjectLead, Permission::ProjectEdit);
            let demoted =
                committed_while_open(&store, &proof, || set_role(&store, user, Role::Viewer));
            assert!(
                !demoted,
                "{url:?}: a demotion committed while a change it undoes was open"
            );
            set_role(&store, user, Role::ProjectLead);
            let enabled = committed_while_open(&store, &proof, || set_maintenance(&store, true));
            assert!(
                !enabled,
                "{url:?}: maintenance came on while a non-administrator's change was open"
            );
            let refused = store.change_now(&proof, |_| Ok(())).unwrap_err();
            assert!(matches!(refused, Error::Maintenance(_)), "{refused:?}");
        }
    }

    #[test]
    fn a_deactivated_caller_is_refused_and_the_change_does_not_run() {
        let (_dir, store, user, proof) = setup(Role::ProjectLead, Permission::ProjectEdit);
        store
            .change_now(&Proof::system(), |tx| users::set_active(tx, user, false))
            .unwrap();
        let mut ran = false;
        let refused = store.change_now(&proof, |_| {
            ran = true;
            Ok(())
        });
        assert!(refused.is_err() && !ran);
    }
}
