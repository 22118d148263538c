//! The pages' own contracts: every static asset they use is served, refused
//! configuration forms come back with the value under its field, search and the
//! refresh stamp show only what the caller may see.

use crate::common;

use common::*;
use rocket::http::Status;
#[test]
fn every_static_asset_the_pages_use_is_served() {
    let app = TestApp::new();
    let client = app.client();
    let templates = std::fs::read_dir("templates")
        .unwrap()
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                std::fs::read_dir(e.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path())
                    .collect::<Vec<_>>()
            } else {
                vec![e.path()]
            }
        });
    let mut assets = std::collections::BTreeSet::new();
    for path in templates {
        let text = std::fs::read_to_string(path).unwrap();
        for part in text.split("\"/static/").skip(1) {
            assets.insert(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        let response = client.get(format!("/static/{asset}")).dispatch();
        assert_eq!(response.status(), Status::Ok, "/static/{asset}");
    }
}

#[test]
fn configuration_forms_come_back_with_the_refused_value_under_its_field() {
    let app = TestApp::new();
    let admin = app.admin();
    let node = app
        .client()
        .rocket()
        .state::<drydock::App>()
        .unwrap()
        .config
        .node_name
        .clone();
    let html_of = |response: rocket::local::blocking::LocalResponse<'_>| {
        assert_eq!(response.status(), Status::BadRequest);
        response.into_string().unwrap()
    };
    let html = html_of(admin.post_form(
        &format!("/configuration/nodes/{node}/task-cap"),
        &[("task_cap", "lots")],
    ));
    assert!(html.contains("value=\"lots\""), "{html}");
    assert!(
        html.contains("Task cap: &#39;lots&#39; is not a number"),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""), "{html}");

    let html = html_of(admin.post_form(
        "/configuration/system-tasks/Backup/interval",
        &[("interval_secs", "-5")],
    ));
    assert!(html.contains("value=\"-5\""), "{html}");
    assert!(html.contains("Interval (seconds)"), "{html}");

    let html = html_of(admin.post_form(
        "/configuration/maintenance/windows",
        &[("start", "soon"), ("end", ""), ("message", "kept message")],
    ));
    assert!(html.contains("2 problems to fix"), "{html}");
    assert!(html.contains("value=\"kept message\""), "{html}");
    assert!(html.contains("id=\"start-error\""), "{html}");
    assert!(html.contains("id=\"end-error\""), "{html}");

    let html = html_of(admin.post_form("/profile/apikeys", &[("purpose", "  ")]));
    assert!(html.contains("Purpose is required"), "{html}");
    assert_eq!(app.count("maintenance_windows"), 0);
}

/// The search box and the stamp pages poll show only what the caller may see: a user
/// without roles finds no project, release or task, and the stamp is a digest that says
/// nothing of the queue.
#[test]
fn search_and_the_refresh_stamp_show_only_what_the_caller_may_see() {
    let app = TestApp::new();
    let admin = app.user_with_key("boss", &["System Administrator"]);
    let client = app.client();
    let (project, env, release) = project_env_release(&client, &admin, "echo ok");
    let _ = (project, env.clone());
    let task = deploy(&client, &admin, &release, &env);
    wait_completed(&client, &admin, &task, 30);
    drop(client);
    app.user_with_key("nobody", &[]);
    app.user_with_key("watcher", &["Viewer"]);
    let find = |who: &str| {
        let session = app.session(who, PASSWORD);
        let response = session.client.get("/search?q=Deploy").dispatch();
        assert_eq!(response.status(), Status::Ok);
        let found_tasks = response.into_string().unwrap_or_default();
        let response = session.client.get("/search?q=P").dispatch();
        let found_projects = response.into_string().unwrap_or_default();
        let (status, stamp) = session.get_json("/live/stamp");
        assert_eq!(status, Status::Ok, "{stamp}");
        (
            found_tasks,
            found_projects,
            stamp["Stamp"].as_str().unwrap().to_string(),
        )
    };
    let (tasks, projects, stamp) = find("nobody");
    assert!(
        !tasks.contains("found-tasks"),
        "a caller without TaskView found tasks"
    );
    assert!(
        !projects.contains("found-projects"),
        "a caller without ProjectView found projects"
    );
    assert!(
        stamp.len() == 24 && stamp.bytes().all(|b| b.is_ascii_hexdigit()),
        "{stamp}"
    );
    let (tasks, projects, _) = find("watcher");
    assert!(tasks.contains("found-tasks") && tasks.contains("Deploy P release 1 to E"));
    assert!(projects.contains("found-projects"));
    // Signed out: no stamp, but the way to sign in.
    let anonymous = app.client();
    let response = anonymous.get("/live/stamp").dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    assert!(response
        .headers()
        .get_one("Location")
        .is_some_and(|l| l.starts_with("/login")));
}
