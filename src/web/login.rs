//! Sign in and sign out.
//!
//! The sign-in form has no session yet, so its CSRF token is a double submit: a random
//! value in an encrypted cookie, echoed by the form.

use std::net::IpAddr;

use askama::Template;
use rocket::form::FromForm;
use rocket::http::{Cookie, CookieJar, SameSite, Status};
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::{render, Layout};
use crate::app::App;
use crate::auth::guards::check_origin;
use crate::auth::session::{self, LoginOutcome, SESSION_COOKIE};
use crate::auth::{Caller, SessionForm};
use crate::error::{Error, Result};
use crate::http::body::PlainForm;
use crate::tokens;

const LOGIN_CSRF_COOKIE: &str = "drydock_login_csrf";

pub fn routes() -> Vec<Route> {
    rocket::routes![login_page, login, logout]
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

/// Only local paths may follow sign-in: no `//host` or `https://` open redirects, and
/// nothing that is not a valid path and query (a tab, a space, a non-ASCII character):
/// anything else leads to `/`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic())
                && rocket::http::uri::Origin::parse(n).is_ok() =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn login_csrf(cookies: &CookieJar<'_>, secure: bool) -> String {
    if let Some(c) = cookies.get_private(LOGIN_CSRF_COOKIE) {
        return c.value().to_string();
    }
    let token = tokens::random_hex(32);
    cookies.add_private(
        Cookie::build((LOGIN_CSRF_COOKIE, token.clone()))
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .path("/"),
    );
    token
}

fn page(
    app: &App,
    cookies: &CookieJar<'_>,
    next: String,
    username: String,
    error: Option<String>,
    flash: Option<FlashMessage<'_>>,
    banner: Option<crate::maintenance::Banner>,
) -> Result<RawHtml<String>> {
    let mut layout = Layout::anonymous("Sign in", flash);
    layout.banner = banner.map(super::BannerView::from);
    render(&LoginPage {
        layout,
        csrf: login_csrf(cookies, app.config.secure_cookies),
        next,
        username,
        error,
    })
}

#[derive(rocket::Responder)]
pub enum LoginResponse {
    Page(RawHtml<String>),
    Redirect(Redirect),
    Refused((Status, RawHtml<String>)),
    Flash(Flash<Redirect>),
}

#[rocket::get("/login?<next>")]
pub async fn login_page(
    next: Option<String>,
    caller: Option<Caller>,
    app: &State<App>,
    cookies: &CookieJar<'_>,
    flash: Option<FlashMessage<'_>>,
) -> Result<LoginResponse> {
    let next = safe_next(next.as_deref());
    if caller.is_some() {
        return Ok(LoginResponse::Redirect(Redirect::to(next)));
    }
    let banner = app.store.read(crate::maintenance::banner).await?;
    Ok(LoginResponse::Page(page(
        app,
        cookies,
        next,
        String::new(),
        None,
        flash,
        Some(banner),
    )?))
}

/// What sign-in needs from the request itself: the caller's address (for throttling)
/// and whether its Origin is this server.
pub struct LoginRequest {
    ip: Option<IpAddr>,
    origin: Result<()>,
}

#[rocket::async_trait]
impl<'r> rocket::request::FromRequest<'r> for LoginRequest {
    type Error = ();
    async fn from_request(req: &'r rocket::Request<'_>) -> rocket::request::Outcome<Self, ()> {
        rocket::outcome::Outcome::Success(LoginRequest {
            ip: req.client_ip(),
            origin: check_origin(req),
        })
    }
}

#[derive(FromForm)]
pub struct LoginForm {
    username: String,
    password: String,
    csrf_token: String,
    next: Option<String>,
}

#[rocket::post("/login", data = "<form>")]
pub async fn login(
    form: PlainForm<LoginForm>,
    request: LoginRequest,
    app: &State<App>,
    cookies: &CookieJar<'_>,
) -> Result<LoginResponse> {
    request.origin?;
    let form = form.0;
    let next = safe_next(form.next.as_deref());
    let expected = cookies
        .get_private(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_string());
    if !expected.is_some_and(|t| tokens::constant_time_eq(&t, &form.csrf_token)) {
        return Ok(LoginResponse::Flash(Flash::error(
            Redirect::to(rocket::uri!(login_page(next = Some(next)))),
            "Your sign-in form had expired. Please sign in again.",
        )));
    }
    let outcome = session::login(
        &app.store,
        &app.hasher,
        &app.config,
        &form.username,
        form.password,
        request.ip,
    )
    .await?;
    match outcome {
        LoginOutcome::Success { token, .. } => {
            cookies.remove_private(LOGIN_CSRF_COOKIE);
            cookies.add(
                Cookie::build((SESSION_COOKIE, token))
                    .http_only(true)
                    .same_site(SameSite::Lax)
                    .secure(app.config.secure_cookies)
                    .path("/"),
            );
            Ok(LoginResponse::Redirect(Redirect::to(next)))
        }
        LoginOutcome::Invalid => {
            let html = page(
                app,
                cookies,
                next,
                form.username,
                Some("Invalid username or password.".into()),
                None,
                None,
            )?;
            Ok(LoginResponse::Refused((Status::Unauthorized, html)))
        }
        LoginOutcome::Throttled { retry_after_secs } => {
            Err(Error::TooManyRequests { retry_after_secs })
        }
    }
}

#[rocket::post("/logout", data = "<form>")]
pub async fn logout(
    form: SessionForm,
    app: &State<App>,
    cookies: &CookieJar<'_>,
) -> Result<Flash<Redirect>> {
    if let Some(session) = form.caller.session {
        session::logout(&app.store, session.token_hash).await?;
    }
    cookies.remove(Cookie::build(SESSION_COOKIE).path("/"));
    Ok(Flash::success(
        Redirect::to("/login"),
        "You have signed out.",
    ))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_only_leads_to_a_path_on_this_server() {
        assert_eq!(
            safe_next(Some("/tasks?state=Failed")),
            "/tasks?state=Failed"
        );
        for hostile in [
            "https://attacker.example/",
            "//attacker.example/",
            "/\\attacker.example",
            "javascript:alert(1)",
            "",
            "/tasks\tx",
            "/tasks x",
            "/täsks",
            "/tasks\n",
        ] {
            assert_eq!(safe_next(Some(hostile)), "/", "{hostile}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
