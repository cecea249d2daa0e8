//! A tiny HTTP/1.1 file server on 127.0.0.1 for the fetch tests: real sockets, a request
//! counter, and a "bomb" route that streams more bytes than any test allows.
//!
//! Routes: `/files/<name>` serves a file added with [`FileServer::add`];
//! `/bomb/<bytes>` streams that many bytes (no Content-Length, so the client cannot refuse
//! up front); `/redirect?<url>` answers 302 to `<url>`; anything else is 404.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The server; stopped (port closed) when dropped or [`FileServer::stop`]ped.
pub struct FileServer {
    port: u16,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Start on a free port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let files: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, r, c, s) = (files.clone(), requests.clone(), count.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = serve(stream, &f, &r, &c);
            }
        });
        FileServer { port, files, requests, count, stop, thread: Some(thread) }
    }

    /// Serve `bytes` at `/files/<name>`.
    pub fn add(&self, name: &str, bytes: &[u8]) {
        self.files.lock().unwrap().insert(format!("/files/{name}"), bytes.to_vec());
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, for `--allow-host`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many requests arrived so far.
    pub fn request_count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The request lines so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Stop accepting and close the port.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, self.port).into(), Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(
    stream: TcpStream,
    files: &Mutex<BTreeMap<String, Vec<u8>>>,
    requests: &Mutex<Vec<String>>,
    count: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    let request_line = request_line.trim().to_string();
    if request_line.is_empty() {
        return Ok(()); // the stop() wake-up connection
    }
    count.fetch_add(1, Ordering::SeqCst);
    requests.lock().unwrap().push(request_line.clone());
    let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut out = stream;
    if let Some(bytes) = path.strip_prefix("/bomb/") {
        let total: u64 = bytes.parse().unwrap_or(0);
        write!(out, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")?;
        let chunk = vec![0u8; 64 << 10];
        let mut sent = 0u64;
        while sent < total {
            let n = (total - sent).min(chunk.len() as u64) as usize;
            if out.write_all(&chunk[..n]).is_err() {
                break; // the client gave up: expected
            }
            sent += n as u64;
        }
        return Ok(());
    }
    if let Some(target) = path.strip_prefix("/redirect?") {
        write!(out, "HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let body = files.lock().unwrap().get(&path).cloned();
    match body {
        Some(body) => {
            write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            out.write_all(&body)?;
        }
        None => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?,
    }
    out.flush()
}
