//! Deployment freezes (Octopus's): windows in which deployments to chosen
//! project × environment pairs are refused when created, and failed — or, drydock's
//! extension, held — when due to start; an override by a holder of
//! `DeploymentFreezeAdminister` lets one through with a recorded reason. System tasks
//! are never frozen. `schedule.rs` computes the windows, `input.rs` checks what the API
//! and the pages send, `gate.rs` applies freezes to deployments.

mod gate;
pub mod input;
pub mod read;
pub mod schedule;
pub mod timeline;

pub use gate::{check_creation, gate, CreationCheck, Override, NO_VALID_FREEZES};
pub use input::{FreezeBody, RecurringSchedule};
pub use schedule::{Schedule, Window, Zone};

use crate::error::{Error, Result};
use crate::store::freezes::{self as rows, FreezeFields};
use crate::store::{events, projects, ChangeTx, Conn, Store};

/// What a deployment due while a freeze is on does: Octopus fails it; drydock may hold
/// it until the freeze ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStart {
    Fail,
    Hold,
}

impl OnStart {
    pub fn as_str(self) -> &'static str {
        match self {
            OnStart::Fail => "Fail",
            OnStart::Hold => "Hold",
        }
    }
}

/// Octopus's freeze status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A window is open now.
    Active,
    /// A window will open later.
    Scheduled,
    /// No window will open again.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Scheduled => "Scheduled",
            Status::Expired => "Expired",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [Status::Active, Status::Scheduled, Status::Expired]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// A freeze with its windows.
#[derive(Clone, Debug)]
pub struct Freeze {
    pub row: rows::Freeze,
    pub recurring: Option<RecurringSchedule>,
    pub on_start: OnStart,
    pub schedule: Option<Schedule>,
}

impl Freeze {
    pub fn from_row(row: rows::Freeze) -> Freeze {
        let recurring: Option<RecurringSchedule> = row
            .recurrence
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok());
        let recurrence = recurring.as_ref().and_then(|r| {
            input::recurrence_of(r, row.utc_offset_minutes as i32, Some(row.start_time))
                .ok()
                .map(|(_, r)| r)
        });
        let zone = match &row.time_zone {
            Some(name) => Zone::Named(name.clone()),
            None => Zone::Offset(row.utc_offset_minutes as i32),
        };
        let schedule = Schedule::new(row.start_time, row.end_time, recurrence, zone);
        let on_start = if row.on_start == "Hold" {
            OnStart::Hold
        } else {
            OnStart::Fail
        };
        Freeze {
            row,
            recurring,
            on_start,
            schedule,
        }
    }

    pub fn id(&self) -> String {
        format!("DeploymentFreezes-{}", self.row.id)
    }

    /// The window open at `at`, if any.
    pub fn window_at(&self, at: i64) -> Option<Window> {
        self.schedule.as_ref()?.covering(at)
    }

    /// The window open at `now`, else the next one to open.
    pub fn current_or_next(&self, now: i64) -> Option<Window> {
        let s = self.schedule.as_ref()?;
        s.covering(now).or_else(|| s.next_after(now))
    }

    pub fn status(&self, now: i64) -> Status {
        match self.current_or_next(now) {
            Some((start, _)) if start <= now => Status::Active,
            Some(_) => Status::Scheduled,
            None => Status::Expired,
        }
    }

    pub fn covers(&self, project: i64, environment: i64) -> bool {
        self.row.scope.contains(&(project, environment))
    }

    /// "every Friday 15:00–23:59 Europe/Berlin".
    pub fn describe(&self) -> String {
        self.schedule
            .as_ref()
            .map_or_else(String::new, Schedule::describe)
    }
}

pub fn not_found(id: i64) -> Error {
    Error::NotFound(format!(
        "Deployment freeze DeploymentFreezes-{id} was not found."
    ))
}

/// Every freeze, by name.
pub fn all(conn: &Conn) -> Result<Vec<Freeze>> {
    Ok(rows::all(conn)?.into_iter().map(Freeze::from_row).collect())
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<Freeze>> {
    Ok(rows::find(conn, id)?.map(Freeze::from_row))
}

/// The freezes over `project` × `environment` with a window open at `at`.
pub fn in_force(
    conn: &Conn,
    project: i64,
    environment: i64,
    at: i64,
) -> Result<Vec<(Freeze, Window)>> {
    Ok(rows::over_pair(conn, project, environment, at)?
        .into_iter()
        .map(Freeze::from_row)
        .filter_map(|f| f.window_at(at).map(|w| (f, w)))
        .collect())
}

fn fields(checked: &input::Checked) -> FreezeFields {
    FreezeFields {
        name: checked.name.clone(),
        description: checked.description.clone(),
        start_time: checked.start,
        end_time: checked.end,
        recurrence: checked
            .recurring
            .as_ref()
            .and_then(|(answered, _)| serde_json::to_string(answered).ok()),
        time_zone: match &checked.zone {
            Zone::Named(name) => Some(name.clone()),
            Zone::Offset(_) => None,
        },
        utc_offset_minutes: match &checked.zone {
            Zone::Offset(m) => i64::from(*m),
            Zone::Named(_) => checked
                .recurring
                .as_ref()
                .and_then(|(r, _)| r.user_utc_offset_in_minutes)
                .unwrap_or(0),
        },
        on_start: checked.on_start.as_str().to_string(),
        until_time: checked.schedule.last_end(),
        scope: checked.scope.clone(),
    }
}

/// The scope's projects and environments must exist.
fn check_scope(tx: &ChangeTx, scope: &[(i64, i64)]) -> Result<()> {
    for (p, e) in scope {
        if projects::find(tx, *p)?.is_none() {
            return Err(Error::bad(
                "ProjectEnvironmentScope",
                format!("Projects-{p} does not exist"),
            ));
        }
        if projects::find_environment(tx, *e)?.is_none() {
            return Err(Error::bad(
                "ProjectEnvironmentScope",
                format!("Environments-{e} does not exist"),
            ));
        }
    }
    Ok(())
}

fn related(id: i64, scope: &[(i64, i64)]) -> Vec<String> {
    let mut related = vec![format!("DeploymentFreezes-{id}")];
    for (p, e) in scope {
        for r in [format!("Projects-{p}"), format!("Environments-{e}")] {
            if !related.contains(&r) {
                related.push(r);
            }
        }
    }
    related
}

/// Creates a freeze (audited). Deployments it covers are refused from its first
/// window on.
pub async fn create(
    store: &Store,
    admission: &impl crate::store::Admit,
    body: FreezeBody,
) -> Result<Freeze> {
    let checked = input::check(body)?;
    let f = fields(&checked);
    let id = store
        .change(admission, move |tx| {
            check_scope(tx, &f.scope)?;
            let now = crate::clock::now_ms();
            let id = rows::create(tx, &f, now)?;
            events::record(
                tx,
                "DeploymentFreezeCreated",
                &format!(
                    "Created deployment freeze {}: {}",
                    f.name,
                    checked.schedule.describe()
                ),
                &related(id, &f.scope),
            )?;
            Ok(id)
        })
        .await?;
    store
        .read(move |c| find(c, id))
        .await?
        .ok_or_else(|| not_found(id))
}

/// Replaces a freeze's fields (audited); the tasks it held are let go, to be held
/// again at their next claim if the freeze still covers them.
pub async fn update(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
    body: FreezeBody,
) -> Result<Freeze> {
    let checked = input::check(body)?;
    let f = fields(&checked);
    store
        .change(admission, move |tx| {
            rows::find(tx, id)?.ok_or_else(|| not_found(id))?;
            check_scope(tx, &f.scope)?;
            let now = crate::clock::now_ms();
            rows::update(tx, id, &f, now)?;
            rows::release_held(tx, now)?;
            events::record(
                tx,
                "DeploymentFreezeModified",
                &format!(
                    "Modified deployment freeze {}: {}",
                    f.name,
                    checked.schedule.describe()
                ),
                &related(id, &f.scope),
            )?;
            Ok(())
        })
        .await?;
    store
        .read(move |c| find(c, id))
        .await?
        .ok_or_else(|| not_found(id))
}

/// Deletes a freeze (audited); the tasks it held may start at once.
pub async fn delete(store: &Store, admission: &impl crate::store::Admit, id: i64) -> Result<()> {
    store
        .change(admission, move |tx| {
            let found = rows::find(tx, id)?.ok_or_else(|| not_found(id))?;
            let now = crate::clock::now_ms();
            rows::delete(tx, id)?;
            rows::release_held(tx, now)?;
            events::record(
                tx,
                "DeploymentFreezeDeleted",
                &format!("Deleted deployment freeze {}", found.name),
                &related(id, &found.scope),
            )?;
            Ok(())
        })
        .await
}
