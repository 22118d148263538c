//! A task's page in real Chromium: a script that wrote to stderr succeeds "with
//! warnings" (Octopus's `HasWarningsOrErrors`), a failed one quotes its error line, and
//! the log wraps, numbers its lines with anchors, is found by text and downloads.

use crate::common;
use common::browser::Browser;
use common::server::Server;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_is_numbered_searchable_and_says_what_went_wrong() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, key, password) = Server::with_admin(dir.path());
    server.create(&key, "/api/environments", json!({"Name": "Dev"}));
    let long = "x".repeat(600);
    let script = format!(
        r#"for i in $(seq 1 40); do echo "step $i"; done
echo "{long}"
echo "disk nearly full" >&2
case "$DRYDOCK_RELEASE" in 2.*) echo "cannot reach the database" >&2; exit 3 ;; esac
echo done"#
    );
    server.create(
        &key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": script}),
    );
    let mut tasks = Vec::new();
    for version in ["1.0", "2.0"] {
        let release = server.create(
            &key,
            "/api/releases",
            json!({"ProjectId": "Projects-1", "Version": version}),
        );
        let (status, d) = server.api(
            &key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": "Environments-1"})),
        );
        assert_eq!(status, 201, "{d}");
        let task = d["TaskId"].as_str().unwrap().to_string();
        server.wait_task(&key, &task, &["Success", "Failed"], 30);
        tasks.push(task);
    }
    let (_, warned) = server.api(&key, "GET", &format!("/api/tasks/{}", tasks[0]), None);
    assert_eq!(warned["State"], "Success", "{warned}");
    assert_eq!(warned["HasWarningsOrErrors"], true, "{warned}");
    let (_, failed) = server.api(&key, "GET", &format!("/api/tasks/{}", tasks[1]), None);
    assert_eq!(
        failed["ErrorMessage"], "The script exited with status 3: cannot reach the database",
        "the summary quotes the last error line: {failed}"
    );
    let (server, tasks) = (&server, &tasks);
    let browser = Browser::start().await;
    browser
        .run("task_log", |b| async move {
            b.set_width(1366, 900).await?;
            b.sign_in_at(&server.url("/login"), "admin", &password)
                .await?;
            let page = |t: &str| server.url(&format!("/tasks/{t}"));
            b.client.goto(&page(&tasks[0])).await?;
            assert_eq!(b.text("#task-state").await?, "Success with warnings");
            // Numbered lines with anchors.
            assert_eq!(b.text("#L3 .ln").await?, "3");
            b.click("#L3 .ln").await?;
            assert_eq!(b.client.current_url().await?.fragment(), Some("L3"));
            assert!(b.text("#L3").await?.contains("step 3"));
            // Long lines wrap: nothing scrolls sideways, at 1366 or at 390 px.
            let wide = "var l = document.getElementById('task-log');
                        return l.scrollWidth > l.clientWidth + 1;";
            assert_eq!(b.client.execute(wide, vec![]).await?.as_bool(), Some(false));
            b.set_width(390, 844).await?;
            assert_eq!(b.client.execute(wide, vec![]).await?.as_bool(), Some(false));
            assert!(!b.overflows().await?, "the task page overflows at 390 px");
            b.set_width(1366, 900).await?;
            // Found by text, and back to every line.
            b.fill("#log-find", "STEP 1").await?;
            b.click("#log-search button").await?;
            b.wait_for_text("lines contain").await?;
            let found = b.text("#log-found").await?;
            assert!(
                found.starts_with("11 of 43 lines"),
                "step 1, 10 to 19: {found}"
            );
            assert!(b.text("#task-log").await?.contains("step 19"));
            assert!(!b.text("#task-log").await?.contains("step 20"));
            b.click("#log-all").await?;
            b.wait_for_text("step 40").await?;
            // Downloadable as a file.
            let download = b
                .client
                .find(fantoccini::Locator::Css("#log-download"))
                .await?;
            let name = download.attr("download").await?;
            assert_eq!(name.as_deref(), Some(format!("{}.log", tasks[0]).as_str()));
            // The failed one says why in its summary.
            b.client.goto(&page(&tasks[1])).await?;
            assert!(b
                .text("#task-error")
                .await?
                .contains("cannot reach the database"));
            b.screenshot("task-failed-error-line").await?;
            // One search box: an id goes to its page, text finds what contains it.
            b.fill("#nav-search", &tasks[1]).await?;
            b.client
                .execute(
                    "document.getElementById('nav-search').form.submit();",
                    vec![],
                )
                .await?;
            b.wait_for_path(
                &format!("/tasks/{}", tasks[1].trim_start_matches("ServerTasks-")),
                10,
            )
            .await?;
            b.client.goto(&server.url("/search?q=shop")).await?;
            assert!(b.text("#found-projects").await?.contains("Shop"));
            assert!(b
                .text("#found-tasks")
                .await?
                .contains("Deploy Shop release 2.0"));
            b.client.goto(&server.url("/search?q=2.0")).await?;
            assert!(b.text("#found-releases").await?.contains("Shop 2.0"));
            b.client
                .goto(&server.url("/search?q=nothing-like-it"))
                .await?;
            assert!(b
                .text("#search-nothing")
                .await?
                .contains("Nothing contains"));
            Ok(())
        })
        .await;
    browser.close().await;
}
