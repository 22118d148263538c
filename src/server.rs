//! The web server: [`rocket()`] builds Rocket around an [`App`] from drydock's own
//! configuration, with its state, fairings (the queue's start and graceful stop),
//! catchers and routes.

use rocket::data::{Limits, ToByteUnit};
use rocket::figment::Figment;
use rocket::shield::Shield;
use rocket::{Build, Rocket};

use crate::app::{blocking_threads, App};
use crate::error::Result;
use crate::{api, auth, http, store, web};

/// Builds the server: Rocket's own settings come from drydock's [`Config`](crate::config::Config), not from
/// `Rocket.toml` or `ROCKET_*`, so there is one place to configure.
pub fn rocket(app: App) -> Result<Rocket<Build>> {
    // Before anything listens: refuse a name a live node holds, or take a dead one's.
    app.queue.claim(&app.store, &app.queue_settings())?;
    let secret_key = app.secret_key().to_string();
    let limits = Limits::default()
        .limit("json", 256.kibibytes())
        .limit("form", 64.kibibytes())
        .limit("string", 64.kibibytes());
    let figment = Figment::from(rocket::Config::default())
        .merge(("address", app.config.address))
        .merge(("port", app.config.port))
        .merge(("secret_key", secret_key))
        .merge(("log_level", rocket_log_level(&app.config.log_level)))
        .merge(("cli_colors", false))
        .merge(("ident", "drydock"))
        .merge(ip_header(&app.config.ip_header))
        .merge(("limits", limits))
        .merge(("shutdown", shutdown_settings()))
        // Also the deadline for a request's head (Rocket is patched for it: see
        // vendor/rocket/DRYDOCK.md).
        .merge(("keep_alive", app.config.keep_alive_secs))
        // Blocking threads only run database work, which waits for one of the pool's
        // connections anyway: more threads than that would only cost memory.
        .merge(("max_blocking", blocking_threads(&app.config)));
    Ok(rocket::custom(figment)
        .manage(app)
        // API key → caller, while nothing was committed since (see `auth::key_cache`).
        .manage(auth::key_cache::KeyCache::default())
        .manage(http::ErrorPages(Box::new(web::WebPages)))
        // Replace Rocket's default shield: `web::SecurityHeaders` sets stricter ones.
        .attach(Shield::new())
        .attach(http::SpacePrefix)
        .attach(web::SecurityHeaders)
        .attach(web::Announce)
        .attach(QueueFairing)
        .attach(web::metrics::RequestCounter)
        .register("/", web::catchers::all())
        .mount("/", web::routes())
        .mount("/", web::metrics::routes())
        .mount("/api", api::routes()))
}

/// SIGTERM and Ctrl-C stop the node gracefully (see [`QueueFairing`]). Rocket stops
/// accepting connections at once — a load balancer's ping fails and it sends requests to
/// the other nodes — and gives requests in flight `grace` seconds, then `mercy` more to
/// close, while the queue waits for its tasks for `shutdown_grace_secs`.
fn shutdown_settings() -> rocket::config::Shutdown {
    let mut shutdown = rocket::config::Shutdown {
        ctrlc: true,
        grace: 2,
        mercy: 3,
        force: true,
        ..Default::default()
    };
    shutdown.signals.insert(rocket::config::Sig::Term);
    shutdown
}

/// Rocket trusts `X-Real-IP` by default; drydock trusts a header only when told to.
fn ip_header(header: &str) -> (&'static str, figment::value::Value) {
    let value = if header.is_empty() {
        figment::value::Value::from(false)
    } else {
        figment::value::Value::from(header.to_string())
    };
    ("ip_header", value)
}

/// Rocket's own log is several lines a request; drydock prints one line per event itself
/// and lets Rocket speak only of failures, unless asked for `debug`.
fn rocket_log_level(level: &str) -> &'static str {
    match level {
        "debug" => "normal",
        "off" => "off",
        _ => "critical",
    }
}

/// Starts this node's queue processor when the server lifts off, and stops it gracefully
/// when the server shuts down (SIGTERM, Ctrl-C): no new claims, up to
/// `shutdown_grace_secs` for running tasks, then cancel the rest; the node is recorded as
/// stopped before the process exits.
struct QueueFairing;

#[rocket::async_trait]
impl rocket::fairing::Fairing for QueueFairing {
    fn info(&self) -> rocket::fairing::Info {
        rocket::fairing::Info {
            name: "task queue",
            kind: rocket::fairing::Kind::Liftoff | rocket::fairing::Kind::Shutdown,
        }
    }

    async fn on_liftoff(&self, rocket: &Rocket<rocket::Orbit>) {
        start_queue(rocket)
    }

    async fn on_shutdown(&self, rocket: &Rocket<rocket::Orbit>) {
        let Some(app) = rocket.state::<App>() else {
            return;
        };
        let (queue, store) = (app.queue.clone(), app.store.clone());
        let settings = app.queue_settings();
        let grace = std::time::Duration::from_secs(app.config.shutdown_grace_secs);
        let node = settings.node.clone();
        // A second SIGTERM or Ctrl-C: stop waiting, cancel what still runs.
        let hurry = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let listener = second_signal(hurry.clone(), node.clone());
        let stopped = tokio::task::spawn_blocking(move || {
            queue.stop_gracefully(&store, &settings, grace, &hurry)
        })
        .await;
        if let Some(listener) = listener {
            listener.abort();
        }
        let busy = store::busy::stats();
        println!(
            "drydock: node {node}: {} write transactions, {} waited for another process's lock (SQLITE_BUSY), {} retries, {} gave up",
            busy.writes, busy.writes_that_waited, busy.retries, busy.gave_up
        );
        match stopped {
            Ok(_) => println!("drydock: node {node} stopped"),
            Err(e) => eprintln!("drydock: stopping node {node}: {e}"),
        }
    }
}

/// Sets `hurry` at the next SIGTERM or SIGINT (the one that began the stop was
/// Rocket's). The handlers are registered before this returns, so a second signal sent
/// once the node has said it is stopping is never missed.
fn second_signal(
    hurry: std::sync::Arc<std::sync::atomic::AtomicBool>,
    node: String,
) -> Option<tokio::task::JoinHandle<()>> {
    use rocket::tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok()?;
    let mut int = signal(SignalKind::interrupt()).ok()?;
    Some(tokio::spawn(async move {
        rocket::tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        println!("drydock: node {node}: second signal, canceling the running tasks now");
        hurry.store(true, std::sync::atomic::Ordering::SeqCst);
    }))
}

fn start_queue(rocket: &Rocket<rocket::Orbit>) {
    if let Some(app) = rocket.state::<App>() {
        let settings = app.queue_settings();
        if let Err(e) = app.queue.start(app.store.clone(), settings) {
            eprintln!("drydock: the task queue did not start: {e}");
            rocket.shutdown().notify();
        }
        if let Err(e) = app.sender.start(app.store.clone(), app.sender_settings()) {
            eprintln!("drydock: the webhook sender did not start: {e}");
            rocket.shutdown().notify();
        }
    }
}
