//! Proleptic Gregorian dates as days since 1970-01-01, and the few calendar rules
//! the windows need.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i8, d: i8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i8, i8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as i8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as i8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// 0 for Monday ... 6 for Sunday (1970-01-01 was a Thursday).
pub fn weekday_of(day: i64) -> u8 {
    (day + 3).rem_euclid(7) as u8
}

pub(super) fn monday_of(day: i64) -> i64 {
    day - i64::from(weekday_of(day))
}

pub(super) fn days_in_month(y: i64, m: i8) -> i8 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as i8
}

/// The `nth` (1..=4, or -1 for the last) `weekday` of a month.
pub(super) fn nth_weekday(y: i64, m: i8, nth: i8, weekday: u8) -> i64 {
    if nth < 0 {
        let last = days_from_civil(y, m, days_in_month(y, m));
        let back = (i64::from(weekday_of(last)) - i64::from(weekday)).rem_euclid(7);
        return last - back;
    }
    let first = days_from_civil(y, m, 1);
    let ahead = (i64::from(weekday) - i64::from(weekday_of(first))).rem_euclid(7);
    first + ahead + 7 * (i64::from(nth) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        for day in [-800_000, -1, 0, 1, 19_000, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(weekday_of(0), 3);
        assert_eq!(days_in_month(2028, 2), 29);
        // The last Friday of November 2026 is the 27th; the first Monday, the 2nd.
        assert_eq!(
            civil_from_days(nth_weekday(2026, 11, -1, 4)),
            (2026, 11, 27)
        );
        assert_eq!(civil_from_days(nth_weekday(2026, 11, 1, 0)), (2026, 11, 2));
    }
}
