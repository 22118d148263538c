//! Server-rendered pages: one file per area, each page an askama struct beside its
//! handler. Pages work without JavaScript; forms post/redirect/get with a flash message.

pub mod approval_rules;
pub mod approvals;
pub mod audit;
pub mod catchers;
pub mod chart;
pub mod confirm;
pub mod dashboard;
pub mod deep_links;
pub mod environments;
pub mod forms;
pub mod freezes;
pub mod live;
pub mod login;
pub mod maintenance;
pub mod matrix;
pub mod metrics;
pub mod nodes;
pub mod overrides;
pub mod profile;
pub mod projects;
pub mod refused;
pub mod releases;
pub mod search;
pub mod subscriptions;
pub mod system_tasks;
pub mod task_page;
pub mod tasks;
pub mod timeline;
pub mod users;
pub mod variables;
pub mod view;

use askama::Template;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FlashMessage, Request};
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Response, Route};

use crate::access::permissions::Permission;
use crate::auth::Caller;
use crate::error::{Error, Result};

pub fn routes() -> Vec<Route> {
    let mut routes = rocket::routes![static_file, configuration];
    routes.extend(login::routes());
    routes.extend(dashboard::routes());
    routes.extend(users::routes());
    routes.extend(audit::routes());
    routes.extend(profile::routes());
    routes.extend(projects::routes());
    routes.extend(environments::routes());
    routes.extend(tasks::routes());
    routes.extend(task_page::routes());
    routes.extend(approvals::routes());
    routes.extend(approval_rules::routes());
    routes.extend(system_tasks::routes());
    routes.extend(maintenance::routes());
    routes.extend(freezes::routes());
    routes.extend(overrides::routes());
    routes.extend(releases::routes());
    routes.extend(variables::routes());
    routes.extend(timeline::routes());
    routes.extend(nodes::routes());
    routes.extend(deep_links::routes());
    routes.extend(live::routes());
    routes.extend(search::routes());
    routes.extend(subscriptions::routes());
    routes
}

/// What the shared layout (`templates/base.html`) shows around every page.
pub struct Layout {
    pub title: String,
    pub user: Option<NavUser>,
    pub csrf: String,
    pub flash: Option<(String, String)>,
    pub banner: Option<BannerView>,
    /// This node stops: the schema moved past it (a newer drydock migrated).
    pub outdated: Option<String>,
    /// Maintenance mode is on and the caller is not an administrator: change buttons
    /// are disabled, with the reason.
    pub frozen: bool,
    /// The navigation entry this page belongs to (`/projects`, ...), marked as current.
    pub section: &'static str,
    /// The page brings itself up to date (`static/refresh.js`) when anything changes.
    pub refresh: bool,
}

pub struct BannerView {
    pub on: bool,
    pub message: Option<String>,
    pub by: String,
    pub since: String,
    pub upcoming: Option<(String, Option<String>)>,
    /// When a window will end it, if one turned it on.
    pub ends: Option<String>,
}

impl From<crate::maintenance::Banner> for BannerView {
    fn from(b: crate::maintenance::Banner) -> BannerView {
        BannerView {
            on: b.on,
            message: b.message,
            by: b.by.unwrap_or_default(),
            since: b.since.map(crate::clock::display).unwrap_or_default(),
            upcoming: b.upcoming.map(|(at, m)| (crate::clock::display(at), m)),
            ends: b.ends.map(crate::clock::display),
        }
    }
}

/// Why change buttons are disabled in maintenance mode.
pub const FROZEN_REASON: &str = "Maintenance mode: changes are disabled for non-administrators";

pub struct NavUser {
    pub username: String,
    pub display_name: String,
    pub can_view_projects: bool,
    pub can_view_environments: bool,
    pub can_view_tasks: bool,
    pub can_view_users: bool,
    pub is_admin: bool,
    pub can_view_events: bool,
    pub can_view_subscriptions: bool,
}

impl Layout {
    pub fn new(title: &str, caller: &Caller, flash: Option<FlashMessage<'_>>) -> Layout {
        Layout {
            title: title.to_string(),
            user: Some(NavUser {
                username: caller.user.username.clone(),
                display_name: caller.user.display_name.clone(),
                can_view_projects: caller.can(Permission::ProjectView),
                can_view_environments: caller.can(Permission::EnvironmentView),
                can_view_tasks: caller.can(Permission::TaskView),
                can_view_users: caller.can(Permission::UserView),
                is_admin: caller.can(Permission::AdministerSystem),
                can_view_events: caller.can(Permission::EventView),
                can_view_subscriptions: caller.can(Permission::SubscriptionView),
            }),
            csrf: caller.csrf_token().to_string(),
            flash: flash.map(|f| (f.kind().to_string(), f.message().to_string())),
            frozen: caller.banner.as_ref().is_some_and(|b| b.on)
                && !caller.can(Permission::AdministerSystem),
            banner: caller.banner.clone().map(BannerView::from),
            outdated: caller.outdated.clone(),
            section: "",
            refresh: false,
        }
    }

    /// The page refreshes itself while it is shown: a list people leave open.
    pub fn refreshing(mut self) -> Layout {
        self.refresh = true;
        self
    }

    /// Marks the navigation entry `section` (its path) as the current page's.
    pub fn at(mut self, section: &'static str) -> Layout {
        self.section = section;
        self
    }

    /// ` aria-current="page"` on the navigation link of this page's section.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            " aria-current=\"page\""
        } else {
            ""
        }
    }

    /// ` disabled title="…"` for a change button while frozen, else nothing.
    pub fn disabled(&self) -> String {
        if self.frozen {
            format!(" disabled title=\"{FROZEN_REASON}\"")
        } else {
            String::new()
        }
    }

    pub fn anonymous(title: &str, flash: Option<FlashMessage<'_>>) -> Layout {
        Layout {
            title: title.to_string(),
            user: None,
            csrf: String::new(),
            flash: flash.map(|f| (f.kind().to_string(), f.message().to_string())),
            banner: None,
            outdated: None,
            frozen: false,
            section: "",
            refresh: false,
        }
    }
}

pub fn render<T: Template>(page: &T) -> Result<RawHtml<String>> {
    Ok(RawHtml(page.render()?))
}

/// The number of a `kind` id as the API, the command line and CI logs print it
/// (`ServerTasks-208`, the kind without case), or of the bare number the pages' own
/// links use; `None` for anything else, another kind's id included.
pub fn id_number(kind: &str, text: &str) -> Option<i64> {
    let number = match text.split_once('-') {
        Some((prefix, n)) if prefix.eq_ignore_ascii_case(kind) => n,
        Some(_) => return None,
        None => text,
    };
    number.parse::<i64>().ok().filter(|n| *n > 0)
}

/// The number of a `kind` id from a page URL ([`id_number`]); anything else is simply
/// not found.
pub fn page_id(kind: &str, id: &str) -> Result<i64> {
    id_number(kind, id).ok_or_else(|| {
        Error::NotFound(format!("Nothing has the id '{}'.", crate::error::shown(id)))
    })
}

/// Redirects to `to` with a success flash.
pub fn done(to: String, message: impl Into<String>) -> Flash<Redirect> {
    Flash::success(Redirect::to(to), message.into())
}

/// Redirects to `to` with an error flash: how a form's bad input is reported.
pub fn refused(to: String, error: &Error) -> Flash<Redirect> {
    Flash::error(Redirect::to(to), error.public_message())
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    reason: String,
    message: String,
}

/// The HTML error page, rendered without touching the database.
fn error_page(req: &Request<'_>, status: Status, message: &str) -> String {
    let title = status.reason().unwrap_or("Error");
    let layout = match crate::auth::guards::resolved_caller(req) {
        Some(caller) => Layout::new(title, &caller, None),
        None => Layout::anonymous(title, None),
    };
    let page = ErrorPage {
        layout,
        status: status.code,
        reason: status.reason().unwrap_or("Error").to_string(),
        message: message.to_string(),
    };
    page.render()
        .unwrap_or_else(|_| format!("{} {}", status.code, message))
}

#[derive(Template)]
#[template(path = "maintenance_refused.html")]
struct RefusedPage {
    layout: Layout,
    reason: &'static str,
    message: Option<String>,
    action: String,
    form: Option<refused::Rebuilt>,
}

/// The 503 page for a change refused in maintenance mode: why, what was not done, and
/// the form again, rebuilt with its controls holding what the user typed.
fn maintenance_refused_page(req: &Request<'_>, refusal: &crate::error::Refusal) -> String {
    let layout = match crate::auth::guards::resolved_caller(req) {
        Some(caller) => Layout::new("Maintenance mode", &caller, None),
        None => Layout::anonymous("Maintenance mode", None),
    };
    let store = req
        .rocket()
        .state::<crate::app::App>()
        .map(|app| &app.store);
    let form = crate::http::refused_form(req).map(|refused| {
        let fields = refused::typed_fields(&refused.body);
        let rebuilt = refused::rebuild(store, &refused.action, &fields);
        (refused.action.clone(), rebuilt)
    });
    let page = RefusedPage {
        layout,
        reason: crate::error::MAINTENANCE_REFUSAL,
        message: refusal.message.clone(),
        action: form.as_ref().map(|(a, _)| a.clone()).unwrap_or_default(),
        form: form.map(|(_, f)| f),
    };
    page.render()
        .unwrap_or_else(|_| crate::error::MAINTENANCE_REFUSAL.to_string())
}

/// The pages `http`'s responder answers errors with outside `/api`.
pub struct WebPages;

impl crate::http::Pages for WebPages {
    fn error(&self, req: &Request<'_>, status: Status, message: &str) -> String {
        error_page(req, status, message)
    }

    fn maintenance_refused(&self, req: &Request<'_>, refusal: &crate::error::Refusal) -> String {
        maintenance_refused_page(req, refusal)
    }
}

impl From<askama::Error> for Error {
    fn from(e: askama::Error) -> Error {
        Error::internal_from("template", e)
    }
}

#[rocket::get("/configuration")]
fn configuration() -> Redirect {
    Redirect::to("/configuration/users")
}

/// The stylesheet and other static files, compiled into the binary.
#[rocket::get("/static/<name>")]
fn static_file(name: &str) -> Option<(ContentType, &'static str)> {
    match name {
        "app.css" => Some((ContentType::CSS, include_str!("../../static/app.css"))),
        "deep_links.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/deep_links.js"),
        )),
        "live.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/live.js"),
        )),
        "refresh.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/refresh.js"),
        )),
        "task.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/task.js"),
        )),
        "refused.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/refused.js"),
        )),
        "maintenance.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/maintenance.js"),
        )),
        "freeze.js" => Some((
            ContentType::JavaScript,
            include_str!("../../static/freeze.js"),
        )),
        _ => None,
    }
}

/// Prints the one line that says where the server listens.
pub struct Announce;

#[rocket::async_trait]
impl Fairing for Announce {
    fn info(&self) -> Info {
        Info {
            name: "announce",
            kind: Kind::Liftoff,
        }
    }

    async fn on_liftoff(&self, rocket: &rocket::Rocket<rocket::Orbit>) {
        let config = rocket.config();
        let Some(app) = rocket.state::<crate::app::App>() else {
            return;
        };
        if app.config.log_level == "off" {
            return;
        }
        let data_dir = app.config.data_dir.display();
        println!(
            "drydock {} listening on http://{}:{} (data directory {data_dir})",
            env!("CARGO_PKG_VERSION"),
            config.address,
            config.port
        );
    }
}

/// Security headers on every response (SECURITY.md, "Cross-site scripting and the browser").
pub struct SecurityHeaders;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        res.set_header(Header::new(
            "Content-Security-Policy",
            CONTENT_SECURITY_POLICY,
        ));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new("Referrer-Policy", "same-origin"));
        if !req.uri().path().starts_with("/static/") {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}

/// The project `id`, or a 404 naming it.
pub(super) async fn find_project(
    app: &crate::app::App,
    id: i64,
) -> Result<crate::store::projects::Project> {
    app.store
        .read(move |c| crate::store::projects::find(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found.")))
}
