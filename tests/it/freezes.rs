//! Deployment freezes (issue 18): Octopus's API shapes and validation, what a freeze
//! blocks (API, executions API, form), and the override. (Deployments due inside a
//! freeze and the timeline: `freeze_queue.rs`.)

use crate::common;

use common::*;
use drydock::clock;
use rocket::http::{Method, Status};
use serde_json::{json, Value};

/// A test app with a System Manager (may administer freezes), a Project Deployer, two
/// projects and two environments, and a release of each project.
pub struct Setup {
    pub app: TestApp,
    pub client: rocket::local::blocking::Client,
    pub manager: String,
    pub deployer: String,
}

impl Setup {
    pub fn new() -> Setup {
        let app = TestApp::with(|c| c.queue_poll_ms = 100);
        let manager = app.user_with_key("manager", &["System Manager"]);
        let deployer = app.user_with_key("deployer", &["Project Deployer"]);
        let s = Setup {
            client: app.client(),
            app,
            manager,
            deployer,
        };
        for (path, body) in [
            (
                "/api/projects",
                json!({"Name": "Shop", "DeploymentScript": "echo shop"}),
            ),
            (
                "/api/projects",
                json!({"Name": "Blog", "DeploymentScript": "echo blog"}),
            ),
            ("/api/environments", json!({"Name": "Production"})),
            ("/api/environments", json!({"Name": "Staging"})),
            (
                "/api/releases",
                json!({"ProjectId": "Projects-1", "Version": "1.0"}),
            ),
            (
                "/api/releases",
                json!({"ProjectId": "Projects-2", "Version": "1.0"}),
            ),
        ] {
            let (status, body) = s.call(&s.manager.clone(), Method::Post, path, Some(body));
            assert_eq!(status, Status::Created, "{path}: {body}");
        }
        s
    }

    pub fn call(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (Status, Value) {
        json_of(with_key(&self.client, method, path, key, body))
    }

    pub fn freeze(&self, body: Value) -> Value {
        let (status, f) = self.call(
            &self.manager,
            Method::Post,
            "/api/deploymentfreezes",
            Some(body),
        );
        assert_eq!(status, Status::Created, "{f}");
        f
    }
}

pub fn iso(ms: i64) -> String {
    clock::iso(ms)
}

/// A one-window freeze over Shop (Projects-1) in Production (Environments-1).
pub fn shop_production(name: &str, from: i64, to: i64) -> Value {
    json!({
        "Name": name,
        "Start": iso(from),
        "End": iso(to),
        "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
    })
}

#[test]
fn freezes_have_octopus_shapes_and_every_bad_field_is_a_400_naming_it() {
    let s = Setup::new();
    let now = clock::now_ms();
    let hour = 3_600_000;
    let active = s.freeze(json!({
        "Name": "Quarter close",
        "Description": "Books are closing",
        "Start": iso(now - hour),
        "End": iso(now + hour),
        "ProjectEnvironmentScope": {"Projects-1": ["Environments-1", "Environments-2"]},
    }));
    assert_eq!(active["Id"], "DeploymentFreezes-1");
    assert_eq!(active["Status"], "Active");
    assert_eq!(active["OnStartInFreeze"], "Fail");
    assert_eq!(
        active["ProjectEnvironmentScope"],
        json!({"Projects-1": ["Environments-1", "Environments-2"]})
    );
    assert_eq!(active["RecurringSchedule"], Value::Null);
    let weekly = s.freeze(json!({
        "Name": "Friday afternoons",
        "Start": "2027-03-19T15:00:00+01:00",
        "End": "2027-03-19T23:59:00+01:00",
        "ProjectEnvironmentScope": {"Projects-2": ["Environments-1"]},
        "RecurringSchedule": {"Type": "Weekly", "Unit": 1, "DaysOfWeek": ["friday"], "EndType": "Never"},
        "TimeZone": "Europe/Berlin",
        "OnStartInFreeze": "Hold",
    }));
    assert_eq!(weekly["RecurringSchedule"]["DaysOfWeek"], json!(["Friday"]));
    assert_eq!(weekly["TimeZone"], "Europe/Berlin");
    assert_eq!(weekly["OnStartInFreeze"], "Hold");
    assert_eq!(
        weekly["ScheduleInWords"],
        "every Friday 15:00–23:59 Europe/Berlin"
    );
    let expired = s.freeze(shop_production(
        "Last year",
        now - 48 * hour,
        now - 47 * hour,
    ));
    assert_eq!(expired["Status"], "Expired");

    // The list: Octopus's wrapper, skip and take required, filters.
    let list = |query: &str| {
        s.call(
            &s.deployer,
            Method::Get,
            &format!("/api/deploymentfreezes{query}"),
            None,
        )
    };
    let (status, body) = list("");
    assert_eq!(status, Status::BadRequest, "{body}");
    assert!(
        body["ErrorMessage"].as_str().unwrap().starts_with("skip:"),
        "{body}"
    );
    let (status, body) = list("?skip=0");
    assert_eq!(status, Status::BadRequest);
    assert!(
        body["ErrorMessage"].as_str().unwrap().starts_with("take:"),
        "{body}"
    );
    let names = |query: &str| -> (Vec<String>, i64) {
        let (status, body) = list(query);
        assert_eq!(status, Status::Ok, "{query}: {body}");
        let names = body["DeploymentFreezes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["Name"].as_str().unwrap().to_string())
            .collect();
        (names, body["Count"].as_i64().unwrap())
    };
    // Expired freezes are left out unless asked for.
    assert_eq!(names("?skip=0&take=10").1, 2);
    assert_eq!(names("?skip=0&take=10&includeComplete=true").1, 3);
    assert_eq!(names("?skip=0&take=10&status=Expired").0, vec!["Last year"]);
    assert_eq!(
        names("?skip=0&take=10&status=Active").0,
        vec!["Quarter close"]
    );
    assert_eq!(
        names("?skip=0&take=10&status=Scheduled").0,
        vec!["Friday afternoons"]
    );
    assert_eq!(
        names("?skip=0&take=10&projectIds=Projects-2").0,
        vec!["Friday afternoons"]
    );
    assert_eq!(
        names("?skip=0&take=10&environmentIds=Environments-2").0,
        vec!["Quarter close"]
    );
    assert_eq!(
        names("?skip=0&take=10&partialName=FRIDAY").0,
        vec!["Friday afternoons"]
    );
    assert_eq!(
        names("?skip=0&take=10&ids=DeploymentFreezes-1,DeploymentFreezes-3&includeComplete=true").1,
        2
    );
    let (page, count) = names("?skip=1&take=1&includeComplete=true");
    assert_eq!((page.len(), count), (1, 3));
    for bad in [
        "?skip=0&take=1&status=Frozen",
        "?skip=-1&take=1",
        "?skip=0&take=1&projectIds=Users-1",
    ] {
        assert_eq!(list(bad).0, Status::BadRequest, "{bad}");
    }
    // Under the space prefix too.
    let (status, body) = s.call(
        &s.deployer,
        Method::Get,
        "/api/Spaces-1/deploymentfreezes/DeploymentFreezes-2",
        None,
    );
    assert_eq!(
        (status, body["Name"].as_str()),
        (Status::Ok, Some("Friday afternoons"))
    );

    // Every bad field: a 400 naming it, nothing saved.
    let good = shop_production("Good", now + hour, now + 2 * hour);
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let recurring = |schedule: Value| with("RecurringSchedule", schedule);
    let cases = [
        (with("Name", json!("")), "Name:"),
        (with("Name", json!("x".repeat(201))), "Name:"),
        (with("Name", json!("quarter CLOSE")), "already exists"),
        (with("Start", json!("tomorrow")), "Start:"),
        (with("End", json!(iso(now))), "End: must be after Start"),
        (with("End", Value::Null), "End: is required"),
        (
            with("ProjectEnvironmentScope", json!({})),
            "ProjectEnvironmentScope:",
        ),
        (
            with("ProjectEnvironmentScope", json!({"Projects-1": []})),
            "ProjectEnvironmentScope:",
        ),
        (
            with(
                "ProjectEnvironmentScope",
                json!({"Projects-9": ["Environments-1"]}),
            ),
            "Projects-9 does not exist",
        ),
        (
            with(
                "ProjectEnvironmentScope",
                json!({"Projects-1": ["Environments-9"]}),
            ),
            "Environments-9 does not exist",
        ),
        (
            with(
                "ProjectEnvironmentScope",
                json!({"Releases-1": ["Environments-1"]}),
            ),
            "ProjectEnvironmentScope:",
        ),
        (with("TimeZone", json!("Mars/Olympus_Mons")), "TimeZone:"),
        (with("OnStartInFreeze", json!("Pause")), "OnStartInFreeze:"),
        (
            with(
                "TenantProjectEnvironmentScope",
                json!([{"TenantId": "Tenants-1"}]),
            ),
            "TenantProjectEnvironmentScope:",
        ),
        (
            recurring(json!({"Type": "Hourly"})),
            "RecurringSchedule.Type:",
        ),
        (
            recurring(json!({"Type": "Weekly"})),
            "RecurringSchedule.DaysOfWeek:",
        ),
        (
            recurring(json!({"Type": "Weekly", "DaysOfWeek": ["Caturday"]})),
            "RecurringSchedule.DaysOfWeek:",
        ),
        (
            recurring(json!({"Type": "Daily", "Unit": 0})),
            "RecurringSchedule.Unit:",
        ),
        (
            recurring(json!({"Type": "Monthly"})),
            "RecurringSchedule.MonthlyScheduleType:",
        ),
        (
            recurring(
                json!({"Type": "Monthly", "MonthlyScheduleType": "DateOfMonth", "DateOfMonth": "32"}),
            ),
            "RecurringSchedule.DateOfMonth:",
        ),
        (
            recurring(
                json!({"Type": "Monthly", "MonthlyScheduleType": "DayOfMonth", "DayNumberOfMonth": "5", "DayOfWeek": "Monday"}),
            ),
            "RecurringSchedule.DayNumberOfMonth:",
        ),
        (
            recurring(
                json!({"Type": "Daily", "EndType": "AfterOccurrences", "EndAfterOccurrences": 0}),
            ),
            "RecurringSchedule.EndAfterOccurrences:",
        ),
        (
            recurring(json!({"Type": "Daily", "EndType": "OnDate", "EndOnDate": iso(now)})),
            "RecurringSchedule.EndOnDate:",
        ),
        (
            recurring(json!({"Type": "Daily", "EndType": "Sometimes"})),
            "RecurringSchedule.EndType:",
        ),
        (
            recurring(json!({"Type": "Daily", "UserUtcOffsetInMinutes": 5000})),
            "RecurringSchedule.UserUtcOffsetInMinutes:",
        ),
    ];
    let before = s.app.row_counts(&["nodes"]);
    for (body, names_field) in cases {
        let (status, answer) = s.call(
            &s.manager,
            Method::Post,
            "/api/deploymentfreezes",
            Some(body.clone()),
        );
        assert!(
            status == Status::BadRequest || status == Status::Conflict,
            "{body}: {status} {answer}"
        );
        let message = answer["ErrorMessage"].as_str().unwrap_or_default();
        assert!(message.contains(names_field), "{body}: {message}");
    }
    assert_eq!(
        s.app.row_counts(&["nodes"]),
        before,
        "a refused freeze changed something"
    );

    // Edit and delete, audited.
    let (status, edited) = s.call(
        &s.manager,
        Method::Put,
        "/api/deploymentfreezes/DeploymentFreezes-1",
        Some(json!({
            "Name": "Quarter close (extended)",
            "Start": iso(now - hour),
            "End": iso(now + 3 * hour),
            "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
        })),
    );
    assert_eq!(status, Status::Ok, "{edited}");
    assert_eq!(
        edited["ProjectEnvironmentScope"],
        json!({"Projects-1": ["Environments-1"]})
    );
    let (status, _) = s.call(
        &s.manager,
        Method::Delete,
        "/api/deploymentfreezes/DeploymentFreezes-3",
        None,
    );
    assert_eq!(status, Status::NoContent);
    let (status, _) = s.call(
        &s.manager,
        Method::Get,
        "/api/deploymentfreezes/DeploymentFreezes-3",
        None,
    );
    assert_eq!(status, Status::NotFound);
    let (_, events) = s.call(&s.manager, Method::Get, "/api/events?take=50", None);
    let kinds: Vec<&str> = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Category"].as_str())
        .filter(|c| c.starts_with("DeploymentFreeze"))
        .collect();
    for kind in [
        "DeploymentFreezeCreated",
        "DeploymentFreezeModified",
        "DeploymentFreezeDeleted",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // Only holders of DeploymentFreezeAdminister may change freezes; anyone signed in
    // may read them.
    let (status, refused) = s.call(
        &s.deployer,
        Method::Post,
        "/api/deploymentfreezes",
        Some(good),
    );
    assert_eq!(status, Status::Forbidden);
    assert!(refused["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("DeploymentFreezeAdminister"));
    let (status, _) = json_of(
        s.app
            .client()
            .get("/api/deploymentfreezes?skip=0&take=1")
            .dispatch(),
    );
    assert_eq!(status, Status::Unauthorized);
}

#[test]
fn a_freeze_blocks_exactly_its_pairs_through_the_api_the_executions_api_and_the_form() {
    let s = Setup::new();
    let now = clock::now_ms();
    s.freeze(shop_production(
        "Release weekend",
        now - 60_000,
        now + 3_600_000,
    ));
    let deploy = |release: &str, env: &str| {
        s.call(
            &s.deployer,
            Method::Post,
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": env})),
        )
    };
    let (status, refused) = deploy("Releases-1", "Environments-1");
    assert_eq!(status, Status::Conflict, "{refused}");
    let message = refused["ErrorMessage"].as_str().unwrap();
    assert!(
        message.contains("'Release weekend' until ")
            && message.contains(" UTC (DeploymentFreezes-1)")
            && message.contains("Shop in Production"),
        "{message}"
    );
    // The other pairs deploy: Shop to Staging, Blog to Production.
    assert_eq!(deploy("Releases-1", "Environments-2").0, Status::Created);
    assert_eq!(deploy("Releases-2", "Environments-1").0, Status::Created);

    // The executions API: all or none, the message names the freeze.
    let (status, refused) = s.call(
        &s.deployer,
        Method::Post,
        "/api/Spaces-1/deployments/create/untenanted/v1",
        Some(json!({"ProjectName": "Shop", "ReleaseVersion": "1.0", "EnvironmentNames": ["Staging", "Production"]})),
    );
    assert_eq!(status, Status::Conflict, "{refused}");
    assert!(refused["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("Release weekend"));

    // The form: the release page again, saying why.
    s.app.user_with_key("dana", &["Project Deployer"]);
    let dana = s.app.session("dana", PASSWORD);
    let before = s.app.count("tasks");
    let page = dana.post_form(
        "/releases/1/deploy",
        &[("environment", "1"), ("when", "now")],
    );
    let status = page.status();
    let html = page.into_string().unwrap_or_default();
    assert!(status.code < 500, "{status}");
    assert!(html.contains("Release weekend"), "{html}");
    assert_eq!(
        s.app.count("tasks"),
        before,
        "the form queued a frozen deployment"
    );
}

#[test]
fn an_override_needs_the_permission_a_reason_and_only_blocking_freezes() {
    let s = Setup::new();
    let now = clock::now_ms();
    s.freeze(shop_production(
        "Code freeze",
        now - 60_000,
        now + 3_600_000,
    ));
    s.freeze(json!({
        "Name": "Blog freeze",
        "Start": iso(now - 60_000),
        "End": iso(now + 3_600_000),
        "ProjectEnvironmentScope": {"Projects-2": ["Environments-1"]},
    }));
    let command = json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"});
    let overriding = |key: &str, ids: Value, reason: &str| {
        s.call(
            key,
            Method::Post,
            "/api/Spaces-1/deployments/override",
            Some(json!({"CreateDeploymentCommand": command, "FreezeIds": ids, "Reason": reason})),
        )
    };
    let before = s.app.count("tasks");
    let (status, body) = overriding(&s.deployer, json!(["DeploymentFreezes-1"]), "hotfix");
    assert_eq!(status, Status::Forbidden, "{body}");
    let (status, body) = overriding(&s.manager, json!(["DeploymentFreezes-1"]), "  ");
    assert_eq!(status, Status::BadRequest, "{body}");
    assert!(
        body["ErrorMessage"]
            .as_str()
            .unwrap()
            .starts_with("Reason:"),
        "{body}"
    );
    for ids in [
        json!([]),
        json!(["DeploymentFreezes-2"]),
        json!(["DeploymentFreezes-1", "DeploymentFreezes-2"]),
        json!(["Projects-1"]),
    ] {
        let (status, body) = overriding(&s.manager, ids.clone(), "hotfix");
        assert_eq!(status, Status::BadRequest, "{ids}: {body}");
        assert_eq!(
            body["ErrorMessage"], "Unable to override freezes, no valid freezes were specified.",
            "{ids}"
        );
    }
    assert_eq!(
        s.app.count("tasks"),
        before,
        "a refused override queued something"
    );

    let (status, d) = overriding(
        &s.manager,
        json!(["DeploymentFreezes-1"]),
        "Payment outage hotfix",
    );
    assert_eq!(status, Status::Created, "{d}");
    let task = d["TaskId"].as_str().unwrap().to_string();
    let done = wait_completed(&s.client, &s.manager, &task, 20);
    assert_eq!(done["State"], "Success", "{done}");
    let raw = with_key(
        &s.app.client(),
        Method::Get,
        &format!("/api/tasks/{task}/raw"),
        &s.manager,
        None,
    )
    .into_string()
    .unwrap_or_default();
    assert!(
        raw.contains("started by override: Payment outage hotfix"),
        "{raw}"
    );
    let (_, events) = s.call(&s.manager, Method::Get, "/api/events?take=50", None);
    let overridden = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Category"] == "DeploymentFreezeOverridden")
        .cloned()
        .unwrap_or_default();
    assert!(
        overridden["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("Payment outage hotfix"),
        "{events}"
    );
    assert!(
        overridden["RelatedDocumentIds"]
            .to_string()
            .contains("DeploymentFreezes-1"),
        "{overridden}"
    );
    let manager_session = {
        s.app.user_with_key("mia", &["System Manager"]);
        s.app.session("mia", PASSWORD)
    };
    let page = manager_session
        .client
        .get(format!(
            "/tasks/{}",
            task.trim_start_matches("ServerTasks-")
        ))
        .dispatch();
    let html = page.into_string().unwrap_or_default();
    assert!(
        html.contains("Payment outage hotfix"),
        "the task page shows the reason"
    );
}
