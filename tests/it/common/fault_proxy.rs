//! A TCP proxy on loopback between a node and its database, for the fault tests: it
//! passes bytes both ways, or black-holes them (connections stay open, nothing goes
//! through, new ones are accepted and go nowhere — a cut network), or resets every
//! connection it holds, or is down (every connection closed, new ones closed at once —
//! the database stopped, as its node sees it), or cuts (black-holes) right after the
//! node sends a statement that contains a given text. Its threads end when it is
//! dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASS: u8 = 0;
const BLACK_HOLE: u8 = 1;
const DOWN: u8 = 2;

pub struct FaultProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    done: Arc<AtomicBool>,
    trigger: Arc<Trigger>,
}

/// A cut armed for when the node sends `pattern`; when it fired.
#[derive(Default)]
struct Trigger {
    pattern: Mutex<Option<Vec<u8>>>,
    /// The statement was prepared (its text went by): the cut comes after the next
    /// message, which runs it.
    next: AtomicBool,
    /// Whether the cut resets every connection instead of black-holing.
    resets: AtomicBool,
    fired: Mutex<Option<std::time::Instant>>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl FaultProxy {
    /// A proxy to `target` (host:port), passing everything.
    pub fn to(target: &str) -> FaultProxy {
        let target: SocketAddr = target.parse().expect("a host:port address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let streams = Arc::new(Mutex::new(Vec::new()));
        let proxy = FaultProxy {
            port,
            mode: Arc::new(AtomicU8::new(PASS)),
            streams: Arc::clone(&streams),
            done: Arc::new(AtomicBool::new(false)),
            trigger: Arc::new(Trigger {
                streams,
                ..Trigger::default()
            }),
        };
        let (mode, streams, done, trigger) = (
            Arc::clone(&proxy.mode),
            Arc::clone(&proxy.streams),
            Arc::clone(&proxy.done),
            Arc::clone(&proxy.trigger),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if mode.load(Ordering::SeqCst) == DOWN {
                    drop(client);
                    continue;
                }
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
                    continue;
                };
                if let Ok(mut held) = streams.lock() {
                    held.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                }
                for (from, to, watched) in [
                    (
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        true,
                    ),
                    (server, client, false),
                ] {
                    let (mode, done) = (Arc::clone(&mode), Arc::clone(&done));
                    // Only what the node sends is looked at for the armed statement.
                    let trigger = watched.then(|| Arc::clone(&trigger));
                    std::thread::spawn(move || pump(from, to, &mode, &done, trigger.as_deref()));
                }
            }
        });
        proxy
    }

    /// Lets everything through again.
    pub fn pass(&self) {
        self.mode.store(PASS, Ordering::SeqCst);
    }

    /// Nothing goes through either way, and nothing is closed: a cut network.
    pub fn black_hole(&self) {
        self.mode.store(BLACK_HOLE, Ordering::SeqCst);
    }

    /// The database stopped: every connection closed, new ones closed at once, until
    /// [`Self::pass`].
    pub fn down(&self) {
        self.mode.store(DOWN, Ordering::SeqCst);
        self.reset();
    }

    /// Cuts (as [`Self::black_hole`]) right after the node sends a statement holding
    /// `text`, which still reaches the database (on a connection without TLS: the
    /// proxy reads the statements). Every connection is closed first, so
    /// the node prepares its statements again on new ones and their text is seen.
    pub fn cut_after(&self, text: &str) {
        self.arm(text, false);
    }

    /// Resets every connection (as [`Self::reset`]) right after the node runs a
    /// statement holding `text`: the node sees it fail, and reconnects.
    pub fn reset_after(&self, text: &str) {
        self.arm(text, true);
    }

    fn arm(&self, text: &str, resets: bool) {
        *self.trigger.fired.lock().unwrap() = None;
        self.trigger.next.store(false, Ordering::SeqCst);
        self.trigger.resets.store(resets, Ordering::SeqCst);
        *self.trigger.pattern.lock().unwrap() = Some(text.as_bytes().to_vec());
        self.reset();
    }

    /// When the armed cut fired, if it has.
    pub fn cut_at(&self) -> Option<std::time::Instant> {
        *self.trigger.fired.lock().unwrap()
    }

    /// Closes every connection it carries (both ends), as a dropped link does.
    pub fn reset(&self) {
        if let Ok(mut held) = self.streams.lock() {
            for stream in held.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        self.reset();
    }
}

/// Copies `from` to `to` while passing; holds what it read while black-holed; after
/// forwarding the armed statement of `trigger`, black-holes.
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    mode: &AtomicU8,
    done: &AtomicBool,
    trigger: Option<&Trigger>,
) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 16 * 1024];
    while !done.load(Ordering::SeqCst) {
        match mode.load(Ordering::SeqCst) {
            BLACK_HOLE => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            DOWN => break,
            _ => {}
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Read before a cut began: held until it ends.
                while mode.load(Ordering::SeqCst) == BLACK_HOLE && !done.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                if let Some(trigger) = trigger {
                    let mut pattern = trigger.pattern.lock().unwrap();
                    let found = pattern
                        .as_ref()
                        .is_some_and(|p| buf[..n].windows(p.len()).any(|w| w == &p[..]));
                    if found {
                        // Its text is in the statement's Parse (drydock prepares each
                        // statement first); Bind and Execute follow once the server
                        // answered.
                        *pattern = None;
                        trigger.next.store(true, Ordering::SeqCst);
                    } else if trigger.next.swap(false, Ordering::SeqCst) {
                        fire(trigger, mode);
                    }
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// The armed cut fires: nothing more goes through, or every connection is reset.
fn fire(trigger: &Trigger, mode: &AtomicU8) {
    *trigger.fired.lock().unwrap() = Some(std::time::Instant::now());
    if trigger.resets.load(Ordering::SeqCst) {
        if let Ok(mut held) = trigger.streams.lock() {
            for stream in held.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    } else {
        mode.store(BLACK_HOLE, Ordering::SeqCst);
    }
}
