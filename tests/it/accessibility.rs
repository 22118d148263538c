//! Every page reachable from the navigation (and one of each page a list links to), as
//! an administrator and as a Project Deployer, at 1366 and 390 px in real Chromium:
//! axe-core (npm, pinned in tests/axe/) finds no serious or critical violation, and at
//! 390 px nothing scrolls sideways. A screenshot of each lands in
//! `target/tmp/screenshots/` for a person to look at.

use std::collections::BTreeSet;

use crate::common;
use common::browser::Browser;
use common::server::Server;
use serde_json::json;

const PACKAGE: &str = include_str!("../axe/package.json");
const LOCK: &str = include_str!("../axe/package-lock.json");
const PASSWORD: &str = "deployer-password-1";

/// Runs axe on the current page: its serious and critical violations, one line each;
/// every violation's impact is counted into `counts` (for the report).
async fn violations(
    b: &Browser,
    axe: &str,
    counts: &mut std::collections::BTreeMap<String, u64>,
) -> common::browser::Result<Vec<String>> {
    let loaded = b
        .client
        .execute(&format!("{axe}\n;return typeof window.axe;"), vec![])
        .await?;
    assert_eq!(loaded.as_str(), Some("object"), "axe did not load");
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.axe.run(document, { resultTypes: ['violations'] })
               .then(r => done({
                 impacts: r.violations.map(v => (v.impact || 'unknown') + ' ' + v.id),
                 serious: r.violations
                   .filter(v => v.impact === 'serious' || v.impact === 'critical')
                   .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                        v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))}))
               .catch(e => done({ impacts: [], serious: ['axe failed: ' + e] }));",
            vec![],
        )
        .await?;
    for impact in found["impacts"].as_array().into_iter().flatten() {
        *counts
            .entry(impact.as_str().unwrap_or("unknown").to_string())
            .or_default() += 1;
    }
    Ok(found["serious"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

/// The navigation's links on the current page, and the profile.
async fn nav_links(b: &Browser) -> common::browser::Result<Vec<String>> {
    let links = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('header nav a, #profile-link'))
               .map(a => a.getAttribute('href'));",
            vec![],
        )
        .await?;
    Ok(links
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_and_fits_a_phone_for_administrators_and_deployers() {
    if common::browser::skip() {
        return;
    }
    let axe_dir = common::npm::installed("axe-core", PACKAGE, LOCK);
    let axe = std::fs::read_to_string(axe_dir.join("axe-core/axe.min.js")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(drydock::config::CONFIG_FILE),
        "webhook_allow_private = true\nwebhook_retry_base_ms = 50\nwebhook_retry_for_secs = 1\n",
    )
    .unwrap();
    let key = common::server::api_key(dir.path(), "admin");
    common::server::create_user(dir.path(), "dana", "Project Deployer", PASSWORD);
    let server = Server::start(dir.path());
    let admin_password =
        std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    // Something on every page: environments, projects, releases, tasks in several states,
    // a maintenance window, an API key, audit events.
    for name in ["Staging", "Production"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    // Variables: a library set the first project includes, and its own (a sensitive
    // one, a scoped one, a prompted one), used by its first deployment.
    let library = server.create(
        &key,
        "/api/libraryvariablesets",
        json!({"Name": "Shared", "Description": "Credentials"}),
    );
    server.api(
        &key,
        "PUT",
        &format!("/api/variables/variableset-{library}"),
        Some(json!({"Version": 0, "Variables": [{"Name": "Shared.Url", "Value": "https://example.test"}]})),
    );
    for (name, script) in [("Web", "echo ok #{Db}"), ("Api", "echo bad >&2; exit 2")] {
        let project = server.create(
            &key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script, "IncludedLibraryVariableSetIds": if name == "Web" { json!([library]) } else { json!([]) }}),
        );
        if name == "Web" {
            let (status, body) = server.api(
                &key,
                "PUT",
                &format!("/api/variables/variableset-{project}"),
                Some(json!({"Version": 0, "Variables": [
                    {"Name": "Db", "Value": "db.staging", "Scope": {"Environment": ["Environments-1"]}, "Description": "Connection"},
                    {"Name": "Db", "Value": "db.production"},
                    {"Name": "Token", "Value": "a-secret-token", "Type": "Sensitive"},
                    {"Name": "Reason", "Value": "routine", "Prompt": {"Label": "Why deploy?", "Required": false}},
                ]})),
            );
            assert_eq!(status, 200, "{body}");
        }
        server.api(
            &key,
            "POST",
            "/api/releases/create/v1",
            Some(json!({"ProjectName": name, "ReleaseVersion": "1.0", "ReleaseNotes": "line one\nline two"})),
        );
        let (_, created) = server.api(
            &key,
            "POST",
            "/api/deployments/create/untenanted/v1",
            Some(json!({"ProjectName": name, "ReleaseVersion": "1.0", "EnvironmentNames": ["Staging"]})),
        );
        let id = created["DeploymentServerTasks"][0]["ServerTaskId"]
            .as_str()
            .unwrap()
            .to_string();
        server.wait_task(&key, &id, &["Success", "Failed"], 30);
    }
    let tomorrow = drydock::clock::now_ms() + 86_400_000;
    server.api(
        &key,
        "POST",
        "/api/deployments/create/untenanted/v1",
        Some(json!({"ProjectName": "Web", "ReleaseVersion": "1.0", "EnvironmentNames": ["Production"],
                    "RunAt": drydock::clock::iso(tomorrow)})),
    );
    server.api(
        &key,
        "POST",
        "/api/maintenancewindows",
        Some(json!({"Start": drydock::clock::iso(tomorrow + 3_600_000),
                    "End": drydock::clock::iso(tomorrow + 7_200_000), "Message": "Upgrade"})),
    );
    // A weekly freeze on now over Web in Production (frozen cells, the override form,
    // the timeline's rows).
    let now = drydock::clock::now_ms();
    let (status, freeze) = server.api(
        &key,
        "POST",
        "/api/deploymentfreezes",
        Some(
            json!({"Name": "Release weekend", "Start": drydock::clock::iso(now - 3_600_000),
                    "End": drydock::clock::iso(now + 2 * 86_400_000),
                    "ProjectEnvironmentScope": {"Projects-1": ["Environments-2"]},
                    "RecurringSchedule": {"Type": "Weekly", "DaysOfWeek": ["Monday", "Friday"]},
                    "TimeZone": "Europe/Berlin"}),
        ),
    );
    assert_eq!(status, 201, "{freeze}");
    // A deployment a Hold freeze holds (the held task page and badge).
    let (status, held) = server.api(
        &key,
        "POST",
        "/api/deployments/create/untenanted/v1",
        Some(json!({"ProjectName": "Api", "ReleaseVersion": "1.0", "EnvironmentNames": ["Production"],
                    "RunAt": drydock::clock::iso(now + 1_500)})),
    );
    assert_eq!(status, 200, "{held}");
    let (status, hold) = server.api(
        &key,
        "POST",
        "/api/deploymentfreezes",
        Some(
            json!({"Name": "Quarter close", "Start": drydock::clock::iso(now + 1_000),
                    "End": drydock::clock::iso(now + 86_400_000),
                    "ProjectEnvironmentScope": {"Projects-2": ["Environments-2"]},
                    "OnStartInFreeze": "Hold"}),
        ),
    );
    assert_eq!(status, 201, "{hold}");
    common::poll_until(20, "the deployment is held", || {
        let (_, s) = server.api(&key, "GET", "/api/maintenanceconfiguration/status", None);
        s["HeldTaskCount"] == 1
    });
    // A deployment waiting for an approval (the Approvals page, its task page's form).
    let (_, mut api) = server.api(&key, "GET", "/api/projects/Projects-2", None);
    api["ApprovalRules"] = json!([{"EnvironmentIds": ["Environments-1"], "RoleNames": ["System Manager"],
                                   "NotByRequester": false, "NoteRequired": true}]);
    let (status, body) = server.api(&key, "PUT", "/api/projects/Projects-2", Some(api));
    assert_eq!(status, 200, "{body}");
    let (status, waiting) = server.api(
        &key,
        "POST",
        "/api/deployments/create/untenanted/v1",
        Some(
            json!({"ProjectName": "Api", "ReleaseVersion": "1.0", "EnvironmentNames": ["Staging"]}),
        ),
    );
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(
        waiting["DeploymentServerTasks"][0]["ServerTaskId"],
        "ServerTasks-5"
    );
    // A subscription whose log holds a delivered test event and a failed one.
    let receiver = common::receiver::Receiver::start();
    let sub_id = server.create(
        &key,
        "/api/subscriptions",
        json!({"Name": "Ops hook", "EventNotificationSubscription": {
            "WebhookURI": receiver.url("/hook"), "WebhookSecret": "s",
            "Filter": {"EventGroups": ["Maintenance"], "Projects": ["Projects-1"]}}}),
    );
    for (answer, state) in [(200, "Delivered"), (500, "Failed")] {
        receiver.answer(common::receiver::Answer::Status(answer));
        let (status, _) = server.api(
            &key,
            "POST",
            &format!("/api/subscriptions/{sub_id}/test"),
            None,
        );
        assert_eq!(status, 200);
        common::poll_until(20, "the test event's delivery to end", || {
            let (_, log) = server.api(
                &key,
                "GET",
                &format!("/api/subscriptions/{sub_id}/deliveries"),
                None,
            );
            log["Items"][0]["State"] == state
        });
    }
    // Pages one step from the lists.
    let details = [
        "/tasks/5",
        "/projects/2/approvals",
        "/tasks/3",
        "/tasks/4",
        "/tasks/1?find=ok",
        "/search?q=Web",
        "/environments/2",
        "/configuration/freezes/new",
        "/configuration/subscriptions/new",
        "/configuration/subscriptions/1",
        "/configuration/freezes/1",
        "/projects/1",
        "/projects/1/variables",
        "/projects/1/variables?edit=x",
        "/library/1/variables",
        "/releases/1",
        "/environments/1",
        "/tasks/1",
        "/tasks/2",
    ];

    let browser = Browser::start().await;
    browser
        .run("accessibility", |b| async move {
            let mut problems = Vec::new();
            let mut checked = 0;
            let mut counts = std::collections::BTreeMap::new();
            for (who, password) in [("admin", admin_password.as_str()), ("dana", PASSWORD)] {
                b.set_width(1366, 900).await?;
                b.client.goto(&server.url("/login")).await?;
                if who == "admin" {
                    // The sign-in page itself, once.
                    for v in violations(b, &axe, &mut counts).await? {
                        problems.push(format!("/login: {v}"));
                    }
                }
                b.submit_sign_in(who, password).await?;
                b.wait_for_text("Sign out").await?;
                let mut pages: BTreeSet<String> = nav_links(b).await?.into_iter().collect();
                pages.extend(details.iter().map(|d| d.to_string()));
                assert!(pages.len() >= 8, "{who}: {pages:?}");
                for width in [1366u32, 390] {
                    b.set_width(width, if width > 900 { 900 } else { 844 })
                        .await?;
                    for page in &pages {
                        b.client.goto(&server.url(page)).await?;
                        b.wait_for_text("drydock").await?;
                        for v in violations(b, &axe, &mut counts).await? {
                            problems.push(format!("{who} {page} at {width}px: {v}"));
                        }
                        if width == 390 && b.overflows().await? {
                            problems.push(format!("{who} {page} at 390px scrolls sideways"));
                        }
                        let name = page.trim_matches('/').replace('/', "-");
                        let name = if name.is_empty() {
                            "dashboard".to_string()
                        } else {
                            name
                        };
                        b.screenshot(&format!("{who}-{name}-{width}")).await?;
                        checked += 1;
                    }
                }
                b.set_width(1366, 900).await?;
                b.client.goto(&server.url("/")).await?;
                b.click("#sign-out").await?;
                b.wait_for_text("You have signed out.").await?;
            }
            eprintln!("axe: {checked} page views, violations by impact: {counts:?}");
            assert!(checked >= 30, "only {checked} page views checked");
            assert!(
                problems.is_empty(),
                "{} problems:\n{}",
                problems.len(),
                problems.join("\n")
            );
            Ok(())
        })
        .await;
    browser.close().await;
}
