//! The JSON API and pages: permissions, bad input, catchers, headers, audit.

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

#[test]
fn only_administrators_make_or_change_administrators() {
    let app = TestApp::new();
    let manager = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let (status, json) = json_of(with_key(
        &client,
        Method::Post,
        "/api/users",
        &manager,
        Some(
            json!({"Username": "sneaky", "Password": PASSWORD, "Roles": ["System Administrator"]}),
        ),
    ));
    assert_eq!(status, Status::Forbidden, "{json}");
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        "/api/users/Users-2",
        &manager,
        Some(json!({"Roles": ["System Administrator"]})),
    ));
    assert_eq!(status, Status::Forbidden, "cannot promote itself");
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        "/api/users/Users-1",
        &manager,
        Some(json!({"IsActive": false})),
    ));
    assert_eq!(status, Status::Forbidden, "cannot touch the admin");
    let (status, _) = json_of(with_key(
        &client,
        Method::Post,
        "/api/users/Users-1/apikeys",
        &manager,
        Some(json!({"Purpose": "steal"})),
    ));
    assert_eq!(status, Status::Forbidden, "cannot mint keys for others");

    // The last administrator cannot be removed.
    let admin = app.admin();
    let (status, json) = admin.send_json(
        Method::Put,
        "/api/users/Users-1",
        json!({"IsActive": false}),
    );
    assert_eq!(status, Status::Conflict, "{json}");
    let (status, _) = admin.send_json(
        Method::Put,
        "/api/users/Users-1",
        json!({"Roles": ["Viewer"]}),
    );
    assert_eq!(status, Status::Conflict);
    assert_eq!(
        app.count("user_roles WHERE role = 'System Administrator'"),
        1
    );
}

#[test]
fn changes_and_logins_are_audited_and_listed_newest_first() {
    let app = TestApp::new();
    let client = app.client();
    assert_eq!(
        login(&client, "admin", "wrong password!!").status(),
        Status::Unauthorized
    );
    let key = app.user_with_key("dana", &["Viewer"]);
    let admin = app.admin();
    admin.send_json(
        Method::Put,
        "/api/users/Users-2",
        json!({"Roles": ["Project Deployer"], "Password": "another long password"}),
    );
    let (status, page) = admin.get_json("/api/events?take=100");
    assert_eq!(status, Status::Ok);
    assert_eq!(page["ItemType"], "Event");
    let items = page["Items"].as_array().unwrap();
    assert_eq!(page["TotalResults"].as_i64().unwrap() as usize, items.len());
    let categories: Vec<&str> = items
        .iter()
        .map(|e| e["Category"].as_str().unwrap())
        .collect();
    for expected in [
        "UserCreated",
        "LoginFailed",
        "LoginSucceeded",
        "ApiKeyCreated",
        "UserRolesChanged",
        "UserPasswordChanged",
    ] {
        assert!(
            categories.contains(&expected),
            "{expected} missing from {categories:?}"
        );
    }
    let ids: Vec<i64> = items
        .iter()
        .map(|e| {
            e["Id"]
                .as_str()
                .unwrap()
                .trim_start_matches("Events-")
                .parse()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let created = items
        .iter()
        .find(|e| e["Category"] == "UserCreated" && e["Message"].as_str().unwrap().contains("dana"))
        .unwrap();
    assert_eq!(created["Username"], "admin");
    assert_eq!(created["IdentityEstablishedWith"], "Session cookie");
    assert_eq!(created["RelatedDocumentIds"], json!(["Users-2"]));
    assert!(created["Occurred"].as_str().unwrap().ends_with("+00:00"));
    // Paging.
    let (_, first) = admin.get_json("/api/events?skip=0&take=2");
    assert_eq!(first["Items"].as_array().unwrap().len(), 2);
    assert_eq!(first["ItemsPerPage"], 2);
    assert!(first["NumberOfPages"].as_i64().unwrap() >= 4);
    // Viewers cannot read it; the page shows escaped messages.
    let viewer = with_key(&client, Method::Get, "/api/events", &key, None);
    assert_eq!(viewer.status(), Status::Forbidden);
    let html = admin
        .client
        .get("/configuration/audit")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("UserRolesChanged"));
}

#[test]
fn markup_in_names_is_escaped_on_pages() {
    let app = TestApp::new();
    let admin = app.admin();
    let (status, _) = admin.post_json(
        "/api/users",
        json!({"Username": "xss", "DisplayName": "<script>alert(1)</script>", "Password": PASSWORD}),
    );
    assert_eq!(status, Status::Created);
    let html = admin
        .client
        .get("/configuration/users")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
}

#[test]
fn users_page_creates_and_edits_users_with_flash_messages() {
    let app = TestApp::new();
    let admin = app.admin();
    let response = admin.post_form(
        "/configuration/users",
        &[
            ("username", "erin"),
            ("display_name", "Erin"),
            ("password", PASSWORD),
            ("roles", "Project Lead"),
            ("roles", "Viewer"),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    let location = response.headers().get_one("Location").unwrap().to_string();
    drop(response);
    let html = admin
        .client
        .get(location.clone())
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("Created user erin."), "{html}");
    assert!(html.contains("value=\"Project Lead\" checked"));

    // Deactivate and change roles.
    let response = admin.post_form(
        &location,
        &[("display_name", "Erin E."), ("roles", "Viewer")],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let (_, user) = admin.get_json("/api/users/Users-2");
    assert_eq!(user["IsActive"], false);
    assert_eq!(user["Roles"], json!(["Viewer"]));
    assert_eq!(user["DisplayName"], "Erin E.");

    // Bad input comes back as the form again (400) with the problem under its field and
    // what was typed, and changes nothing.
    let response = admin.post_form(
        "/configuration/users",
        &[
            ("username", "x"),
            ("display_name", ""),
            ("password", "short"),
        ],
    );
    assert_eq!(response.status(), Status::BadRequest);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("Password must be at least 12 characters"),
        "{html}"
    );
    assert!(html.contains("value=\"x\""), "{html}");
    assert!(
        html.contains("aria-describedby=\"password-error\""),
        "{html}"
    );
    assert_eq!(app.count("users"), 2);
}

#[test]
fn profile_creates_shows_once_and_revokes_api_keys() {
    let app = TestApp::new();
    app.user_with_key("dana", &["Viewer"]);
    let dana = app.session("dana", PASSWORD);
    let response = dana.post_form("/profile/apikeys", &[("purpose", "deploy bot")]);
    assert_eq!(response.status(), Status::Ok);
    let html = response.into_string().unwrap();
    let start = html.find("API-").unwrap();
    let key = html[start..start + 36].to_string();
    let client = app.client();
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Ok
    );
    let profile = dana
        .client
        .get("/profile")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(profile.contains("deploy bot") && !profile.contains(&key));
    let id: i64 = app
        .db()
        .one("SELECT id FROM api_keys WHERE purpose = 'deploy bot'", &[]);
    // Someone else cannot revoke it.
    let admin = app.admin();
    let other = admin.post_form(&format!("/profile/apikeys/{id}/revoke"), &[]);
    assert_eq!(other.status(), Status::SeeOther);
    drop(other);
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Ok
    );
    let revoke = dana.post_form(&format!("/profile/apikeys/{id}/revoke"), &[]);
    assert_eq!(revoke.status(), Status::SeeOther);
    drop(revoke);
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Unauthorized
    );
}

#[test]
fn every_static_asset_the_pages_use_is_served() {
    let app = TestApp::new();
    let client = app.client();
    let templates = std::fs::read_dir("templates")
        .unwrap()
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                std::fs::read_dir(e.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path())
                    .collect::<Vec<_>>()
            } else {
                vec![e.path()]
            }
        });
    let mut assets = std::collections::BTreeSet::new();
    for path in templates {
        let text = std::fs::read_to_string(path).unwrap();
        for part in text.split("\"/static/").skip(1) {
            assets.insert(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        let response = client.get(format!("/static/{asset}")).dispatch();
        assert_eq!(response.status(), Status::Ok, "/static/{asset}");
    }
}

#[test]
fn configuration_forms_come_back_with_the_refused_value_under_its_field() {
    let app = TestApp::new();
    let admin = app.admin();
    let node = app
        .client()
        .rocket()
        .state::<drydock::App>()
        .unwrap()
        .config
        .node_name
        .clone();
    let html_of = |response: rocket::local::blocking::LocalResponse<'_>| {
        assert_eq!(response.status(), Status::BadRequest);
        response.into_string().unwrap()
    };
    let html = html_of(admin.post_form(
        &format!("/configuration/nodes/{node}/task-cap"),
        &[("task_cap", "lots")],
    ));
    assert!(html.contains("value=\"lots\""), "{html}");
    assert!(
        html.contains("Task cap: &#39;lots&#39; is not a number"),
        "{html}"
    );
    assert!(html.contains("aria-invalid=\"true\""), "{html}");

    let html = html_of(admin.post_form(
        "/configuration/system-tasks/Backup/interval",
        &[("interval_secs", "-5")],
    ));
    assert!(html.contains("value=\"-5\""), "{html}");
    assert!(html.contains("Interval (seconds)"), "{html}");

    let html = html_of(admin.post_form(
        "/configuration/maintenance/windows",
        &[("start", "soon"), ("end", ""), ("message", "kept message")],
    ));
    assert!(html.contains("2 problems to fix"), "{html}");
    assert!(html.contains("value=\"kept message\""), "{html}");
    assert!(html.contains("id=\"start-error\""), "{html}");
    assert!(html.contains("id=\"end-error\""), "{html}");

    let html = html_of(admin.post_form("/profile/apikeys", &[("purpose", "  ")]));
    assert!(html.contains("Purpose is required"), "{html}");
    assert_eq!(app.count("maintenance_windows"), 0);
}

/// The search box and the stamp pages poll show only what the caller may see: a user
/// without roles finds no project, release or task, and the stamp is a digest that says
/// nothing of the queue.
#[test]
fn search_and_the_refresh_stamp_show_only_what_the_caller_may_see() {
    let app = TestApp::new();
    let admin = app.user_with_key("boss", &["System Administrator"]);
    let client = app.client();
    let (project, env, release) = project_env_release(&client, &admin, "echo ok");
    let _ = (project, env.clone());
    let task = deploy(&client, &admin, &release, &env);
    wait_completed(&client, &admin, &task, 30);
    drop(client);
    app.user_with_key("nobody", &[]);
    app.user_with_key("watcher", &["Viewer"]);
    let find = |who: &str| {
        let session = app.session(who, PASSWORD);
        let response = session.client.get("/search?q=Deploy").dispatch();
        assert_eq!(response.status(), Status::Ok);
        let found_tasks = response.into_string().unwrap_or_default();
        let response = session.client.get("/search?q=P").dispatch();
        let found_projects = response.into_string().unwrap_or_default();
        let (status, stamp) = session.get_json("/live/stamp");
        assert_eq!(status, Status::Ok, "{stamp}");
        (
            found_tasks,
            found_projects,
            stamp["Stamp"].as_str().unwrap().to_string(),
        )
    };
    let (tasks, projects, stamp) = find("nobody");
    assert!(
        !tasks.contains("found-tasks"),
        "a caller without TaskView found tasks"
    );
    assert!(
        !projects.contains("found-projects"),
        "a caller without ProjectView found projects"
    );
    assert!(
        stamp.len() == 24 && stamp.bytes().all(|b| b.is_ascii_hexdigit()),
        "{stamp}"
    );
    let (tasks, projects, _) = find("watcher");
    assert!(tasks.contains("found-tasks") && tasks.contains("Deploy P release 1 to E"));
    assert!(projects.contains("found-projects"));
    // Signed out: no stamp, but the way to sign in.
    let anonymous = app.client();
    let response = anonymous.get("/live/stamp").dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    assert!(response
        .headers()
        .get_one("Location")
        .is_some_and(|l| l.starts_with("/login")));
}
