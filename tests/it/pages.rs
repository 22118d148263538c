//! The pages a release engineer lives in, in real Chromium at 1366 and 390 px: the
//! dashboard's matrix, promotion order, the collapsed menu. Screenshots of what was seen
//! land in `target/tmp/screenshots/` for a person to look at.

use crate::common;
use common::browser::Browser;
use common::server::Server;
use serde_json::json;

/// A server with two environments (Staging before Production), two projects, and
/// deployments: Web 1.0 to both (succeeded), Api 2.0 to Staging (failed). Returns the
/// server, an admin API key and the admin's password.
fn deployed_server(dir: &std::path::Path) -> (Server, String, String) {
    let key = common::server::api_key(dir, "admin");
    let server = Server::start(dir);
    let password = std::fs::read_to_string(dir.join("initial-admin-password")).unwrap();
    for name in ["Staging", "Production"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "echo web"}),
    );
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Api", "DeploymentScript": "echo broken >&2; exit 1"}),
    );
    let mut tasks = Vec::new();
    for (project, version, envs) in [
        ("Web", "1.0", vec!["Staging", "Production"]),
        ("Api", "2.0", vec!["Staging"]),
    ] {
        let (status, _) = server.api(
            &key,
            "POST",
            "/api/releases/create/v1",
            Some(json!({"ProjectName": project, "ReleaseVersion": version})),
        );
        assert_eq!(status, 200);
        let (status, created) = server.api(
            &key,
            "POST",
            "/api/deployments/create/untenanted/v1",
            Some(json!({"ProjectName": project, "ReleaseVersion": version, "EnvironmentNames": envs})),
        );
        assert_eq!(status, 200, "{created}");
        for t in created["DeploymentServerTasks"].as_array().unwrap() {
            tasks.push(t["ServerTaskId"].as_str().unwrap().to_string());
        }
    }
    for id in &tasks {
        server.wait_task(&key, id, &["Success", "Failed"], 30);
    }
    (server, key, password)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_what_is_deployed_where_in_promotion_order() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, password) = deployed_server(dir.path());
    let browser = Browser::start().await;
    browser
        .run("dashboard_matrix", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password).await?;
            let header = b.text("#matrix thead").await?;
            assert!(
                header.find("Staging") < header.find("Production"),
                "promotion order: {header}"
            );
            let web = b.text("#matrix tbody tr:nth-child(2)").await?;
            assert!(web.starts_with("Web"), "projects by name: {web}");
            assert_eq!(web.matches("1.0").count(), 2, "{web}");
            assert_eq!(web.matches("by admin").count(), 2, "live, and who: {web}");
            let api = b.text("#matrix tbody tr:nth-child(1)").await?;
            assert!(api.contains("Nothing live"), "{api}");
            assert!(api.contains("2.0") && api.contains("Failed"), "{api}");
            assert!(api.contains('—'), "never deployed to Production: {api}");
            // A failed attempt links to its task.
            b.click("#matrix tbody tr:nth-child(1) td .pending a")
                .await?;
            b.wait_for_text("Deploy Api release 2.0 to Staging").await?;
            assert!(b.path().await?.starts_with("/tasks/"));
            b.client.goto(&server.url("/")).await?;
            assert_eq!(b.text("#executing-count").await?, "0");
            assert!(b
                .text("#deployments-chart")
                .await?
                .contains("3 deployments in the last 30 days: 2 succeeded, 1 failed"));
            b.screenshot("dashboard-1366").await?;

            // Production moves before Staging: the columns follow.
            b.client.goto(&server.url("/environments")).await?;
            b.click("button[aria-label='Move Production earlier']")
                .await?;
            b.wait_for_text("Promotion order: Production → Staging.")
                .await?;
            b.client.goto(&server.url("/")).await?;
            let header = b.text("#matrix thead").await?;
            assert!(
                header.find("Production") < header.find("Staging"),
                "{header}"
            );

            // At phone width: no sideways scrolling, the menu reaches Sign out.
            b.set_width(390, 844).await?;
            b.client.goto(&server.url("/")).await?;
            b.wait_for_text("What is deployed where").await?;
            assert!(!b.overflows().await?, "the dashboard overflows at 390 px");
            b.screenshot("dashboard-390").await?;
            // The last environment in promotion order (Staging, since the move) comes
            // first in each project's card, all of it on screen.
            let placed = b
                .client
                .execute(
                    "const row = document.querySelector('#matrix tbody tr:nth-child(2)');
                     const cell = l => row.querySelector(`td[data-label='${l}']`).getBoundingClientRect();
                     const s = cell('Staging'), p = cell('Production');
                     return [s.top < p.top, s.right <= window.innerWidth, p.right <= window.innerWidth];",
                    vec![],
                )
                .await?;
            assert_eq!(placed, json!([true, true, true]), "the last environment first, on screen");
            let sign_out = b.client.find(fantoccini::Locator::Css("#sign-out")).await?;
            assert!(!sign_out.is_displayed().await?, "the menu starts closed");
            b.click("label.nav-button").await?;
            b.screenshot("dashboard-390-menu").await?;
            b.click("#sign-out").await?;
            b.wait_for_text("You have signed out.").await?;
            Ok(())
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tasks_list_filters_through_the_url_and_keeps_scheduled_tasks_apart() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = deployed_server(dir.path());
    // One deployment scheduled for tomorrow.
    let tomorrow = drydock::clock::iso(drydock::clock::now_ms() + 86_400_000);
    let (status, _) = server.api(
        &key,
        "POST",
        "/api/deployments/create/untenanted/v1",
        Some(json!({"ProjectName": "Web", "ReleaseVersion": "1.0",
                    "EnvironmentNames": ["Production"], "RunAt": tomorrow})),
    );
    assert_eq!(status, 200);
    let browser = Browser::start().await;
    browser
        .run("tasks_filters", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;
            b.client.goto(&server.url("/tasks")).await?;
            // The scheduled one is apart, above, with when it starts.
            let scheduled = b.text("#scheduled-tasks").await?;
            assert!(
                scheduled.contains("Scheduled") && scheduled.contains("starts in"),
                "{scheduled}"
            );
            let list = b.text("#task-list").await?;
            assert!(
                !list.contains("starts in"),
                "not in the queue's list: {list}"
            );
            assert!(b.text("#task-range").await?.starts_with("1–3 of 3"));
            // Filter by project and state with the form: the filters are in the URL.
            b.client
                .find(fantoccini::Locator::Css("#filter-project"))
                .await?
                .select_by_label("Api")
                .await?;
            b.client
                .find(fantoccini::Locator::Css("#filter-state"))
                .await?
                .select_by_label("Failed")
                .await?;
            b.click("#filter-submit").await?;
            b.wait_for_text("1–1 of 1").await?;
            let url = b.client.current_url().await?;
            let query = url.query().unwrap_or_default();
            assert!(
                query.contains("project=2") && query.contains("state=Failed"),
                "{url}"
            );
            assert!(b
                .text("#task-list")
                .await?
                .contains("Deploy Api release 2.0 to Staging"));
            // The URL alone gives the same list (bookmarkable), text search too.
            b.client.goto(&server.url("/tasks?q=production")).await?;
            b.wait_for_text("1–1 of 1").await?;
            assert!(b
                .text("#task-list")
                .await?
                .contains("Deploy Web release 1.0 to Production"));
            assert_eq!(b.value("#filter-q").await?, "production");
            // System tasks are hidden unless asked for.
            b.client.goto(&server.url("/tasks?kind=system")).await?;
            b.wait_for_text("Description contains").await?;
            assert!(!b.text("#task-list").await?.contains("Deploy "));
            b.screenshot("tasks-1366").await?;
            b.set_width(390, 844).await?;
            b.client.goto(&server.url("/tasks")).await?;
            b.wait_for_text("Description contains").await?;
            assert!(!b.overflows().await?, "the tasks list overflows at 390 px");
            b.screenshot("tasks-390").await?;
            Ok(())
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_page_follows_its_log_says_what_it_waits_for_and_redeploys() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drydock.toml"), "cancel_grace_ms = 500\n").unwrap();
    let key = common::server::api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    server.create(&key, "/api/environments", json!({"Name": "Staging"}));
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Slow", "DeploymentScript":
            "for i in $(seq 1 80); do echo \"line $i\"; sleep 0.05; done\necho oops >&2\nsleep 30"}),
    );
    let deploy = || {
        let (status, created) = server.api(
            &key,
            "POST",
            "/api/deployments/create/untenanted/v1",
            Some(json!({"ProjectName": "Slow", "ReleaseVersion": "1", "EnvironmentNames": ["Staging"]})),
        );
        assert_eq!(status, 200, "{created}");
        created["DeploymentServerTasks"][0]["ServerTaskId"]
            .as_str()
            .unwrap()
            .trim_start_matches("ServerTasks-")
            .to_string()
    };
    server.api(
        &key,
        "POST",
        "/api/releases/create/v1",
        Some(json!({"ProjectName": "Slow", "ReleaseVersion": "1"})),
    );
    let first = deploy();
    let second = deploy();
    let browser = Browser::start().await;
    browser
        .run("task_page", |b| async move {
            b.set_width(1366, 700).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password).await?;

            // The second waits for the first, and says so with a link.
            b.client.goto(&server.url(&format!("/tasks/{second}"))).await?;
            let waiting = b.text("#task-waiting").await?;
            assert!(
                waiting.contains(&format!("Waiting for ServerTasks-{first}")),
                "{waiting}"
            );
            let subject = b.text("#task-subject").await?;
            assert!(subject.contains("Slow") && subject.contains("Staging"), "{subject}");

            // The first's log follows new output while it runs.
            b.client.goto(&server.url(&format!("/tasks/{first}"))).await?;
            b.wait_for_text("line 80").await?;
            let at_bottom = b
                .client
                .execute(
                    "var l = document.getElementById('task-log');
                     return l.scrollHeight > l.clientHeight && l.scrollTop + l.clientHeight >= l.scrollHeight - 4;",
                    vec![],
                )
                .await?;
            assert_eq!(at_bottom.as_bool(), Some(true), "the log did not follow");
            b.wait_for_text("oops").await?;
            assert!(b.text("#task-duration").await?.contains(':'));
            b.screenshot("task-running-1366").await?;
            // Cancel asks first, then says who asked.
            b.click("#cancel-open").await?;
            b.click("#cancel-task").await?;
            b.wait_for_element_text("#task-state", "Canceled", 15).await?;
            b.wait_for_text("Cancellation requested by admin.").await?;
            // The reloaded page has a jump to the first error line.
            b.click("#jump-error").await?;
            assert!(b.client.current_url().await?.fragment() == Some("first-error"));

            // Redeploy: the same release to the same environment, as a new task.
            b.click("#redeploy").await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("Redeploying").await?;
            let path = b.path().await?;
            assert!(path.starts_with("/tasks/") && path != format!("/tasks/{first}"), "{path}");
            assert!(b.text("#task-subject").await?.contains("Staging"));
            b.screenshot("task-redeployed-1366").await?;
            b.set_width(390, 844).await?;
            b.client.goto(&server.url(&format!("/tasks/{first}"))).await?;
            b.wait_for_text("Redeploy").await?;
            assert!(!b.overflows().await?, "the task page overflows at 390 px");
            b.screenshot("task-390").await?;
            Ok(())
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_keeps_what_was_typed_and_a_release_is_promoted() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = deployed_server(dir.path());
    let browser = Browser::start().await;
    browser
        .run("forms_and_promote", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;

            // Two problems at once; every field keeps what was typed.
            b.client.goto(&server.url("/projects")).await?;
            b.fill("#project-name", "   ").await?;
            b.fill("#project-script", "echo kept\necho also kept")
                .await?;
            b.fill("#project-timeout", "forever").await?;
            b.click("#create-project-submit").await?;
            b.wait_for_text("2 problems to fix").await?;
            let name_error = b.text("#name-error").await?;
            assert_eq!(name_error, "Name is required");
            let timeout_error = b.text("#script_timeout_secs-error").await?;
            assert!(
                timeout_error.starts_with("Script timeout (seconds)"),
                "named by its label, not ScriptTimeoutSeconds: {timeout_error}"
            );
            assert_eq!(b.value("#project-name").await?, "   ");
            assert_eq!(
                b.value("#project-script").await?,
                "echo kept\necho also kept"
            );
            assert_eq!(b.value("#project-timeout").await?, "forever");
            let invalid = b
                .client
                .find(fantoccini::Locator::Css("#project-timeout"))
                .await?;
            assert_eq!(invalid.attr("aria-invalid").await?.as_deref(), Some("true"));
            assert_eq!(
                invalid.attr("aria-describedby").await?.as_deref(),
                Some("script_timeout_secs-error")
            );
            b.screenshot("form-errors-1366").await?;

            // The deploy form: "Later" with a bad time stays "Later", its time kept.
            b.client.goto(&server.url("/projects")).await?;
            b.click("#projects a[href='/projects/2']").await?;
            b.click("#releases a").await?;
            b.wait_for_text("Where it is deployed").await?;
            let schedule = b
                .client
                .find(fantoccini::Locator::Css("#deploy-queue-time"))
                .await?;
            assert!(
                !schedule.is_displayed().await?,
                "schedule fields hidden for Now"
            );
            b.click("label[for=deploy-later]").await?;
            assert!(
                schedule.is_displayed().await?,
                "schedule fields shown for Later"
            );
            b.click("#deploy-submit").await?;
            b.wait_for_text("Start at is required for a later deployment")
                .await?;
            let later = b
                .client
                .find(fantoccini::Locator::Css("#deploy-later"))
                .await?;
            assert_eq!(later.prop("checked").await?.as_deref(), Some("true"));

            // Promote: Api 2.0 failed in Staging, so the release page offers Staging again;
            // Web 1.0 is everywhere already. Promote a fresh Web release.
            b.client.goto(&server.url("/projects/1")).await?;
            b.fill("#release-version", "1.1").await?;
            b.fill("#release-notes", "first line\nsecond line").await?;
            b.click("#create-release-submit").await?;
            b.wait_for_text("Created release 1.1.").await?;
            assert_eq!(b.text("#release-notes").await?, "first line\nsecond line");
            assert_eq!(b.text("#promote").await?, "Deploy to Staging");
            b.click("#promote").await?;
            b.wait_for_element_text("#task-state", "Success", 30)
                .await?;
            b.click("#task-subject a[href^='/releases/']").await?;
            assert_eq!(b.text("#promote").await?, "Promote to Production");
            assert!(b
                .text("#release-history")
                .await?
                .contains("Deploy Web release 1.1 to Staging"));
            b.screenshot("release-1366").await?;
            // Production is last in promotion order: a preview first, then the task.
            b.click("#promote").await?;
            b.wait_for_text("Production asks for a confirmation")
                .await?;
            assert_eq!(b.text("h1").await?, "Deploy Web 1.1 to Production?");
            assert!(b
                .text("#confirm-replaces")
                .await?
                .starts_with("1.0, live since"));
            assert!(b
                .client
                .find(fantoccini::Locator::Css("#confirm-downgrade"))
                .await
                .is_err());
            b.screenshot("confirm-promote-1366").await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("Deploy Web release 1.1 to Production")
                .await?;
            b.wait_for_element_text("#task-state", "Success", 30)
                .await?;
            // Deploying 1.0 over it is a downgrade, and the preview says so.
            b.client.goto(&server.url("/releases/1")).await?;
            b.choose("#deploy-environment", "2").await?;
            b.click("#deploy-submit").await?;
            b.wait_for_text("Production asks for a confirmation")
                .await?;
            let downgrade = b.text("#confirm-downgrade").await?;
            assert!(
                downgrade.contains("1.0 is older than 1.1, which is live in Production"),
                "{downgrade}"
            );
            assert!(b.text("#confirm-submit").await?.contains("(a downgrade)"));
            b.screenshot("confirm-downgrade-1366").await?;
            // Going back queues nothing.
            b.click("#confirm-cancel").await?;
            b.wait_for_path("/releases/1", 10).await?;
            let (_, tasks) = server.api(&key, "GET", "/api/tasks?take=100", None);
            assert_eq!(
                tasks["Items"].as_array().unwrap().len(),
                5,
                "three first, and 1.1 to Staging and Production: {tasks}"
            );
            Ok(())
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_deployment_is_rebuilt_and_submitted_once_maintenance_ends() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    common::server::create_user(
        dir.path(),
        "dana",
        "Project Deployer",
        "deployer-password-1",
    );
    let (server, key, _password) = deployed_server(dir.path());
    let browser = Browser::start().await;
    browser
        .run("refused_change", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "dana", "deployer-password-1")
                .await?;
            // Web 1.0's release page, with "Later" chosen and a time typed.
            b.client.goto(&server.url("/releases/1")).await?;
            b.wait_for_text("Where it is deployed").await?;
            b.click("label[for=deploy-later]").await?;
            b.client
                .execute(
                    "document.getElementById('deploy-queue-time').value = '2099-01-02T03:04';
                     document.getElementById('deploy-environment').value = '2';",
                    vec![],
                )
                .await?;
            // Maintenance starts while the form is open.
            let (status, _) = server.api(
                &key,
                "PUT",
                "/api/maintenanceconfiguration",
                Some(json!({"IsInMaintenanceMode": true, "Message": "Back soon"})),
            );
            assert_eq!(status, 200);
            b.click("#deploy-submit").await?;
            b.wait_for_text("503 Maintenance mode").await?;
            assert_eq!(
                b.text("#refused-summary").await?,
                "Deploy Web 1.0 to Production at 2099-01-02 03:04 UTC was not queued."
            );
            let form = b.text("#kept-form").await?;
            assert!(
                form.contains("Environment") && form.contains("Start at (UTC)"),
                "{form}"
            );
            let later = b
                .client
                .find(fantoccini::Locator::Css(
                    "#kept-form input[name=when][value=later]",
                ))
                .await?;
            assert_eq!(later.prop("checked").await?.as_deref(), Some("true"));
            let submit = b
                .client
                .find(fantoccini::Locator::Css("#kept-submit"))
                .await?;
            assert!(
                submit.attr("disabled").await?.is_some(),
                "disabled while on"
            );
            b.screenshot("refused-1366").await?;
            // The mode ends; the open page enables the submit by itself.
            let (status, _) = server.api(
                &key,
                "PUT",
                "/api/maintenanceconfiguration",
                Some(json!({"IsInMaintenanceMode": false})),
            );
            assert_eq!(status, 200);
            b.wait_for_text("Maintenance mode is over").await?;
            assert!(submit.attr("disabled").await?.is_none());
            b.click("#kept-submit").await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            assert!(b.text("#task-subject").await?.contains("Production"));
            assert!(b.text("#task-waiting").await?.contains("Scheduled"));
            Ok(())
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destructive_actions_ask_first_and_the_user_form_keeps_what_was_typed() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, _key, password) = deployed_server(dir.path());
    let browser = Browser::start().await;
    browser
        .run("destructive_actions", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;

            // Deleting a project: the button appears only after asking.
            b.client.goto(&server.url("/projects/2")).await?;
            assert!(!b.shown("#delete-project").await?, "no one-click delete");
            b.click("#delete-project-open").await?;
            assert!(b.shown("#delete-project").await?);
            assert!(b
                .text("#delete-project-confirm")
                .await?
                .contains("cannot be undone"));
            b.screenshot("confirm-delete-1366").await?;
            b.click("#delete-project").await?;
            b.wait_for_text("The project has been deleted.").await?;

            // Draining a node asks too.
            b.client.goto(&server.url("/configuration/nodes")).await?;
            assert!(!b.shown("button.drain").await?);
            b.click("summary[id^=drain-open]").await?;
            b.click("button.drain").await?;
            b.wait_for_text("Draining").await?;

            // Revoking a key asks too.
            b.client.goto(&server.url("/profile")).await?;
            assert!(!b.shown("#api-keys button.danger").await?);

            // The user form: every problem at once, what was typed kept (not the password).
            b.client.goto(&server.url("/configuration/users")).await?;
            b.fill("#new-username", "no spaces allowed").await?;
            b.fill("#new-display-name", "Kept Name").await?;
            b.fill("#new-password", "short").await?;
            b.click("#create-user-submit").await?;
            b.wait_for_text("problems to fix").await?;
            assert!(b.text("#username-error").await?.starts_with("Username"));
            assert!(b.text("#password-error").await?.starts_with("Password"));
            assert_eq!(b.value("#new-username").await?, "no spaces allowed");
            assert_eq!(b.value("#new-display-name").await?, "Kept Name");
            assert_eq!(
                b.value("#new-password").await?,
                "",
                "a password is never sent back"
            );
            Ok(())
        })
        .await;
    browser.close().await;
}
