//! Configuration ➜ Deployment freezes (the list, with each freeze's status, schedule in
//! words and current or next window; the create and edit form with its project ×
//! environment picker). The form sends what the API does: local
//! times in the freeze's time zone become instants here, `freezes::input` checks the
//! rest.

use askama::Template;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, Field, FormErrors, FormResult};
use super::{done, page_id, refused, render, Layout};
use crate::access::Permission;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::error::{Error, Result};
use crate::freezes::schedule::WEEKDAYS;
use crate::freezes::{self, Freeze, FreezeBody, RecurringSchedule, Status, Zone};
use crate::store::projects;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, new, edit, create, update, delete]
}

const BACK: &str = "/configuration/freezes";

pub struct FreezeRow {
    pub id: i64,
    pub name: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub words: String,
    /// "on until …", "next …–…", or empty when expired.
    pub window: String,
    pub on_start: &'static str,
    pub pairs: Vec<String>,
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Active => "bad",
        Status::Scheduled => "scheduled",
        Status::Expired => "quiet",
    }
}

/// "Shop → Production" for each pair, with names where they still exist.
fn pair_names(
    scope: &[(i64, i64)],
    projects: &[(i64, String)],
    environments: &[(i64, String)],
) -> Vec<String> {
    let name = |list: &[(i64, String)], id: i64, kind: &str| {
        list.iter()
            .find(|(i, _)| *i == id)
            .map_or_else(|| format!("{kind}-{id}"), |(_, n)| n.clone())
    };
    scope
        .iter()
        .map(|(p, e)| {
            format!(
                "{} → {}",
                name(projects, *p, "Projects"),
                name(environments, *e, "Environments")
            )
        })
        .collect()
}

fn row(
    f: &Freeze,
    now: i64,
    projects: &[(i64, String)],
    environments: &[(i64, String)],
) -> FreezeRow {
    let status = f.status(now);
    let window = match f.current_or_next(now) {
        Some((start, end)) if start <= now => format!("on until {}", clock::display(end)),
        Some((start, end)) => format!("next {} – {}", clock::display(start), clock::display(end)),
        None => String::new(),
    };
    FreezeRow {
        id: f.row.id,
        name: f.row.name.clone(),
        status: status.as_str(),
        status_class: status_class(status),
        words: f.describe(),
        window,
        on_start: f.on_start.as_str(),
        pairs: pair_names(&f.row.scope, projects, environments),
    }
}

/// Every project's and environment's id and name, for a page's choices.
pub(super) type Names = (Vec<(i64, String)>, Vec<(i64, String)>);

pub(super) async fn names(app: &App) -> Result<Names> {
    app.store
        .read(|c| {
            let (ps, _) = projects::list(c, 0, 10_000)?;
            let (es, _) = projects::list_environments(c, 0, 10_000)?;
            Ok((
                ps.into_iter().map(|p| (p.id, p.name)).collect(),
                es.into_iter().map(|e| (e.id, e.name)).collect(),
            ))
        })
        .await
}

#[derive(Template)]
#[template(path = "config/freezes.html")]
struct FreezesPage {
    layout: Layout,
    rows: Vec<FreezeRow>,
    can_administer: bool,
}

#[rocket::get("/configuration/freezes")]
async fn list(
    caller: Allowed<need::SignedIn>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let all = app.store.read(freezes::all).await?;
    let (ps, es) = names(app).await?;
    let mut rows: Vec<(Status, FreezeRow)> = all
        .iter()
        .map(|f| (f.status(now), row(f, now, &ps, &es)))
        .collect();
    // Active first, then scheduled, then expired; by name within each.
    rows.sort_by_key(|(s, r)| (*s as u8, r.name.to_lowercase()));
    render(&FreezesPage {
        layout: Layout::new("Deployment freezes", &caller, flash).at(BACK),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
        can_administer: caller.can(Permission::DeploymentFreezeAdminister),
    })
}

/// The create and edit form: times are local to `time_zone`. Every field may be left
/// out (a form posted by hand): what is missing is what the check names.
#[derive(FromForm, Clone, Default)]
pub struct FreezeForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    description: String,
    #[field(default = String::new())]
    start: String,
    #[field(default = String::new())]
    end: String,
    #[field(default = String::new())]
    time_zone: String,
    #[field(default = String::new())]
    repeat: String,
    #[field(default = String::new())]
    unit: String,
    days: Vec<String>,
    #[field(default = String::new())]
    monthly: String,
    #[field(default = String::new())]
    date_of_month: String,
    #[field(default = String::new())]
    day_number: String,
    #[field(default = String::new())]
    day_of_week: String,
    #[field(default = String::new())]
    end_type: String,
    #[field(default = String::new())]
    end_on: String,
    #[field(default = String::new())]
    occurrences: String,
    #[field(default = String::new())]
    on_start: String,
    pairs: Vec<String>,
}

const FREEZE_FIELDS: &[Field] = &[
    field("Name", "name", "Name"),
    field("Description", "description", "Description"),
    field("Start", "start", "Start"),
    field("End", "end", "End"),
    field("TimeZone", "time_zone", "Time zone"),
    field(
        "ProjectEnvironmentScope",
        "pairs",
        "Projects and environments",
    ),
    field(
        "OnStartInFreeze",
        "on_start",
        "A deployment due in the freeze",
    ),
    field("RecurringSchedule.Type", "repeat", "Repeats"),
    field("RecurringSchedule.Unit", "unit", "Every"),
    field("RecurringSchedule.DaysOfWeek", "days", "Days"),
    field(
        "RecurringSchedule.MonthlyScheduleType",
        "monthly",
        "Monthly on",
    ),
    field(
        "RecurringSchedule.DateOfMonth",
        "date_of_month",
        "Day of the month",
    ),
    field("RecurringSchedule.DayNumberOfMonth", "day_number", "Which"),
    field("RecurringSchedule.DayOfWeek", "day_of_week", "Weekday"),
    field("RecurringSchedule.EndType", "end_type", "Ends"),
    field("RecurringSchedule.EndOnDate", "end_on", "Ends on"),
    field(
        "RecurringSchedule.EndAfterOccurrences",
        "occurrences",
        "Ends after",
    ),
];

fn zone_of(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// A `datetime-local` value in `tz` as ISO 8601 with offset; what cannot be read goes
/// through as typed, for the API's check to name.
fn instant(local: &str, tz: &TimeZone) -> Option<String> {
    let local = local.trim();
    if local.is_empty() {
        return None;
    }
    Some(
        local
            .parse::<DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned_datetime(tz.clone()).ok())
            .map_or_else(
                || local.to_string(),
                |z| clock::iso(z.timestamp().as_millisecond()),
            ),
    )
}

/// An instant as a `datetime-local` value in `tz`.
fn local(ms: i64, tz: &TimeZone) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| {
            let d = t.to_zoned_datetime(tz.clone()).datetime();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}",
                d.year(),
                d.month(),
                d.day(),
                d.hour(),
                d.minute()
            )
        })
        .unwrap_or_default()
}

impl FreezeForm {
    fn zone_name(&self) -> String {
        match self.time_zone.trim() {
            "" => "UTC".to_string(),
            z => z.to_string(),
        }
    }

    fn body(&self) -> FreezeBody {
        let zone = self.zone_name();
        let tz = zone_of(&zone);
        let mut scope: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for pair in &self.pairs {
            if let Some((p, e)) = pair.split_once(':') {
                scope
                    .entry(format!("Projects-{}", p.trim()))
                    .or_default()
                    .push(format!("Environments-{}", e.trim()));
            }
        }
        let recurring = (!self.repeat.trim().is_empty()).then(|| RecurringSchedule {
            kind: Some(self.repeat.clone()),
            unit: Some(
                self.unit
                    .trim()
                    .parse()
                    .unwrap_or(if self.unit.trim().is_empty() { 1 } else { 0 }),
            ),
            days_of_week: Some(self.days.clone()),
            monthly_schedule_type: Some(self.monthly.clone()).filter(|m| !m.is_empty()),
            date_of_month: Some(serde_json::Value::String(self.date_of_month.clone())),
            day_number_of_month: Some(serde_json::Value::String(self.day_number.clone())),
            day_of_week: Some(self.day_of_week.clone()),
            end_type: Some(self.end_type.clone()).filter(|e| !e.is_empty()),
            end_on_date: instant(&self.end_on, &tz),
            end_after_occurrences: Some(self.occurrences.trim().parse().unwrap_or(0)),
            user_utc_offset_in_minutes: None,
        });
        FreezeBody {
            name: Some(self.name.clone()),
            description: Some(self.description.clone()),
            start: instant(&self.start, &tz),
            end: instant(&self.end, &tz),
            project_environment_scope: Some(scope),
            tenant_project_environment_scope: None,
            recurring_schedule: recurring,
            time_zone: Some(zone),
            on_start_in_freeze: Some(self.on_start.clone()).filter(|o| !o.is_empty()),
        }
    }

    fn of(f: &Freeze) -> FreezeForm {
        let zone = match f.schedule.as_ref().map(|s| s.zone().clone()) {
            Some(Zone::Named(name)) => name,
            _ => "UTC".to_string(),
        };
        let tz = zone_of(&zone);
        let r = f.recurring.clone().unwrap_or_default();
        let text = |v: &Option<serde_json::Value>| match v {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        FreezeForm {
            name: f.row.name.clone(),
            description: f.row.description.clone(),
            start: local(f.row.start_time, &tz),
            end: local(f.row.end_time, &tz),
            time_zone: zone,
            repeat: r.kind.clone().unwrap_or_default(),
            unit: r.unit.map(|u| u.to_string()).unwrap_or_else(|| "1".into()),
            days: r.days_of_week.clone().unwrap_or_default(),
            monthly: r.monthly_schedule_type.clone().unwrap_or_default(),
            date_of_month: text(&r.date_of_month),
            day_number: text(&r.day_number_of_month),
            day_of_week: r.day_of_week.clone().unwrap_or_default(),
            end_type: r.end_type.clone().unwrap_or_else(|| "Never".into()),
            end_on: r
                .end_on_date
                .as_deref()
                .and_then(clock::parse_iso)
                .map(|ms| local(ms, &tz))
                .unwrap_or_default(),
            occurrences: r
                .end_after_occurrences
                .map(|n| n.to_string())
                .unwrap_or_default(),
            on_start: f.on_start.as_str().to_string(),
            pairs: f
                .row
                .scope
                .iter()
                .map(|(p, e)| format!("{p}:{e}"))
                .collect(),
        }
    }

    pub fn has_day(&self, day: &&str) -> bool {
        self.days.iter().any(|d| d.eq_ignore_ascii_case(day))
    }

    pub fn has_pair(&self, project: &i64, environment: &i64) -> bool {
        let key = format!("{project}:{environment}");
        self.pairs.contains(&key)
    }
}

#[derive(Template)]
#[template(path = "config/freeze.html")]
struct FreezeFormPage {
    layout: Layout,
    id: Option<i64>,
    form: FreezeForm,
    errors: FormErrors,
    words: String,
    projects: Vec<(i64, String)>,
    environments: Vec<(i64, String)>,
    weekdays: [&'static str; 7],
    zones: Vec<String>,
}

async fn form_page(
    app: &App,
    caller: &Caller,
    id: Option<i64>,
    form: FreezeForm,
    errors: FormErrors,
    words: String,
) -> Result<RawHtml<String>> {
    let (projects, environments) = names(app).await?;
    let mut zones: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    zones.sort();
    let title = match id {
        Some(_) => format!("Deployment freeze {}", form.name),
        None => "New deployment freeze".to_string(),
    };
    render(&FreezeFormPage {
        layout: Layout::new(&title, caller, None).at(BACK),
        id,
        form,
        errors,
        words,
        projects,
        environments,
        weekdays: WEEKDAYS,
        zones,
    })
}

#[rocket::get("/configuration/freezes/new")]
async fn new(
    caller: Allowed<need::DeploymentFreezeAdminister>,
    app: &State<App>,
) -> Result<RawHtml<String>> {
    let form = FreezeForm {
        time_zone: "UTC".into(),
        unit: "1".into(),
        end_type: "Never".into(),
        on_start: "Fail".into(),
        ..<FreezeForm as Default>::default()
    };
    form_page(app, &caller, None, form, FormErrors::none(), String::new()).await
}

#[rocket::get("/configuration/freezes/<id>")]
async fn edit(
    caller: Allowed<need::DeploymentFreezeAdminister>,
    id: &str,
    app: &State<App>,
) -> Result<RawHtml<String>> {
    let id = page_id("DeploymentFreezes", id)?;
    let freeze = app
        .store
        .read(move |c| freezes::find(c, id))
        .await?
        .ok_or_else(|| freezes::not_found(id))?;
    let words = freeze.describe();
    form_page(
        app,
        &caller,
        Some(id),
        FreezeForm::of(&freeze),
        FormErrors::none(),
        words,
    )
    .await
}

#[rocket::post("/configuration/freezes", data = "<change>")]
async fn create(
    change: FormChange<need::DeploymentFreezeAdminister, FreezeForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.clone();
    match freezes::create(&app.store, &change.proof, change.form.body()).await {
        Ok(f) => FormResult::done(done(
            BACK.into(),
            format!(
                "Created deployment freeze {}: {}.",
                f.row.name,
                f.describe()
            ),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, FREEZE_FIELDS);
            FormResult::again(
                form_page(app, &change.caller, None, typed, errors, String::new()).await,
            )
        }
    }
}

#[rocket::post("/configuration/freezes/<id>", data = "<change>")]
async fn update(
    change: FormChange<need::DeploymentFreezeAdminister, FreezeForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("DeploymentFreezes", id)?;
    let typed = change.form.clone();
    match freezes::update(&app.store, &change.proof, id, change.form.body()).await {
        Ok(f) => FormResult::done(done(
            BACK.into(),
            format!("Saved deployment freeze {}: {}.", f.row.name, f.describe()),
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, FREEZE_FIELDS);
            FormResult::again(
                form_page(app, &change.caller, Some(id), typed, errors, String::new()).await,
            )
        }
    }
}

#[rocket::post("/configuration/freezes/<id>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::DeploymentFreezeAdminister, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("DeploymentFreezes", id)?;
    Ok(match freezes::delete(&app.store, &change.proof, id).await {
        Ok(()) => {
            app.queue.wake();
            done(BACK.into(), "The deployment freeze has been deleted.")
        }
        Err(e) => refused(BACK.into(), &e),
    })
}
