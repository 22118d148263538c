//! The JSON API and pages: the permission matrices, bad input, unknown ids, catchers
//! and headers. Accounts are `api_accounts`, the pages' own contracts `api_pages`.

use crate::common;

use common::*;
use rocket::http::{ContentType, Method, Status};
use serde_json::{json, Value};

/// A route, the permission it needs (None: any signed-in user), and a body.
struct Case {
    method: Method,
    path: &'static str,
    needs: Option<&'static str>,
    body: Option<Value>,
}

fn api_cases() -> Vec<Case> {
    let case = |method, path, needs, body| Case {
        method,
        path,
        needs,
        body,
    };
    vec![
        case(Method::Get, "/api/users/me", None, None),
        case(Method::Get, "/api/serverstatus", None, None),
        case(Method::Get, "/api/users", Some("UserView"), None),
        case(Method::Get, "/api/users/Users-2", Some("UserView"), None),
        case(Method::Get, "/api/events", Some("EventView"), None),
        case(
            Method::Post,
            "/api/users",
            Some("UserEdit"),
            Some(json!({"Password": PASSWORD, "Roles": ["Viewer"]})),
        ),
        case(
            Method::Put,
            "/api/users/Users-2",
            Some("UserEdit"),
            Some(json!({"DisplayName": "Target"})),
        ),
        case(Method::Get, "/api/projects", Some("ProjectView"), None),
        case(
            Method::Get,
            "/api/environments",
            Some("EnvironmentView"),
            None,
        ),
        case(Method::Get, "/api/releases", Some("ProjectView"), None),
        case(Method::Get, "/api/tasks", Some("TaskView"), None),
        case(Method::Get, "/api/dashboard", Some("TaskView"), None),
        case(
            Method::Post,
            "/api/environments",
            Some("EnvironmentCreate"),
            Some(json!({})),
        ),
        case(
            Method::Post,
            "/api/projects",
            Some("ProjectCreate"),
            Some(json!({"DeploymentScript": "true"})),
        ),
        case(
            Method::Get,
            "/api/deploymentfreezes?skip=0&take=5",
            None,
            None,
        ),
        // After the projects and environments above: Projects-1 and Environments-1
        // exist once the first role made them.
        case(
            Method::Post,
            "/api/deploymentfreezes",
            Some("DeploymentFreezeAdminister"),
            Some(json!({
                "Start": "2099-01-01T00:00:00Z", "End": "2099-01-02T00:00:00Z",
                "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]}
            })),
        ),
        // Another user's keys: only a System Administrator.
        case(
            Method::Post,
            "/api/users/Users-2/apikeys",
            Some("AdministerSystem"),
            Some(json!({"Purpose": "x"})),
        ),
    ]
}

const ROLES: [&str; 5] = [
    "System Administrator",
    "System Manager",
    "Project Lead",
    "Project Deployer",
    "Viewer",
];

fn permissions_of(app: &TestApp, key: &str) -> Vec<String> {
    let client = app.client();
    let (_, me) = json_of(with_key(&client, Method::Get, "/api/users/me", key, None));
    me["Permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn permission_matrix_every_role_against_every_api_route() {
    let app = TestApp::new();
    let _target = app.user_with_key("target", &["Viewer"]); // Users-2
    let mut holders: Vec<(String, String)> = Vec::new();
    for (i, role) in ROLES.iter().enumerate() {
        holders.push((
            role.to_string(),
            app.user_with_key(&format!("role{i}"), &[role]),
        ));
    }
    holders.push(("no role".into(), app.user_with_key("norole", &[])));
    let client = app.client();
    let mut n = 0;
    for (role, key) in &holders {
        let held = permissions_of(&app, key);
        for case in api_cases() {
            n += 1;
            let body = case.body.clone().map(|mut b| {
                if case.path == "/api/users" {
                    b["Username"] = json!(format!("new{n}"));
                } else if b.is_object()
                    && case.method == Method::Post
                    && case.path != "/api/users/Users-2/apikeys"
                {
                    b["Name"] = json!(format!("thing{n}"));
                }
                b
            });
            let response = with_key(&client, case.method, case.path, key, body);
            let status = response.status();
            let allowed = case.needs.is_none_or(|p| held.iter().any(|h| h == p));
            let (_, json) = json_of(response);
            if allowed {
                assert!(
                    status.code < 400,
                    "{role} should be allowed {} {}: got {status} {json}",
                    case.method,
                    case.path
                );
            } else {
                assert_eq!(
                    status,
                    Status::Forbidden,
                    "{role} on {} {}: {json}",
                    case.method,
                    case.path
                );
                let message = json["ErrorMessage"].as_str().unwrap();
                assert!(message.contains(case.needs.unwrap()), "{message}");
            }
        }
    }
}

#[test]
fn permission_matrix_pages() {
    let app = TestApp::new();
    let mut n = 0;
    for (i, role) in ROLES.iter().enumerate() {
        let name = format!("page{i}");
        app.user_with_key(&name, &[role]);
        let session = app.session(&name, PASSWORD);
        let (_, me) = session.get_json("/api/users/me");
        let held: Vec<&str> = me["Permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        for (path, needs) in [
            ("/", None),
            ("/profile", None),
            ("/configuration/users", Some("UserView")),
            ("/configuration/users/1", Some("UserView")),
            ("/configuration/audit", Some("EventView")),
            ("/projects", Some("ProjectView")),
            ("/environments", Some("EnvironmentView")),
            ("/tasks", Some("TaskView")),
        ] {
            let status = session.client.get(path).dispatch().status();
            let allowed = needs.is_none_or(|p| held.contains(&p));
            assert_eq!(status == Status::Ok, allowed, "{role} GET {path}: {status}");
            if !allowed {
                assert_eq!(status, Status::Forbidden);
            }
        }
        n += 1;
        let username = format!("formuser{n}");
        let response = session.post_form(
            "/configuration/users",
            &[
                ("username", &username),
                ("display_name", "x"),
                ("password", PASSWORD),
                ("roles", "Viewer"),
            ],
        );
        let can_edit = held.contains(&"UserEdit");
        assert_eq!(
            response.status(),
            if can_edit {
                Status::SeeOther
            } else {
                Status::Forbidden
            },
            "{role}"
        );
    }
}

#[test]
fn bad_json_bodies_get_400_naming_the_problem() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let post = |body: Vec<u8>| {
        let response = client
            .post("/api/users")
            .header(ContentType::JSON)
            .header(rocket::http::Header::new("X-Octopus-ApiKey", key.clone()))
            .body(body)
            .dispatch();
        json_of(response)
    };
    let long_name = "n".repeat(65);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "not valid"),
        (b"".to_vec(), "empty"),
        (b"[1,2]".to_vec(), "invalid type"),
        (
            json!({"Username": 5, "Password": PASSWORD})
                .to_string()
                .into_bytes(),
            "invalid type",
        ),
        (
            json!({"Username": "x"}).to_string().into_bytes(),
            "missing field `Password`",
        ),
        (
            json!({"Username": "x", "Password": PASSWORD, "Roles": "Viewer"})
                .to_string()
                .into_bytes(),
            "invalid type",
        ),
        (
            json!({"Username": "x", "Password": PASSWORD, "IsActive": "yes"})
                .to_string()
                .into_bytes(),
            "invalid type",
        ),
        (vec![b'{', 0xff, 0xfe, b'}'], "UTF-8"),
        (
            json!({"Username": long_name, "Password": PASSWORD})
                .to_string()
                .into_bytes(),
            "Username",
        ),
        (
            json!({"Username": "", "Password": PASSWORD})
                .to_string()
                .into_bytes(),
            "Username",
        ),
        (
            json!({"Username": "a b<script>", "Password": PASSWORD})
                .to_string()
                .into_bytes(),
            "Username",
        ),
        (
            json!({"Username": "x", "Password": "short"})
                .to_string()
                .into_bytes(),
            "Password",
        ),
        (
            json!({"Username": "x", "Password": PASSWORD, "Roles": ["Emperor"]})
                .to_string()
                .into_bytes(),
            "Roles",
        ),
        (
            json!({"Username": "x", "Password": PASSWORD, "DisplayName": "d".repeat(201)})
                .to_string()
                .into_bytes(),
            "DisplayName",
        ),
        (
            format!("{{\"Username\": \"{}\"}}", "x".repeat(300_000)).into_bytes(),
            "limit",
        ),
    ];
    let before = app.count("users");
    for (body, expected) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
        let (status, json) = post(body);
        assert_eq!(status, Status::BadRequest, "{shown}: {json}");
        let message = json["ErrorMessage"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "{shown}: expected '{expected}' in '{message}'"
        );
        assert!(json["Errors"].is_array(), "{json}");
    }
    assert_eq!(app.count("users"), before, "bad input changes nothing");

    // A duplicate is a conflict.
    let (status, _) = post(
        json!({"Username": "dup", "Password": PASSWORD})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, Status::Created);
    let (status, json) = post(
        json!({"Username": "DUP", "Password": PASSWORD})
            .to_string()
            .into_bytes(),
    );
    assert_eq!(status, Status::Conflict, "{json}");
    assert!(json["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("already exists"));
}

#[test]
fn unknown_ids_and_bad_query_parameters() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    for path in [
        "/api/users/Users-999",
        "/api/users/garbage",
        "/api/users/Users-",
        "/api/users/Users-99999999999999999999",
    ] {
        let (status, json) = json_of(with_key(&client, Method::Get, path, &key, None));
        assert_eq!(status, Status::NotFound, "{path}: {json}");
        assert!(json["ErrorMessage"].is_string());
    }
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        "/api/users/Users-999",
        &key,
        Some(json!({"DisplayName": "x"})),
    ));
    assert_eq!(status, Status::NotFound);
    let (status, json) = json_of(with_key(
        &client,
        Method::Get,
        "/api/users?skip=abc",
        &key,
        None,
    ));
    assert_eq!(status, Status::BadRequest);
    assert!(json["ErrorMessage"].as_str().unwrap().starts_with("skip"));
    let (status, json) = json_of(with_key(
        &client,
        Method::Get,
        "/api/events?take=-5",
        &key,
        None,
    ));
    assert_eq!(status, Status::BadRequest);
    assert!(json["ErrorMessage"].as_str().unwrap().starts_with("take"));
    // Page ids that are not numbers are simply not found.
    let admin = app.admin();
    assert_eq!(
        admin
            .client
            .get("/configuration/users/abc")
            .dispatch()
            .status(),
        Status::NotFound
    );
    assert_eq!(
        admin
            .client
            .get("/configuration/users/999")
            .dispatch()
            .status(),
        Status::NotFound
    );
}

#[test]
fn catchers_answer_json_under_api_and_html_elsewhere_with_security_headers() {
    let app = TestApp::new();
    let client = app.client();
    let api = client.get("/api/nothing-here").dispatch();
    assert_eq!(api.status(), Status::NotFound);
    assert_eq!(api.content_type(), Some(ContentType::JSON));
    let page = client.get("/nothing-here").dispatch();
    assert_eq!(page.status(), Status::NotFound);
    assert_eq!(page.content_type(), Some(ContentType::HTML));
    let unauthorized_api = client.get("/api/users").dispatch();
    assert_eq!(unauthorized_api.status(), Status::Unauthorized);
    assert_eq!(unauthorized_api.content_type(), Some(ContentType::JSON));
    let unauthorized_page = client.get("/configuration/users").dispatch();
    assert_eq!(unauthorized_page.status(), Status::SeeOther);
    assert_eq!(
        unauthorized_page.headers().get_one("Location"),
        Some("/login?next=%2Fconfiguration%2Fusers")
    );
    let health = client.get("/api/health").dispatch();
    assert_eq!(health.status(), Status::Ok);
    let login = client.get("/login").dispatch();
    for response in [
        &api,
        &page,
        &unauthorized_api,
        &unauthorized_page,
        &health,
        &login,
    ] {
        let h = response.headers();
        let csp = h.get_one("Content-Security-Policy").unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(h.get_one("X-Frame-Options"), Some("DENY"));
        assert_eq!(h.get_one("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(h.get_one("Referrer-Policy"), Some("same-origin"));
    }
    let (_, json) = json_of(api);
    assert_eq!(json["Errors"], json!([]));
    assert!(json["ErrorMessage"].as_str().unwrap().contains("not found"));
}
