//! A webhook receiver for tests: a real HTTP/1.1 server on 127.0.0.1 that records every
//! request (path, headers, body) and answers as told (a status, a redirect, a huge
//! body, or not at all until it is started). It stops when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// A header's value (its name without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// 302 to this location.
    Redirect(String),
    /// 200 with a body of this many bytes.
    Big(usize),
    /// Records the request, then says nothing until the sender hangs up.
    Hang,
}

pub struct Receiver {
    pub port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    /// Listening now, answering 200.
    pub fn start() -> Receiver {
        Receiver::on(TcpListener::bind("127.0.0.1:0").expect("bind a receiver"))
    }

    /// A free port nothing listens on yet: [`Receiver::start_on`] it later.
    pub fn free_port() -> u16 {
        super::server::free_port()
    }

    pub fn start_on(port: u16) -> Receiver {
        Receiver::on(TcpListener::bind(("127.0.0.1", port)).expect("bind the receiver's port"))
    }

    fn on(listener: TcpListener) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(Answer::Status(200)));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, a, s) = (got.clone(), answer.clone(), stop.clone());
        std::thread::spawn(move || {
            // Blocking accepts; `drop` connects once to end the loop.
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let (g, a) = (g.clone(), a.clone());
                    std::thread::spawn(move || serve(stream, &g, &a));
                }
            }
        });
        Receiver {
            port,
            got,
            answer,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Everything received so far.
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `done` holds of what was received (at most `secs`).
    pub fn wait_for(
        &self,
        secs: u64,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        super::poll_for(
            secs,
            || format!("the receiver never got {what}: {:?}", self.got()),
            || {
                let got = self.got();
                done(&got).then_some(got)
            },
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, got: &Mutex<Vec<Received>>, answer: &Mutex<Answer>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((n, v)) = h.trim_end().split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    got.lock().unwrap().push(Received {
        path,
        headers,
        body,
    });
    let answer = answer.lock().unwrap().clone();
    let mut stream = stream;
    let _ = match answer {
        Answer::Status(code) => write!(
            stream,
            "HTTP/1.1 {code} Answer\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        ),
        Answer::Redirect(to) => write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Answer::Hang => {
            // Until the sender closes the connection (or dies): read to its end.
            let mut rest = Vec::new();
            let _ = reader.read_to_end(&mut rest);
            Ok(())
        }
        Answer::Big(n) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n"
            );
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len());
                if stream.write_all(&chunk[..k]).is_err() {
                    break;
                }
                left -= k;
            }
            Ok(())
        }
    };
}
