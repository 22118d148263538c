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
    let key = common::server::api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
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
            b.client.goto(&server.url("/login")).await?;
            b.submit_sign_in("admin", &password).await?;
            b.wait_for_text("What is deployed where").await?;
            let deploy_to = |env: &'static str| async move {
                b.client.goto(&server.url("/releases/1")).await?;
                b.client
                    .find(fantoccini::Locator::Css(&format!(
                        "#deploy-environment option[value='{env}']"
                    )))
                    .await?
                    .click()
                    .await?;
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
                b.client
                    .find(fantoccini::Locator::Css(&format!(
                        "#environment-confirmation option[value='{choice}']"
                    )))
                    .await?
                    .click()
                    .await?;
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
    let key = common::server::api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
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
            b.client.goto(&server.url("/login")).await?;
            b.submit_sign_in("admin", &password).await?;
            b.wait_for_text("What is deployed where").await?;
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
