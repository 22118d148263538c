//! Pages in a real browser against the real binary.

use crate::common;

use common::browser::Browser;
use common::server::Server;
use common::PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_signs_in_creates_a_user_who_then_signs_in() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let admin_password =
        std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    let browser = Browser::start().await;
    browser
        .run("admin_creates_user", |b| async move {
            // Any page sends us to sign in first, and back afterwards.
            b.client.goto(&server.url("/configuration/users")).await?;
            assert_eq!(b.path().await?, "/login");
            b.submit_sign_in("admin", &admin_password).await?;
            b.wait_for_text("Users & roles").await?;
            assert_eq!(b.path().await?, "/configuration/users");

            b.fill("#new-username", "erin").await?;
            b.fill("#new-display-name", "Erin Example").await?;
            b.fill("#new-password", PASSWORD).await?;
            b.click("input[name=roles][value='Project Deployer']")
                .await?;
            b.click("#create-user-submit").await?;
            b.wait_for_text("Created user erin.").await?;

            b.click("#sign-out").await?;
            b.wait_for_text("You have signed out.").await?;

            // A wrong password shows the generic error.
            b.submit_sign_in("erin", "not the right password").await?;
            b.wait_for_text("Invalid username or password.").await?;

            b.fill("#password", PASSWORD).await?;
            b.click("#sign-in").await?;
            b.wait_for_text("Sign out").await?;
            // Who you are and what your roles allow is on your profile.
            b.client.goto(&server.url("/profile")).await?;
            b.wait_for_text("Signed in as").await?;
            assert_eq!(b.text("#whoami-name").await?, "Erin Example");
            assert_eq!(b.text("#whoami-roles").await?, "Project Deployer, Viewer");
            // A deployer has no Users & roles link and gets 403 there.
            assert!(!b.text("header").await?.contains("Users & roles"));
            b.client.goto(&server.url("/configuration/users")).await?;
            b.wait_for_text("403 Forbidden").await?;
            Ok(())
        })
        .await;
    browser.close().await;
}

/// Creates a resource through the API; returns the number of its id (for page paths).
fn api(server: &Server, key: &str, path: &str, body: serde_json::Value) -> String {
    server
        .create(key, path, body)
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployer_queues_a_deployment_watches_its_log_live_and_cancels_a_long_one() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drydock.toml"), "cancel_grace_ms = 1000\n").unwrap();
    let key = common::server::api_key(dir.path(), "admin");
    common::server::create_user(dir.path(), "dana", "Project Deployer", PASSWORD);
    let server = Server::start(dir.path());
    let web = api(
        &server,
        &key,
        "/api/projects",
        serde_json::json!({
            "Name": "Web",
            "DeploymentScript": "for i in $(seq 1 6); do echo \"step $i of <b>6</b>\"; sleep 0.4; done"
        }),
    );
    let long = api(
        &server,
        &key,
        "/api/projects",
        serde_json::json!({"Name": "Long", "DeploymentScript": "echo long-running; sleep 300"}),
    );
    api(
        &server,
        &key,
        "/api/environments",
        serde_json::json!({"Name": "Production"}),
    );
    let web_release = api(
        &server,
        &key,
        "/api/releases",
        serde_json::json!({"ProjectId": format!("Projects-{web}"), "Version": "1.0"}),
    );
    let long_release = api(
        &server,
        &key,
        "/api/releases",
        serde_json::json!({"ProjectId": format!("Projects-{long}"), "Version": "2.0"}),
    );

    let browser = Browser::start().await;
    browser
        .run("deployer_deploys_and_cancels", |b| async move {
            b.sign_in_at(&server.url("/login"), "dana", PASSWORD)
                .await?;

            b.client
                .goto(&server.url(&format!("/releases/{web_release}")))
                .await?;
            b.click("#deploy-submit").await?;
            // The last environment in promotion order asks first.
            b.wait_for_text("asks for a confirmation before each deployment")
                .await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            assert!(b.path().await?.starts_with("/tasks/"));
            // The page was rendered before the script finished; the log grows by itself.
            let first = b.text("#task-log").await?;
            assert!(
                !first.contains("step 6"),
                "already complete at first render: {first}"
            );
            b.wait_for_text("step 6 of <b>6</b>").await?;
            b.wait_for_element_text("#task-state", "Success", 10)
                .await?;

            b.client
                .goto(&server.url(&format!("/releases/{long_release}")))
                .await?;
            b.click("#deploy-submit").await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("long-running").await?;
            // Cancel asks first.
            b.click("#cancel-open").await?;
            b.click("#cancel-task").await?;
            // "being canceled" flashes until the page reloads itself on the end.
            b.wait_for_element_text("#task-state", "Canceled", 15)
                .await?;
            b.wait_for_text("Cancellation requested by dana.").await?;
            // The dashboard shows the queue.
            b.client.goto(&server.url("/")).await?;
            assert_eq!(b.text("#executing-count").await?, "0");
            assert!(b.text(".tasks").await?.contains("Canceled"));
            Ok(())
        })
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_runs_a_system_task_now() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let admin_password =
        std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    let browser = Browser::start().await;
    browser
        .run("run_system_task_now", |b| async move {
            b.client
                .goto(&server.url("/configuration/system-tasks"))
                .await?;
            b.submit_sign_in("admin", &admin_password).await?;
            b.wait_for_text("System tasks").await?;
            assert!(b.text("#system-Backup").await?.contains("never"));
            b.click("#run-Backup").await?;
            b.wait_for_text("Queued Backup as ServerTasks-").await?;
            b.click("#system-Backup a.last-run").await?;
            b.wait_for_text("Wrote").await?;
            b.wait_for_element_text("#task-state", "Success", 15)
                .await?;
            Ok(())
        })
        .await;
    browser.close().await;
    let backups = std::fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .count();
    assert_eq!(backups, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_mode_from_the_administrator_and_the_deployer_side() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = common::server::api_key(dir.path(), "admin");
    common::server::create_user(dir.path(), "dana", "Project Deployer", PASSWORD);
    let server = Server::start(dir.path());
    let admin_password =
        std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    let web = api(
        &server,
        &key,
        "/api/projects",
        serde_json::json!({"Name": "Web", "DeploymentScript": "sleep 2; echo deployed"}),
    );
    api(
        &server,
        &key,
        "/api/environments",
        serde_json::json!({"Name": "Production"}),
    );
    let release = api(
        &server,
        &key,
        "/api/releases",
        serde_json::json!({"ProjectId": format!("Projects-{web}"), "Version": "1.0"}),
    );

    let browser = Browser::start().await;
    browser
        .run("maintenance", |b| async move {
            let sign_in = |user: &'static str, password: String| {
                let url = server.url("/login");
                async move {
                    b.client.goto(&url).await?;
                    b.submit_sign_in(user, &password).await?;
                    b.wait_for_text("Sign out").await
                }
            };
            // The administrator turns it on with a message.
            sign_in("admin", admin_password.clone()).await?;
            b.client
                .goto(&server.url("/configuration/maintenance"))
                .await?;
            b.fill("#maintenance-message-input", "Upgrading to 2.0")
                .await?;
            // Turning it on asks first, saying what will be refused.
            b.click("#maintenance-open").await?;
            assert!(b
                .text("#maintenance-confirm")
                .await?
                .contains("will be refused"));
            b.click("#maintenance-toggle").await?;
            b.wait_for_text("Maintenance mode is on.").await?;
            assert!(b
                .text("#maintenance-banner")
                .await?
                .contains("Upgrading to 2.0"));
            b.click("#sign-out").await?;
            b.wait_for_text("You have signed out.").await?;

            // The deployer sees the banner, a disabled Deploy button, and a refusal.
            sign_in("dana", PASSWORD.to_string()).await?;
            let banner = b.text("#maintenance-banner").await?;
            assert!(
                banner.contains("Upgrading to 2.0") && banner.contains("admin"),
                "{banner}"
            );
            b.client
                .goto(&server.url(&format!("/releases/{release}")))
                .await?;
            let button = b
                .client
                .find(fantoccini::Locator::Css("#deploy-submit"))
                .await?;
            assert!(
                button.attr("disabled").await?.is_some(),
                "the Deploy button is disabled"
            );
            assert!(button
                .attr("title")
                .await?
                .unwrap_or_default()
                .contains("Maintenance mode"));
            // Force the post anyway (as a stale page would).
            b.client
                .execute(
                    "document.getElementById('deploy-submit').disabled = false",
                    vec![],
                )
                .await?;
            b.click("#deploy-submit").await?;
            b.wait_for_text(
                "The server is in maintenance mode. Changes are disabled for non-administrators.",
            )
            .await?;
            assert!(b.text("body").await?.contains("Upgrading to 2.0"));
            b.click("#sign-out").await?;
            b.wait_for_text("You have signed out.").await?;

            // The administrator still deploys, and watches the server become quiet.
            sign_in("admin", admin_password.clone()).await?;
            b.client
                .goto(&server.url(&format!("/releases/{release}")))
                .await?;
            b.click("#deploy-submit").await?;
            b.click("#confirm-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            b.client
                .goto(&server.url("/configuration/maintenance"))
                .await?;
            assert_eq!(b.text("#quiet-indicator").await?, "Not yet");
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while b.text("#quiet-indicator").await? != "Safe to stop" {
                assert!(std::time::Instant::now() < deadline, "never became quiet");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(
                b.path().await?,
                "/configuration/maintenance",
                "updated without a reload"
            );
            Ok(())
        })
        .await;
    browser.close().await;
}

/// Markup in every kind of user-supplied text: names, descriptions, a display name, an
/// API key's purpose, maintenance and window messages, and a script's log lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_markup_is_shown_as_text_on_every_page_and_never_runs() {
    if common::browser::skip() {
        return;
    }
    const MARK: &str = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>";
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = common::server::run_cli(
        dir.path(),
        &["apikey", "create", "--username", "admin", "--purpose", MARK],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let key = out.trim().lines().last().unwrap().to_string();
    let admin_password =
        std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    let server = Server::start(dir.path());
    let project = api(
        &server,
        &key,
        "/api/projects",
        serde_json::json!({
            "Name": MARK,
            "Description": MARK,
            "DeploymentScript": format!("echo '{MARK}'; echo \"$DRYDOCK_PROJECT\" >&2")
        }),
    );
    let env = api(
        &server,
        &key,
        "/api/environments",
        serde_json::json!({"Name": format!("E{MARK}")}),
    );
    let release = api(
        &server,
        &key,
        "/api/releases",
        serde_json::json!({"ProjectId": format!("Projects-{project}"), "Version": "1", "ReleaseNotes": MARK}),
    );
    let (status, d) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(serde_json::json!({"ReleaseId": format!("Releases-{release}"), "EnvironmentId": format!("Environments-{env}")})),
    );
    assert_eq!(status, 201, "{d}");
    let task = d["TaskId"]
        .as_str()
        .unwrap()
        .trim_start_matches("ServerTasks-")
        .to_string();
    api(
        &server,
        &key,
        "/api/users",
        serde_json::json!({"Username": "mallory", "DisplayName": MARK, "Password": PASSWORD, "Roles": ["Viewer"]}),
    );
    api(
        &server,
        &key,
        "/api/maintenancewindows",
        serde_json::json!({"Start": "2099-01-01T00:00:00Z", "End": "2099-01-02T00:00:00Z", "Message": MARK}),
    );
    let (status, text) = server.api(
        &key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(serde_json::json!({"IsInMaintenanceMode": true, "Message": MARK})),
    );
    assert_eq!(status, 200, "{text}");

    let pages = [
        "/".to_string(),
        "/projects".into(),
        format!("/projects/{project}"),
        format!("/releases/{release}"),
        "/environments".into(),
        format!("/environments/{env}"),
        "/tasks".into(),
        format!("/tasks/{task}"),
        "/configuration/users".into(),
        "/configuration/users/2".into(),
        "/configuration/audit".into(),
        "/configuration/maintenance".into(),
        "/profile".into(),
    ];
    let browser = Browser::start().await;
    browser
        .run("injected_markup", |b| async move {
            b.sign_in_at(&server.url("/login"), "admin", &admin_password).await?;
            for page in &pages {
                b.client.goto(&server.url(page)).await?;
                // Shown as text (the task page's log arrives by script: wait for it).
                b.wait_for_text("<script>window.__xss=1</script>")
                    .await
                    .map_err(|e| format!("{page}: {e}"))?;
                // Nothing it carried became an element, and nothing ran (escaping does
                // the work; the Content-Security-Policy would block inline scripts too).
                let found = b
                    .client
                    .execute(
                        "return [window.__xss === undefined ? null : window.__xss,
                                 document.querySelectorAll('img[src=x]').length,
                                 [...document.scripts].filter(s => s.textContent.includes('__xss')).length];",
                        vec![],
                    )
                    .await?;
                if found != serde_json::json!([null, 0, 0]) {
                    return Err(format!("injected markup became page content on {page}: {found}").into());
                }
            }
            Ok(())
        })
        .await;
    browser.close().await;
}

/// In Chromium: a lead adds a sensitive and a prompted variable on the Variables tab,
/// deploys with the prompt filled in on the release page, and no page the browser is
/// sent carries the sensitive value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_sets_variables_on_the_variables_tab_and_deploys_with_a_prompt() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = common::server::api_key(dir.path(), "admin");
    common::server::create_user(dir.path(), "lena", "Project Lead", PASSWORD);
    let server = Server::start(dir.path());
    let project = api(
        &server,
        &key,
        "/api/projects",
        serde_json::json!({"Name": "Web", "DeploymentScript": "echo \"token=#{Token} why=$(get_octopusvariable Why)\""}),
    );
    api(
        &server,
        &key,
        "/api/environments",
        serde_json::json!({"Name": "Staging"}),
    );
    api(
        &server,
        &key,
        "/api/environments",
        serde_json::json!({"Name": "Production"}),
    );
    let browser = Browser::start().await;
    browser
        .run("variables_tab", |b| async move {
            b.sign_in_at(&server.url("/login"), "lena", PASSWORD)
                .await?;
            b.client
                .goto(&server.url(&format!("/projects/{project}")))
                .await?;
            b.click("#project-variables").await?;
            b.wait_for_text("No variables yet").await?;
            b.fill("#variable-name", "Token").await?;
            b.click("#variable-sensitive").await?;
            b.fill("#variable-secret", "browser-S3CRET-88").await?;
            b.click("#save-variable button[type=submit]").await?;
            b.wait_for_text("Saved Token.").await?;
            b.fill("#variable-name", "Why").await?;
            b.fill("#variable-value", "routine").await?;
            b.click("#variable-prompt").await?;
            b.fill("#variable-prompt-label", "Why deploy?").await?;
            b.click("#save-variable button[type=submit]").await?;
            b.wait_for_text("Saved Why.").await?;
            let listed = b.text("#variables").await?;
            assert!(
                listed.contains("Sensitive") && listed.contains("routine"),
                "{listed}"
            );
            let source = b.client.source().await?;
            assert!(!source.contains("browser-S3CRET-88"), "{source}");
            // A release made now keeps them; its Deploy form asks for the prompt.
            b.client
                .goto(&server.url(&format!("/projects/{project}")))
                .await?;
            let release = server.create(
                &key,
                "/api/releases",
                serde_json::json!({"ProjectId": format!("Projects-{project}"), "Version": "1.0"}),
            );
            let number = release.trim_start_matches("Releases-");
            b.client
                .goto(&server.url(&format!("/releases/{number}")))
                .await?;
            b.wait_for_text("Why deploy?").await?;
            b.choose("#deploy-environment", "1").await?;
            let field = b
                .client
                .find(fantoccini::Locator::Css("#deploy-prompts input"))
                .await?;
            field.clear().await?;
            field.send_keys("hotfix").await?;
            b.click("#deploy-submit").await?;
            b.wait_for_text("The deployment has been queued.").await?;
            b.wait_until(30, "the deployment's end", || async {
                Ok(b.text("#task-log")
                    .await
                    .unwrap_or_default()
                    .contains("why=hotfix"))
            })
            .await?;
            // The page reloads itself when the task ends; the message it came with stays.
            b.wait_until(30, "the page of the ended task", || async {
                Ok(b.client.source().await?.contains("data-completed=\"true\""))
            })
            .await?;
            assert!(
                b.text("#content")
                    .await?
                    .contains("The deployment has been queued."),
                "the message was lost when the page reloaded"
            );
            let log = b.text("#task-log").await?;
            assert!(log.contains("token=******** why=hotfix"), "{log}");
            assert!(b
                .text("#task-variables")
                .await?
                .contains("Variables used (2)"));
            let source = b.client.source().await?;
            assert!(!source.contains("browser-S3CRET-88"), "{source}");
            Ok(())
        })
        .await;
    browser.close().await;
}
