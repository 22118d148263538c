//! Hostile input, generated: random and malformed bodies, form fields, query strings,
//! path ids and headers thrown at every route (enumerated from the router), as every
//! role, by API key and by browser session. Never a 500 (a panic in a handler is a
//! 500 too), and a refused request (4xx/5xx, or a form's redirect with an error flash
//! or to the sign-in page) never changes the database.
//!
//! Cases: `HOSTILE_CASES` (default 3000), seeded by proptest; a failure prints the
//! smallest case it shrank to.

use crate::common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use rocket::http::{ContentType, Header, Method, Status};
use serde_json::{json, Value};

pub(super) const ROLES: &[&str] = &[
    "System Administrator",
    "System Manager",
    "Project Lead",
    "Project Deployer",
    "Viewer",
];

/// Bookkeeping the server writes on any request (sessions seen, throttling, heartbeats,
/// the system-task timer): not a "change" a refused request could make.
pub(super) const BOOKKEEPING: &[&str] = &["sessions", "login_failures", "nodes", "system_tasks"];

/// Routes whose whole job is bookkeeping (sign-in records failures, sign-out ends a
/// session); they are fuzzed for 500s, not for "no change".
const BOOKKEEPING_ROUTES: &[&str] = &["/login", "/logout"];

const JSON_FIELDS: &[&str] = &[
    "Name",
    "Username",
    "Password",
    "Roles",
    "DisplayName",
    "IsActive",
    "ReleaseId",
    "EnvironmentId",
    "ProjectId",
    "Version",
    "ReleaseNotes",
    "DeploymentScript",
    "ScriptTimeoutSeconds",
    "Description",
    "QueueTime",
    "QueueTimeExpiry",
    "IsInMaintenanceMode",
    "Message",
    "MaxConcurrentTasks",
    "Purpose",
    "Start",
    "End",
    "Id",
    "ProjectName",
    "ReleaseVersion",
    "EnvironmentNames",
    "RunAt",
    "NoRunAfter",
    "IgnoreIfAlreadyExists",
    "ProjectGroupId",
    "LifecycleId",
    "spaceIdOrName",
    "ProjectEnvironmentScope",
    "Variables",
    "Value",
    "Type",
    "IsSensitive",
    "Scope",
    "Prompt",
    "FormValues",
    "IncludedLibraryVariableSetIds",
    "RecurringSchedule",
    "DaysOfWeek",
    "TimeZone",
    "OnStartInFreeze",
    "FreezeIds",
    "Reason",
    "CreateDeploymentCommand",
];

const FORM_FIELDS: &[&str] = &[
    "name",
    "description",
    "deployment_script",
    "script_timeout_secs",
    "username",
    "password",
    "new_password",
    "current_password",
    "display_name",
    "roles",
    "active",
    "environment",
    "when",
    "start",
    "end",
    "expiry",
    "message",
    "on",
    "interval_secs",
    "task_cap",
    "draining",
    "purpose",
    "version",
    "notes",
    "next",
    "variable",
    "value",
    "secret_password",
    "sensitive",
    "environments",
    "prompt",
    "prompt_label",
    "prompt_required",
    "prompted[x]",
    "secret_password[x]",
];

/// Who sends the request.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    /// An API key of the user with this index (`keys`).
    Key(usize),
    /// A browser session with its CSRF token (index into `sessions`).
    Session(usize),
    /// The same session without the token.
    SessionNoCsrf(usize),
    /// A made-up API key.
    BadKey,
}

#[derive(Debug, Clone)]
enum Body {
    /// The route's valid body (see [`template`]) with one field replaced (`Some`) or
    /// removed (`None`), or left whole: past parsing, into the handler's own checks.
    Mutated(usize, Option<Option<Value>>),
    None,
    Bytes(Vec<u8>),
    Text(String),
    Json(Value),
    Form(Vec<(String, String)>),
}

#[derive(Debug, Clone)]
struct Case {
    route: usize,
    caller: Caller,
    ids: Vec<String>,
    query: String,
    body: Body,
    content_type: usize,
    origin: usize,
}

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=zzz"),
    Some("application/json; charset=latin1"),
    Some("\u{1}garbage/\u{7f}"),
];

const ORIGINS: &[Option<&str>] = &[None, None, Some("http://attacker.example"), Some("null")];

fn id_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_string()),
        Just("2".to_string()),
        Just("Users-1".to_string()),
        Just("Users-2".to_string()),
        Just("Projects-1".to_string()),
        Just("Environments-1".to_string()),
        Just("Releases-1".to_string()),
        Just("Deployments-1".to_string()),
        Just("ServerTasks-1".to_string()),
        Just("MaintenanceWindows-1".to_string()),
        Just("variableset-Projects-1".to_string()),
        Just("variableset-LibraryVariableSets-1".to_string()),
        Just("LibraryVariableSets-1".to_string()),
        Just("Interruptions-1".to_string()),
        Just("ApprovalRules-1".to_string()),
        Just("Subscriptions-1".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("Users-99999999999999999999".to_string()),
        Just("%00".to_string()),
        Just("..%2F..%2Fetc%2Fpasswd".to_string()),
        Just("%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string()),
        Just("%F0%9F%92%A3".to_string()),
        Just("%FF%FE".to_string()),
        "[A-Za-z0-9._~-]{1,40}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("?skip=-1".to_string()),
        Just("?take=100000000".to_string()),
        Just("?skip=abc&take=%FF".to_string()),
        Just("?states=Nope,Executing".to_string()),
        Just("?state=%3Cb%3E&page=-5".to_string()),
        Just("?take=1&skip=99999999999999999999".to_string()),
        Just("?next=https://attacker.example/".to_string()),
        Just("?project=Projects-1&node=%00".to_string()),
        "\\?[a-z]{1,8}=[A-Za-z0-9%._-]{0,30}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,30}".prop_map(Value::from),
        Just(json!("Projects-1")),
        Just(json!("Releases-1")),
        Just(json!("Environments-1")),
        Just(json!("2030-01-01T00:00:00Z")),
        Just(json!("<script>alert(1)</script>")),
        Just(json!("a long enough password")),
        Just(json!(["System Administrator"])),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        let key = prop_oneof![
            proptest::sample::select(JSON_FIELDS).prop_map(str::to_string),
            "[A-Za-z]{1,10}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..8)
                .prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid JSON body for each API route that takes one.
fn template(method: Method, pattern: &str) -> Option<Value> {
    Some(match (method, pattern) {
        (Method::Post, "/api/environments") | (Method::Put, "/api/environments/<id>") => {
            json!({"Name": "Env", "Description": "d"})
        }
        (Method::Put, "/api/maintenanceconfiguration") => {
            json!({"Id": "maintenance", "IsInMaintenanceMode": false, "Message": "m"})
        }
        (Method::Post, "/api/maintenancewindows") => json!({
            "Start": "2099-01-01T00:00:00Z", "End": "2099-01-02T00:00:00Z", "Message": "w"
        }),
        (Method::Put, "/api/octopusservernodes/<id>") => {
            json!({"IsInMaintenanceMode": false, "MaxConcurrentTasks": 5})
        }
        (Method::Post, "/api/projects") | (Method::Put, "/api/projects/<id>") => json!({
            "Name": "Proj", "Description": "d", "DeploymentScript": "true", "ScriptTimeoutSeconds": 60,
            "ApprovalRules": [{"EnvironmentIds": ["Environments-1"], "RoleNames": ["Project Lead"],
                               "UserIds": ["Users-1"], "NotByRequester": true, "NoteRequired": false}]
        }),
        (Method::Post, "/api/subscriptions") | (Method::Put, "/api/subscriptions/<id>") => json!({
            "Name": "Sub", "Type": "Event", "IsDisabled": false,
            "EventNotificationSubscription": {
                "Filter": {"Projects": ["Projects-1"], "EventGroups": ["Deployment"]},
                "WebhookURI": "http://127.0.0.1:9/hook", "WebhookTimeout": "00:00:02",
                "WebhookSecret": "s", "WebhookHeaderKey": "X-A", "WebhookHeaderValue": "b",
                "PayloadFormat": "Slack"
            }
        }),
        (Method::Post, "/api/interruptions/<id>/submit") => {
            json!({"Result": "Proceed", "Notes": "n", "Instructions": null})
        }
        (Method::Post, "/api/releases") => {
            json!({"ProjectId": "Projects-1", "Version": "9.9", "ReleaseNotes": "n"})
        }
        (Method::Post, "/api/deployments") => {
            json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})
        }
        (Method::Post, "/api/releases/create/v1") => {
            json!({"ProjectName": "Projects-1", "ReleaseVersion": "9.8", "spaceIdOrName": "Spaces-1"})
        }
        (Method::Post, "/api/deployments/create/untenanted/v1") => json!({
            "ProjectName": "Projects-1", "ReleaseVersion": "1", "EnvironmentNames": ["Environments-1"]
        }),
        (Method::Put, "/api/environments/sortorder") => json!(["Environments-1"]),
        (Method::Post, "/api/deploymentfreezes") | (Method::Put, "/api/deploymentfreezes/<id>") => {
            json!({
                "Name": "Freeze", "Start": "2099-01-01T00:00:00Z", "End": "2099-01-02T00:00:00+02:00",
                "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
                "RecurringSchedule": {"Type": "Weekly", "DaysOfWeek": ["Friday"], "EndType": "AfterOccurrences", "EndAfterOccurrences": 3},
                "TimeZone": "Europe/Berlin", "OnStartInFreeze": "Hold"
            })
        }
        (Method::Post, "/api/deployments/override") => json!({
            "CreateDeploymentCommand": {"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"},
            "FreezeIds": ["DeploymentFreezes-1"], "Reason": "r"
        }),
        (Method::Post, "/api/tasks") => json!({"Name": "SessionCleanup"}),
        (Method::Post, "/api/users") => json!({
            "Username": "newuser", "Password": "a long enough password",
            "Roles": ["Viewer"], "DisplayName": "N"
        }),
        (Method::Put, "/api/users/<id>") => {
            json!({"DisplayName": "N", "Roles": ["Viewer"], "IsActive": true})
        }
        (Method::Post, "/api/users/<id>/apikeys") => json!({"Purpose": "p"}),
        (Method::Put, "/api/variables/<id>") => json!({"Version": 0, "Variables": [
            {"Name": "Db", "Value": "v", "Scope": {"Environment": ["Environments-1"]}},
            {"Name": "Token", "Value": "s3cret", "Type": "Sensitive", "Prompt": {"Label": "T", "Required": false}}
        ]}),
        (Method::Post, "/api/libraryvariablesets")
        | (Method::Put, "/api/libraryvariablesets/<id>") => {
            json!({"Name": "Lib", "Description": "d", "ContentType": "Variables"})
        }
        _ => return None,
    })
}

fn body() -> impl Strategy<Value = Body> {
    let form_value = prop_oneof![
        ".{0,40}",
        Just("1".to_string()),
        Just("-1".to_string()),
        Just("on".to_string()),
        Just("System Administrator".to_string()),
        Just("2030-01-01T00:00".to_string()),
        Just("<script>alert(1)</script>".to_string()),
    ];
    let field = prop_oneof![
        proptest::sample::select(FORM_FIELDS).prop_map(str::to_string),
        "[a-z_]{1,12}",
    ];
    prop_oneof![
        3 => (any::<usize>(), proptest::option::of(proptest::option::of(json_value())))
            .prop_map(|(field, change)| Body::Mutated(field, change)),
        1 => Just(Body::None),
        1 => proptest::collection::vec(any::<u8>(), 0..300).prop_map(Body::Bytes),
        1 => prop_oneof![
            Just("{".to_string()),
            Just("{\"Name\": }".to_string()),
            Just("[1,2,".to_string()),
            Just("\"just a string\"".to_string()),
            Just("{\"Name\": \"\\ud800\"}".to_string()),
            Just("{\"a\":".repeat(200)),
            ".{0,100}",
        ]
        .prop_map(Body::Text),
        1 => json_value().prop_map(Body::Json),
        2 => proptest::collection::vec((field, form_value), 0..8).prop_map(Body::Form),
    ]
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a table holds, as a refused request must leave it: its rows, or for
/// `task_counts` the sums by state (PostgreSQL keeps changes in count, which the
/// queue's round folds together without changing a sum).
pub(super) fn snapshot_query(table: &str) -> String {
    if table == "task_counts" {
        "SELECT state, CAST(SUM(n) AS BIGINT) FROM task_counts GROUP BY state ORDER BY state"
            .to_string()
    } else if table == "deliveries" {
        // Raised by changes; their attempts are the sender's bookkeeping.
        "SELECT id, subscription_id, event_id FROM deliveries ORDER BY 1".to_string()
    } else {
        format!("SELECT * FROM {table} ORDER BY 1")
    }
}

/// Every table's rows, except bookkeeping: what a refused request must leave as it was.
fn fingerprint(app: &TestApp) -> Vec<(String, String)> {
    let db = app.db();
    db.tables()
        .into_iter()
        .filter(|t| !BOOKKEEPING.contains(&t.as_str()))
        .map(|t| {
            let rows: Vec<String> = db
                .rows(&snapshot_query(&t), &[])
                .iter()
                .map(|r| format!("{:?}", r.values))
                .collect();
            let rows = rows.join("\n");
            (t, rows)
        })
        .collect()
}

#[test]
fn hostile_requests_to_every_route_never_fail_with_500_or_change_anything_when_refused() {
    // A task cap the queue never fills: tasks created by accepted requests stay queued,
    // so the database changes only by requests...
    // and no system task is queued by the timer meanwhile.
    let app = TestApp::with(|c| {
        c.task_cap = 0;
        // Webhooks to 127.0.0.1:9 (the discard port: refused at once).
        c.webhook_allow_private = true;
        c.retention_interval_secs = Some(0);
        c.backup_interval_secs = Some(0);
        c.session_cleanup_interval_secs = Some(0);
        c.node_health_interval_secs = Some(0);
    });
    let mut keys = Vec::new();
    for (i, role) in ROLES.iter().enumerate() {
        keys.push(app.user_with_key(&format!("role{i}"), &[role]));
    }
    keys.push(app.user_with_key("nobody", &[]));
    let admin_key = keys[0].clone();
    let seed_client = app.client();
    project_env_release(&seed_client, &admin_key, "echo hi");
    let (status, _) = json_of(with_key(
        &seed_client,
        Method::Post,
        "/api/deployments",
        &admin_key,
        Some(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})),
    ));
    assert_eq!(status, Status::Created);
    // A freeze for the routes that edit, delete or override one.
    let (status, _) = json_of(with_key(
        &seed_client,
        Method::Post,
        "/api/deploymentfreezes",
        &admin_key,
        template(Method::Post, "/api/deploymentfreezes"),
    ));
    assert_eq!(status, Status::Created);
    let (status, _) = json_of(with_key(
        &seed_client,
        Method::Post,
        "/api/libraryvariablesets",
        &admin_key,
        template(Method::Post, "/api/libraryvariablesets"),
    ));
    assert_eq!(status, Status::Created);
    // A rule, and a deployment waiting under it (Interruptions-1).
    let (status, _) = json_of(with_key(
        &seed_client,
        Method::Put,
        "/api/projects/Projects-1",
        &admin_key,
        Some(json!({"Name": "P", "ApprovalRules": [{"RoleNames": ["Project Lead"]}]})),
    ));
    assert_eq!(status, Status::Ok);
    let (status, _) = json_of(with_key(
        &seed_client,
        Method::Post,
        "/api/deployments",
        &admin_key,
        Some(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})),
    ));
    assert_eq!(status, Status::Created);
    // A subscription (Subscriptions-1) for the routes that edit, test or delete one.
    let (status, _) = json_of(with_key(
        &seed_client,
        Method::Post,
        "/api/subscriptions",
        &admin_key,
        template(Method::Post, "/api/subscriptions"),
    ));
    assert_eq!(status, Status::Created);
    // A browser session for every role, and for a user without one.
    let mut sessions = vec![app.admin()];
    for i in 0..ROLES.len() {
        sessions.push(app.session(&format!("role{i}"), PASSWORD));
    }
    sessions.push(app.session("nobody", PASSWORD));
    let anonymous = app.client();

    let routes: Vec<(Method, String)> = anonymous
        .rocket()
        .routes()
        .map(|r| (r.method, r.uri.path().to_string()))
        .collect();
    assert!(routes.len() > 50, "found only {}", routes.len());
    let templated: Vec<usize> = (0..routes.len())
        .filter(|&i| template(routes[i].0, &routes[i].1).is_some())
        .collect();
    assert_eq!(
        templated.len(),
        25,
        "a body template for every API route with a body"
    );

    let case = (
        0..routes.len(),
        prop_oneof![
            Just(Caller::Anonymous),
            (0..keys.len()).prop_map(Caller::Key),
            (0..sessions.len()).prop_map(Caller::Session),
            (0..sessions.len()).prop_map(Caller::SessionNoCsrf),
            Just(Caller::BadKey),
        ],
        proptest::collection::vec(id_value(), 3),
        query(),
        body(),
        0..CONTENT_TYPES.len(),
        0..ORIGINS.len(),
    )
        .prop_map(
            |(route, caller, ids, query, body, content_type, origin)| Case {
                route,
                caller,
                ids,
                query,
                body,
                content_type,
                origin,
            },
        );

    let cases = std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let mut runner = TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        ..PropConfig::default()
    });
    let statuses: std::cell::RefCell<BTreeMap<u16, usize>> = Default::default();
    let redirect_refusals = std::cell::RefCell::new(0usize);
    let result = runner.run(&case, |case| {
        // A mutated valid body goes to a route that takes one.
        let route = match case.body {
            Body::Mutated(..) => templated[case.route % templated.len()],
            _ => case.route,
        };
        let (method, pattern) = &routes[route];
        let mut ids = case.ids.iter();
        let path: String = pattern
            .split('/')
            .map(|segment| {
                if segment.starts_with('<') {
                    ids.next().cloned().unwrap_or_default()
                } else {
                    segment.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let uri = format!("{path}{}", case.query);
        let client = match case.caller {
            Caller::Session(i) | Caller::SessionNoCsrf(i) => &sessions[i].client,
            _ => &anonymous,
        };
        let mut req = client.req(*method, uri.clone());
        match case.caller {
            Caller::Key(i) => req = req.header(Header::new("X-Octopus-ApiKey", keys[i].clone())),
            Caller::BadKey => {
                req = req.header(Header::new(
                    "X-Octopus-ApiKey",
                    "API-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                ))
            }
            Caller::Session(i) => {
                req = req.header(Header::new("X-CSRF-Token", sessions[i].csrf.clone()))
            }
            _ => {}
        }
        if matches!(case.body, Body::Mutated(..)) {
            req = req.header(ContentType::JSON);
        } else if let Some(ct) = CONTENT_TYPES[case.content_type] {
            req = req.header(Header::new("Content-Type", ct));
        }
        if let Some(origin) = ORIGINS[case.origin] {
            req = req.header(Header::new("Origin", origin));
        }
        let body: Vec<u8> = match &case.body {
            Body::Mutated(field, change) => match template(*method, pattern) {
                Some(Value::Object(mut fields)) => {
                    let keys: Vec<String> = fields.keys().cloned().collect();
                    let key = &keys[field % keys.len()];
                    match change {
                        Some(Some(value)) => {
                            fields.insert(key.clone(), value.clone());
                        }
                        Some(None) => {
                            fields.remove(key);
                        }
                        None => {}
                    }
                    Value::Object(fields).to_string().into_bytes()
                }
                _ => Vec::new(),
            },
            Body::None => Vec::new(),
            Body::Bytes(b) => b.clone(),
            Body::Text(t) => t.clone().into_bytes(),
            Body::Json(v) => v.to_string().into_bytes(),
            Body::Form(fields) => {
                let mut pairs: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                    .collect();
                if let Caller::Session(i) = case.caller {
                    pairs.push(format!("csrf_token={}", encode(&sessions[i].csrf)));
                }
                pairs.join("&").into_bytes()
            }
        };
        if matches!(case.body, Body::Form(_)) && CONTENT_TYPES[case.content_type].is_none() {
            req = req.header(ContentType::Form);
        }
        let before = fingerprint(&app);
        let response = req.body(body).dispatch();
        let status = response.status();
        // A form refused by validation or sign-in redirects: with an error flash, or to
        // the sign-in page.
        let redirected_refusal = status == Status::SeeOther
            && (response
                .headers()
                .get_one("Location")
                .is_some_and(|l| l.starts_with("/login"))
                || response
                    .headers()
                    .get("Set-Cookie")
                    .any(|c| c.starts_with("_flash=5error")));
        drop(response);
        if redirected_refusal {
            *redirect_refusals.borrow_mut() += 1;
        }
        *statuses.borrow_mut().entry(status.code).or_default() += 1;
        prop_assert!(
            status.code < 500 || status == Status::ServiceUnavailable,
            "{method} {uri} as {:?}: {status}",
            case.caller
        );
        let refused = status.code >= 400 || redirected_refusal;
        if refused && !BOOKKEEPING_ROUTES.contains(&pattern.as_str()) {
            let after = fingerprint(&app);
            let changed: Vec<&String> = before
                .iter()
                .zip(&after)
                .filter(|(b, a)| b != a)
                .map(|(b, _)| &b.0)
                .collect();
            prop_assert!(
                before == after,
                "{method} {uri} as {:?} was refused ({status}) but changed {changed:?}",
                case.caller
            );
        }
        Ok::<(), TestCaseError>(())
    });
    let statuses = statuses.into_inner();
    let redirect_refusals = redirect_refusals.into_inner();
    let report = format!(
        "hostile: {cases} cases over {} routes; statuses {statuses:?}; {redirect_refusals} refusals by redirect",
        routes.len()
    );
    println!("{report}");
    // scripts/test.sh prints the reports at the end of the run.
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(if pg::suite_on_postgres() {
            "report-hostile-postgres.txt"
        } else {
            "report-hostile.txt"
        }),
        format!("{report}\n"),
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // The fuzz reached past the guards: some requests were accepted, some refused.
    assert!(
        statuses.keys().any(|s| (200..300).contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.keys().any(|s| (400..500).contains(s)),
        "{statuses:?}"
    );
}
