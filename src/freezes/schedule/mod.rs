//! When a freeze is in force: its first window (`Start`..`End`) and, for a recurring
//! freeze, every later one, each as long as the first and starting at the same local
//! time of day in the freeze's time zone (an IANA zone follows its daylight-saving
//! changes; a fixed offset does not). Pure computation: instants are Unix milliseconds.
//!
//! Periods count from the first window's local date: every `unit` days (daily), weeks
//! (weekly: the week of Monday that holds it), months or years. A monthly date past the
//! month's end (the 31st in April) falls on its last day; 29 February, in other years,
//! on the 28th. A local time that a daylight-saving change skips starts at the same
//! time after the change (03:30 for 02:30); one it repeats, at the first of the two.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

mod calendar;
mod words;

pub use calendar::{civil_from_days, days_from_civil, weekday_of};
use calendar::{days_in_month, monday_of, nth_weekday};
pub use words::WEEKDAYS;

const DAY_MS: i64 = 86_400_000;
/// Most windows a listing of a period returns (a daily freeze over 14 days has 14).
pub const MAX_LISTED: usize = 1_000;

/// What repeats, Octopus's `RecurringSchedule.Type` with its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    /// Days of the week, Monday first (bit 0) to Sunday (bit 6).
    Weekly(u8),
    /// A date of the month, 1 to 31.
    MonthlyDate(u8),
    /// The first to fourth (1..=4) or last (-1) given weekday (0 = Monday) of the month.
    MonthlyWeekday(i8, u8),
    Annually,
}

/// When the repetition stops: Octopus's `EndType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ends {
    Never,
    /// No window starts after this instant.
    OnDate(i64),
    /// After this many windows (the first included).
    After(u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recurrence {
    pub repeat: Repeat,
    /// Every `unit` days, weeks, months or years (at least 1).
    pub unit: u32,
    pub ends: Ends,
}

/// The zone local times are read in: an IANA name, or a fixed offset in minutes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    Named(String),
    Offset(i32),
}

impl Zone {
    /// The zone, if drydock knows it (an IANA name from the bundled database, or an
    /// offset within ±18 hours).
    pub fn time_zone(&self) -> Option<TimeZone> {
        match self {
            Zone::Named(name) => TimeZone::get(name).ok(),
            Zone::Offset(minutes) => Offset::from_seconds(minutes.checked_mul(60)?)
                .ok()
                .map(TimeZone::fixed),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Zone::Named(name) => name.clone(),
            Zone::Offset(0) => "UTC".to_string(),
            Zone::Offset(m) => {
                let sign = if *m < 0 { '-' } else { '+' };
                format!("UTC{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
            }
        }
    }
}

/// A freeze's windows.
#[derive(Clone, Debug)]
pub struct Schedule {
    start: i64,
    end: i64,
    recurrence: Option<Recurrence>,
    tz: TimeZone,
    zone: Zone,
    /// The first window's local date (days since 1970-01-01) and time of day.
    first_day: i64,
    time_of_day: (i8, i8, i8, i32),
}

/// One window: from `.0` (inclusive) to `.1` (exclusive), Unix milliseconds.
pub type Window = (i64, i64);

impl Schedule {
    /// `None` when the zone is unknown or `end` is not after `start` (the caller has
    /// refused such input already, naming the field).
    pub fn new(start: i64, end: i64, recurrence: Option<Recurrence>, zone: Zone) -> Option<Self> {
        if end <= start {
            return None;
        }
        let tz = zone.time_zone()?;
        let local = Timestamp::from_millisecond(start)
            .ok()?
            .to_zoned_datetime(tz.clone())
            .datetime();
        Some(Schedule {
            start,
            end,
            recurrence,
            tz,
            zone,
            first_day: days_from_civil(local.year().into(), local.month(), local.day()),
            time_of_day: (
                local.hour(),
                local.minute(),
                local.second(),
                local.subsec_nanosecond(),
            ),
        })
    }

    pub fn recurrence(&self) -> Option<&Recurrence> {
        self.recurrence.as_ref()
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    fn duration(&self) -> i64 {
        self.end - self.start
    }

    /// The windows in start order, beginning with those that end after `from`.
    pub fn windows_from(&self, from: i64) -> Windows<'_> {
        let first_period = match &self.recurrence {
            // Counting stops need every window from the first.
            Some(Recurrence {
                ends: Ends::After(_),
                ..
            })
            | None => 0,
            Some(r) => {
                // A window starting up to its length before `from` may still be open.
                let day = self.local_day(from - self.duration()) - 1;
                self.period_of(r, day).saturating_sub(1)
            }
        };
        Windows {
            schedule: self,
            period: first_period,
            first_period,
            pending: Vec::new(),
            yielded: 0,
            from,
            done: false,
        }
    }

    /// The window open at `at`, if any.
    pub fn covering(&self, at: i64) -> Option<Window> {
        self.windows_from(at)
            .take_while(|(start, _)| *start <= at)
            .find(|(start, end)| *start <= at && at < *end)
    }

    /// The first window starting after `at`.
    pub fn next_after(&self, at: i64) -> Option<Window> {
        self.windows_from(at).find(|(start, _)| *start > at)
    }

    /// The windows that overlap `from..to`, at most [`MAX_LISTED`].
    pub fn between(&self, from: i64, to: i64) -> Vec<Window> {
        self.windows_from(from)
            .take_while(|(start, _)| *start < to)
            .filter(|(_, end)| *end > from)
            .take(MAX_LISTED)
            .collect()
    }

    /// When the last window ends: `None` for a freeze that repeats for ever.
    pub fn last_end(&self) -> Option<i64> {
        match &self.recurrence {
            None => Some(self.end),
            Some(r) => match r.ends {
                Ends::Never => None,
                Ends::After(n) => self
                    .windows_from(self.start)
                    .take(n as usize)
                    .last()
                    .map(|w| w.1),
                Ends::OnDate(last) => Some(self.last_window_by(r, last).map_or(self.end, |w| w.1)),
            },
        }
    }

    /// The last window that starts by `last` (its `EndOnDate`): found in the period
    /// `last` falls in or the two before it (a weekly freeze's first period may have no
    /// window), however far apart windows are or far off `last` is.
    fn last_window_by(&self, r: &Recurrence, last: i64) -> Option<Window> {
        if last < self.start {
            return None;
        }
        let period = self.period_of(r, self.local_day(last));
        for p in (period.saturating_sub(2)..=period).rev() {
            let found = self
                .days_of_period(r, p)
                .into_iter()
                .filter_map(|day| self.window_on(day))
                .filter(|w| w.0 <= last && w.0 >= self.start)
                .max();
            if found.is_some() {
                return found;
            }
        }
        Some((self.start, self.end))
    }

    fn local_day(&self, at: i64) -> i64 {
        match Timestamp::from_millisecond(at) {
            Ok(t) => {
                let local = t.to_zoned_datetime(self.tz.clone()).datetime();
                days_from_civil(local.year().into(), local.month(), local.day())
            }
            Err(_) => at.div_euclid(DAY_MS),
        }
    }

    /// The window starting on local day `day`, at the first window's time of day.
    fn window_on(&self, day: i64) -> Option<Window> {
        let (y, m, d) = civil_from_days(day);
        let (h, mi, s, ns) = self.time_of_day;
        let local = DateTime::new(i16::try_from(y).ok()?, m, d, h, mi, s, ns).ok()?;
        let start = local
            .to_zoned_datetime(self.tz.clone())
            .ok()?
            .timestamp()
            .as_millisecond();
        Some((start, start + self.duration()))
    }

    /// Which period `day` falls in (0: the first window's).
    fn period_of(&self, r: &Recurrence, day: i64) -> u64 {
        let unit = i64::from(r.unit.max(1));
        let (y0, m0, _) = civil_from_days(self.first_day);
        let (y, m, _) = civil_from_days(day);
        let periods = match r.repeat {
            Repeat::Daily => (day - self.first_day) / unit,
            Repeat::Weekly(_) => (day - monday_of(self.first_day)) / (7 * unit),
            Repeat::MonthlyDate(_) | Repeat::MonthlyWeekday(..) => {
                ((y * 12 + i64::from(m)) - (y0 * 12 + i64::from(m0))) / unit
            }
            Repeat::Annually => (y - y0) / unit,
        };
        u64::try_from(periods).unwrap_or(0)
    }

    /// The local days of period `k`'s windows, in order (before the first window's day
    /// left out).
    fn days_of_period(&self, r: &Recurrence, k: u64) -> Vec<i64> {
        let unit = i64::from(r.unit.max(1));
        let k = i64::try_from(k).unwrap_or(i64::MAX / 1_000_000);
        let (y0, m0, d0) = civil_from_days(self.first_day);
        let month = |k: i64| {
            let index = y0 * 12 + i64::from(m0) - 1 + k * unit;
            (index.div_euclid(12), (index.rem_euclid(12) + 1) as i8)
        };
        let days = match r.repeat {
            Repeat::Daily => vec![self.first_day + k * unit],
            Repeat::Weekly(mask) => {
                let monday = monday_of(self.first_day) + k * 7 * unit;
                (0..7)
                    .filter(|i| mask & (1 << i) != 0)
                    .map(|i| monday + i64::from(i))
                    .collect()
            }
            Repeat::MonthlyDate(date) => {
                let (y, m) = month(k);
                let d = (date as i8).min(days_in_month(y, m));
                vec![days_from_civil(y, m, d)]
            }
            Repeat::MonthlyWeekday(nth, weekday) => {
                let (y, m) = month(k);
                vec![nth_weekday(y, m, nth, weekday)]
            }
            Repeat::Annually => {
                let y = y0 + k * unit;
                vec![days_from_civil(y, m0, d0.min(days_in_month(y, m0)))]
            }
        };
        days.into_iter().filter(|d| *d >= self.first_day).collect()
    }
}

/// A freeze's windows in start order (see [`Schedule::windows_from`]).
pub struct Windows<'s> {
    schedule: &'s Schedule,
    period: u64,
    /// The current period's days still to yield, reversed.
    pending: Vec<i64>,
    /// The period the walk began at.
    first_period: u64,
    yielded: u32,
    from: i64,
    done: bool,
}

impl Iterator for Windows<'_> {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        let s = self.schedule;
        let Some(r) = &s.recurrence else {
            if self.done {
                return None;
            }
            self.done = true;
            return (s.end > self.from).then_some((s.start, s.end));
        };
        loop {
            if self.done {
                return None;
            }
            let Some(day) = self.pending.pop() else {
                let mut days = s.days_of_period(r, self.period);
                days.reverse();
                self.pending = days;
                self.period += 1;
                // Every period has a window but a weekly one's first (before the first
                // day); a period far beyond any date stops the walk.
                if self.period > self.first_period.saturating_add(1_000_000) {
                    self.done = true;
                }
                continue;
            };
            let Some(window) = s.window_on(day) else {
                self.done = true;
                return None;
            };
            match r.ends {
                Ends::After(n) if self.yielded >= n => {
                    self.done = true;
                    return None;
                }
                Ends::OnDate(last) if window.0 > last => {
                    self.done = true;
                    return None;
                }
                _ => {}
            }
            self.yielded += 1;
            if window.1 > self.from {
                return Some(window);
            }
        }
    }
}

#[cfg(test)]
mod tests;
