//! Confirm before changing an environment that asks for it (by default the last in
//! promotion order): Promote, Deploy, Redeploy and Override and deploy first answer
//! with a preview — what goes where, which version it replaces, a downgrade flagged —
//! whose button posts the same form again with `confirmed=yes`. Server-rendered: it
//! works without script. The API never asks (its callers are pipelines).

use askama::Template;
use rocket::response::content::RawHtml;

use super::live::Cell;
use super::view::When;
use super::{render, Layout};
use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::Result;
use crate::store::deployments::{self, Cells};
use crate::store::projects;

/// What a page's form asks for, to show and to post again.
pub struct Ask {
    /// "Promote", "Deploy", "Redeploy", "Override and deploy".
    pub verb: &'static str,
    pub release_id: i64,
    pub environment_id: i64,
    /// When it would start: `None` now.
    pub at: Option<i64>,
    /// Where the form posts, and its fields (but the CSRF token and `confirmed`).
    pub action: String,
    pub fields: Vec<(String, String)>,
    /// Where "Go back" leads.
    pub back: String,
    /// Said under the summary (an override's reason).
    pub note: String,
    /// Sensitive values the form had, asked again here (input name, label): a page
    /// never carries one back.
    pub secrets: Vec<(String, String)>,
}

/// The confirmation page.
#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    layout: Layout,
    ask: Ask,
    project: String,
    version: String,
    environment: String,
    when: Option<When>,
    /// What is live there now (its version, release, and since when).
    replaces: Option<(String, i64, When)>,
    /// The release is older than what is live there.
    downgrade: bool,
    live_version: String,
    /// It is what is live there already.
    same: bool,
}

/// The preview to show when `ask` goes to an environment that asks first and the form
/// was not confirmed; `None` to go ahead (a release or environment that does not exist
/// is left to the change itself to refuse).
pub async fn preview(
    app: &App,
    caller: &Caller,
    confirmed: Option<&str>,
    ask: Ask,
) -> Result<Option<RawHtml<String>>> {
    if confirmed == Some("yes") {
        return Ok(None);
    }
    let (release_id, environment_id) = (ask.release_id, ask.environment_id);
    let now = clock::now_ms();
    let found = app
        .store
        .read(move |c| {
            let Some(release) = projects::find_release(c, release_id)? else {
                return Ok(None);
            };
            let Some(environment) = projects::find_environment(c, environment_id)? else {
                return Ok(None);
            };
            let Some(project) = projects::find(c, release.project_id)? else {
                return Ok(None);
            };
            if !crate::deploy::needs_confirmation(c, &environment)? {
                return Ok(None);
            }
            let cells = Cells {
                project: Some(project.id),
                environment: Some(environment.id),
                release: None,
            };
            let live = deployments::live(c, now, cells)?.into_iter().next();
            Ok(Some((release, environment, project, live)))
        })
        .await?;
    let Some((release, environment, project, live)) = found else {
        return Ok(None);
    };
    let live = live
        .as_ref()
        .map(|l| Cell::new(l, now))
        .and_then(|c| c.live);
    let replaces = live.map(|l| (l.version, l.release_id, l.when));
    let downgrade = replaces
        .as_ref()
        .is_some_and(|(v, _, _)| older(&release.version, v));
    let same = replaces
        .as_ref()
        .is_some_and(|(_, id, _)| *id == release.id);
    let title = format!(
        "{} {} {} to {}?",
        ask.verb, project.name, release.version, environment.name
    );
    render(&ConfirmPage {
        layout: Layout::new(&title, caller, None),
        when: ask.at.map(|at| When::at(at, now)),
        ask,
        project: project.name,
        version: release.version,
        environment: environment.name,
        live_version: replaces.as_ref().map(|r| r.0.clone()).unwrap_or_default(),
        replaces,
        downgrade,
        same,
    })
    .map(Some)
}

/// One run of a version: digits compare as numbers, anything else as text.
#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Part {
    Number(u128),
    Text(String),
}

fn parts(version: &str) -> Vec<Part> {
    let mut out = Vec::new();
    let mut chars = version.chars().peekable();
    while let Some(&c) = chars.peek() {
        let digit = c.is_ascii_digit();
        let mut run = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_digit() != digit {
                break;
            }
            run.push(c);
            chars.next();
        }
        out.push(match run.parse::<u128>() {
            Ok(n) if digit => Part::Number(n),
            _ => Part::Text(run.to_lowercase()),
        });
    }
    out
}

/// Whether version `a` is older than `b`: `5.8.0` than `5.9.1`, `1.9` than `1.10`.
pub fn older(a: &str, b: &str) -> bool {
    parts(a) < parts(b)
}

#[cfg(test)]
mod tests {
    use super::older;

    #[test]
    fn versions_compare_by_their_numbers() {
        assert!(older("5.8.0", "5.9.1"));
        assert!(older("1.9", "1.10"));
        assert!(older("2026.11.1", "2026.12.0"));
        assert!(!older("5.9.1", "5.9.1"));
        assert!(!older("5.10.0", "5.9.1"));
        assert!(older("1.0-rc9", "1.0-rc10"));
    }
}
