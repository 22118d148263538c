//! Octopus portal links (issue 30): `/app#/{space}/tasks/ServerTasks-N` and the like
//! land on drydock's page for that thing; `/app` without script lists drydock's pages.

use crate::common::*;
use rocket::http::{Header, Status};
use serde_json::json;

#[test]
fn portal_paths_redirect_to_drydocks_pages() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let post = |path: &str, body: serde_json::Value| {
        let (status, made) = json_of(
            client
                .post(path.to_string())
                .header(Header::new("X-Octopus-ApiKey", key.clone()))
                .header(rocket::http::ContentType::JSON)
                .body(body.to_string())
                .dispatch(),
        );
        assert_eq!(status, Status::Created, "{path}: {made}");
        made
    };
    post("/api/environments", json!({"Name": "Staging"}));
    post(
        "/api/projects",
        json!({"Name": "Web shop", "DeploymentScript": "true"}),
    );
    post(
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.0.0"}),
    );
    let deployment = post(
        "/api/deployments",
        json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"}),
    );
    let task = deployment["TaskId"]
        .as_str()
        .unwrap()
        .trim_start_matches("ServerTasks-")
        .to_string();

    // The page: the script that maps the fragment, and the links without it.
    let anonymous = app.client();
    let page = anonymous.get("/app").dispatch().into_string().unwrap();
    assert!(page.contains("/static/deep_links.js"), "{page}");
    assert!(page.contains(r#"href="/tasks""#), "{page}");
    let script = anonymous.get("/static/deep_links.js").dispatch();
    assert_eq!(script.status(), Status::Ok);
    assert!(script.into_string().unwrap().contains("/app/go?to="));

    let admin = app.admin();
    for (portal, page) in [
        ("/Spaces-1/tasks/ServerTasks-7", "/tasks/7".to_string()),
        ("/tasks/ServerTasks-7", "/tasks/7".to_string()),
        (
            "/Spaces-1/projects/Projects-1/deployments/releases/1.0.0/deployments/Deployments-1",
            format!("/tasks/{task}"),
        ),
        ("/Spaces-1/releases/Releases-1", "/releases/1".to_string()),
        ("/Spaces-1/projects/Projects-1", "/projects/1".to_string()),
        (
            "/Spaces-1/projects/web-shop/deployments",
            "/projects/1".to_string(),
        ),
        (
            "/Spaces-1/infrastructure/environments/Environments-1",
            "/environments".to_string(),
        ),
        ("/Spaces-1/tasks", "/tasks".to_string()),
    ] {
        let answer = admin
            .client
            .get(format!("/app/go?to={}", urlencoding(portal)))
            .dispatch();
        assert_eq!(answer.status(), Status::SeeOther, "{portal}");
        assert_eq!(
            answer.headers().get_one("Location"),
            Some(page.as_str()),
            "{portal}"
        );
    }
    let answer = admin
        .client
        .get("/app/go?to=%2FSpaces-1%2Frunbooks%2Fx%3Cb%3E")
        .dispatch();
    assert_eq!(answer.status(), Status::NotFound);
    let body = answer.into_string().unwrap();
    assert!(
        body.contains("no page for the Octopus portal path"),
        "{body}"
    );
    assert!(!body.contains("x<b>"), "the path is escaped on the page");
    // Signed out: to sign-in first, as every page.
    let answer = anonymous.get("/app/go?to=%2Ftasks").dispatch();
    assert_eq!(answer.status(), Status::SeeOther);
    assert!(answer
        .headers()
        .get_one("Location")
        .unwrap()
        .starts_with("/login"));
}

fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// In a real browser: the fragment never reaches the server, so it is the page's script
/// that takes an Octopus portal link to drydock's page (through sign-in when needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_link_opened_in_a_browser_lands_on_the_task_page() {
    use crate::common::browser::{self, Browser};
    use crate::common::server::Server;
    if browser::skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let password = std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap();
    let browser = Browser::start().await;
    browser
        .run("portal_link", |b| async move {
            b.client.goto(&server.url("/login")).await?;
            b.submit_sign_in("admin", &password).await?;
            // Signed in once the sign-in's own redirect has landed (else it could land
            // after the link is opened, and win).
            b.wait_for_path("/", 10).await?;
            b.client
                .goto(&server.url("/app#/Spaces-1/tasks/ServerTasks-3"))
                .await?;
            b.wait_for_path("/tasks/3", 10).await?;
            Ok(())
        })
        .await;
    browser.close().await;
}
