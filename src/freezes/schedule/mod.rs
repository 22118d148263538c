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
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn show(w: Window) -> (String, String) {
        let f = |ms| Timestamp::from_millisecond(ms).unwrap().to_string();
        (f(w.0), f(w.1))
    }

    /// Every Friday 15:00–23:59 in Berlin: 14:00Z in winter (CET), 13:00Z in summer
    /// (CEST), across both changes.
    #[test]
    fn a_weekly_window_in_a_named_zone_follows_daylight_saving_both_ways() {
        let weekly = Recurrence {
            repeat: Repeat::Weekly(1 << 4),
            unit: 1,
            ends: Ends::Never,
        };
        let s = Schedule::new(
            at("2027-03-19T14:00:00Z"),
            at("2027-03-19T22:59:00Z"),
            Some(weekly),
            Zone::Named("Europe/Berlin".into()),
        )
        .unwrap();
        let spring = s.between(at("2027-03-18T00:00:00Z"), at("2027-04-03T00:00:00Z"));
        let spring: Vec<_> = spring.into_iter().map(show).collect();
        assert_eq!(
            spring,
            vec![
                ("2027-03-19T14:00:00Z".into(), "2027-03-19T22:59:00Z".into()),
                // 28 March 2027: clocks go forward.
                ("2027-03-26T14:00:00Z".into(), "2027-03-26T22:59:00Z".into()),
                ("2027-04-02T13:00:00Z".into(), "2027-04-02T21:59:00Z".into()),
            ]
        );
        let autumn = s.between(at("2027-10-22T00:00:00Z"), at("2027-11-06T00:00:00Z"));
        let autumn: Vec<_> = autumn.into_iter().map(|w| show(w).0).collect();
        // 31 October 2027: clocks go back.
        assert_eq!(
            autumn,
            vec![
                "2027-10-22T13:00:00Z",
                "2027-10-29T13:00:00Z",
                "2027-11-05T14:00:00Z"
            ]
        );
        assert_eq!(s.describe(), "every Friday 15:00–23:59 Europe/Berlin");
        assert_eq!(
            s.covering(at("2027-04-02T20:00:00Z"))
                .map(show)
                .map(|w| w.0),
            Some("2027-04-02T13:00:00Z".into())
        );
        assert_eq!(s.covering(at("2027-04-02T12:59:59Z")), None);
        assert_eq!(s.last_end(), None);
    }

    /// A fixed offset does not follow daylight saving: the same UTC time all year.
    #[test]
    fn a_fixed_offset_keeps_the_same_utc_time() {
        let s = Schedule::new(
            at("2027-03-19T14:00:00Z"),
            at("2027-03-19T15:00:00Z"),
            Some(Recurrence {
                repeat: Repeat::Weekly(1 << 4),
                unit: 1,
                ends: Ends::Never,
            }),
            Zone::Offset(60),
        )
        .unwrap();
        let starts: Vec<_> = s
            .between(at("2027-03-25T00:00:00Z"), at("2027-04-03T00:00:00Z"))
            .into_iter()
            .map(|w| show(w).0)
            .collect();
        assert_eq!(starts, vec!["2027-03-26T14:00:00Z", "2027-04-02T14:00:00Z"]);
        assert_eq!(s.describe(), "every Friday 15:00–16:00 UTC+01:00");
    }

    #[test]
    fn counted_and_dated_ends_stop_the_windows() {
        let daily = |ends| {
            Schedule::new(
                at("2027-01-01T09:00:00Z"),
                at("2027-01-01T10:00:00Z"),
                Some(Recurrence {
                    repeat: Repeat::Daily,
                    unit: 2,
                    ends,
                }),
                Zone::Offset(0),
            )
            .unwrap()
        };
        let counted = daily(Ends::After(3));
        let starts: Vec<_> = counted
            .between(at("2026-12-01T00:00:00Z"), at("2027-02-01T00:00:00Z"))
            .into_iter()
            .map(|w| show(w).0)
            .collect();
        assert_eq!(
            starts,
            vec![
                "2027-01-01T09:00:00Z",
                "2027-01-03T09:00:00Z",
                "2027-01-05T09:00:00Z"
            ]
        );
        assert_eq!(counted.last_end(), Some(at("2027-01-05T10:00:00Z")));
        assert_eq!(counted.next_after(at("2027-01-05T09:30:00Z")), None);
        assert!(
            counted.describe().ends_with(", 3 times"),
            "{}",
            counted.describe()
        );
        let dated = daily(Ends::OnDate(at("2027-01-04T00:00:00Z")));
        assert_eq!(dated.last_end(), Some(at("2027-01-03T10:00:00Z")));
        assert_eq!(dated.covering(at("2027-01-05T09:30:00Z")), None);
    }

    #[test]
    fn monthly_and_yearly_windows_land_on_their_days() {
        let monthly = |repeat| {
            Schedule::new(
                at("2027-01-31T12:00:00Z"),
                at("2027-01-31T13:00:00Z"),
                Some(Recurrence {
                    repeat,
                    unit: 1,
                    ends: Ends::Never,
                }),
                Zone::Offset(0),
            )
            .unwrap()
        };
        let starts = |s: &Schedule| -> Vec<String> {
            s.between(at("2027-01-01T00:00:00Z"), at("2027-05-01T00:00:00Z"))
                .into_iter()
                .map(|w| show(w).0[..10].to_string())
                .collect()
        };
        assert_eq!(
            starts(&monthly(Repeat::MonthlyDate(31))),
            vec!["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]
        );
        // The last Sunday of each month (the first window's day, 31 January, is one).
        assert_eq!(
            starts(&monthly(Repeat::MonthlyWeekday(-1, 6))),
            vec!["2027-01-31", "2027-02-28", "2027-03-28", "2027-04-25"]
        );
        let leap = Schedule::new(
            at("2028-02-29T00:00:00Z"),
            at("2028-03-01T00:00:00Z"),
            Some(Recurrence {
                repeat: Repeat::Annually,
                unit: 1,
                ends: Ends::Never,
            }),
            Zone::Offset(0),
        )
        .unwrap();
        let years: Vec<_> = leap
            .between(at("2028-01-01T00:00:00Z"), at("2032-12-31T00:00:00Z"))
            .into_iter()
            .map(|w| show(w).0[..10].to_string())
            .collect();
        assert_eq!(
            years,
            vec![
                "2028-02-29",
                "2029-02-28",
                "2030-02-28",
                "2031-02-28",
                "2032-02-29"
            ]
        );
        assert_eq!(
            leap.describe(),
            "every year on 29 February 00:00–00:00 the next day UTC"
        );
    }

    /// A daily freeze that began years ago answers "is it on now?" without walking
    /// every window since.
    #[test]
    fn a_long_running_schedule_jumps_to_the_asked_time() {
        let s = Schedule::new(
            at("2000-01-01T22:00:00Z"),
            at("2000-01-02T06:00:00Z"),
            Some(Recurrence {
                repeat: Repeat::Daily,
                unit: 1,
                ends: Ends::Never,
            }),
            Zone::Named("America/New_York".into()),
        )
        .unwrap();
        let w = s.covering(at("2030-06-15T03:00:00Z")).map(show);
        // 17:00 New York (EDT, -04:00) is 21:00Z in summer.
        assert_eq!(
            w,
            Some(("2030-06-14T21:00:00Z".into(), "2030-06-15T05:00:00Z".into()))
        );
    }

    /// The stored end of a freeze that ends on a date (what the claim and the list use
    /// to leave finished freezes out) is the end of its last window, whatever the gap
    /// between windows or the distance to the date: here against walking every window.
    fn brute_last_end(s: &Schedule) -> Option<Option<i64>> {
        let mut count = 0;
        let mut end = None;
        for (_, e) in s.windows_from(s.start) {
            count += 1;
            if count > 20_000 {
                return None;
            }
            end = Some(e);
        }
        Some(end)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        #[test]
        fn a_dated_end_is_the_end_of_the_last_window_however_far_apart(
            kind in 0u8..5,
            mask in 1u8..128,
            date in 1u8..=31,
            nth in proptest::sample::select(vec![1i8, 2, 3, 4, -1]),
            weekday in 0u8..7,
            unit in 1u32..=1_000,
            start_day in 0i64..40_000,
            hours in 1i64..=(366 * 24),
            last_days in 0i64..400_000,
            named in proptest::bool::ANY,
        ) {
            let repeat = match kind {
                0 => Repeat::Daily,
                1 => Repeat::Weekly(mask),
                2 => Repeat::MonthlyDate(date),
                3 => Repeat::MonthlyWeekday(nth, weekday),
                _ => Repeat::Annually,
            };
            let start = at("2000-01-01T09:30:00Z") + start_day * DAY_MS;
            let zone = if named { Zone::Named("Europe/Berlin".into()) } else { Zone::Offset(0) };
            let s = Schedule::new(
                start,
                start + hours * 3_600_000,
                Some(Recurrence { repeat, unit, ends: Ends::OnDate(start + last_days * DAY_MS) }),
                zone,
            )
            .unwrap();
            if let Some(expected) = brute_last_end(&s) {
                proptest::prop_assert_eq!(s.last_end(), expected.or(Some(s.end)));
            }
        }
    }

    #[test]
    fn far_apart_windows_and_far_off_dates_keep_their_last_window() {
        let daily = |unit, start: &str, last: &str| {
            Schedule::new(
                at(start),
                at(start) + 2 * 3_600_000,
                Some(Recurrence {
                    repeat: Repeat::Daily,
                    unit,
                    ends: Ends::OnDate(at(last)),
                }),
                Zone::Offset(0),
            )
            .unwrap()
        };
        // Every 400 days: the last window (11 March 2028) is 380 days before the date.
        let sparse = daily(400, "2026-01-01T08:00:00Z", "2029-03-26T08:00:00Z");
        assert_eq!(sparse.last_end(), Some(at("2028-03-11T10:00:00Z")));
        // Every day until the year 5000.
        let long = daily(1, "2026-01-01T08:00:00Z", "5000-01-01T09:00:00Z");
        assert_eq!(long.last_end(), Some(at("5000-01-01T10:00:00Z")));
        assert!(long.covering(at("2031-06-01T09:00:00Z")).is_some());
    }
}
