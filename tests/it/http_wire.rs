//! Just enough HTTP/1.1 over blocking `std::net` sockets for the test infrastructure: the fault
//! proxy (fault_proxy.rs) parses requests and answers with it, and the raft helpers (raft.rs)
//! call OpenBao nodes with it, so a test sees exact status codes, headers and timings (a refused
//! connection, a timeout and a closed connection are told apart) without a `curl` process per
//! request. Test-only code (it lives under tests/); not a general HTTP implementation: no TLS,
//! no pipelining, no trailers.

#![allow(dead_code)] // each test module uses a different part

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A request as read from a client.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request target: path and query, e.g. `/v1/sys/mounts?x=1`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A complete answer (the body read in full, whatever the framing was).
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}

impl Response {
    pub fn new(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        find(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Reads one line without its CRLF; `None` at a clean end of stream.
fn line(r: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn headers(r: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        let l = line(r)?.ok_or_else(|| eof("in the headers"))?;
        if l.is_empty() {
            return Ok(out);
        }
        if let Some((k, v)) = l.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
}

fn eof(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed {what}"),
    )
}

fn chunked(r: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let size_line = line(r)?.ok_or_else(|| eof("in a chunk size"))?;
        let hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(hex, 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers (none expected) up to the blank line.
            while !line(r)?.ok_or_else(|| eof("in trailers"))?.is_empty() {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        line(r)?; // the CRLF after the chunk
    }
}

fn body(
    r: &mut impl BufRead,
    headers: &[(String, String)],
    until_eof: bool,
) -> io::Result<Vec<u8>> {
    if find(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return chunked(r);
    }
    if let Some(len) = find(headers, "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad content-length"))?;
        let mut buf = vec![0; len];
        r.read_exact(&mut buf)?;
        return Ok(buf);
    }
    let mut buf = Vec::new();
    if until_eof {
        r.read_to_end(&mut buf)?;
    }
    Ok(buf)
}

/// Reads one request; `Ok(None)` when the client closed the connection between requests.
/// Answers `Expect: 100-continue` on `w` before reading the body (curl sends it).
pub fn read_request(r: &mut impl BufRead, w: &mut impl Write) -> io::Result<Option<Request>> {
    let first = loop {
        match line(r)? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut headers = headers(r)?;
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue"))
    {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("expect"));
    }
    let body = body(r, &headers, false)?;
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// Reads one whole answer (skipping `1xx` interim answers); the body is read to EOF when the
/// answer has neither a length nor chunked framing.
pub fn read_response(r: &mut impl BufRead, head: bool) -> io::Result<Response> {
    loop {
        let status_line = line(r)?.ok_or_else(|| eof("before the status line"))?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, status_line.clone()))?;
        let headers = headers(r)?;
        if (100..200).contains(&status) {
            continue;
        }
        let body = if head || status == 204 || status == 304 {
            Vec::new()
        } else {
            body(r, &headers, true)?
        };
        return Ok(Response {
            status,
            headers,
            body,
        });
    }
}

/// Headers a hop owns: never copied from one connection to the next.
pub fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "proxy-connection",
        "te",
        "upgrade",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// Writes `resp` with a Content-Length framing.
pub fn write_response(w: &mut impl Write, resp: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in resp.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        resp.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    ));
    w.write_all(out.as_bytes())?;
    w.write_all(&resp.body)?;
    w.flush()
}

/// Writes `req` with a Content-Length framing and `Connection: close`.
pub fn write_request(w: &mut impl Write, req: &Request, host: &str) -> io::Result<()> {
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    if req.header("host").is_none() {
        out.push_str(&format!("Host: {host}\r\n"));
    }
    for (k, v) in req.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    w.write_all(out.as_bytes())?;
    w.write_all(&req.body)?;
    w.flush()
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// `http://host:port[/...]` to `host:port`.
pub fn host_port(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// How a call failed before an answer arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Nothing listens (the process is dead).
    Refused,
    /// No complete answer within the time limit (the server hangs).
    Timeout,
    /// The server closed the connection without a complete answer.
    Closed(String),
    Other(String),
}

/// One request over a fresh connection (`Connection: close`), e.g.
/// `call("PUT", &format!("{addr}/v1/sys/mounts/x"), &[("X-Vault-Token", tok)], Some(body), secs(5))`.
pub fn call(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    timeout: Duration,
) -> Result<Response, CallError> {
    let hp = host_port(url);
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let target = rest.find('/').map_or("/", |i| &rest[i..]).to_owned();
    let sock = hp
        .to_socket_addrs()
        .map_err(|e| CallError::Other(e.to_string()))?
        .next()
        .ok_or_else(|| CallError::Other(format!("no address for {hp}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout).map_err(|e| match e.kind() {
        io::ErrorKind::ConnectionRefused => CallError::Refused,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => CallError::Timeout,
        _ => CallError::Other(e.to_string()),
    })?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    let req = Request {
        method: method.to_owned(),
        target,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.unwrap_or_default().as_bytes().to_vec(),
    };
    let io_err = |e: io::Error| match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => CallError::Timeout,
        io::ErrorKind::ConnectionRefused => CallError::Refused,
        _ => CallError::Closed(e.to_string()),
    };
    write_request(&mut stream, &req, hp).map_err(io_err)?;
    read_response(&mut BufReader::new(stream), method == "HEAD").map_err(io_err)
}
