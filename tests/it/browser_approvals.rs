//! Approvals in a real browser at a phone's width, with the keyboard only: a lead finds
//! what waits for them, writes the note, tabs to Approve and presses Enter.

use crate::common;

use common::browser::Browser;
use common::server::{api_key, create_user, Server};
use common::PASSWORD;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_approves_with_the_keyboard_at_390_px() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = api_key(dir.path(), "admin");
    create_user(dir.path(), "lena", "Project Lead", PASSWORD);
    create_user(dir.path(), "dan", "Project Deployer", PASSWORD);
    let dan = api_key(dir.path(), "dan");
    let server = Server::start(dir.path());
    let (env, _, release) = crate::approvals_cluster::gated(
        &server,
        &key,
        ("Web", "true"),
        json!({"RoleNames": ["Project Lead"], "NoteRequired": true}),
        "7",
    );
    let (status, d) = server.api(
        &dan,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{d}");
    let task = d["TaskId"].as_str().unwrap().to_string();
    let browser = Browser::start().await;
    let waited = task.clone();
    let (url, login) = (server.url("/approvals"), server.url("/login"));
    browser
        .run("approvals_keyboard", |b| async move {
            b.sign_in_at(&login, "lena", PASSWORD).await?;
            b.set_width(390, 844).await?;
            b.client.goto(&url).await?;
            b.wait_for_text("Waiting for you (1)").await?;
            assert!(
                !b.overflows().await?,
                "the Approvals page is wider than a phone"
            );
            let listed = b.text("#approvals-yours").await?;
            assert!(
                listed.contains(&waited) && listed.contains("queued by dan"),
                "{listed}"
            );
            // The note, then Tab to Approve, then Enter: no mouse.
            b.client
                .find(fantoccini::Locator::Css("#approvals-yours textarea"))
                .await?
                .click()
                .await?;
            let active = b.client.active_element().await?;
            active.send_keys("checked the change log").await?;
            active.send_keys("\u{E004}").await?;
            let focused = b.client.active_element().await?;
            assert_eq!(focused.text().await?.trim(), format!("Approve {waited}"));
            focused.send_keys("\u{E007}").await?;
            b.wait_for_text("Approved").await?;
            b.wait_for_text("Nothing waits for you").await?;
            Ok(())
        })
        .await;
    let done = server.wait_task(&key, &task, &["Success", "Failed"], 30);
    assert_eq!(done["State"], "Success", "{done}");
    let (_, page) = server.api(
        &key,
        "GET",
        &format!("/api/interruptions?regarding={task}"),
        None,
    );
    assert_eq!(
        page["Items"][0]["Form"]["Values"]["Notes"],
        "checked the change log"
    );
}
