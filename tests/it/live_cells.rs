//! What is live, in real Chromium: one project × environment cell through success,
//! running, queued, held by a freeze and a failed attempt, read the same on the
//! dashboard, the projects list, the project, environment and release pages, and in
//! `/api/dashboard` (Octopus's `IsCurrent`/`IsPrevious`).

use crate::common;
use common::browser::Browser;
use common::server::Server;
use serde_json::{json, Value};

/// Release 1.x deploys; 2.x runs until cancelled; 3.x fails with an error line.
const SCRIPT: &str = r#"case "$DRYDOCK_RELEASE" in
  2.*) echo running; sleep 300 ;;
  3.*) echo "cannot reach the database" >&2; exit 1 ;;
  *) echo deployed ;;
esac"#;

struct Shop {
    server: Server,
    key: String,
    password: String,
}

impl Shop {
    fn new(dir: &std::path::Path) -> Shop {
        let (server, key, password) = Server::with_admin(dir);
        for name in ["Staging", "Production"] {
            server.create(&key, "/api/environments", json!({"Name": name}));
        }
        server.create(
            &key,
            "/api/projects",
            json!({"Name": "Shop", "DeploymentScript": SCRIPT}),
        );
        for version in ["1.0", "2.0", "2.1", "2.2", "3.0"] {
            server.create(
                &key,
                "/api/releases",
                json!({"ProjectId": "Projects-1", "Version": version}),
            );
        }
        Shop {
            server,
            key,
            password,
        }
    }

    /// Deploys release `n` (Releases-n) to Production, at `at` if given; its task id.
    fn deploy(&self, release: u32, at: Option<i64>) -> String {
        self.deploy_to(release, 2, at)
    }

    /// Deploys release `n` to Environments-`env`, at `at` if given; its task id.
    fn deploy_to(&self, release: u32, env: u32, at: Option<i64>) -> String {
        let (status, d) = self.server.api(
            &self.key,
            "POST",
            "/api/deployments",
            Some(json!({
                "ReleaseId": format!("Releases-{release}"),
                "EnvironmentId": format!("Environments-{env}"),
                "QueueTime": at.map(drydock::clock::iso),
            })),
        );
        assert_eq!(status, 201, "{d}");
        d["TaskId"].as_str().unwrap().to_string()
    }

    fn wait(&self, task: &str, states: &[&str]) -> Value {
        self.server.wait_task(&self.key, task, states, 30)
    }

    fn cancel(&self, task: &str) {
        let (status, body) = self.server.api(
            &self.key,
            "POST",
            &format!("/api/tasks/{task}/cancel"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        self.wait(task, &["Canceled"]);
    }

    fn dashboard(&self) -> Value {
        let (status, body) = self.server.api(&self.key, "GET", "/api/dashboard", None);
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// The text of Shop × Production on every page that shows it, each checked by `check`.
async fn every_page(
    b: &Browser,
    server: &Server,
    check: impl Fn(&str, &str),
) -> common::browser::Result<()> {
    for (page, css) in [
        ("/", "#matrix tbody tr:nth-child(1) td:nth-of-type(2)"),
        (
            "/projects",
            "#projects tbody tr:nth-child(1) td:nth-of-type(2)",
        ),
        ("/projects/1", "#project-live td:nth-of-type(2)"),
        (
            "/environments/2",
            "#environment-deployed tbody tr:nth-child(1) td:nth-of-type(2)",
        ),
        (
            "/releases/1",
            "#release-environments tbody tr:nth-child(2) td:nth-of-type(2)",
        ),
    ] {
        b.client.goto(&server.url(page)).await?;
        let text = b.text(css).await?;
        check(page, &text);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cell_shows_what_is_live_and_what_is_on_its_way() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shop = Shop::new(dir.path());
    let browser = Browser::start().await;
    browser
        .run("live_cells", |b| async move {
            let shop = &shop;
            b.set_width(1366, 900).await?;
            b.sign_in_at(&shop.server.url("/login"), "admin", &shop.password)
                .await?;

            // Success: 1.0 is live, by whom, with nothing over it.
            let first = shop.deploy(1, None);
            shop.wait(&first, &["Success"]);
            every_page(b, &shop.server, |page, cell| {
                assert!(cell.contains("1.0") && cell.contains("by admin"), "{page}: {cell}");
                assert!(!cell.contains("Nothing live"), "{page}: {cell}");
            })
            .await?;
            let items = shop.dashboard();
            assert_eq!(items["Items"][0]["ReleaseVersion"], "1.0", "{items}");
            assert_eq!(items["Items"][0]["IsCurrent"], true, "{items}");
            assert_eq!(items["PreviousItems"], json!([]), "{items}");

            // Running: 2.0 executes over the live 1.0.
            let running = shop.deploy(2, None);
            shop.wait(&running, &["Executing"]);
            every_page(b, &shop.server, |page, cell| {
                assert!(cell.contains("1.0"), "still live on {page}: {cell}");
                assert!(cell.contains("Executing 2.0"), "{page}: {cell}");
            })
            .await?;
            b.screenshot("live-cell-running").await?;

            // Queued: 2.1 waits behind it (one deployment per project and environment).
            let queued = shop.deploy(3, None);
            b.client.goto(&shop.server.url("/")).await?;
            let cell = b.text("#matrix tbody tr:nth-child(1) td:nth-of-type(2)").await?;
            assert!(cell.contains("1.0") && cell.contains("Queued 2.1"), "{cell}");
            shop.cancel(&queued);
            shop.cancel(&running);

            // Held: 2.2 falls due inside a Hold freeze over Shop in Production.
            let now = drydock::clock::now_ms();
            let end = now + 3 * 86_400_000;
            let held = shop.deploy(4, Some(now + 1_500));
            let freeze = shop.server.create(
                &shop.key,
                "/api/deploymentfreezes",
                json!({
                    "Name": "Quarter close",
                    "Start": drydock::clock::iso(now + 1_000),
                    "End": drydock::clock::iso(end),
                    "ProjectEnvironmentScope": {"Projects-1": ["Environments-2"]},
                    "OnStartInFreeze": "Hold",
                }),
            );
            common::poll_until(20, "the deployment is held", || {
                let (_, status) = shop.server.api(
                    &shop.key,
                    "GET",
                    "/api/maintenanceconfiguration/status",
                    None,
                );
                status["HeldTaskCount"] == 1
            });
            assert_eq!(shop.wait(&held, &["Queued"])["State"], "Queued");
            let until = drydock::clock::display(end);
            let until = &until[..16];
            every_page(b, &shop.server, |page, cell| {
                assert!(cell.contains("1.0"), "still live on {page}: {cell}");
                assert!(cell.contains("Held 2.2"), "{page}: {cell}");
                assert!(cell.contains(until), "held until the freeze ends, on {page}: {cell}");
            })
            .await?;
            b.client.goto(&shop.server.url("/tasks")).await?;
            let row = b.text("table.tasks tbody tr:nth-child(1)").await?;
            assert!(row.contains("Held") && !row.contains("Queued"), "{row}");
            assert!(row.contains("by admin (API key)"), "who queued it: {row}");
            b.screenshot("live-cell-held").await?;

            // A failed attempt: 3.0 overrides the freeze and fails; 1.0 stays live.
            let (status, body) = shop.server.api(
                &shop.key,
                "POST",
                "/api/deployments/override",
                Some(json!({
                    "CreateDeploymentCommand": {"ReleaseId": "Releases-5", "EnvironmentId": "Environments-2"},
                    "FreezeIds": [freeze],
                    "Reason": "hotfix",
                })),
            );
            assert_eq!(status, 201, "{body}");
            let failed = body["TaskId"].as_str().unwrap().to_string();
            shop.wait(&failed, &["Failed"]);
            every_page(b, &shop.server, |page, cell| {
                assert!(cell.contains("1.0"), "still live on {page}: {cell}");
                assert!(cell.contains("Failed 3.0"), "{page}: {cell}");
            })
            .await?;
            b.screenshot("live-cell-failed").await?;
            let dashboard = shop.dashboard();
            let items = dashboard["Items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{dashboard}");
            assert_eq!(items[0]["ReleaseVersion"], "3.0", "{dashboard}");
            assert_eq!(items[0]["State"], "Failed", "{dashboard}");
            assert_eq!(items[0]["IsCurrent"], true, "{dashboard}");
            assert_eq!(items[0]["HasWarningsOrErrors"], true, "{dashboard}");
            let previous = dashboard["PreviousItems"].as_array().unwrap();
            assert_eq!(previous.len(), 1, "{dashboard}");
            assert_eq!(previous[0]["ReleaseVersion"], "1.0", "{dashboard}");
            assert_eq!(previous[0]["IsPrevious"], true, "{dashboard}");
            assert_eq!(previous[0]["State"], "Success", "{dashboard}");
            // Who: the failed task says who overrode, the deployment who queued it.
            b.client
                .goto(&shop.server.url(&format!("/tasks/{}", failed.trim_start_matches("ServerTasks-"))))
                .await?;
            let override_note = b.text("#task-override").await?;
            assert!(
                override_note.contains("overridden by admin (API key): hotfix"),
                "{override_note}"
            );
            let (_, deployment) = shop.server.api(
                &shop.key,
                "GET",
                &format!("/api/deployments/{}", body["Id"].as_str().unwrap()),
                None,
            );
            assert_eq!(deployment["DeployedBy"], "admin", "{deployment}");
            assert_eq!(deployment["DeployedVia"], "API key", "{deployment}");
            Ok(())
        })
        .await;
    browser.close().await;
}

/// A release keeps the script it was created with: after the project's script is
/// edited, redeploying the old release runs the old script, its page says the script
/// changed since, and a new release takes the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploying_an_old_release_runs_the_script_it_was_created_with() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = Server::with_admin(dir.path());
    for name in ["Dev", "Prod"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": "echo script-one"}),
    );
    server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.0"}),
    );
    let log_of = |task: &str| {
        server.wait_task(&key, task, &["Success", "Failed"], 30);
        let (_, log) = server.api(&key, "GET", &format!("/api/tasks/{task}/raw"), None);
        log.as_str().unwrap_or_default().to_string()
    };
    let (server, key, log_of) = (&server, &key, &log_of);
    let browser = Browser::start().await;
    browser
        .run("release_snapshot", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;
            // The project's script changes after 1.0 was created.
            b.client.goto(&server.url("/projects/1")).await?;
            let script = b
                .client
                .find(fantoccini::Locator::Css(
                    "#edit-project textarea[name=deployment_script]",
                ))
                .await?;
            script.clear().await?;
            script.send_keys("echo script-two").await?;
            b.click("#edit-project button[type=submit]").await?;
            b.wait_for_text("Saved project Shop.").await?;
            b.client.goto(&server.url("/releases/1")).await?;
            assert!(b.text("#script-changed").await?.contains("changed since"));
            assert!(b.text("#release-script pre").await?.contains("script-one"));
            // Deploying 1.0 runs 1.0's script.
            b.click("#deploy-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            let first = format!(
                "ServerTasks-{}",
                b.path().await?.trim_start_matches("/tasks/")
            );
            let log = log_of(&first);
            assert!(
                log.contains("script-one") && !log.contains("script-two"),
                "{log}"
            );
            // Redeployed from its task page: still 1.0's script.
            b.click("#redeploy").await?;
            b.wait_for_text("Redeploying: a new deployment").await?;
            let again = format!(
                "ServerTasks-{}",
                b.path().await?.trim_start_matches("/tasks/")
            );
            assert_ne!(again, first);
            let log = log_of(&again);
            assert!(
                log.contains("script-one") && !log.contains("script-two"),
                "{log}"
            );
            // A new release takes the project's script as it is now.
            server.create(
                key,
                "/api/releases",
                json!({"ProjectId": "Projects-1", "Version": "2.0"}),
            );
            b.client.goto(&server.url("/releases/2")).await?;
            // Closed, as the script is unchanged: read its text, not what is shown.
            let snapshot = b
                .client
                .find(fantoccini::Locator::Css("#release-script pre"))
                .await?
                .prop("textContent")
                .await?;
            assert!(snapshot.unwrap_or_default().contains("script-two"));
            assert!(b
                .client
                .find(fantoccini::Locator::Css("#script-changed"))
                .await
                .is_err());
            b.click("#deploy-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            let second = format!(
                "ServerTasks-{}",
                b.path().await?.trim_start_matches("/tasks/")
            );
            let log = log_of(&second);
            assert!(log.contains("script-two"), "{log}");

            // Ids as the API, the command line and CI logs print them.
            b.client
                .goto(&server.url(&format!("/tasks/{second}")))
                .await?;
            b.wait_for_text("Deploy Shop release 2.0 to Dev").await?;
            b.client.goto(&server.url("/projects/Projects-1")).await?;
            assert_eq!(b.text("h1").await?, "Shop");
            b.client.goto(&server.url("/releases/releases-2")).await?;
            assert_eq!(b.text("h1").await?, "Shop 2.0");
            b.client
                .goto(&server.url("/tasks?project=Projects-1&environment=Environments-1"))
                .await?;
            let rows = b.text("table.tasks tbody").await?;
            assert_eq!(rows.matches("Deploy Shop release").count(), 3, "{rows}");
            // Another kind's id names nothing here.
            b.client
                .goto(&server.url("/projects/ServerTasks-1"))
                .await?;
            b.wait_for_text("Nothing has the id 'ServerTasks-1'.")
                .await?;
            // The audit trail names things rather than listing their ids.
            b.client.goto(&server.url("/configuration/audit")).await?;
            let audit = b.text("#events").await?;
            assert!(
                audit.contains("Project Shop") && audit.contains("Release Shop 1.0"),
                "{audit}"
            );
            assert!(
                audit.contains("Environment Dev") && audit.contains("User admin"),
                "{audit}"
            );
            assert!(!audit.contains("Projects-1"), "{audit}");
            Ok(())
        })
        .await;
    browser.close().await;
}

/// Safe to stop means nothing will start: with maintenance on, a deployment a freeze
/// holds for three days is listed apart, with why and until when, and does not keep the
/// panel from saying "Safe to stop" once what runs has ended; the running task's elapsed
/// time stays shown while the panel refreshes itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_deployments_do_not_keep_the_server_from_being_safe_to_stop() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shop = Shop::new(dir.path());
    let running = shop.deploy_to(2, 1, None);
    shop.wait(&running, &["Executing"]);
    let now = drydock::clock::now_ms();
    let held = shop.deploy(1, Some(now + 1_500));
    shop.server.create(
        &shop.key,
        "/api/deploymentfreezes",
        json!({
            "Name": "Quarter close",
            "Start": drydock::clock::iso(now + 1_000),
            "End": drydock::clock::iso(now + 3 * 86_400_000),
            "ProjectEnvironmentScope": {"Projects-1": ["Environments-2"]},
            "OnStartInFreeze": "Hold",
        }),
    );
    let status = || {
        let (code, status) = shop.server.api(
            &shop.key,
            "GET",
            "/api/maintenanceconfiguration/status",
            None,
        );
        assert_eq!(code, 200, "{status}");
        status
    };
    common::poll_until(20, "the deployment is held", || {
        status()["HeldTaskCount"] == 1
    });
    let (code, body) = shop.server.api(
        &shop.key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(code, 200, "{body}");
    let listed = status();
    assert_eq!(listed["HeldTasks"][0]["Id"], held, "{listed}");
    let reason = listed["HeldTasks"][0]["Reason"].as_str().unwrap();
    assert!(
        reason.contains("'Quarter close' (DeploymentFreezes-1)"),
        "{reason}"
    );
    // The command line's --wait judges by the same rule: it waits for what runs...
    let wait = ["maintenance", "enable", "--wait", "--timeout", "0"];
    let (code, out, err) = common::server::run_cli(dir.path(), &wait, "");
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("1 executing") && out.contains("1 held by a freeze"),
        "{out}"
    );
    let (shop, held, running) = (&shop, &held, &running);
    let browser = Browser::start().await;
    browser
        .run("safe_to_stop_held", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&shop.server.url("/login"), "admin", &shop.password)
                .await?;
            b.client
                .goto(&shop.server.url("/configuration/maintenance"))
                .await?;
            assert_eq!(b.text("#quiet-indicator").await?, "Not yet");
            let held_list = b.text("#quiet-held-tasks").await?;
            assert!(
                held_list.contains(held) && held_list.contains("Quarter close"),
                "{held_list}"
            );
            assert!(held_list.contains("until"), "{held_list}");
            assert!(
                !b.text("#quiet-tasks").await?.contains(held.as_str()),
                "held is not due"
            );
            // The panel rebuilds its list every second: after each rebuild the elapsed
            // time is shown (recorded as each rebuild lands, then awaited).
            b.client
                .execute(
                    "window.rebuilt = [];
                     new MutationObserver(() => {
                       const e = document.querySelector('#quiet-tasks [data-since]');
                       window.rebuilt.push(e ? e.textContent : 'no task');
                     }).observe(document.getElementById('quiet-tasks'), { childList: true });",
                    vec![],
                )
                .await?;
            let rebuilt = "return window.rebuilt.length >= 3;";
            b.wait_until(15, "three rebuilds of the panel", || async {
                Ok(b.client.execute(rebuilt, vec![]).await?.as_bool() == Some(true))
            })
            .await?;
            let shown = b.client.execute("return window.rebuilt;", vec![]).await?;
            for elapsed in shown.as_array().unwrap() {
                let elapsed = elapsed.as_str().unwrap_or_default();
                assert!(
                    elapsed.contains(':'),
                    "the elapsed time went blank: {shown}"
                );
            }
            // What runs ends: safe to stop, with the held deployment still waiting.
            shop.cancel(running);
            b.wait_for_element_text("#quiet-indicator", "Safe to stop", 10)
                .await?;
            assert!(b.text("#quiet-held-tasks").await?.contains(held));
            b.screenshot("safe-to-stop-held").await?;
            Ok(())
        })
        .await;
    browser.close().await;
    // ...and not for what a freeze holds.
    let wait = ["maintenance", "enable", "--wait", "--timeout", "20"];
    let (code, out, err) = common::server::run_cli(dir.path(), &wait, "");
    assert_eq!(code, 0, "{out}{err}");
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.contains("1 held by a freeze") && last.ends_with("quiet: safe to stop"),
        "{out}"
    );
    assert_eq!(
        shop.wait(held, &["Queued"])["State"],
        "Queued",
        "kept, not thrown away"
    );
}

/// A dashboard left open brings itself up to date: a deployment queued elsewhere shows
/// in its cell without a reload (the page's content is swapped in place).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_left_open_shows_a_deployment_made_elsewhere() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shop = Shop::new(dir.path());
    let shop = &shop;
    let browser = Browser::start().await;
    browser
        .run("auto_refresh", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&shop.server.url("/login"), "admin", &shop.password)
                .await?;
            // The page has its first stamp.
            let ready =
                "return document.getElementById('content').dataset.refreshReady === 'true';";
            b.wait_until(10, "the refresh script starting", || async {
                Ok(b.client.execute(ready, vec![]).await?.as_bool() == Some(true))
            })
            .await?;
            let cell = "#matrix tbody tr:nth-child(1) td:nth-of-type(2)";
            assert!(
                b.text(cell).await?.contains("Never deployed") || b.text(cell).await?.contains('—')
            );
            // Marks this very document: a reload would lose it.
            b.client
                .execute("document.body.dataset.marked = 'yes';", vec![])
                .await?;
            let task = shop.deploy(1, None);
            shop.wait(&task, &["Success"]);
            b.wait_until(15, "the cell showing 1.0", || async {
                Ok(b.text(cell).await?.contains("1.0"))
            })
            .await?;
            let marked = b
                .client
                .execute("return document.body.dataset.marked;", vec![])
                .await?;
            assert_eq!(
                marked.as_str(),
                Some("yes"),
                "swapped in place, not reloaded"
            );
            Ok(())
        })
        .await;
    browser.close().await;
}
