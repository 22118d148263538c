//! Octopus's routes for what drydock does not have — runbooks, packages and build
//! information, feeds, tenants, channels, certificates, accounts, machines and workers —
//! answered with a 400 whose `ErrorMessage` names the feature and what drydock does
//! instead, so that a client (Octopus's `run-runbook-action`, `push-package-action`)
//! tells its user why, rather than a bare "not found" or a status it would retry. A
//! read is answered to anyone (it says only what the product lacks); a POST, PUT,
//! DELETE or PATCH goes through the change guard like every other change — signed in,
//! CSRF for browsers, and admitted by maintenance mode — before it is refused. None
//! changes anything or reads its body.

use rocket::data::Data;
use rocket::http::Method;
use rocket::request::Request;
use rocket::route::{self, Handler, Route};

use crate::app::App;
use crate::auth::{need, Change};
use crate::error::Error;

/// Each missing feature: the message, and the paths (under `/api`, and so under
/// `/api/Spaces-1` too) that ask for it.
const MISSING: &[(&str, &[&str])] = &[
    (
        "drydock has no runbooks: a project has one deployment script, run by deploying a \
         release to an environment (POST /api/deployments/create/untenanted/v1).",
        &[
            "/runbooks/<_..>",
            "/runbookRuns/<_..>",
            "/runbook-runs/<_..>",
            "/runbookProcesses/<_..>",
            "/runbookSnapshots/<_..>",
            "/projects/<_>/runbooks/<_..>",
            "/projects/<_>/runbookProcesses/<_..>",
            "/projects/<_>/runbookSnapshots/<_..>",
            "/projects/<_>/<_>/runbooks/<_..>",
            "/projects/<_>/<_>/runbookProcesses/<_..>",
        ],
    ),
    (
        "drydock has no packages or build information: a deployment runs the project's \
         script, which fetches what it needs itself.",
        &["/packages/<_..>", "/build-information/<_..>"],
    ),
    (
        "drydock has no feeds: there are no packages to fetch from one.",
        &["/feeds/<_..>"],
    ),
    (
        "drydock has no tenants: deploy untenanted (POST /api/deployments/create/untenanted/v1).",
        &[
            "/tenants/<_..>",
            "/tenantvariables/<_..>",
            "/tagsets/<_..>",
            "/deployments/create/tenanted/<_..>",
        ],
    ),
    (
        "drydock has no channels: every release of a project is in its one default channel; \
         leave the channel out.",
        &["/channels/<_..>", "/projects/<_>/channels/<_..>"],
    ),
    (
        "drydock has no certificates: a deployment script reads what it needs from the \
         machine it runs on.",
        &["/certificates/<_..>"],
    ),
    (
        "drydock has no accounts (cloud or SSH credentials): a deployment script runs on the \
         drydock node with that node's own access.",
        &["/accounts/<_..>"],
    ),
    (
        "drydock has no machines, deployment targets or workers: every deployment script runs \
         on a drydock node (GET /api/octopusservernodes lists them).",
        &[
            "/machines/<_..>",
            "/machineroles/<_..>",
            "/workers/<_..>",
            "/workerpools/<_..>",
        ],
    ),
];

/// Ranks after every real route (some of these paths also match a real one, such as
/// `/projects/<id>/releases/<version>`), each its own so that none collide.
const FIRST_RANK: isize = 100;

#[derive(Clone)]
struct Missing(&'static str);

#[rocket::async_trait]
impl Handler for Missing {
    async fn handle<'r>(&self, req: &'r Request<'_>, _data: Data<'r>) -> route::Outcome<'r> {
        if !matches!(req.method(), Method::Get | Method::Head) {
            let change = match req.guard::<Change<need::SignedIn>>().await {
                rocket::outcome::Outcome::Success(change) => change,
                rocket::outcome::Outcome::Error((status, ())) => {
                    return route::Outcome::Error(status)
                }
                rocket::outcome::Outcome::Forward(status) => return route::Outcome::Error(status),
            };
            let Some(app) = req.rocket().state::<App>() else {
                return route::Outcome::from(req, Error::internal("no app state"));
            };
            // An empty change: admitted (or refused, in maintenance) as every change is.
            if let Err(e) = app.store.change(&change.proof, |_| Ok(())).await {
                return route::Outcome::from(req, e);
            }
        }
        route::Outcome::from(req, Error::BadRequest(self.0.to_string(), Vec::new()))
    }
}

/// The messages of the missing features (for the tests and docs/octopus-tooling.md).
pub fn features() -> impl Iterator<Item = &'static str> {
    MISSING.iter().map(|(message, _)| *message)
}

pub fn routes() -> Vec<Route> {
    let methods = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
    ];
    let mut routes = Vec::new();
    let mut rank = FIRST_RANK;
    for (message, paths) in MISSING {
        for path in *paths {
            rank += 1;
            for method in methods {
                routes.push(Route::ranked(rank, method, path, Missing(message)));
            }
        }
    }
    routes
}
