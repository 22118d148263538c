//! Subscriptions in a real browser at a phone's width: a lead creates one for Slack
//! with the form, sends a test event, and reads its delivery in the log.

use crate::common;

use common::browser::Browser;
use common::receiver::Receiver;
use common::server::{api_key, create_user, Server};
use common::PASSWORD;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_creates_a_subscription_and_sends_a_test_event_at_390_px() {
    if common::browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(drydock::config::CONFIG_FILE),
        "webhook_allow_private = true\n",
    )
    .unwrap();
    let _ = api_key(dir.path(), "admin");
    create_user(dir.path(), "lena", "Project Lead", PASSWORD);
    let server = Server::start(dir.path());
    let receiver = Receiver::start();
    let hook = receiver.url("/slack");
    let browser = Browser::start().await;
    let (url, login) = (
        server.url("/configuration/subscriptions"),
        server.url("/login"),
    );
    browser
        .run("subscriptions", |b| async move {
            b.sign_in_at(&login, "lena", PASSWORD).await?;
            b.set_width(390, 844).await?;
            b.client.goto(&url).await?;
            b.wait_for_text("There are no subscriptions.").await?;
            b.click("#new-subscription").await?;
            b.wait_for_text("New subscription").await?;
            b.fill("#subscription-name", "Releases to Slack").await?;
            b.fill("#subscription-uri", &hook).await?;
            b.choose("#subscription-format", "Slack").await?;
            b.click("#group-Deployment").await?;
            b.click("#subscription-save").await?;
            b.wait_for_text("Created subscription Releases to Slack.")
                .await?;
            assert!(!b.overflows().await?, "the page is wider than a phone");
            b.click("#send-test").await?;
            b.wait_for_text("A test event is on its way").await?;
            // The log says delivered once the sender has sent it (the page is reloaded).
            b.wait_until(20, "the delivery in the log", || async {
                b.client.refresh().await?;
                Ok(b.text("#deliveries")
                    .await
                    .is_ok_and(|t| t.contains("Delivered")))
            })
            .await?;
            Ok(())
        })
        .await;
    let got = receiver.wait_for(10, "the test event", |g| !g.is_empty());
    let body = got[0].json();
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t.contains("Releases to Slack")),
        "{body}"
    );
    browser.close().await;
}
