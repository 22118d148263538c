//! The unit tests of the schedule: windows computed by walking against fixed and
//! generated recurrences.

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
