//! A fault-injecting HTTP/1.1 reverse proxy of the project's own, for the failure-behaviour tests
//! (issue 9): aegisctl talks to the proxy, the proxy to a real OpenBao, and a test chooses which
//! requests get a 429, a 503 (before or after OpenBao processed them), a lost answer, a 404 "no
//! handler for route" or a 307 to another origin, then asserts on what the proxy saw (e.g. "the
//! lock write was retried", "the mint POST was sent exactly once"). Also a [`TokenTrap`]: a
//! listener that only records whether a request carried `X-Vault-Token`, to prove a redirect
//! did not carry the token. Test-only code (it lives under tests/), on std threads and blocking
//! sockets: per client connection, requests are read in a loop (reqwest keeps connections
//! alive); each is forwarded over a fresh upstream connection with `Connection: close` and the
//! answer is rewritten with a Content-Length. Everything stops when the proxy is dropped.

#![allow(dead_code)] // each test module uses a different part

use std::io::BufReader;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use crate::faults::{Fault, FaultKind};
use crate::http_wire::{self, Request, Response};

/// One request the proxy saw. The token itself is never kept, only whether there was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The API path, without `/v1/` (as in OpenBao's audit log): `sys/mounts/transit`.
    pub path: String,
    pub query: Option<String>,
    /// Sent in full to the upstream (which may then have processed it).
    pub forwarded: bool,
    pub fault: Option<FaultKind>,
    pub had_token: bool,
    /// The status the client got; `None` for a lost answer.
    pub status: Option<u16>,
}

impl Seen {
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "PUT" | "POST" | "PATCH" | "DELETE")
    }
}

/// What a connection handler does with a request.
enum Reply {
    Answer(Response),
    Hangup,
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// A loopback listener with a thread per connection, stopped (listener and every connection
/// closed) on drop.
struct Server {
    addr: String,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    fn start(handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = format!("http://{}", listener.local_addr().expect("local addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::<TcpStream>::new()));
        let (stop2, conns2) = (stop.clone(), conns.clone());
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Ok(clone) = stream.try_clone() {
                    conns2.lock().unwrap_or_else(|e| e.into_inner()).push(clone);
                }
                let handler = handler.clone();
                std::thread::spawn(move || serve(stream, handler));
            }
        });
        Server {
            addr,
            stop,
            conns,
            accept: Some(accept),
        }
    }
}

fn serve(stream: TcpStream, handler: Handler) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut w = stream;
    while let Ok(Some(req)) = http_wire::read_request(&mut reader, &mut w) {
        let keep = !req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match handler(&req) {
            Reply::Answer(resp) => {
                if http_wire::write_response(&mut w, &resp, keep).is_err() || !keep {
                    break;
                }
            }
            Reply::Hangup => break,
        }
    }
    let _ = w.shutdown(Shutdown::Both);
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(http_wire::host_port(&self.addr)); // wakes the accept loop
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

#[derive(Default)]
struct ProxyState {
    upstream: String,
    faults: Vec<Fault>,
    seen: Vec<Seen>,
}

/// The proxy: point aegisctl at [`FaultProxy::addr`]. Stopped on drop.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    state: Arc<Mutex<ProxyState>>,
    server: Server,
}

fn json_error(status: u16, message: &str, extra: &[(&str, &str)]) -> Response {
    let body = serde_json::json!({ "errors": [message] }).to_string();
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(extra);
    Response::new(status, &headers, &body)
}

/// Sends `req` to `upstream` over a fresh connection; `Err((sent, why))`.
fn forward(upstream: &str, req: &Request) -> Result<Response, (bool, String)> {
    let hp = http_wire::host_port(upstream);
    let mut up = TcpStream::connect(hp).map_err(|e| (false, format!("connect {hp}: {e}")))?;
    up.set_read_timeout(Some(Duration::from_secs(120))).ok();
    http_wire::write_request(&mut up, req, hp).map_err(|e| (false, e.to_string()))?;
    http_wire::read_response(&mut BufReader::new(up), req.method == "HEAD")
        .map_err(|e| (true, e.to_string()))
}

impl FaultProxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:PORT`), with no faults yet.
    pub fn start(upstream: &str) -> FaultProxy {
        let state = Arc::new(Mutex::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            ..Default::default()
        }));
        let st = state.clone();
        let server = Server::start(Arc::new(move |req: &Request| handle(&st, req)));
        FaultProxy {
            addr: server.addr.clone(),
            state,
            server,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the faults (their counters start again). The first fault whose filter matches
    /// a request and whose rate fires is applied; the others are not counted for that request.
    pub fn set_faults(&self, faults: Vec<Fault>) {
        self.lock().faults = faults;
    }
    pub fn add_fault(&self, fault: Fault) {
        self.lock().faults.push(fault);
    }
    /// No faults any more: plain forwarding.
    pub fn clear(&self) {
        self.lock().faults.clear();
    }
    /// Sends the following requests to another upstream (a "load balancer" switching nodes).
    pub fn set_upstream(&self, upstream: &str) {
        self.lock().upstream = upstream.trim_end_matches('/').to_owned();
    }
    pub fn upstream(&self) -> String {
        self.lock().upstream.clone()
    }
    /// Every request seen so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }
    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        self.lock().seen.clear();
    }
    /// How many client connections the proxy accepted so far (keep-alive reuses one).
    pub fn connections(&self) -> usize {
        self.server
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
    /// The requests with this method (any when empty) whose API path contains `needle`.
    pub fn matching(&self, method: &str, needle: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| {
                (method.is_empty() || s.method.eq_ignore_ascii_case(method))
                    && s.path.contains(needle)
            })
            .collect()
    }
}

fn handle(state: &Mutex<ProxyState>, req: &Request) -> Reply {
    let path = req
        .path()
        .trim_start_matches('/')
        .trim_start_matches("v1/")
        .to_owned();
    let (fault, upstream) = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let mut fault = None;
        for f in st.faults.iter_mut() {
            if f.matches(&req.method, &path) && f.fires() {
                fault = Some(f.kind.clone());
                break;
            }
        }
        (fault, st.upstream.clone())
    };
    let mut seen = Seen {
        method: req.method.clone(),
        path: path.clone(),
        query: req.query().map(str::to_owned),
        forwarded: false,
        fault: fault.clone(),
        had_token: req.header("x-vault-token").is_some(),
        status: None,
    };
    let reply = match &fault {
        None => match forward(&upstream, req) {
            Ok(resp) => {
                seen.forwarded = true;
                Reply::Answer(resp)
            }
            Err((sent, why)) => {
                seen.forwarded = sent;
                Reply::Answer(json_error(
                    502,
                    &format!("fault proxy: upstream failed: {why}"),
                    &[],
                ))
            }
        },
        Some(FaultKind::TooManyRequests { retry_after }) => Reply::Answer(json_error(
            429,
            "fault proxy: too many requests",
            &[("Retry-After", &retry_after.to_string())],
        )),
        Some(FaultKind::UnavailableBefore) => Reply::Answer(json_error(
            503,
            "fault proxy: unavailable (not forwarded)",
            &[],
        )),
        Some(FaultKind::UnavailableAfter) => {
            seen.forwarded = forward(&upstream, req).is_ok();
            Reply::Answer(json_error(
                503,
                "fault proxy: unavailable (forwarded, answer dropped)",
                &[],
            ))
        }
        Some(FaultKind::LostAnswer) => {
            seen.forwarded = forward(&upstream, req).is_ok();
            Reply::Hangup
        }
        Some(FaultKind::NoHandler) => Reply::Answer(json_error(
            404,
            &format!("no handler for route \"{path}\". route entry not found."),
            &[],
        )),
        Some(FaultKind::Redirect { to }) => {
            let location = format!("{to}{}", req.target);
            Reply::Answer(Response::new(307, &[("Location", &location)], ""))
        }
    };
    if let Reply::Answer(resp) = &reply {
        seen.status = Some(resp.status);
    }
    // Recorded before the client gets the answer: a test reading the log right after its
    // request returned sees it.
    state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .seen
        .push(seen);
    reply
}

/// One request a [`TokenTrap`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrapHit {
    pub method: String,
    pub target: String,
    pub had_token: bool,
}

/// A listener answering every request 200 `{}` and recording whether it carried an
/// `X-Vault-Token` (never the value): the target of a [`Fault::redirect`], to prove a
/// client did not follow a redirect with its token. Stopped on drop.
pub struct TokenTrap {
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    hits: Arc<Mutex<Vec<TrapHit>>>,
    server: Server,
}

impl TokenTrap {
    pub fn start() -> TokenTrap {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let server = Server::start(Arc::new(move |req: &Request| {
            h.lock().unwrap_or_else(|e| e.into_inner()).push(TrapHit {
                method: req.method.clone(),
                target: req.target.clone(),
                had_token: req.header("x-vault-token").is_some(),
            });
            Reply::Answer(Response::new(
                200,
                &[("Content-Type", "application/json")],
                "{}",
            ))
        }));
        TokenTrap {
            addr: server.addr.clone(),
            hits,
            server,
        }
    }

    pub fn hits(&self) -> Vec<TrapHit> {
        self.hits.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether any request it got carried a token.
    pub fn saw_token(&self) -> bool {
        self.hits().iter().any(|h| h.had_token)
    }
}
