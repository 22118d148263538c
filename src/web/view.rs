//! How pages show common things: times (relative, with the absolute UTC time on hover in
//! a `<time>` element), durations, and task states as badges with a colour each.

use crate::clock;
use crate::model::TaskState;
use crate::store::tasks::Task;

/// A moment as pages show it: `<time datetime="{iso}" title="{absolute}">{relative}</time>`.
#[derive(Clone, Debug)]
pub struct When {
    pub iso: String,
    pub absolute: String,
    pub relative: String,
    /// Beside the relative time: "7 Dec 10:40 UTC" (turned into the reader's own zone
    /// by `static/live.js`).
    pub short: String,
}

impl When {
    pub fn at(ms: i64, now: i64) -> When {
        let iso = clock::iso(ms);
        When {
            short: short_absolute(&iso),
            iso,
            absolute: clock::display(ms),
            relative: relative(ms, now),
        }
    }
}

/// "7 Dec 10:40 UTC" of an ISO 8601 UTC time (`2026-12-07T10:40:52.000Z`).
fn short_absolute(iso: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = iso
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let day = iso.get(8..10).and_then(|d| d.parse::<u32>().ok());
    match (month, day, iso.get(11..16)) {
        (Some(month), Some(day), Some(time)) => format!("{day} {month} {time} UTC"),
        _ => iso.to_string(),
    }
}

/// "just now", "3 min ago", "in 2 h", "5 days ago": one unit, rounded down.
pub fn relative(ms: i64, now: i64) -> String {
    let delta = now - ms;
    let secs = delta.abs() / 1000;
    if secs < 10 {
        return "just now".to_string();
    }
    let amount = short_duration(secs * 1000);
    if delta >= 0 {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

/// A duration in one short unit: "45 s", "3 min", "2 h", "5 days".
pub fn short_duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s if s < 2 * 86_400 => "1 day".to_string(),
        s => format!("{} days", s / 86_400),
    }
}

/// A duration to the second: "0:42", "12:05", "1:02:03".
pub fn clock_duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The CSS class of a task state's badge: every state its own colour.
pub fn state_class(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "queued",
        TaskState::Executing => "busy",
        TaskState::Cancelling => "cancelling",
        TaskState::Success => "good",
        TaskState::Failed => "bad",
        TaskState::TimedOut => "timedout",
        TaskState::Canceled => "canceled",
    }
}

/// A task's badge: its state, or "Scheduled" for a queued task whose time has not come.
pub struct Badge {
    pub label: &'static str,
    pub class: &'static str,
}

pub fn badge(task: &Task, now: i64) -> Badge {
    if task.state == TaskState::Success && task.error_lines > 0 {
        // Octopus's HasWarningsOrErrors: it succeeded, and its script wrote to stderr.
        return Badge {
            label: "Success with warnings",
            class: "warn",
        };
    }
    badge_for(
        task.state,
        task.queue_time,
        (task.held_until, task.awaiting_approval),
        now,
    )
}

/// The badge of a task in `state` queued for `queue_time`: "Awaiting approval" while it
/// waits for one (`awaiting`), "Held" while a deployment freeze holds it (`held_until`
/// still to come), "Scheduled" before its time.
pub fn badge_for(
    state: TaskState,
    queue_time: i64,
    (held_until, awaiting): (Option<i64>, bool),
    now: i64,
) -> Badge {
    if state == TaskState::Queued && awaiting {
        Badge {
            label: "Awaiting approval",
            class: "awaiting",
        }
    } else if state == TaskState::Queued && held_until.is_some_and(|h| h > now) {
        Badge {
            label: "Held",
            class: "held",
        }
    } else if state == TaskState::Queued && queue_time > now {
        Badge {
            label: "Scheduled",
            class: "scheduled",
        }
    } else {
        Badge {
            label: state.as_str(),
            class: state_class(state),
        }
    }
}

/// Who queued a task and how, as the lists show it: "alice (Session)".
pub fn queued_by(t: &Task) -> String {
    match (t.queued_by.as_str(), t.queued_via.as_str()) {
        ("", _) => String::new(),
        (by, "") => by.to_string(),
        (by, via) => format!("{by} ({via})"),
    }
}

/// A task as the lists show it.
pub struct TaskRow {
    pub id: i64,
    pub description: String,
    pub state: &'static str,
    pub state_class: &'static str,
    /// For a scheduled task: "starts in 3 h".
    pub note: String,
    pub queued: When,
    pub started: Option<When>,
    /// Start to end, or to now while executing.
    pub duration: String,
    /// While executing: the start, for the page's script to keep the duration live.
    pub running_since: Option<String>,
    pub node: String,
    pub is_system: bool,
    /// "alice (Session)", or '' when no one is recorded.
    pub by: String,
    /// For a queued deployment a freeze will stop: what will happen to it.
    pub outlook: String,
}

impl TaskRow {
    pub fn new(t: Task, now: i64) -> TaskRow {
        let badge = badge(&t, now);
        let note = match (badge.class, t.held_until) {
            ("scheduled", _) => format!("starts {}", relative(t.queue_time, now)),
            ("held", Some(until)) => format!(
                "by a deployment freeze until {} ({})",
                clock::display(until),
                relative(until, now)
            ),
            _ => String::new(),
        };
        let running = matches!(t.state, TaskState::Executing | TaskState::Cancelling);
        let by = queued_by(&t);
        TaskRow {
            id: t.id,
            state: badge.label,
            state_class: badge.class,
            note,
            queued: When::at(t.queue_time, now),
            started: t.start_time.map(|s| When::at(s, now)),
            duration: t
                .start_time
                .map(|s| clock_duration(t.completed_time.unwrap_or(now) - s))
                .unwrap_or_default(),
            running_since: t.start_time.filter(|_| running).map(clock::iso),
            node: t.server_node.unwrap_or_default(),
            is_system: t.is_system,
            by,
            outlook: String::new(),
            description: t.description,
        }
    }

    pub fn list(tasks: Vec<Task>, now: i64) -> Vec<TaskRow> {
        tasks.into_iter().map(|t| TaskRow::new(t, now)).collect()
    }

    /// [`Self::list`] with what will happen to each queued deployment (`outlooks`, by
    /// task id) beside its state.
    pub fn list_with(
        tasks: Vec<Task>,
        now: i64,
        outlooks: &std::collections::HashMap<i64, String>,
    ) -> Vec<TaskRow> {
        tasks
            .into_iter()
            .map(|t| {
                let outlook = outlooks.get(&t.id).cloned();
                let mut row = TaskRow::new(t, now);
                if let Some(outlook) = outlook {
                    row.outlook = outlook;
                }
                row
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_and_durations() {
        let now = 1_000_000_000;
        assert_eq!(relative(now - 3_000, now), "just now");
        assert_eq!(relative(now - 180_000, now), "3 min ago");
        assert_eq!(relative(now + 2 * 3_600_000 + 5, now), "in 2 h");
        assert_eq!(relative(now - 5 * 86_400_000, now), "5 days ago");
        assert_eq!(clock_duration(42_000), "0:42");
        assert_eq!(clock_duration(3_723_000), "1:02:03");
        assert_eq!(short_duration(45_000), "45 s");
        assert_eq!(
            short_absolute("2026-12-07T10:40:52.000Z"),
            "7 Dec 10:40 UTC"
        );
    }
}
