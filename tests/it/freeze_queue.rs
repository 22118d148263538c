//! Deployment freezes and the queue: deployments due inside a freeze (Fail, Hold, an
//! expiry passing while held), and the timeline that foresees it.

use crate::common;
use crate::freezes::{iso, shop_production, Setup};

use common::*;
use drydock::clock;
use rocket::http::{Method, Status};
use serde_json::json;

/// Schedules a deployment through the API (as the deployer); its task id.
fn schedule(s: &Setup, release: &str, env: &str, at: i64, expiry: Option<i64>) -> String {
    let (status, d) = s.call(
        &s.deployer,
        Method::Post,
        "/api/deployments",
        Some(json!({
            "ReleaseId": release, "EnvironmentId": env, "QueueTime": iso(at),
            "QueueTimeExpiry": expiry.map(iso),
        })),
    );
    assert_eq!(status, Status::Created, "{d}");
    d["TaskId"].as_str().unwrap().to_string()
}

/// Deployments scheduled before a freeze and due inside it: `Fail` fails each at its
/// start with a log line naming the freeze; `Hold` starts it once the freeze ends, or
/// times it out if its expiry comes first. System tasks are never frozen.
#[test]
fn deployments_due_inside_a_freeze_fail_or_wait_for_its_end() {
    let s = Setup::new();
    let now = clock::now_ms();
    let (start, end) = (now + 1_500, now + 4_500);
    let failing = schedule(&s, "Releases-1", "Environments-1", start + 500, None);
    let held = schedule(&s, "Releases-2", "Environments-2", start + 500, None);
    let expiring = schedule(
        &s,
        "Releases-2",
        "Environments-2",
        start + 600,
        Some(end - 1_000),
    );
    s.freeze(shop_production("Fail window", start, end));
    s.freeze(json!({
        "Name": "Hold window",
        "Start": iso(start),
        "End": iso(end),
        "ProjectEnvironmentScope": {"Projects-2": ["Environments-2"]},
        "OnStartInFreeze": "Hold",
    }));
    let client = &s.client;
    let failed = wait_completed(client, &s.manager, &failing, 20);
    assert_eq!(failed["State"], "Failed", "{failed}");
    let reason = failed["ErrorMessage"].as_str().unwrap();
    assert!(
        reason.contains("'Fail window' (DeploymentFreezes-1)"),
        "{reason}"
    );
    let (_, log) = s.call(
        &s.manager,
        Method::Get,
        &format!("/api/tasks/{failing}/raw"),
        None,
    );
    let _ = log;
    let raw = with_key(
        client,
        Method::Get,
        &format!("/api/tasks/{failing}/raw"),
        &s.manager,
        None,
    )
    .into_string()
    .unwrap_or_default();
    assert!(raw.contains("Fail window"), "{raw}");

    let timed_out = wait_completed(client, &s.manager, &expiring, 20);
    assert_eq!(timed_out["State"], "TimedOut", "{timed_out}");
    let ran = wait_completed(client, &s.manager, &held, 20);
    assert_eq!(ran["State"], "Success", "{ran}");
    let started = clock::parse_iso(ran["StartTime"].as_str().unwrap()).unwrap();
    assert!(
        started >= end,
        "started {} before the freeze ended {}",
        iso(started),
        iso(end)
    );
    let raw = with_key(
        client,
        Method::Get,
        &format!("/api/tasks/{held}/raw"),
        &s.manager,
        None,
    )
    .into_string()
    .unwrap_or_default();
    assert!(
        raw.contains("Held by deployment freeze 'Hold window'"),
        "{raw}"
    );
}

/// The timeline: freeze windows by pair, maintenance windows, and every scheduled
/// deployment with what will become of it.
#[test]
fn the_timeline_flags_scheduled_deployments_that_a_freeze_will_fail_or_hold() {
    let s = Setup::new();
    let now = clock::now_ms();
    let hour = 3_600_000;
    let fails = schedule(&s, "Releases-1", "Environments-1", now + 2 * hour, None);
    let runs = schedule(&s, "Releases-1", "Environments-2", now + 2 * hour, None);
    let held = schedule(&s, "Releases-2", "Environments-1", now + 2 * hour, None);
    let times_out = schedule(
        &s,
        "Releases-2",
        "Environments-1",
        now + 2 * hour,
        Some(now + 3 * hour),
    );
    s.freeze(shop_production("Fail at night", now + hour, now + 4 * hour));
    s.freeze(json!({
        "Name": "Hold at night",
        "Start": iso(now + hour),
        "End": iso(now + 5 * hour),
        "ProjectEnvironmentScope": {"Projects-2": ["Environments-1"]},
        "OnStartInFreeze": "Hold",
    }));
    let admin = s.app.user_with_key("ops", &["System Administrator"]);
    let (status, w) = s.call(
        &admin,
        Method::Post,
        "/api/maintenancewindows",
        Some(json!({"Start": iso(now + 24 * hour), "End": iso(now + 25 * hour), "Message": "Upgrade"})),
    );
    assert_eq!(status, Status::Created, "{w}");
    let (status, t) = s.call(&s.deployer, Method::Get, "/api/timeline", None);
    assert_eq!(status, Status::Ok, "{t}");
    assert_eq!(t["MaintenanceWindows"].as_array().unwrap().len(), 1, "{t}");
    let freezes = t["DeploymentFreezes"].as_array().unwrap();
    assert_eq!(freezes.len(), 2, "{t}");
    assert_eq!(freezes[0]["Scope"][0]["ProjectName"], "Shop");
    assert_eq!(freezes[0]["Scope"][0]["EnvironmentName"], "Production");
    let outcome = |task: &str| {
        t["ScheduledDeployments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["TaskId"] == task)
            .cloned()
            .unwrap_or_else(|| panic!("{task} not in {t}"))
    };
    assert_eq!(outcome(&fails)["Outcome"], "Fails");
    assert_eq!(
        outcome(&fails)["DeploymentFreezeNames"],
        json!(["Fail at night"])
    );
    assert_eq!(outcome(&runs)["Outcome"], "Runs");
    assert_eq!(outcome(&runs)["Flagged"], false);
    assert_eq!(outcome(&held)["Outcome"], "Held");
    assert_eq!(outcome(&held)["HeldUntil"], json!(iso(now + 5 * hour)));
    assert_eq!(outcome(&times_out)["Outcome"], "TimesOut");
    assert_eq!(outcome(&times_out)["Flagged"], true);
    // A span the timeline refuses, naming the parameter.
    let (status, refused) = s.call(
        &s.deployer,
        Method::Get,
        &format!("/api/timeline?from={}&to={}", iso(now), iso(now - hour)).replace('+', "%2B"),
        None,
    );
    assert_eq!(status, Status::BadRequest, "{refused}");
    assert!(refused["ErrorMessage"].as_str().unwrap().starts_with("to:"));
}

/// Safe to stop means nothing will start: a deployment a freeze holds until long after
/// does not keep the server from being quiet (else `maintenance enable --wait` waits
/// out the freeze), and the status says what is held and until when.
#[test]
fn deployments_held_by_a_freeze_do_not_keep_maintenance_from_being_quiet() {
    let s = Setup::new();
    let admin = s.app.user_with_key("ops", &["System Administrator"]);
    let now = clock::now_ms();
    let end = now + 3 * 24 * 3_600_000;
    // Scheduled before the freeze; due once it has begun.
    let task = schedule(&s, "Releases-2", "Environments-2", now + 1_500, None);
    s.freeze(json!({
        "Name": "Quarter close",
        "Start": iso(now + 1_000),
        "End": iso(end),
        "ProjectEnvironmentScope": {"Projects-2": ["Environments-2"]},
        "OnStartInFreeze": "Hold",
    }));
    let status = || {
        let (code, status) = s.call(
            &admin,
            Method::Get,
            "/api/maintenanceconfiguration/status",
            None,
        );
        assert_eq!(code, Status::Ok, "{status}");
        status
    };
    // The queue finds it due, and holds it.
    poll_until(20, "the deployment is held", || {
        status()["HeldTaskCount"] == 1
    });
    let (code, body) = s.call(
        &admin,
        Method::Put,
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(code, Status::Ok, "{body}");
    let quiet = status();
    assert_eq!(quiet["IsQuiet"], true, "{quiet}");
    assert_eq!(quiet["QueuedTaskCount"], 0, "{quiet}");
    assert_eq!(quiet["ExecutingTaskCount"], 0, "{quiet}");
    let until = clock::parse_iso(quiet["HeldUntil"].as_str().unwrap()).unwrap();
    assert!((until - end).abs() < 1_000, "{quiet}");
    // Still queued, not thrown away.
    let (_, held) = s.call(&admin, Method::Get, &format!("/api/tasks/{task}"), None);
    assert_eq!(held["State"], "Queued", "{held}");
}

/// While a freeze is on, a deployment can be scheduled for after it ends (the claim
/// decides what a freeze does at its start); one due while it is still on is refused,
/// saying until when.
#[test]
fn while_a_freeze_is_on_a_deployment_can_be_scheduled_for_after_it() {
    let s = Setup::new();
    let now = clock::now_ms();
    let end = now + 86_400_000;
    s.freeze(shop_production("Launch week", now - 1_000, end));
    let at = |when: i64| {
        s.call(
            &s.deployer,
            Method::Post,
            "/api/deployments",
            Some(json!({
                "ReleaseId": "Releases-1", "EnvironmentId": "Environments-1",
                "QueueTime": iso(when),
            })),
        )
    };
    let (status, refused) = at(end - 3_600_000);
    assert_eq!(status, Status::Conflict, "{refused}");
    let message = refused["ErrorMessage"].as_str().unwrap();
    assert!(message.contains("'Launch week'"), "{message}");
    assert!(message.contains("Schedule it for after"), "{message}");
    let (status, queued) = at(end + 3_600_000);
    assert_eq!(status, Status::Created, "{queued}");
}
