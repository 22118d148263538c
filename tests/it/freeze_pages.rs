//! Deployment freezes on pages (the form's refusals, who may see what) and recurring
//! windows through the API across daylight-saving changes.

use crate::common;

use common::*;
use rocket::http::{Method, Status};
use serde_json::{json, Value};

#[test]
fn the_freeze_form_keeps_what_was_typed_and_names_each_problem_under_its_field() {
    let app = TestApp::new();
    let key = app.user_with_key("mia", &["System Manager"]);
    app.user_with_key("dana", &["Project Deployer"]);
    let client = app.client();
    project_env_release(&client, &key, "true");
    let mia = app.session("mia", PASSWORD);
    let before = app.count("deployment_freezes");
    let page = mia.post_form(
        "/configuration/freezes",
        &[
            ("name", "Quarter <close>"),
            ("time_zone", "Mars/Olympus_Mons"),
            ("start", "2027-03-19T15:00"),
            ("end", "2027-03-19T14:00"),
            ("repeat", "Weekly"),
            ("unit", "1"),
            ("end_type", "Never"),
            ("on_start", "Hold"),
        ],
    );
    assert_eq!(page.status(), Status::BadRequest);
    let html = page.into_string().unwrap();
    for said in [
        "Time zone: &#39;Mars/Olympus_Mons&#39; is not a time zone",
        "Days must name at least one day",
        "Projects and environments must name at least one project",
    ] {
        assert!(html.contains(said), "{said} in {html}");
    }
    // What was typed stays (escaped), the problem fields are marked.
    assert!(html.contains("value=\"Quarter &#60;close&#62;\""), "{html}");
    assert!(html.contains("id=\"freeze-hold\" checked"), "{html}");
    assert!(
        html.contains("aria-describedby=\"time_zone-error\""),
        "{html}"
    );
    assert_eq!(app.count("deployment_freezes"), before);

    // The same form, right: created, listed with its schedule in words.
    let done = mia.post_form(
        "/configuration/freezes",
        &[
            ("name", "Friday afternoons"),
            ("time_zone", "Europe/Berlin"),
            ("start", "2027-03-19T15:00"),
            ("end", "2027-03-19T23:59"),
            ("repeat", "Weekly"),
            ("unit", "1"),
            ("days", "Friday"),
            ("end_type", "AfterOccurrences"),
            ("occurrences", "10"),
            ("on_start", "Hold"),
            ("pairs", "1:1"),
        ],
    );
    assert_eq!(done.status(), Status::SeeOther);
    let list = mia
        .client
        .get("/configuration/freezes")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        list.contains("every Friday 15:00–23:59 Europe/Berlin, 10 times"),
        "{list}"
    );
    // The edit form shows the local times in the freeze's zone.
    let edit = mia
        .client
        .get("/configuration/freezes/1")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(edit.contains("value=\"2027-03-19T15:00\""), "{edit}");
    assert!(edit.contains("id=\"freeze-day-Friday\" checked"), "{edit}");

    // A deployer reads the list but may not open the form or post it.
    let dana = app.session("dana", PASSWORD);
    let list = dana
        .client
        .get("/configuration/freezes")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        list.contains("Friday afternoons") && !list.contains("new-freeze"),
        "{list}"
    );
    assert_eq!(
        dana.client
            .get("/configuration/freezes/new")
            .dispatch()
            .status(),
        Status::Forbidden
    );
    let refused = dana.post_form("/configuration/freezes/1/delete", &[]);
    assert_eq!(refused.status(), Status::Forbidden);
    assert_eq!(app.count("deployment_freezes"), 1);
    // The timeline page reads for anyone signed in, and the maintenance page links it.
    let timeline = dana.client.get("/timeline").dispatch();
    assert_eq!(timeline.status(), Status::Ok);
    let admin = app.admin();
    let maintenance = admin
        .client
        .get("/configuration/maintenance")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(maintenance.contains("href=\"/timeline\""));
}

/// A weekly freeze at 15:00 in Berlin through the API: its windows, as the timeline
/// lists them, are 14:00Z in winter and 13:00Z in summer, across both changes of 2027;
/// ten occurrences and no more.
#[test]
fn a_weekly_freeze_in_a_named_zone_follows_daylight_saving_and_stops_after_its_count() {
    let app = TestApp::new();
    let key = app.user_with_key("mia", &["System Manager"]);
    let client = app.client();
    project_env_release(&client, &key, "true");
    let call = |method: Method, path: &str, body: Option<Value>| {
        json_of(with_key(&client, method, path, &key, body))
    };
    let (status, f) = call(
        Method::Post,
        "/api/deploymentfreezes",
        Some(json!({
            "Name": "Friday afternoons",
            "Start": "2027-03-12T15:00:00+01:00",
            "End": "2027-03-12T23:59:00+01:00",
            "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
            "RecurringSchedule": {"Type": "Weekly", "Unit": 1, "DaysOfWeek": ["Friday"],
                                  "EndType": "AfterOccurrences", "EndAfterOccurrences": 10},
            "TimeZone": "Europe/Berlin",
        })),
    );
    assert_eq!(status, Status::Created, "{f}");
    let starts = |from: &str, to: &str| -> Vec<String> {
        let (status, t) = call(
            Method::Get,
            &format!("/api/timeline?from={from}&to={to}"),
            None,
        );
        assert_eq!(status, Status::Ok, "{t}");
        t["DeploymentFreezes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["Start"].as_str().unwrap()[..19].to_string())
            .collect()
    };
    // Spring: 28 March 2027 (CET → CEST).
    assert_eq!(
        starts("2027-03-12T00:00:00Z", "2027-04-03T00:00:00Z"),
        vec![
            "2027-03-12T14:00:00",
            "2027-03-19T14:00:00",
            "2027-03-26T14:00:00",
            "2027-04-02T13:00:00"
        ]
    );
    // The tenth and last window is 14 May; none after it.
    assert_eq!(
        starts("2027-05-01T00:00:00Z", "2027-06-30T00:00:00Z"),
        vec!["2027-05-07T13:00:00", "2027-05-14T13:00:00"]
    );
    // Autumn (31 October 2027, CEST → CET), with a freeze that never ends.
    let (status, f) = call(
        Method::Post,
        "/api/deploymentfreezes",
        Some(json!({
            "Name": "Every Friday",
            "Start": "2027-10-15T15:00:00+02:00",
            "End": "2027-10-15T16:00:00+02:00",
            "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
            "RecurringSchedule": {"Type": "Weekly", "DaysOfWeek": ["Friday"]},
            "TimeZone": "Europe/Berlin",
        })),
    );
    assert_eq!(status, Status::Created, "{f}");
    assert_eq!(
        starts("2027-10-20T00:00:00Z", "2027-11-10T00:00:00Z"),
        vec![
            "2027-10-22T13:00:00",
            "2027-10-29T13:00:00",
            "2027-11-05T14:00:00"
        ]
    );
}

/// The freeze routes are among those the guard and maintenance tests enumerate from
/// the router, under both prefixes.
#[test]
fn the_freeze_routes_are_in_the_mutating_route_enumeration() {
    let app = TestApp::new();
    let routes = mutating_routes(&app.client());
    for (method, path) in [
        (Method::Post, "/api/deploymentfreezes"),
        (Method::Put, "/api/deploymentfreezes/<id>"),
        (Method::Delete, "/api/deploymentfreezes/<id>"),
        (Method::Post, "/api/deployments/override"),
        (Method::Post, "/api/Spaces-1/deployments/override"),
        (Method::Post, "/api/Spaces-1/deploymentfreezes"),
        (Method::Post, "/configuration/freezes"),
        (Method::Post, "/configuration/freezes/<id>"),
        (Method::Post, "/configuration/freezes/<id>/delete"),
        (Method::Post, "/releases/<id>/override"),
    ] {
        assert!(
            routes.iter().any(|(m, p)| *m == method && p == path),
            "{method} {path} not in {routes:?}"
        );
    }
}
