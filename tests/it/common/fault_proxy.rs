//! A TCP proxy on loopback between a node and its database, for the fault tests: it
//! passes bytes both ways, or black-holes them (connections stay open, nothing goes
//! through, new ones are accepted and go nowhere — a cut network), or resets every
//! connection it holds. Its threads end when it is dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASS: u8 = 0;
const BLACK_HOLE: u8 = 1;

pub struct FaultProxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    done: Arc<AtomicBool>,
}

impl FaultProxy {
    /// A proxy to `target` (host:port), passing everything.
    pub fn to(target: &str) -> FaultProxy {
        let target: SocketAddr = target.parse().expect("a host:port address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = FaultProxy {
            port,
            mode: Arc::new(AtomicU8::new(PASS)),
            streams: Arc::new(Mutex::new(Vec::new())),
            done: Arc::new(AtomicBool::new(false)),
        };
        let (mode, streams, done) = (
            Arc::clone(&proxy.mode),
            Arc::clone(&proxy.streams),
            Arc::clone(&proxy.done),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) else {
                    continue;
                };
                if let Ok(mut held) = streams.lock() {
                    held.extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                }
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let (mode, done) = (Arc::clone(&mode), Arc::clone(&done));
                    std::thread::spawn(move || pump(from, to, &mode, &done));
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

/// Copies `from` to `to` while passing; holds what it read while black-holed.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: &AtomicU8, done: &AtomicBool) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 16 * 1024];
    while !done.load(Ordering::SeqCst) {
        if mode.load(Ordering::SeqCst) == BLACK_HOLE {
            std::thread::sleep(Duration::from_millis(20));
            continue;
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
