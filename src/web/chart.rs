//! Deployments per day as a server-rendered SVG bar chart (stacked by outcome), with a
//! table of the same numbers as its text alternative. The geometry is computed here;
//! the template only places it, so nothing in the SVG comes from user input.

use crate::clock;
use crate::model::TaskState;

const DAY_MS: i64 = 86_400_000;
pub const DAYS: i64 = 30;
const BAR_STEP: i64 = 20;
const BAR_WIDTH: i64 = 14;
const PLOT_HEIGHT: i64 = 120;

pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub class: &'static str,
    pub title: String,
}

pub struct Day {
    pub date: String,
    pub succeeded: i64,
    pub failed: i64,
    pub canceled: i64,
}

pub struct Chart {
    pub width: i64,
    pub height: i64,
    pub plot_height: i64,
    pub bars: Vec<Bar>,
    pub days: Vec<Day>,
    pub max: i64,
    /// One sentence for screen readers: the totals.
    pub summary: String,
    pub first_date: String,
    pub last_date: String,
}

/// The chart of the last [`DAYS`] days up to `now`, from `(day, state, count)` rows as
/// `store::deployments::completed_per_day` gives them.
pub fn deployments_per_day(rows: &[(i64, TaskState, i64)], now: i64) -> Chart {
    let today = now.div_euclid(DAY_MS);
    let first = today - DAYS + 1;
    let mut days: Vec<Day> = (first..=today)
        .map(|d| Day {
            date: clock::iso(d * DAY_MS)[..10].to_string(),
            succeeded: 0,
            failed: 0,
            canceled: 0,
        })
        .collect();
    for (day, state, count) in rows {
        let Some(slot) = day
            .checked_sub(first)
            .and_then(|i| days.get_mut(usize::try_from(i).ok()?))
        else {
            continue;
        };
        match state {
            TaskState::Success => slot.succeeded += count,
            TaskState::Failed | TaskState::TimedOut => slot.failed += count,
            TaskState::Canceled => slot.canceled += count,
            _ => {}
        }
    }
    let max = days
        .iter()
        .map(|d| d.succeeded + d.failed + d.canceled)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut bars = Vec::new();
    for (i, day) in days.iter().enumerate() {
        let x = i as i64 * BAR_STEP + (BAR_STEP - BAR_WIDTH) / 2;
        let mut base = PLOT_HEIGHT;
        for (count, class, what) in [
            (day.succeeded, "good", "succeeded"),
            (day.failed, "bad", "failed"),
            (day.canceled, "canceled", "canceled"),
        ] {
            if count == 0 {
                continue;
            }
            let height = (count * PLOT_HEIGHT / max).max(2);
            base -= height;
            bars.push(Bar {
                x,
                y: base,
                width: BAR_WIDTH,
                height,
                class,
                title: format!("{}: {count} {what}", day.date),
            });
        }
    }
    let (s, f, c) = days.iter().fold((0, 0, 0), |(s, f, c), d| {
        (s + d.succeeded, f + d.failed, c + d.canceled)
    });
    Chart {
        width: DAYS * BAR_STEP,
        height: PLOT_HEIGHT + 4,
        plot_height: PLOT_HEIGHT,
        summary: format!(
            "{} deployments in the last {DAYS} days: {s} succeeded, {f} failed, {c} canceled.",
            s + f + c
        ),
        first_date: days.first().map(|d| d.date.clone()).unwrap_or_default(),
        last_date: days.last().map(|d| d.date.clone()).unwrap_or_default(),
        bars,
        days,
        max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_by_outcome_and_scale_to_the_busiest_day() {
        let now = 20_000 * DAY_MS + 5;
        let rows = [
            (20_000, TaskState::Success, 4),
            (20_000, TaskState::Failed, 2),
            (20_000, TaskState::TimedOut, 2),
            (19_999, TaskState::Canceled, 1),
            (19_000, TaskState::Success, 9),
        ];
        let chart = deployments_per_day(&rows, now);
        assert_eq!(chart.days.len(), 30);
        assert_eq!(chart.max, 8);
        let today: Vec<&Bar> = chart.bars.iter().filter(|b| b.x >= 29 * 20).collect();
        assert_eq!(today.len(), 2);
        assert_eq!(today[0].height + today[1].height, PLOT_HEIGHT);
        assert!(
            chart.summary.starts_with("9 deployments"),
            "{}",
            chart.summary
        );
    }
}
