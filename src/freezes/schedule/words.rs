//! A schedule in words, as the pages and audit events show it: "every Friday
//! 15:00–23:59 Europe/Berlin".

use jiff::Timestamp;

use super::calendar::{civil_from_days, days_from_civil};
use super::{Ends, Repeat, Schedule};

impl Schedule {
    /// The schedule in words, e.g. "every Friday 15:00–23:59 Europe/Berlin".
    pub fn describe(&self) -> String {
        let (h, mi, ..) = self.time_of_day;
        let end_local = Timestamp::from_millisecond(self.end)
            .map(|t| t.to_zoned_datetime(self.tz.clone()).datetime())
            .ok();
        let (eh, emi, end_day) = end_local.map_or((0, 0, self.first_day), |e| {
            (
                e.hour(),
                e.minute(),
                days_from_civil(e.year().into(), e.month(), e.day()),
            )
        });
        let later = match end_day - self.first_day {
            0 => String::new(),
            1 => " the next day".to_string(),
            n => format!(" {n} days later"),
        };
        let hours = format!("{h:02}:{mi:02}–{eh:02}:{emi:02}{later}");
        let zone = self.zone.label();
        let Some(r) = &self.recurrence else {
            let (y, m, d) = civil_from_days(self.first_day);
            return format!("once, {y}-{m:02}-{d:02} {hours} {zone}");
        };
        let every = |one: &str, many: &str| match r.unit {
            1 => format!("every {one}"),
            n => format!("every {n} {many}"),
        };
        let when = match r.repeat {
            Repeat::Daily => every("day", "days"),
            Repeat::Weekly(mask) => {
                let days = join_and(
                    (0..7)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| WEEKDAYS[i as usize].to_string())
                        .collect(),
                );
                match r.unit {
                    1 => format!("every {days}"),
                    n => format!("every {n} weeks on {days}"),
                }
            }
            Repeat::MonthlyDate(date) => format!("{} on day {date}", every("month", "months")),
            Repeat::MonthlyWeekday(nth, weekday) => {
                let which = match nth {
                    1 => "first",
                    2 => "second",
                    3 => "third",
                    4 => "fourth",
                    _ => "last",
                };
                format!(
                    "{} on the {which} {}",
                    every("month", "months"),
                    WEEKDAYS[weekday as usize % 7]
                )
            }
            Repeat::Annually => {
                let (_, m, d) = civil_from_days(self.first_day);
                format!(
                    "{} on {d} {}",
                    every("year", "years"),
                    MONTHS[(m - 1) as usize]
                )
            }
        };
        let ends = match r.ends {
            Ends::Never => String::new(),
            Ends::After(1) => ", once".to_string(),
            Ends::After(n) => format!(", {n} times"),
            Ends::OnDate(at) => {
                let (y, m, d) = civil_from_days(self.local_day(at));
                format!(", until {y}-{m:02}-{d:02}")
            }
        };
        format!("{when} {hours} {zone}{ends}")
    }
}

pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn join_and(mut items: Vec<String>) -> String {
    match items.len() {
        0 => String::new(),
        1 => items.remove(0),
        _ => {
            let last = items.pop().unwrap_or_default();
            format!("{} and {last}", items.join(", "))
        }
    }
}
