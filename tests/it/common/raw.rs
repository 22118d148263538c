//! Raw HTTP against the real binary, as an attacker writes it: requests whose bodies
//! are held back, browser sign-in with cookies, the session's CSRF token.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::hidden_value;
use super::server::Server;

/// An HTTP/1.1 response read off a socket.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let value = l
                .strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))?;
            let pair = value.split(';').next()?;
            let (n, v) = pair.split_once('=')?;
            (n == name).then(|| v.to_string())
        })
    }
}

/// A request whose headers (and the first `sent` bytes of its body) have been written,
/// with the rest held back.
pub struct Held {
    stream: TcpStream,
    rest: Vec<u8>,
}

pub fn hold(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    sent: usize,
) -> Held {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..sent]).unwrap();
    stream.flush().unwrap();
    Held {
        stream,
        rest: body[sent..].to_vec(),
    }
}

impl Held {
    /// Sends the rest of the body and reads the answer.
    pub fn finish(mut self) -> Response {
        // The server may have answered (and closed) already, e.g. when a guard refused.
        let _ = self.stream.write_all(&self.rest);
        read_response(self.stream)
    }

    /// Reads the answer without sending the rest.
    pub fn answer(self) -> Response {
        read_response(self.stream)
    }
}

fn read_response(mut stream: TcpStream) -> Response {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

pub fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    hold(port, method, path, headers, body.as_bytes(), body.len()).finish()
}

/// A browser session on the real server: its cookie and CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub token: String,
}

pub fn sign_in(port: u16, username: &str, password: &str) -> Browser {
    let form = login_form(port);
    let signed = post_login(port, &form, username, password, "");
    assert_eq!(signed.status, 303, "{}{}", signed.head, signed.body);
    let token = signed.cookie("drydock_session").expect("a session cookie");
    let cookie = format!("drydock_session={token}");
    let home = send(port, "GET", "/profile", &[("Cookie", &cookie)], "");
    let csrf = hidden_value(&home.body, "csrf_token").expect("the session's CSRF token");
    Browser {
        cookie,
        csrf,
        token,
    }
}

pub fn db(dir: &Path) -> super::db::Db {
    let db = super::db::Db::for_dir(dir);
    if let super::db::Db::Sqlite(c) = &db {
        c.busy_timeout(Duration::from_secs(10)).unwrap();
    }
    db
}

pub fn last_seen(dir: &Path, token_hash: &str) -> i64 {
    db(dir).one(
        "SELECT last_seen_at FROM sessions WHERE token_hash = ?1",
        &[&token_hash],
    )
}

/// Starts `method path` with `body` as `browser`, holding back its last bytes, and
/// returns once the server's guards have resolved the caller: the session was set back
/// two minutes, so resolving it touches it again, which the test can see.
pub fn hold_past_the_guards(
    server: &Server,
    dir: &Path,
    browser: &Browser,
    method: &str,
    path: &str,
    body: &Value,
) -> Held {
    let hash = drydock::tokens::sha256_hex(&browser.token);
    db(dir).exec(
        "UPDATE sessions SET last_seen_at = last_seen_at - 120000 WHERE token_hash = ?1",
        &[&hash],
    );
    let before = last_seen(dir, &hash);
    let body = body.to_string();
    let held = hold(
        server.port,
        method,
        path,
        &[
            ("Cookie", &browser.cookie),
            ("X-CSRF-Token", &browser.csrf),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
        body.len() - 1,
    );
    super::poll_until(20, &format!("the guards never ran for {path}"), || {
        last_seen(dir, &hash) != before
    });
    held
}

/// A sign-in form ready to post: its cookie and form token.
pub fn login_form(port: u16) -> (String, String) {
    let page = send(port, "GET", "/login", &[], "");
    let cookie = page.cookie("drydock_login_csrf").expect("a sign-in cookie");
    let token = hidden_value(&page.body, "csrf_token").expect("a form token");
    (format!("drydock_login_csrf={cookie}"), token)
}

/// Posts the sign-in `form` (from [`login_form`]) with these credentials; `extra` is
/// appended to the body as it is (e.g. `&next=...`).
pub fn post_login(
    port: u16,
    form: &(String, String),
    username: &str,
    password: &str,
    extra: &str,
) -> Response {
    let body = super::form(&[
        ("username", username),
        ("password", password),
        ("csrf_token", &form.1),
    ]) + extra;
    send(
        port,
        "POST",
        "/login",
        &[
            ("Cookie", &form.0),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &body,
    )
}

/// Signs in as `username` once per password, all posted at the same moment (each from
/// its own fetched form); the statuses, in the order of `passwords`.
pub fn simultaneous_sign_ins(port: u16, username: &str, passwords: Vec<String>) -> Vec<u16> {
    simultaneous_sign_in_answers(port, username, passwords)
        .into_iter()
        .map(|r| r.status)
        .collect()
}

/// [`simultaneous_sign_ins`], with the whole answers.
pub fn simultaneous_sign_in_answers(
    port: u16,
    username: &str,
    passwords: Vec<String>,
) -> Vec<Response> {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(passwords.len()));
    let handles: Vec<_> = passwords
        .into_iter()
        .map(|password| {
            let form = login_form(port);
            let barrier = barrier.clone();
            let username = username.to_string();
            std::thread::spawn(move || {
                barrier.wait();
                post_login(port, &form, &username, &password, "")
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}
