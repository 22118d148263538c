//! A freeze as Octopus's API sends it, checked field by field: every problem is a 400
//! naming its field (`RecurringSchedule.DaysOfWeek: ...`), and nothing is saved.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schedule::{Ends, Recurrence, Repeat, Schedule, Zone, WEEKDAYS};
use super::OnStart;
use crate::error::{Error, Result};
use crate::validate;

pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 4_000;
/// The longest a single window may last.
pub const MAX_WINDOW_DAYS: i64 = 366;
pub const MAX_UNIT: u32 = 1_000;
pub const MAX_OCCURRENCES: u32 = 1_000;
/// The most project × environment pairs one freeze covers (the timeline lists each).
pub const MAX_SCOPE_PAIRS: usize = 1_000;

/// Octopus's `DeploymentFreezeResource`, with drydock's two extensions (`TimeZone`,
/// `OnStartInFreeze`). Fields Octopus has for tenants are accepted and must be empty.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct FreezeBody {
    pub name: Option<String>,
    pub description: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub project_environment_scope: Option<BTreeMap<String, Vec<String>>>,
    pub tenant_project_environment_scope: Option<Vec<Value>>,
    pub recurring_schedule: Option<RecurringSchedule>,
    pub time_zone: Option<String>,
    pub on_start_in_freeze: Option<String>,
}

/// Octopus's `RecurringSchedule`, as given and as answered.
#[derive(Deserialize, Serialize, Default, Clone, Debug, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct RecurringSchedule {
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub unit: Option<i64>,
    pub days_of_week: Option<Vec<String>>,
    pub monthly_schedule_type: Option<String>,
    pub date_of_month: Option<Value>,
    pub day_number_of_month: Option<Value>,
    pub day_of_week: Option<String>,
    pub end_type: Option<String>,
    pub end_on_date: Option<String>,
    pub end_after_occurrences: Option<i64>,
    pub user_utc_offset_in_minutes: Option<i64>,
}

/// A freeze whose every field was checked (projects and environments still to be
/// found in the database, by the change that saves it).
pub struct Checked {
    pub name: String,
    pub description: String,
    pub start: i64,
    pub end: i64,
    /// The recurrence as answered back (normalised), and as drydock computes it.
    pub recurring: Option<(RecurringSchedule, Recurrence)>,
    pub zone: Zone,
    pub on_start: OnStart,
    /// (Projects-N, Environments-N) as numbers.
    pub scope: Vec<(i64, i64)>,
    pub schedule: Schedule,
}

/// An ISO 8601 time with its offset: (Unix milliseconds, offset in minutes).
fn instant(field: &str, value: Option<&str>) -> Result<(i64, i32)> {
    let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
        return Err(Error::bad(field, "is required"));
    };
    let parsed =
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
            Error::bad(
                field,
                format!(
                "'{value}' is not an ISO 8601 time with an offset, e.g. 2026-12-24T18:00:00+01:00"
            ),
            )
        })?;
    let ms = (parsed.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((ms, i32::from(parsed.offset().whole_minutes())))
}

fn id_number(prefix: &str, id: &str) -> Option<i64> {
    id.trim()
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
}

/// Day names as Octopus spells them ("Monday"), without regard to case: 0 = Monday.
fn weekday(name: &str) -> Option<u8> {
    WEEKDAYS
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
        .map(|i| i as u8)
}

/// A number Octopus may send as a string ("15") or a number (15).
fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Checks a freeze's fields; every problem at once.
pub fn check(body: FreezeBody) -> Result<Checked> {
    let mut problems = Vec::new();
    let name = body.name.unwrap_or_default().trim().to_string();
    problems.extend(validate::name("Name", &name, MAX_NAME).err());
    let description = body.description.unwrap_or_default();
    problems.extend(validate::text("Description", &description, MAX_DESCRIPTION, false).err());
    let start = instant("Start", body.start.as_deref());
    let end = instant("End", body.end.as_deref());
    if let (Ok((s, _)), Ok((e, _))) = (&start, &end) {
        if let Err(order) = validate::window(*s, *e) {
            problems.push(order);
        } else if e - s > MAX_WINDOW_DAYS * 86_400_000 {
            problems.push(Error::bad(
                "End",
                format!("a window may last at most {MAX_WINDOW_DAYS} days"),
            ));
        }
    }
    let scope = match scope(body.project_environment_scope.as_ref()) {
        Ok(scope) => scope,
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    if body
        .tenant_project_environment_scope
        .as_ref()
        .is_some_and(|t| !t.is_empty())
    {
        problems.push(Error::bad(
            "TenantProjectEnvironmentScope",
            "drydock has no tenants; scope a freeze with ProjectEnvironmentScope",
        ));
    }
    let on_start = match body.on_start_in_freeze.as_deref().map(str::trim) {
        None | Some("") => OnStart::Fail,
        Some(v) if v.eq_ignore_ascii_case("Fail") => OnStart::Fail,
        Some(v) if v.eq_ignore_ascii_case("Hold") => OnStart::Hold,
        Some(v) => {
            problems.push(Error::bad(
                "OnStartInFreeze",
                format!("'{v}' is not one of Fail, Hold"),
            ));
            OnStart::Fail
        }
    };
    let start_offset = start.as_ref().map_or(0, |(_, offset)| *offset);
    let recurring = match &body.recurring_schedule {
        None => None,
        Some(r) => match recurrence_of(r, start_offset, start.as_ref().ok().map(|s| s.0)) {
            Ok(checked) => Some(checked),
            Err(e) => {
                problems.push(e);
                None
            }
        },
    };
    let zone = match body.time_zone.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => {
            let zone = Zone::Named(name.to_string());
            if zone.time_zone().is_none() {
                problems.push(Error::bad(
                    "TimeZone",
                    format!(
                        "'{name}' is not a time zone drydock knows: give an IANA name such as \
                         Europe/Berlin"
                    ),
                ));
            }
            zone
        }
        _ => Zone::Offset(
            recurring
                .as_ref()
                .and_then(|(r, _)| r.user_utc_offset_in_minutes)
                .map_or(start_offset, |m| m as i32),
        ),
    };
    let start = start.map_err(|e| problems.push(e)).ok();
    let end = end.map_err(|e| problems.push(e)).ok();
    Error::all(problems)?;
    let (Some((start, _)), Some((end, _))) = (start, end) else {
        return Err(Error::bad("Start", "is required"));
    };
    let schedule = Schedule::new(
        start,
        end,
        recurring.as_ref().map(|(_, r)| r.clone()),
        zone.clone(),
    )
    .ok_or_else(|| Error::bad("End", "must be after Start"))?;
    Ok(Checked {
        name,
        description,
        start,
        end,
        recurring,
        zone,
        on_start,
        scope,
        schedule,
    })
}

fn scope(given: Option<&BTreeMap<String, Vec<String>>>) -> Result<Vec<(i64, i64)>> {
    const FIELD: &str = "ProjectEnvironmentScope";
    let given = given.filter(|g| !g.is_empty()).ok_or_else(|| {
        Error::bad(
            FIELD,
            "must name at least one project and environment, e.g. {\"Projects-1\": [\"Environments-2\"]}",
        )
    })?;
    let mut pairs = Vec::new();
    for (project, environments) in given {
        let p = id_number("Projects", project)
            .ok_or_else(|| Error::bad(FIELD, format!("'{project}' is not a project id")))?;
        if environments.is_empty() {
            return Err(Error::bad(
                FIELD,
                format!("{project} must name at least one environment"),
            ));
        }
        for environment in environments {
            let e = id_number("Environments", environment).ok_or_else(|| {
                Error::bad(FIELD, format!("'{environment}' is not an environment id"))
            })?;
            pairs.push((p, e));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    if pairs.len() > MAX_SCOPE_PAIRS {
        return Err(Error::bad(
            FIELD,
            format!(
                "covers {} project × environment pairs; a freeze covers at most {MAX_SCOPE_PAIRS} (split it into several)",
                pairs.len()
            ),
        ));
    }
    Ok(pairs)
}

/// A recurrence checked: as answered back, and as computed. (`start`: the first
/// window's start, which `EndOnDate` must not precede.)
pub(super) fn recurrence_of(
    r: &RecurringSchedule,
    start_offset: i32,
    start: Option<i64>,
) -> Result<(RecurringSchedule, Recurrence)> {
    let field = |name: &str| format!("RecurringSchedule.{name}");
    let bad = |name: &str, problem: String| Error::bad(&field(name), problem);
    let kind = r.kind.as_deref().map(str::trim).unwrap_or_default();
    let unit = r.unit.unwrap_or(1);
    if !(1..=i64::from(MAX_UNIT)).contains(&unit) {
        return Err(bad("Unit", format!("must be between 1 and {MAX_UNIT}")));
    }
    let mut answered = RecurringSchedule {
        unit: Some(unit),
        ..RecurringSchedule::default()
    };
    let repeat = match kind.to_ascii_lowercase().as_str() {
        "daily" => Repeat::Daily,
        "weekly" => {
            let days = r.days_of_week.as_deref().unwrap_or_default();
            if days.is_empty() {
                return Err(bad("DaysOfWeek", "must name at least one day".into()));
            }
            let mut mask = 0u8;
            for d in days {
                let day = weekday(d).ok_or_else(|| {
                    bad(
                        "DaysOfWeek",
                        format!("'{d}' is not a day (Monday ... Sunday)"),
                    )
                })?;
                mask |= 1 << day;
            }
            answered.days_of_week = Some(
                (0..7)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| WEEKDAYS[i].to_string())
                    .collect(),
            );
            Repeat::Weekly(mask)
        }
        "monthly" => {
            let monthly = r
                .monthly_schedule_type
                .as_deref()
                .map(str::trim)
                .unwrap_or_default();
            if monthly.eq_ignore_ascii_case("DateOfMonth") {
                let date = r
                    .date_of_month
                    .as_ref()
                    .and_then(number)
                    .filter(|d| (1..=31).contains(d))
                    .ok_or_else(|| {
                        bad("DateOfMonth", "must be a day of the month, 1 to 31".into())
                    })?;
                answered.monthly_schedule_type = Some("DateOfMonth".into());
                answered.date_of_month = Some(Value::String(date.to_string()));
                Repeat::MonthlyDate(date as u8)
            } else if monthly.eq_ignore_ascii_case("DayOfMonth") {
                let nth = match r.day_number_of_month.as_ref() {
                    Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("L") => Some(-1),
                    Some(v) => number(v).filter(|n| (1..=4).contains(n)),
                    None => None,
                }
                .ok_or_else(|| {
                    bad(
                        "DayNumberOfMonth",
                        "must be 1 to 4 (first to fourth) or L (last)".into(),
                    )
                })?;
                let day =
                    r.day_of_week.as_deref().and_then(weekday).ok_or_else(|| {
                        bad("DayOfWeek", "must be a day (Monday ... Sunday)".into())
                    })?;
                answered.monthly_schedule_type = Some("DayOfMonth".into());
                answered.day_number_of_month = Some(Value::String(if nth < 0 {
                    "L".into()
                } else {
                    nth.to_string()
                }));
                answered.day_of_week = Some(WEEKDAYS[day as usize].into());
                Repeat::MonthlyWeekday(nth as i8, day)
            } else {
                return Err(bad(
                    "MonthlyScheduleType",
                    "must be DateOfMonth or DayOfMonth".into(),
                ));
            }
        }
        "annually" => Repeat::Annually,
        _ => {
            return Err(bad(
                "Type",
                format!("'{kind}' is not one of Daily, Weekly, Monthly, Annually"),
            ))
        }
    };
    answered.kind = Some(
        match repeat {
            Repeat::Daily => "Daily",
            Repeat::Weekly(_) => "Weekly",
            Repeat::MonthlyDate(_) | Repeat::MonthlyWeekday(..) => "Monthly",
            Repeat::Annually => "Annually",
        }
        .into(),
    );
    let end_type = r.end_type.as_deref().map(str::trim).unwrap_or("Never");
    let ends = if end_type.eq_ignore_ascii_case("Never") || end_type.is_empty() {
        answered.end_type = Some("Never".into());
        Ends::Never
    } else if end_type.eq_ignore_ascii_case("OnDate") {
        let (at, _) = instant(&field("EndOnDate"), r.end_on_date.as_deref())?;
        if start.is_some_and(|s| at < s) {
            return Err(bad("EndOnDate", "must not be before Start".into()));
        }
        answered.end_type = Some("OnDate".into());
        answered.end_on_date = r.end_on_date.clone();
        Ends::OnDate(at)
    } else if end_type.eq_ignore_ascii_case("AfterOccurrences") {
        let n = r
            .end_after_occurrences
            .filter(|n| (1..=i64::from(MAX_OCCURRENCES)).contains(n))
            .ok_or_else(|| {
                bad(
                    "EndAfterOccurrences",
                    format!("must be between 1 and {MAX_OCCURRENCES}"),
                )
            })?;
        answered.end_type = Some("AfterOccurrences".into());
        answered.end_after_occurrences = Some(n);
        Ends::After(n as u32)
    } else {
        return Err(bad(
            "EndType",
            format!("'{end_type}' is not one of Never, OnDate, AfterOccurrences"),
        ));
    };
    let offset = r
        .user_utc_offset_in_minutes
        .unwrap_or(i64::from(start_offset));
    if !(-18 * 60..=18 * 60).contains(&offset) {
        return Err(bad(
            "UserUtcOffsetInMinutes",
            "must be between -1080 and 1080".into(),
        ));
    }
    answered.user_utc_offset_in_minutes = Some(offset);
    Ok((
        answered,
        Recurrence {
            repeat,
            unit: unit as u32,
            ends,
        },
    ))
}
