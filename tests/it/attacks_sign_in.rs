//! What an outside attacker tried against sign-in and the pages around it (the real
//! binary on a port): simultaneous sign-ins racing the throttle, the profile's password
//! form as an oracle, every spelling of `next` after sign-in.

use crate::common;

use std::path::Path;

use common::raw::{db, login_form, post_login, send, sign_in, simultaneous_sign_ins};
use common::server::{create_user, Server};
use common::PASSWORD;
fn events(dir: &Path, category: &str) -> i64 {
    db(dir).one(
        "SELECT count(*) FROM events WHERE category = ?1",
        &[&category],
    )
}

#[test]
fn thirty_simultaneous_sign_ins_check_at_most_the_limit_of_passwords() {
    let dir = tempfile::tempdir().unwrap();
    create_user(dir.path(), "dana", "Project Deployer", PASSWORD);
    let server = Server::start(dir.path());
    // 29 wrong guesses and the right password, all posted at the same moment.
    let passwords = (0..30)
        .map(|i| {
            if i == 29 {
                PASSWORD.to_string()
            } else {
                format!("wrong guess {i}")
            }
        })
        .collect();
    let statuses = simultaneous_sign_ins(server.port, "dana", passwords);
    let checked = statuses.iter().filter(|s| **s == 401 || **s == 303).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        checked <= 5,
        "{checked} passwords were checked: {statuses:?}"
    );
    assert_eq!(checked + throttled, 30, "{statuses:?}");
    let audited = events(dir.path(), "LoginFailed") + events(dir.path(), "LoginSucceeded");
    assert_eq!(audited as usize, checked, "{statuses:?}");
}

#[test]
fn simultaneous_right_sign_ins_are_told_to_retry_at_once_not_locked_out() {
    // People behind one address (an office) signing in at the same moment: the checks
    // beyond the limit wait a second, they are not locked out for the window.
    let dir = tempfile::tempdir().unwrap();
    create_user(dir.path(), "dana", "Viewer", PASSWORD);
    let server = Server::start(dir.path());
    let answers = common::raw::simultaneous_sign_in_answers(
        server.port,
        "dana",
        (0..12).map(|_| PASSWORD.to_string()).collect(),
    );
    let signed_in = answers.iter().filter(|a| a.status == 303).count();
    assert!(signed_in >= 1, "no sign-in succeeded");
    for answer in answers.iter().filter(|a| a.status != 303) {
        assert_eq!(answer.status, 429, "{}{}", answer.head, answer.body);
        assert!(
            answer.head.to_lowercase().contains("retry-after: 1\r\n")
                || answer.head.to_lowercase().ends_with("retry-after: 1"),
            "a busy moment is not a lockout: {}",
            answer.head
        );
    }
    // And a moment later it works.
    let again = post_login(server.port, &login_form(server.port), "dana", PASSWORD, "");
    assert_eq!(again.status, 303, "{}{}", again.head, again.body);
}

#[test]
fn the_profile_password_form_is_no_password_oracle() {
    let dir = tempfile::tempdir().unwrap();
    create_user(dir.path(), "dana", "Viewer", PASSWORD);
    let server = Server::start(dir.path());
    let browser = sign_in(server.port, "dana", PASSWORD);
    let try_password = |current: &str| {
        let body = common::form(&[
            ("csrf_token", &browser.csrf),
            ("current_password", current),
            ("new_password", "an entirely new password"),
            ("confirm_password", "an entirely new password"),
        ]);
        send(
            server.port,
            "POST",
            "/profile/password",
            &[
                ("Cookie", &browser.cookie),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &body,
        )
    };
    let mut wrong_checked = 0;
    for i in 0..30 {
        let answer = try_password(&format!("guess number {i}"));
        match answer.status {
            // Checked and wrong: the profile again with the error under the field.
            400 => wrong_checked += 1,
            429 => {
                assert!(
                    answer.head.to_lowercase().contains("retry-after:"),
                    "{}",
                    answer.head
                );
            }
            other => panic!("guess {i}: {other} {}{}", answer.head, answer.body),
        }
    }
    assert_eq!(wrong_checked, 5);
    // The right password, guessed now, is refused too: the form checks nothing more.
    let answer = try_password(PASSWORD);
    assert_eq!(answer.status, 429, "{}{}", answer.head, answer.body);
    assert_eq!(events(dir.path(), "PasswordCheckFailed"), 5);
    assert_eq!(events(dir.path(), "UserPasswordChanged"), 0);
    // And the sign-in form shares the throttle: the username is locked for the window.
    let answer = post_login(server.port, &login_form(server.port), "dana", PASSWORD, "");
    assert_eq!(answer.status, 429);
}

#[test]
fn any_next_after_sign_in_is_a_safe_redirect() {
    let dir = tempfile::tempdir().unwrap();
    create_user(dir.path(), "dana", "Viewer", PASSWORD);
    let server = Server::start(dir.path());
    // Raw bytes in the query (as a hand-written client sends them) and encoded ones.
    for next in [
        "%09",
        "/tasks%09x",
        "/tasks%20x",
        "/t%C3%A4sks",
        "%E2%80%AE/evil",
        "/a%0d%0aSet-Cookie:x=1",
        "//evil.example",
        "/%zz",
        "%FF",
    ] {
        let page = send(server.port, "GET", &format!("/login?next={next}"), &[], "");
        assert_eq!(
            page.status, 200,
            "GET next={next}: {}{}",
            page.head, page.body
        );
        let answer = post_login(
            server.port,
            &login_form(server.port),
            "dana",
            PASSWORD,
            &format!("&next={next}"),
        );
        assert_eq!(
            answer.status, 303,
            "POST next={next}: {}{}",
            answer.head, answer.body
        );
        assert!(
            answer.cookie("drydock_session").is_some(),
            "next={next}: {}",
            answer.head
        );
        let location = answer
            .head
            .lines()
            .find_map(|l| {
                l.strip_prefix("location: ")
                    .or_else(|| l.strip_prefix("Location: "))
            })
            .unwrap_or_default()
            .to_string();
        assert!(
            location.starts_with('/')
                && !location.starts_with("//")
                && location.bytes().all(|b| b.is_ascii_graphic()),
            "next={next} led to {location:?}"
        );
    }
    for raw in ["/login?next=/a\tb", "/login?next=/\u{e4}"] {
        // Bytes no URI may hold: refused as a bad request, never a 500.
        let page = send(server.port, "GET", raw, &[], "");
        assert!(
            page.status == 200 || page.status == 400,
            "{raw}: {}",
            page.head
        );
    }
}
