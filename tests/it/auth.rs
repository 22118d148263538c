//! Sign-in, sessions, CSRF, Origin, throttling and API keys, over HTTP.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use rocket::http::{ContentType, Cookie, Header, Method, Status};
use serde_json::json;

#[test]
fn first_start_creates_admin_with_a_private_password_file() {
    let app = TestApp::new();
    let file = app.data_dir().join("initial-admin-password");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written, app.admin_password);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The cookie key: the data directory's on SQLite, the cluster's (in the database,
    // one for every node) on PostgreSQL.
    let key_file = app.data_dir().join("secret.key");
    if app.config.database_url.is_none() {
        let key_mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(key_mode & 0o777, 0o600);
    } else {
        assert!(!key_file.exists(), "no key of the node's own on PostgreSQL");
        let key: String = app.db().one(
            "SELECT value FROM cluster_settings WHERE name = 'secret_key'",
            &[],
        );
        assert_eq!(key.len(), 64);
    }
    // A second start does not create another admin.
    let _ = app.client();
    assert_eq!(app.count("users"), 1);

    let admin = app.admin();
    let (status, me) = admin.get_json("/api/users/me");
    assert_eq!(status, Status::Ok);
    assert_eq!(me["Username"], "admin");
    assert_eq!(me["Roles"], json!(["System Administrator"]));
    assert_eq!(me["Permissions"].as_array().unwrap().len(), 21);
}

#[test]
fn login_sets_a_fresh_http_only_lax_session_cookie() {
    let app = TestApp::new();
    let client = app.client();
    let response = login(&client, "admin", &app.admin_password);
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/"));
    let set_cookie: Vec<&str> = response.headers().get("Set-Cookie").collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("drydock_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(
        !session.contains("Secure"),
        "plain HTTP by default: {session}"
    );
    let token = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("drydock_session=")
        .to_string();
    assert_eq!(token.len(), 64, "256-bit token, hex");
    drop(response);
    // Only the SHA-256 of the token is stored.
    let stored: String = app.db().one("SELECT token_hash FROM sessions", &[]);
    assert_ne!(stored, token);
    // A second sign-in gets a new token.
    let again = app.client();
    let second = login(&again, "admin", &app.admin_password);
    let second_cookie = second
        .headers()
        .get("Set-Cookie")
        .find(|c| c.starts_with("drydock_session="))
        .unwrap()
        .to_string();
    assert!(!second_cookie.contains(&token));

    let secure = TestApp::with(|c| c.secure_cookies = true);
    let client = secure.client();
    let response = login(&client, "admin", &secure.admin_password);
    assert!(response
        .headers()
        .get("Set-Cookie")
        .any(|c| c.starts_with("drydock_session=") && c.contains("Secure")));
}

#[test]
fn wrong_user_and_wrong_password_get_the_same_generic_error() {
    let app = TestApp::new();
    let client = app.client();
    let wrong_password = login(&client, "admin", "not the password at all");
    assert_eq!(wrong_password.status(), Status::Unauthorized);
    let a = wrong_password.into_string().unwrap();
    let wrong_user = login(&client, "nobody", "not the password at all");
    assert_eq!(wrong_user.status(), Status::Unauthorized);
    let b = wrong_user.into_string().unwrap();
    let message = "Invalid username or password.";
    assert!(a.contains(message) && b.contains(message));
    // The pages differ only in the echoed username and the form's token.
    let strip = |s: &str, user: &str| {
        s.replace(&format!("value=\"{user}\""), "")
            .lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<String>()
    };
    assert_eq!(strip(&a, "admin"), strip(&b, "nobody"));
    // Both failures are audited.
    let failed: i64 = app.db().one(
        "SELECT COUNT(*) FROM events WHERE category = 'LoginFailed'",
        &[],
    );
    assert_eq!(failed, 2);
}

#[test]
fn five_failures_throttle_the_username_with_429() {
    let app = TestApp::new();
    let client = app.client();
    for _ in 0..5 {
        assert_eq!(
            login(&client, "admin", "wrong password here").status(),
            Status::Unauthorized
        );
    }
    // Even the right password is refused until the window passes.
    let throttled = login(&client, "admin", &app.admin_password);
    assert_eq!(throttled.status(), Status::TooManyRequests);
    let retry: i64 = throttled
        .headers()
        .get_one("Retry-After")
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900, "{retry}");
    assert_eq!(app.count("sessions"), 0);
}

#[test]
fn throttling_ends_when_the_window_passes() {
    let app = TestApp::new();
    let client = app.client();
    for _ in 0..5 {
        login(&client, "admin", "wrong password here");
    }
    assert_eq!(
        login(&client, "admin", &app.admin_password).status(),
        Status::TooManyRequests
    );
    // Let fifteen minutes pass for the recorded failures.
    app.db().exec(
        "UPDATE login_failures SET at = at - 15 * 60 * 1000 - 1",
        &[],
    );
    assert_eq!(
        login(&client, "admin", &app.admin_password).status(),
        Status::SeeOther
    );
}

#[test]
fn logout_deletes_the_session() {
    let app = TestApp::new();
    let admin = app.admin();
    let cookie = admin
        .client
        .cookies()
        .get("drydock_session")
        .unwrap()
        .value()
        .to_string();
    let response = admin.post_form("/logout", &[]);
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    assert_eq!(app.count("sessions"), 0);
    // The old cookie, replayed, is worthless.
    let other = app.client();
    let replay = other
        .get("/api/users/me")
        .cookie(Cookie::new("drydock_session", cookie))
        .dispatch();
    assert_eq!(replay.status(), Status::Unauthorized);
}

#[test]
fn logout_needs_the_csrf_token() {
    let app = TestApp::new();
    let admin = app.admin();
    let response = admin
        .client
        .post("/logout")
        .header(ContentType::Form)
        .body("csrf_token=wrong")
        .dispatch();
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    assert_eq!(app.count("sessions"), 1);
}

#[test]
fn idle_session_expires() {
    let app = TestApp::new();
    let admin = app.admin();
    assert_eq!(admin.get_json("/api/users/me").0, Status::Ok);
    // Twelve hours without use.
    app.db().exec(
        "UPDATE sessions SET last_seen_at = last_seen_at - 12 * 3600 * 1000 - 1",
        &[],
    );
    assert_eq!(admin.get_json("/api/users/me").0, Status::Unauthorized);
    let page = admin.client.get("/").dispatch();
    assert_eq!(page.status(), Status::SeeOther);
    assert!(page
        .headers()
        .get_one("Location")
        .unwrap()
        .starts_with("/login"));
    drop(page);
    assert_eq!(app.count("sessions"), 0, "the expired session is deleted");
}

#[test]
fn absolute_session_lifetime_is_enforced() {
    let app = TestApp::new();
    let admin = app.admin();
    // Age the session past seven days.
    let week_ms: i64 = 7 * 24 * 3600 * 1000 + 1000;
    app.db().exec(
        "UPDATE sessions SET created_at = created_at - ?1",
        &[&week_ms],
    );
    assert_eq!(admin.get_json("/api/users/me").0, Status::Unauthorized);
}

#[test]
fn form_posts_without_or_with_a_wrong_csrf_token_are_refused() {
    let app = TestApp::new();
    let admin = app.admin();
    let fields = form(&[
        ("username", "mallory"),
        ("display_name", "Mallory"),
        ("password", PASSWORD),
        ("roles", "Viewer"),
    ]);
    for body in [fields.clone(), format!("{fields}&csrf_token=0000")] {
        let response = admin
            .client
            .post("/configuration/users")
            .header(ContentType::Form)
            .body(body)
            .dispatch();
        assert_eq!(response.status(), Status::Forbidden);
        assert!(response.into_string().unwrap().contains("CSRF"));
    }
    // A JSON call from the browser session needs the header too.
    let no_header = admin
        .client
        .post("/api/users")
        .header(ContentType::JSON)
        .body(json!({"Username": "mallory", "Password": PASSWORD}).to_string())
        .dispatch();
    assert_eq!(no_header.status(), Status::Forbidden);
    drop(no_header);
    assert_eq!(app.count("users"), 1);

    // With the token it works.
    let ok = admin.post_form(
        "/configuration/users",
        &[
            ("username", "mallory"),
            ("display_name", "M"),
            ("password", PASSWORD),
            ("roles", "Viewer"),
        ],
    );
    assert_eq!(ok.status(), Status::SeeOther);
    drop(ok);
    assert_eq!(app.count("users"), 2);
}

#[test]
fn a_foreign_origin_is_refused() {
    let app = TestApp::new();
    let admin = app.admin();
    let mut all = vec![("csrf_token", admin.csrf.as_str())];
    all.extend_from_slice(&[
        ("username", "eve"),
        ("display_name", "Eve"),
        ("password", PASSWORD),
    ]);
    let response = admin
        .client
        .post("/configuration/users")
        .header(ContentType::Form)
        .header(Header::new("Host", "127.0.0.1:8000"))
        .header(Header::new("Origin", "http://evil.example"))
        .body(form(&all))
        .dispatch();
    assert_eq!(response.status(), Status::Forbidden);
    assert!(response.into_string().unwrap().contains("Cross-site"));
    assert_eq!(app.count("users"), 1);

    // The same origin passes.
    let response = admin
        .client
        .post("/configuration/users")
        .header(ContentType::Form)
        .header(Header::new("Host", "127.0.0.1:8000"))
        .header(Header::new("Origin", "http://127.0.0.1:8000"))
        .body(form(&all))
        .dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    assert_eq!(app.count("users"), 2);

    // A foreign origin cannot sign in either.
    let client = app.client();
    let csrf = csrf_of(&client, "/login");
    let response = client
        .post("/login")
        .header(ContentType::Form)
        .header(Header::new("Host", "127.0.0.1:8000"))
        .header(Header::new("Origin", "https://evil.example"))
        .body(form(&[
            ("username", "admin"),
            ("password", &app.admin_password),
            ("csrf_token", &csrf),
        ]))
        .dispatch();
    assert_eq!(response.status(), Status::Forbidden);
}

#[test]
fn api_keys_authenticate_by_header_or_bearer_and_wrong_keys_get_401() {
    let app = TestApp::new();
    let key = app.user_with_key("dana", &["Project Deployer"]);
    assert!(key.starts_with("API-") && key.len() == 36);
    let client = app.client();
    let (status, me) = json_of(with_key(&client, Method::Get, "/api/users/me", &key, None));
    assert_eq!(status, Status::Ok);
    assert_eq!(me["Username"], "dana");

    let bearer = client
        .get("/api/users/me")
        .header(Header::new("Authorization", format!("Bearer {key}")))
        .dispatch();
    assert_eq!(bearer.status(), Status::Ok);
    drop(bearer);

    let wrong = with_key(
        &client,
        Method::Get,
        "/api/users/me",
        "API-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        None,
    );
    assert_eq!(wrong.status(), Status::Unauthorized);
    let (_, body) = json_of(wrong);
    assert!(body["ErrorMessage"].as_str().unwrap().contains("signed in"));
    let garbage = with_key(&client, Method::Get, "/api/users/me", "nonsense", None);
    assert_eq!(garbage.status(), Status::Unauthorized);
    drop(garbage);
    let none = client.get("/api/users/me").dispatch();
    assert_eq!(none.status(), Status::Unauthorized);
    drop(none);

    // Only the key's SHA-256 is stored.
    let stored: String = app.db().one("SELECT key_hash FROM api_keys", &[]);
    assert_ne!(stored, key);
    assert_eq!(stored.len(), 64);
}

#[test]
fn api_key_changes_need_no_csrf_token() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["System Manager"]);
    let client = app.client();
    let response = with_key(
        &client,
        Method::Post,
        "/api/users",
        &key,
        Some(json!({"Username": "viewer1", "Password": PASSWORD, "Roles": ["Viewer"]})),
    );
    assert_eq!(response.status(), Status::Created);
}

#[test]
fn deactivated_users_cannot_sign_in_or_use_their_keys() {
    let app = TestApp::new();
    let key = app.user_with_key("dana", &["Project Deployer"]);
    let dana = app.session("dana", PASSWORD);
    let admin = app.admin();
    let (status, _) = admin.send_json(
        Method::Put,
        "/api/users/Users-2",
        json!({"IsActive": false}),
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(
        dana.get_json("/api/users/me").0,
        Status::Unauthorized,
        "sessions end"
    );
    let client = app.client();
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Unauthorized
    );
    assert_eq!(
        login(&client, "dana", PASSWORD).status(),
        Status::Unauthorized
    );
}

#[test]
fn changing_your_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::new();
    let _ = app.user_with_key("dana", &["Viewer"]);
    let first = app.session("dana", PASSWORD);
    let second = app.session("dana", PASSWORD);
    let wrong = second.post_form(
        "/profile/password",
        &[
            ("current_password", "not my password!"),
            ("new_password", "a brand new passphrase"),
            ("confirm_password", "a brand new passphrase"),
        ],
    );
    assert_eq!(wrong.status(), Status::BadRequest, "the form again");
    let html = wrong.into_string().unwrap();
    assert!(
        html.contains("id=\"current_password-error\">Current password is not correct"),
        "{html}"
    );
    assert_eq!(
        first.get_json("/api/users/me").0,
        Status::Ok,
        "nothing changed"
    );
    // A mismatch and a too-short password: both said at once.
    let both = second.post_form(
        "/profile/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "short"),
            ("confirm_password", "other"),
        ],
    );
    assert_eq!(both.status(), Status::BadRequest);
    let html = both.into_string().unwrap();
    assert!(html.contains("2 problems to fix"), "{html}");
    assert!(html.contains("id=\"confirm_password-error\""), "{html}");

    let ok = second.post_form(
        "/profile/password",
        &[
            ("current_password", PASSWORD),
            ("new_password", "a brand new passphrase"),
            ("confirm_password", "a brand new passphrase"),
        ],
    );
    assert_eq!(ok.status(), Status::SeeOther);
    drop(ok);
    assert_eq!(
        second.get_json("/api/users/me").0,
        Status::Ok,
        "own session stays"
    );
    assert_eq!(
        first.get_json("/api/users/me").0,
        Status::Unauthorized,
        "other sessions end"
    );
    let client = app.client();
    assert_eq!(
        login(&client, "dana", "a brand new passphrase").status(),
        Status::SeeOther
    );
}

#[test]
fn five_failures_from_one_address_throttle_every_username() {
    let app = TestApp::new();
    let client = app.client();
    for i in 0..5 {
        let response = login(&client, &format!("nobody{i}"), "wrong password here");
        assert_eq!(response.status(), Status::Unauthorized);
    }
    let response = login(&client, "admin", &app.admin_password);
    assert_eq!(response.status(), Status::TooManyRequests);
    let body = response.into_string().unwrap();
    assert!(body.contains("Too many failed sign-in attempts"), "{body}");
}

#[test]
fn malformed_sign_in_forms_are_refused_without_a_server_error() {
    let app = TestApp::new();
    let client = app.client();
    for body in [
        "",
        "username=admin",
        "password=x&csrf_token=y",
        "%%%",
        "username=%FF%FE&password=x&csrf_token=y",
    ] {
        let response = client
            .post("/login")
            .header(ContentType::Form)
            .body(body)
            .dispatch();
        let status = response.status();
        assert!(
            status.code >= 400 && status.code < 500 || status == Status::SeeOther,
            "{body:?}: {status}"
        );
    }
    assert_eq!(app.count("sessions"), 0);
}

#[test]
fn a_forged_client_address_header_does_not_dodge_throttling() {
    let app = TestApp::new();
    let client = app.client();
    for i in 0..5 {
        let csrf = csrf_of(&client, "/login");
        let response = client
            .post("/login")
            .header(ContentType::Form)
            .header(Header::new("X-Real-IP", format!("10.0.0.{i}")))
            .body(form(&[
                ("username", &format!("ghost{i}")),
                ("password", "wrong password!"),
                ("csrf_token", &csrf),
            ]))
            .dispatch();
        assert_eq!(response.status(), Status::Unauthorized);
    }
    let csrf = csrf_of(&client, "/login");
    let response = client
        .post("/login")
        .header(ContentType::Form)
        .header(Header::new("X-Real-IP", "10.9.9.9"))
        .body(form(&[
            ("username", "admin"),
            ("password", &app.admin_password),
            ("csrf_token", &csrf),
        ]))
        .dispatch();
    assert_eq!(response.status(), Status::TooManyRequests);
}
