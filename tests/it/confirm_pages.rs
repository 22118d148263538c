//! Confirm before changing an environment that asks for it, in real Chromium: by
//! default only the last in promotion order asks; each environment's page changes that.

use crate::common;
use common::browser::Browser;
use common::server::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_says_whether_a_deployment_to_it_asks_first() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = Server::with_admin(dir.path());
    for name in ["Staging", "Production"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": "echo ok"}),
    );
    server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.0"}),
    );
    let count = || {
        let (_, tasks) = server.api(&key, "GET", "/api/deployments", None);
        tasks["TotalResults"].as_i64().unwrap()
    };
    let (server, count) = (&server, &count);
    let browser = Browser::start().await;
    browser
        .run("confirm_settings", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;
            let deploy_to = |env: &'static str| async move {
                b.client.goto(&server.url("/releases/1")).await?;
                b.choose("#deploy-environment", env).await?;
                b.click("#deploy-submit").await
            };
            // By default: Staging goes at once, Production (last) asks.
            b.client.goto(&server.url("/environments/2")).await?;
            assert!(b
                .text("#confirmation-now")
                .await?
                .contains("asks for a confirmation"));
            b.client.goto(&server.url("/environments/1")).await?;
            assert!(b
                .text("#confirmation-now")
                .await?
                .contains("happens at once"));
            deploy_to("1").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            assert_eq!(count(), 1);
            deploy_to("2").await?;
            b.wait_for_text("Production asks for a confirmation")
                .await?;
            assert_eq!(count(), 1, "nothing queued before the confirmation");
            b.click("#confirm-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            assert_eq!(count(), 2);
            // Redeploying to Production asks too.
            b.click("#redeploy").await?;
            b.wait_for_text("Redeploy Shop 1.0 to Production?").await?;
            assert!(b.text("#confirm-same").await?.contains("already live"));
            b.click("#confirm-cancel").await?;
            assert_eq!(count(), 2);
            // Staging set to always ask; Production to never.
            for (env, choice) in [("1", "always"), ("2", "never")] {
                b.client
                    .goto(&server.url(&format!("/environments/{env}")))
                    .await?;
                b.choose("#environment-confirmation", choice).await?;
                b.click("#edit-environment button[type=submit]").await?;
                b.wait_for_text("Saved environment").await?;
            }
            deploy_to("1").await?;
            b.wait_for_text("Staging asks for a confirmation").await?;
            deploy_to("2").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            assert_eq!(count(), 3);
            Ok(())
        })
        .await;
    browser.close().await;
}

/// A refused form says so at the top of the page, where it lands, each problem in
/// words and linked to its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_is_summarised_at_the_top_with_links_to_its_fields() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = Server::with_admin(dir.path());
    server.create(&key, "/api/environments", json!({"Name": "Staging"}));
    server.create(&key, "/api/projects", json!({"Name": "Shop"}));
    for version in ["1.0", "1.1"] {
        server.create(
            &key,
            "/api/releases",
            json!({"ProjectId": "Projects-1", "Version": version}),
        );
    }
    let server = &server;
    let browser = Browser::start().await;
    browser
        .run("error_summary", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;
            b.client.goto(&server.url("/releases/1")).await?;
            b.click("label[for=deploy-later]").await?;
            b.fill("#deploy-expiry", "2020-01-01T00:00").await?;
            b.click("#deploy-submit").await?;
            b.wait_for_text("Nothing was saved").await?;
            let summary = b.text("#page-problems").await?;
            assert!(
                summary.contains("Start at is required for a later deployment"),
                "{summary}"
            );
            // Seen where the page lands, without scrolling.
            let top = b
                .client
                .execute(
                    "return document.getElementById('page-problems').getBoundingClientRect().top;",
                    vec![],
                )
                .await?;
            assert!(top.as_f64().unwrap() < 400.0, "the summary is at {top} px");
            b.screenshot("error-summary-1366").await?;
            // Each problem links to its field's message.
            b.click("#page-problems a[href='#queue_time-error']")
                .await?;
            assert_eq!(
                b.client.current_url().await?.fragment(),
                Some("queue_time-error")
            );
            assert!(b
                .text("#queue_time-error")
                .await?
                .contains("Start at is required"));
            // A project name already taken: a problem of no one field, said in words.
            b.client.goto(&server.url("/projects")).await?;
            b.fill("#create-project input[name=name]", "Shop").await?;
            b.click("#create-project button[type=submit]").await?;
            b.wait_for_text("Nothing was saved").await?;
            let summary = b.text("#page-problems").await?;
            assert!(summary.contains("Shop"), "{summary}");
            Ok(())
        })
        .await;
    browser.close().await;
}

/// What will happen, said before it happens: the deploy form starts on the next
/// environment no freeze blocks, warns as a start time is chosen inside a freeze,
/// allows one after the freeze that is on, and a deployment scheduled into a freeze's
/// window says on its page and in the list that it will fail at its start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_form_and_the_lists_say_what_a_freeze_will_do() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = Server::with_admin(dir.path());
    for name in ["Dev", "Staging", "Production"] {
        server.create(&key, "/api/environments", json!({"Name": name}));
    }
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": "echo ok"}),
    );
    server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.0"}),
    );
    let (_, d) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})),
    );
    server.wait_task(&key, d["TaskId"].as_str().unwrap(), &["Success"], 30);
    let now = drydock::clock::now_ms();
    let hour = 3_600_000;
    // Staging frozen now for two hours; Production frozen (Fail) from +3 h for an hour.
    for (name, env, start, end) in [
        (
            "Staging rebuild",
            "Environments-2",
            now - 1_000,
            now + 2 * hour,
        ),
        ("Launch", "Environments-3", now + 3 * hour, now + 4 * hour),
    ] {
        server.create(
            &key,
            "/api/deploymentfreezes",
            json!({"Name": name, "Start": drydock::clock::iso(start), "End": drydock::clock::iso(end),
                   "ProjectEnvironmentScope": {"Projects-1": [env]}}),
        );
    }
    let local = |ms: i64| drydock::clock::iso(ms)[..16].to_string();
    let server = &server;
    let browser = Browser::start().await;
    browser
        .run("freeze_outlook", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;
            b.client.goto(&server.url("/releases/1")).await?;
            // Promotion goes to Staging, which is frozen: the form starts on Production.
            assert_eq!(b.value("#deploy-environment").await?, "3");
            let choose = |env: &'static str| b.choose("#deploy-environment", env);
            // Times typed in UTC here (the form offers UTC and the browser's zone).
            let set_time = |at: String| async move {
                b.client
                    .execute(
                        "const z = document.getElementById('deploy-zone');
                         z.value = 'UTC'; z.dispatchEvent(new Event('change'));
                         const t = document.getElementById('deploy-queue-time');
                         t.value = arguments[0]; t.dispatchEvent(new Event('input'));",
                        vec![json!(at)],
                    )
                    .await
                    .map(|_| ())
            };
            let deploy = b
                .client
                .find(fantoccini::Locator::Css("#deploy-submit"))
                .await?;
            choose("2").await?;
            assert!(!deploy.is_enabled().await?, "Staging is frozen now");
            assert!(b.text("#deploy-frozen").await?.contains("Staging rebuild"));
            // Later, inside the freeze that is on: refused, and why.
            b.click("label[for=deploy-later]").await?;
            set_time(local(now + hour)).await?;
            let warning = b.text("#deploy-warning").await?;
            assert!(
                warning.contains("'Staging rebuild'") && warning.contains("choose a time after"),
                "{warning}"
            );
            assert!(!deploy.is_enabled().await?);
            // After it: allowed, and queued.
            set_time(local(now + 2 * hour + 600_000)).await?;
            assert_eq!(b.text("#deploy-warning").await?, "");
            assert!(deploy.is_enabled().await?);
            b.click("#deploy-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            assert!(b.text("#task-waiting").await?.contains("Scheduled"));
            assert!(b
                .client
                .find(fantoccini::Locator::Css("#task-outlook"))
                .await
                .is_err());
            // Production inside the coming Fail window: warned, then said on the task.
            b.client.goto(&server.url("/releases/1")).await?;
            let deploy = b
                .client
                .find(fantoccini::Locator::Css("#deploy-submit"))
                .await?;
            choose("3").await?;
            b.click("label[for=deploy-later]").await?;
            set_time(local(now + 3 * hour + 600_000)).await?;
            let warning = b.text("#deploy-warning").await?;
            assert!(
                warning.contains("'Launch'") && warning.contains("will fail at its start"),
                "{warning}"
            );
            assert!(
                deploy.is_enabled().await?,
                "a coming freeze does not refuse it"
            );
            b.click("#deploy-submit").await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            let outlook = b.text("#task-outlook").await?;
            assert!(
                outlook.contains("will fail at its start: deployment freeze 'Launch'"),
                "{outlook}"
            );
            b.client.goto(&server.url("/tasks")).await?;
            let scheduled = b.text("#scheduled-tasks").await?;
            assert!(scheduled.contains("will fail at its start"), "{scheduled}");
            b.screenshot("tasks-outlook-1366").await?;
            // A time typed in another zone is read in that zone.
            b.client.goto(&server.url("/releases/1")).await?;
            choose("1").await?;
            b.click("label[for=deploy-later]").await?;
            // A winter day, when Berlin is an hour ahead of UTC.
            let typed = "2030-01-15T12:00".to_string();
            b.client
                .execute(
                    "const z = document.getElementById('deploy-zone');
                     const o = document.createElement('option');
                     o.value = 'Europe/Berlin'; o.textContent = 'Europe/Berlin';
                     z.appendChild(o); z.value = 'Europe/Berlin';
                     document.getElementById('deploy-queue-time').value = arguments[0];",
                    vec![json!(typed)],
                )
                .await?;
            b.click("#deploy-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            let task = b.path().await?.trim_start_matches("/tasks/").to_string();
            let (_, t) = server.api(&key, "GET", &format!("/api/tasks/ServerTasks-{task}"), None);
            let queued = drydock::clock::parse_iso(t["QueueTime"].as_str().unwrap()).unwrap();
            let as_utc = drydock::clock::parse_iso(&format!("{typed}:00Z")).unwrap();
            assert_eq!(queued, as_utc - hour, "read in Berlin's time: {t}");
            Ok(())
        })
        .await;
    browser.close().await;
}
