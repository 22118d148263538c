//! Deployment freezes in a real browser against the real binary: a System Manager
//! creates a weekly freeze from the form, a deployer finds Deploy blocked with the
//! reason, the System Manager overrides with a reason, and the timeline flags a
//! scheduled deployment inside the freeze.

use crate::common;

use common::browser::Browser;
use common::server::Server;
use common::PASSWORD;
use drydock::clock;
use serde_json::json;

/// A `datetime-local` value for `ms`, in UTC.
fn local(ms: i64) -> String {
    clock::iso(ms)[..16].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_freezes_a_deployer_is_blocked_the_manager_overrides_and_the_timeline_flags() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = common::server::api_key(dir.path(), "admin");
    common::server::create_user(dir.path(), "mia", "System Manager", PASSWORD);
    common::server::create_user(dir.path(), "dana", "Project Deployer", PASSWORD);
    let server = Server::start(dir.path());
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": "echo shipped"}),
    );
    server.create(&key, "/api/environments", json!({"Name": "Production"}));
    server.create(&key, "/api/environments", json!({"Name": "Staging"}));
    server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.0"}),
    );
    let now = clock::now_ms();
    let hour = 3_600_000;
    // Due in two hours: inside the freeze about to be made.
    let (status, scheduled) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({
            "ReleaseId": "Releases-1", "EnvironmentId": "Environments-1",
            "QueueTime": clock::iso(now + 2 * hour),
        })),
    );
    assert_eq!(status, 201, "{scheduled}");
    let scheduled = scheduled["TaskId"]
        .as_str()
        .unwrap()
        .trim_start_matches("ServerTasks-")
        .to_string();
    // The weekday of the first window (it starts an hour ago, in UTC), as the form
    // names it.
    let weekday = drydock::freezes::schedule::WEEKDAYS
        [drydock::freezes::schedule::weekday_of((now - 3_600_000).div_euclid(86_400_000)) as usize];

    let browser = Browser::start().await;
    browser
        .run("freeze_block_override_timeline", |b| async move {
            b.sign_in_at(&server.url("/login"), "mia", PASSWORD).await?;
            b.client.goto(&server.url("/configuration/freezes")).await?;
            b.click("#new-freeze").await?;
            b.wait_for_text("New deployment freeze").await?;
            b.fill("#freeze-name", "Checkout rebuild").await?;
            b.fill("#freeze-zone", "UTC").await?;
            for (id, value) in [
                ("freeze-start", local(now - hour)),
                ("freeze-end", local(now + 3 * hour)),
            ] {
                b.client
                    .execute(
                        "document.getElementById(arguments[0]).value = arguments[1];",
                        vec![json!(id), json!(value)],
                    )
                    .await?;
            }
            b.click("#freeze-repeat-type option[value=Weekly]").await?;
            b.click(&format!("#freeze-day-{weekday}")).await?;
            b.click("#pair-1-1").await?;
            b.click("#freeze-save").await?;
            b.wait_for_text("Created deployment freeze Checkout rebuild")
                .await?;
            let status = b.text("#freeze-1 .freeze-status").await?;
            assert_eq!(status, "Active");
            let words = b.text("#freeze-1 .freeze-words").await?;
            assert!(words.starts_with(&format!("every {weekday} ")), "{words}");
            b.click("#sign-out").await?;

            // The deployer: the form starts on the next environment no freeze blocks;
            // on Production Deploy is disabled, with the reason beside it.
            b.submit_sign_in("dana", PASSWORD).await?;
            b.wait_for_text("Sign out").await?;
            b.client.goto(&server.url("/releases/1")).await?;
            b.wait_for_text("Deploy").await?;
            assert_eq!(
                b.value("#deploy-environment").await?,
                "2",
                "not the frozen one"
            );
            let deploy = b
                .client
                .find(fantoccini::Locator::Css("#deploy-submit"))
                .await?;
            b.click("#deploy-environment option[value='1']").await?;
            assert!(!deploy.is_enabled().await?, "Deploy is enabled");
            let why = b.text("#deploy-frozen").await?;
            assert!(why.contains("Checkout rebuild"), "{why}");
            // Staging is not frozen: choosing it enables Deploy; Production again does not.
            b.click("#deploy-environment option[value='2']").await?;
            assert!(
                deploy.is_enabled().await?,
                "Deploy stays disabled for Staging"
            );
            assert_eq!(b.text("#deploy-frozen").await?, "");
            b.click("#deploy-environment option[value='1']").await?;
            assert!(
                !deploy.is_enabled().await?,
                "Deploy is enabled for Production"
            );
            assert!(
                b.client
                    .find_all(fantoccini::Locator::Css(".override-form"))
                    .await?
                    .is_empty(),
                "a deployer was offered the override"
            );
            // The dashboard marks the frozen cell.
            b.client.goto(&server.url("/")).await?;
            assert!(b.text("#matrix").await?.contains("Frozen"));
            b.click("#sign-out").await?;

            // The System Manager overrides, with a reason.
            b.submit_sign_in("mia", PASSWORD).await?;
            b.wait_for_text("Sign out").await?;
            b.client.goto(&server.url("/releases/1")).await?;
            b.fill("#override-reason-1", "Payment outage hotfix")
                .await?;
            b.click("#override-submit-1").await?;
            // The task page (its flash may be gone already: the page reloads itself
            // when the task ends, which a fast deployment may do at once).
            b.wait_for_text("overridden by mia").await?;
            assert!(b.path().await?.starts_with("/tasks/"));
            assert!(b
                .text("#task-override")
                .await?
                .contains("overridden by mia (Session): Payment outage hotfix"));
            b.wait_for_element_text("#task-state", "Success", 15)
                .await?;

            // The timeline flags the scheduled deployment inside the freeze.
            b.client.goto(&server.url("/timeline")).await?;
            let row = b.text(&format!("#timeline-task-{scheduled}")).await?;
            assert!(
                row.contains("Fails") && row.contains("Checkout rebuild"),
                "{row}"
            );
            let flagged = b
                .client
                .find(fantoccini::Locator::Css(&format!(
                    "#timeline-task-{scheduled}"
                )))
                .await?
                .attr("class")
                .await?;
            assert_eq!(flagged.as_deref(), Some("flagged"));
            assert!(b
                .text("#timeline-freezes")
                .await?
                .contains("Shop → Production"));
            Ok(())
        })
        .await;
    browser.close().await;
}
