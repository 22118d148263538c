//! The browser test harness: Debian's chromium driven through chromedriver (started by
//! the test on a free port) with fantoccini. A failing scenario saves a screenshot to
//! `target/browser-screenshots/<name>.png` before it panics.
//!
//! Chromium is required. Outside CI a developer without it may set
//! `DRYDOCK_SKIP_BROWSER=1`; under `CI=true` that is refused, so CI never skips silently.

use std::future::Future;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::server::free_port;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Whether browser tests should be skipped (never under CI).
pub fn skip() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let asked = std::env::var("DRYDOCK_SKIP_BROWSER").is_ok_and(|v| v == "1");
    if asked && ci {
        panic!("DRYDOCK_SKIP_BROWSER is not allowed under CI=true");
    }
    if asked {
        eprintln!("skipping the browser test: DRYDOCK_SKIP_BROWSER=1");
    }
    asked
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    pub client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: apt-get install chromium chromium-driver (or set DRYDOCK_SKIP_BROWSER=1 outside CI)"
            );
        }
        let port = free_port();
        let driver = Driver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("connect to chromedriver");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
        let element = self.client.wait().for_element(Locator::Css(css)).await?;
        element.clear().await?;
        element.send_keys(text).await?;
        Ok(())
    }

    /// Fills in and submits the sign-in form on the current page.
    pub async fn submit_sign_in(&self, username: &str, password: &str) -> Result<()> {
        self.fill("#username", username).await?;
        self.fill("#password", password).await?;
        self.click("#sign-in").await
    }

    /// Clicks the element `css` names. A page that replaces it while it is found (a
    /// live part re-rendered: a stale element) is looked at again, a few times.
    pub async fn click(&self, css: &str) -> Result<()> {
        let mut tries = 0;
        loop {
            let element = self.client.wait().for_element(Locator::Css(css)).await?;
            match element.click().await {
                Err(e) if e.is_stale_element_reference() && tries < 5 => tries += 1,
                done => return Ok(done?),
            }
        }
    }

    /// The text of the element `css` names (found again if the page replaced it
    /// meanwhile, as [`Self::click`]).
    pub async fn text(&self, css: &str) -> Result<String> {
        let mut tries = 0;
        loop {
            let element = self.client.wait().for_element(Locator::Css(css)).await?;
            match element.text().await {
                Err(e) if e.is_stale_element_reference() && tries < 5 => tries += 1,
                done => return Ok(done?),
            }
        }
    }

    /// Waits up to 10 s for the page's text to contain `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut body = String::new();
        loop {
            // The page may be replaced while it is read (a stale element): read again.
            if let Ok(text) = self.text("body").await {
                if text.contains(needle) {
                    return Ok(());
                }
                body = text;
            }
            if Instant::now() > deadline {
                return Err(format!("'{needle}' did not appear; page says: {body}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resizes the window to `width` × `height` CSS pixels (1366 desktop, 390 a phone).
    pub async fn set_width(&self, width: u32, height: u32) -> Result<()> {
        self.client.set_window_size(width, height).await?;
        Ok(())
    }

    /// Saves a screenshot to `target/tmp/screenshots/<name>.png`, for a person to look at.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir)?;
        let shot = dir.join(format!("{name}.png"));
        std::fs::write(&shot, self.client.screenshot().await?)?;
        Ok(shot)
    }

    /// Whether the page is wider than the window (something overflows sideways).
    pub async fn overflows(&self) -> Result<bool> {
        let wide = self
            .client
            .execute(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await?;
        Ok(wide.as_bool().unwrap_or(true))
    }

    /// The current value of the form control at `css` ("" when it has none).
    pub async fn value(&self, css: &str) -> Result<String> {
        let element = self.client.find(Locator::Css(css)).await?;
        Ok(element.prop("value").await?.unwrap_or_default())
    }

    /// Whether the element at `css` is displayed.
    pub async fn shown(&self, css: &str) -> Result<bool> {
        let element = self.client.find(Locator::Css(css)).await?;
        Ok(element.is_displayed().await?)
    }

    /// Waits up to `secs` for the element at `css` to read `expected`; a page that
    /// reloads meanwhile (a stale element) is read again.
    pub async fn wait_for_element_text(&self, css: &str, expected: &str, secs: u64) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = String::new();
        loop {
            if let Ok(text) = self.text(css).await {
                if text == expected {
                    return Ok(());
                }
                seen = text;
            }
            if Instant::now() > deadline {
                return Err(format!("{css} never read '{expected}' (last: '{seen}')").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn path(&self) -> Result<String> {
        Ok(self.client.current_url().await?.path().to_string())
    }

    /// Waits (at most `secs`) until the browser is at `path`, as a redirect lands.
    pub async fn wait_for_path(&self, path: &str, secs: u64) -> Result<()> {
        self.wait_until(secs, &format!("the browser reaches {path}"), || async {
            Ok(self.path().await? == path)
        })
        .await
    }

    /// Polls `done` until it says so, against a deadline of `secs`; `what` names what
    /// was awaited when it never came.
    pub async fn wait_until<F, Fut>(&self, secs: u64, what: &str, mut done: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done().await? {
            if Instant::now() > deadline {
                return Err(format!("{what} did not happen within {secs} s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Signs in on `login_url` and waits for the signed-in page it lands on.
    pub async fn sign_in_at(&self, login_url: &str, username: &str, password: &str) -> Result<()> {
        self.client.goto(login_url).await?;
        self.submit_sign_in(username, password).await?;
        self.wait_for_text("Sign out").await
    }

    /// Picks `value` in the `<select>` `select` names.
    pub async fn choose(&self, select: &str, value: &str) -> Result<()> {
        self.client
            .find(Locator::Css(&format!("{select} option[value='{value}']")))
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Runs `scenario`; on failure saves a screenshot, closes the browser, and panics.
    pub async fn run<'a, F, Fut>(&'a self, name: &str, scenario: F)
    where
        F: FnOnce(&'a Browser) -> Fut,
        Fut: Future<Output = Result<()>> + 'a,
    {
        let outcome = scenario(self).await;
        if let Err(e) = outcome {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let shot = dir.join(format!("{name}.png"));
            if let Ok(png) = self.client.screenshot().await {
                let _ = std::fs::write(&shot, png);
            }
            let _ = self.client.clone().close().await;
            panic!(
                "browser scenario '{name}' failed: {e} (screenshot: {})",
                shot.display()
            );
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
