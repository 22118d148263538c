//! Pages in a real browser against the real binary.

mod common;

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
            b.fill("#username", "admin").await?;
            b.fill("#password", &admin_password).await?;
            b.click("#sign-in").await?;
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
            b.fill("#username", "erin").await?;
            b.fill("#password", "not the right password").await?;
            b.click("#sign-in").await?;
            b.wait_for_text("Invalid username or password.").await?;

            b.fill("#password", PASSWORD).await?;
            b.click("#sign-in").await?;
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
