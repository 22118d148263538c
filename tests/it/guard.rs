//! Every mounted route that is not GET/HEAD, enumerated from the router, refuses a caller
//! who has not passed the change guard: anonymous, a signed-in browser without the CSRF
//! token, or a cross-site Origin. Nothing changes in the database. A new mutating route
//! that forgets the guard fails this test. Every API route is tried under `/api/...`
//! and under Octopus's space prefix `/api/Spaces-1/...`.

use crate::common;

use common::*;
use rocket::http::{ContentType, Header, Method, Status};

/// Routes that change something without the change guard, on purpose.
const EXEMPT: &[(&str, &str)] = &[("POST", "/login")];

#[test]
fn every_mutating_route_refuses_callers_without_the_change_guard() {
    let app = TestApp::new();
    let admin = app.admin();
    let anonymous = app.client();
    let before = app.row_counts(&[]);
    let routes: Vec<(Method, String)> = mutating_routes(&admin.client);
    assert!(
        routes
            .iter()
            .any(|(_, p)| p == "/api/Spaces-1/deployments/create/untenanted/v1"),
        "the prefixed routes are enumerated: {routes:?}"
    );
    assert!(routes.len() >= 10, "found only {routes:?}");
    let mut checked = 0;
    for (method, pattern) in &routes {
        if EXEMPT.contains(&(method.as_str(), pattern.as_str())) {
            continue;
        }
        let path = concrete(pattern, 1);
        let body =
            "csrf_token=&username=x&password=xxxxxxxxxxxxxx&purpose=x&display_name=x&Username=x";
        let json =
            r#"{"Username":"x","Password":"xxxxxxxxxxxxxx","Purpose":"x","DisplayName":"x"}"#;

        // Anonymous: 401 under /api, a redirect to sign in for pages.
        let response = anonymous
            .req(*method, path.clone())
            .header(ContentType::Form)
            .body(body)
            .dispatch();
        let status = response.status();
        let location = response.headers().get_one("Location").map(str::to_string);
        assert!(
            status == Status::Unauthorized
                || (status == Status::SeeOther
                    && location.as_deref().is_some_and(|l| l.starts_with("/login"))),
            "anonymous {method} {path}: {status} {location:?}"
        );

        // The administrator's browser session without its CSRF token: 403.
        for content in [ContentType::Form, ContentType::JSON] {
            let payload = if content == ContentType::JSON {
                json
            } else {
                body
            };
            let status = admin
                .client
                .req(*method, path.clone())
                .header(content)
                .body(payload)
                .dispatch()
                .status();
            assert_eq!(status, Status::Forbidden, "no CSRF token, {method} {path}");
        }

        // With the token but from another site: 403.
        let mut fields = format!("csrf_token={}&username=x", admin.csrf);
        fields.push_str("&password=xxxxxxxxxxxxxx&purpose=x&display_name=x");
        let status = admin
            .client
            .req(*method, path.clone())
            .header(ContentType::Form)
            .header(Header::new("Host", "127.0.0.1:8000"))
            .header(Header::new("Origin", "http://attacker.example"))
            .header(Header::new("X-CSRF-Token", admin.csrf.clone()))
            .body(fields)
            .dispatch()
            .status();
        assert_eq!(status, Status::Forbidden, "foreign Origin, {method} {path}");
        checked += 1;
    }
    assert_eq!(checked, routes.len() - EXEMPT.len());
    assert_eq!(
        app.row_counts(&[]),
        before,
        "a refused request changed the database"
    );
}
