//! Loopback networking for tests: free ports and a plain HTTP/1.0 client over `TcpStream`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// How long [`poll_http`] waits between attempts.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Picks a TCP port on 127.0.0.1 that is free now (bind to port 0, read the port, close).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("cannot bind a free port on 127.0.0.1: {e}"))
        .port()
}

/// One HTTP response, as read by [`http_get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Header names and values in the order received (names as sent).
    pub headers: Vec<(String, String)>,
    /// The body, decoded as UTF-8 (lossily).
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `GET path HTTP/1.0` to 127.0.0.1:`port`; reads the whole response (the server closes it).
///
/// `path` should start with `/`. Connect, read and write are each bounded by a few seconds.
pub fn http_get(port: u16, path: &str) -> std::io::Result<HttpResponse> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kiln-tests\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
        .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{why}: {:?}", String::from_utf8_lossy(&raw))))
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers in HTTP response")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad HTTP status line {status_line:?}"))?;
    let headers = lines.filter_map(|line| line.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
    Ok(HttpResponse { status, headers, body })
}

/// Polls `GET path` on 127.0.0.1:`port` every [`POLL_INTERVAL`] until it answers 2xx.
///
/// Before each attempt `gone` is asked whether the server has died; if it returns a reason the
/// polling stops at once with that reason. On timeout the error tells the last outcome seen
/// (connection error or non-2xx response).
pub fn poll_http(port: u16, path: &str, timeout: Duration, mut gone: impl FnMut() -> Option<String>) -> Result<HttpResponse, String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("no attempt made");
    loop {
        if let Some(reason) = gone() {
            return Err(format!("{reason} before http://127.0.0.1:{port}{path} answered (last: {last})"));
        }
        match http_get(port, path) {
            Ok(resp) if (200..300).contains(&resp.status) => return Ok(resp),
            Ok(resp) => last = format!("HTTP {} with body {:?}", resp.status, resp.body),
            Err(e) => last = format!("error: {e}"),
        }
        if Instant::now() >= deadline {
            return Err(format!("http://127.0.0.1:{port}{path} did not answer 2xx within {timeout:?} (last: {last})"));
        }
        thread::sleep(POLL_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_headers_and_body() {
        let resp = parse_response(b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope\r\n\r\nmore").unwrap();
        assert_eq!(resp.status, 404);
        assert_eq!(resp.header("content-type"), Some("text/plain"));
        assert_eq!(resp.body, "nope\r\n\r\nmore");
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn poll_http_times_out_on_a_closed_port() {
        let port = free_port();
        let start = Instant::now();
        let err = poll_http(port, "/", Duration::from_millis(300), || None).unwrap_err();
        assert!(err.contains("did not answer"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        let err = poll_http(port, "/", Duration::from_secs(30), || Some("died".into())).unwrap_err();
        assert!(err.starts_with("died"), "{err}");
    }
}
