//! `GET /metrics` (readable without signing in from loopback only, or from anywhere
//! with `Authorization: Bearer <metrics_token>`: `auth::MetricsReader`), and the
//! fairing that counts every answered request.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::ContentType;
use rocket::{Request, Response, State};

use crate::app::App;
use crate::auth::MetricsReader;
use crate::error::Result;

/// Counts every answered request by its route template (`/api/tasks/<id>`, so that ids
/// do not make new series), method and status.
pub struct RequestCounter;

#[rocket::async_trait]
impl Fairing for RequestCounter {
    fn info(&self) -> Info {
        Info {
            name: "request metrics",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if let Some(app) = req.rocket().state::<App>() {
            let route = req
                .route()
                .map(|r| r.uri.as_str().to_string())
                .unwrap_or_else(|| "unmatched".into());
            app.metrics
                .count_request(req.method().as_str(), &route, res.status().code);
        }
    }
}

#[rocket::get("/metrics")]
async fn metrics(_reader: MetricsReader, app: &State<App>) -> Result<(ContentType, String)> {
    let snapshot = crate::metrics::snapshot(&app.store).await?;
    let body = app.metrics.render(snapshot)?;
    let content_type = ContentType::new("application", "openmetrics-text")
        .with_params([("version", "1.0.0"), ("charset", "utf-8")]);
    Ok((content_type, body))
}

pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![metrics]
}
