//! A node's webhook sender: a thread that claims due deliveries under a lease (so that
//! each is sent by one node, and one whose node died mid-send is sent again by another
//! once the lease runs out), sends them side by side, and records each outcome: done,
//! tried again later (exponential backoff), or failed once its time is up. It runs
//! apart from every request: a slow or dead receiver slows no change.

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{address, hmac, payload};
use crate::clock;
use crate::error::Result;
use crate::secrets::MasterKey;
use crate::store::events;
use crate::store::wake;
use crate::store::webhooks::{self, Delivery, Outcome};
use crate::store::Store;

/// How long past its subscription's timeout a claimed delivery stays this node's alone
/// (connecting, reading the answer, recording it); after that another node may send it.
pub const LEASE_MARGIN_MS: i64 = 5_000;
/// At most this many deliveries are in flight at once from one node.
pub const BATCH: i64 = 8;
/// The most of a response's body read (and thrown away).
pub const MAX_RESPONSE: u64 = 64 * 1024;
/// The longest wait between two tries.
pub const MAX_BACKOFF_MS: i64 = 3_600_000;

pub struct Settings {
    pub node: String,
    pub allow_private: bool,
    pub server_url: String,
    pub master_key: Arc<MasterKey>,
    /// How often it looks for due deliveries when none was waiting.
    pub poll: Duration,
    pub retry_base_ms: i64,
    pub retry_for_ms: i64,
    pub metrics: crate::metrics::Shared,
}

impl Settings {
    pub fn from_config(
        config: &crate::config::Config,
        master_key: Arc<MasterKey>,
        metrics: crate::metrics::Shared,
    ) -> Settings {
        Settings {
            node: config.node_name.clone(),
            allow_private: config.webhook_allow_private,
            server_url: super::server_url(config),
            master_key,
            poll: Duration::from_millis(config.pickup_check_ms.max(10)),
            retry_base_ms: config.webhook_retry_base_ms.max(1),
            retry_for_ms: config.webhook_retry_for_secs.max(0) * 1000,
            metrics,
        }
    }
}

#[derive(Default)]
struct Inner {
    stopping: AtomicBool,
}

/// A handle on this node's sender (cheap to clone).
#[derive(Clone, Default)]
pub struct Sender {
    inner: Arc<Inner>,
}

impl Sender {
    pub fn new() -> Sender {
        Sender::default()
    }

    /// Starts the sender's thread; it runs until [`Sender::shutdown`].
    pub fn start(&self, store: Store, settings: Settings) -> Result<()> {
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name("webhooks".into())
            .spawn(move || run(&inner, &store, &settings))
            .map_err(|e| crate::error::Error::internal_from("starting the webhook sender", e))?;
        Ok(())
    }

    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        wake::ring();
    }
}

/// The claimer: keeps up to [`BATCH`] deliveries in flight on as many workers, claiming
/// more as soon as there is room and one is due (woken by a commit that raised one, by
/// a worker done while all were busy, or at its next look).
fn run(inner: &Inner, store: &Store, settings: &Settings) {
    let agent = agent(settings.allow_private);
    let in_flight = AtomicUsize::new(0);
    let (hand, work) = std::sync::mpsc::channel::<Delivery>();
    let work = Mutex::new(work);
    std::thread::scope(|scope| {
        for _ in 0..BATCH {
            scope.spawn(|| worker(store, settings, &agent, &work, &in_flight));
        }
        while !inner.stopping.load(Ordering::SeqCst) {
            // Read before the claim: a delivery committed after it rings past this.
            let seen = wake::rung();
            let room = BATCH as usize - in_flight.load(Ordering::SeqCst).min(BATCH as usize);
            if room == 0 {
                wake::wait(seen, settings.poll);
                continue;
            }
            let now = clock::now_ms();
            let claimed = store.bookkeeping_now(|tx| {
                webhooks::claim(tx, &settings.node, now, LEASE_MARGIN_MS, room as i64)
            });
            let batch = claimed.unwrap_or_else(|e| {
                eprintln!("drydock: webhook sender: {e}");
                Vec::new()
            });
            let full = batch.len() == room;
            for d in batch {
                in_flight.fetch_add(1, Ordering::SeqCst);
                if hand.send(d).is_err() {
                    return;
                }
            }
            if !full {
                wake::wait(seen, settings.poll);
            }
        }
        // The workers send what they were handed, then end.
        drop(hand);
    });
}

/// A worker: sends the deliveries it is handed, one at a time.
fn worker(
    store: &Store,
    settings: &Settings,
    agent: &ureq::Agent,
    work: &Mutex<std::sync::mpsc::Receiver<Delivery>>,
    in_flight: &AtomicUsize,
) {
    loop {
        let next = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(d) = next else { return };
        if let Err(e) = deliver(store, settings, agent, &d) {
            eprintln!("drydock: webhook delivery Deliveries-{}: {e}", d.id);
        }
        // All were busy: the claimer may be waiting for room.
        if in_flight.fetch_sub(1, Ordering::SeqCst) == BATCH as usize {
            wake::ring();
        }
    }
}

/// An HTTP client that follows no redirect and reaches only the addresses
/// [`address::resolve`] allows, checked as each connection is made.
fn agent(allow_private: bool) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        // One connection per delivery: a receiver's idle connection closed under a
        // pooled request would fail a delivery that could not be retried at once.
        .max_idle_connections(0)
        .no_delay(true)
        .timeout_connect(Duration::from_secs(10))
        .user_agent(concat!("drydock/", env!("CARGO_PKG_VERSION")))
        .resolver(move |netloc: &str| address::resolve_netloc(netloc, allow_private))
        .build()
}

/// When a delivery that failed its `attempts`-th try is tried again, or `None` once its
/// time is up.
fn retry_at(settings: &Settings, d: &Delivery, now: i64) -> Option<i64> {
    let shift = (d.attempts - 1).clamp(0, 30) as u32;
    let wait = settings
        .retry_base_ms
        .saturating_mul(1_i64 << shift)
        .min(MAX_BACKOFF_MS);
    (now + wait <= d.created_at + settings.retry_for_ms).then_some(now + wait)
}

fn deliver(store: &Store, settings: &Settings, agent: &ureq::Agent, d: &Delivery) -> Result<()> {
    let (subscription, event) = store.read_now(|c| {
        Ok((
            webhooks::find(c, d.subscription_id)?,
            events::find(c, d.event_id)?,
        ))
    })?;
    let now = clock::now_ms();
    let (Some(s), Some(e)) = (subscription, event) else {
        let gone = Outcome::Failed {
            status: None,
            error: "its subscription or event is gone",
            ms: 0,
            retry_at: None,
        };
        store.bookkeeping_now(|tx| webhooks::finish(tx, d.id, &settings.node, &gone, now))?;
        return Ok(());
    };
    let body = serde_json::to_vec(&payload(&s, &e, &settings.server_url, now))
        .map_err(|e| crate::error::Error::internal(e.to_string()))?;
    let mut request = agent
        .post(&s.webhook_uri)
        .timeout(Duration::from_secs(
            s.timeout_secs.clamp(1, super::MAX_TIMEOUT_SECS) as u64,
        ))
        .set("Content-Type", "application/json")
        .set("X-Drydock-Delivery", &format!("Deliveries-{}", d.id))
        .set("X-Drydock-Event", &e.category);
    if let Some(secret) = s.secret.as_deref().filter(|s| !s.is_empty()) {
        let key = settings.master_key.open(secret)?;
        let signature = hmac::sha256_hex(key.as_bytes(), &body);
        request = request.set("X-Drydock-Signature-256", &format!("sha256={signature}"));
    }
    if let (Some(k), Some(v)) = (&s.header_key, &s.header_value) {
        request = request.set(k, v);
    }
    let started = Instant::now();
    let answer = request.send_bytes(&body);
    let ms = started.elapsed().as_millis() as i64;
    let now = clock::now_ms();
    let failed = |status: Option<i64>, error: &str| {
        let retry_at = retry_at(settings, d, now);
        settings.metrics.count_delivery(if retry_at.is_some() {
            "retry"
        } else {
            "failed"
        });
        let outcome = Outcome::Failed {
            status,
            error,
            ms,
            retry_at,
        };
        store.bookkeeping_now(|tx| webhooks::finish(tx, d.id, &settings.node, &outcome, now))
    };
    match answer {
        Ok(response) => {
            let status = i64::from(response.status());
            // Read (a little of) the answer so the connection is done with; never more.
            let mut sink = Vec::new();
            let _ = response
                .into_reader()
                .take(MAX_RESPONSE)
                .read_to_end(&mut sink);
            if (200..300).contains(&status) {
                settings.metrics.count_delivery("delivered");
                let done = Outcome::Delivered { status, ms };
                store
                    .bookkeeping_now(|tx| webhooks::finish(tx, d.id, &settings.node, &done, now))?;
            } else {
                failed(
                    Some(status),
                    &format!("answered {status} (redirects are not followed)"),
                )?;
            }
        }
        Err(ureq::Error::Status(status, response)) => {
            let mut sink = Vec::new();
            let _ = response
                .into_reader()
                .take(MAX_RESPONSE)
                .read_to_end(&mut sink);
            failed(Some(i64::from(status)), &format!("answered {status}"))?;
        }
        Err(ureq::Error::Transport(t)) => {
            let why: String = t.to_string().chars().take(500).collect();
            failed(None, &why)?;
        }
    }
    Ok(())
}
