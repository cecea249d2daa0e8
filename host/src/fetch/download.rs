//! Getting the bytes: an HTTP(S) download or a mirror file, streamed into a temp file
//! with a byte cap and a deadline while being hashed.
//!
//! Redirects are followed by hand (at most [`MAX_REDIRECTS`]) so that every hop is checked
//! against the fetch policy: an allowed host cannot bounce a buildpack to a host the
//! policy does not allow (an internal address, say).

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::blocking::Client;

use super::digest::Hasher;
use super::policy::{Policy, Refusal};
use crate::error_text::error_chain;

/// Most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why getting the bytes failed.
#[derive(Debug)]
pub enum DownloadError {
    /// More than the cap.
    TooLarge,
    /// The deadline passed.
    OutOfTime,
    /// A redirect went somewhere the policy refuses.
    Refused {
        /// The redirect target.
        target: String,
        /// Why.
        refusal: Refusal,
    },
    /// An HTTP error status (or too many redirects).
    Status {
        /// The URL that answered.
        from: String,
        /// The status line.
        status: String,
    },
    /// Connecting or reading failed.
    Network {
        /// The URL.
        from: String,
        /// The error chain.
        reason: String,
    },
    /// Reading a mirror file or writing the temp file failed.
    Io(io::Error),
}

/// The HTTP client kiln fetches with: no automatic redirects, no cookies, rustls.
pub fn client() -> Result<Client, String> {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// Download `url` into `out`, at most `max` bytes, by `deadline`; `policy` checks redirects
/// (`None` for a mirror URL, which is the platform's own configuration).
pub fn http(
    client: &Client,
    url: &Url,
    policy: Option<&Policy>,
    out: &mut impl Write,
    hasher: &mut Hasher,
    max: u64,
    deadline: Option<Instant>,
) -> Result<u64, DownloadError> {
    let mut current = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let timeout = match deadline {
            Some(deadline) => deadline.checked_duration_since(Instant::now()).ok_or(DownloadError::OutOfTime)?,
            None => Duration::from_secs(24 * 3600),
        };
        let network = |e: reqwest::Error| {
            if e.is_timeout() && deadline.is_some_and(|d| Instant::now() >= d) {
                return DownloadError::OutOfTime;
            }
            DownloadError::Network { from: current.to_string(), reason: error_chain(&e) }
        };
        let response = client.get(current.clone()).timeout(timeout).send().map_err(network)?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| DownloadError::Status { from: current.to_string(), status: format!("{status} without a Location") })?;
            let next = current.join(location).map_err(|e| DownloadError::Status {
                from: current.to_string(),
                status: format!("{status} to an invalid Location {location:?}: {e}"),
            })?;
            if let Some(policy) = policy {
                policy.check_url(&next).map_err(|refusal| DownloadError::Refused { target: next.to_string(), refusal })?;
            }
            current = next;
            continue;
        }
        if !status.is_success() {
            return Err(DownloadError::Status { from: current.to_string(), status: status.to_string() });
        }
        if response.content_length().is_some_and(|len| len > max) {
            return Err(DownloadError::TooLarge);
        }
        return copy_capped(response, out, hasher, max, deadline).map_err(|e| match e {
            DownloadError::Io(io) => DownloadError::Network { from: current.to_string(), reason: io.to_string() },
            other => other,
        });
    }
    Err(DownloadError::Status { from: url.to_string(), status: format!("more than {MAX_REDIRECTS} redirects") })
}

/// Copy a mirror file into `out`, at most `max` bytes.
pub fn file(path: &Path, out: &mut impl Write, hasher: &mut Hasher, max: u64) -> Result<u64, DownloadError> {
    let file = std::fs::File::open(path).map_err(DownloadError::Io)?;
    copy_capped(file, out, hasher, max, None)
}

/// Copy `reader` to `out` and the hasher; stop past `max` bytes or at `deadline`.
fn copy_capped(
    mut reader: impl Read,
    out: &mut impl Write,
    hasher: &mut Hasher,
    max: u64,
    deadline: Option<Instant>,
) -> Result<u64, DownloadError> {
    let mut buf = vec![0u8; 64 << 10];
    let mut total: u64 = 0;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(DownloadError::OutOfTime);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DownloadError::Io(e)),
        };
        total += n as u64;
        if total > max {
            return Err(DownloadError::TooLarge);
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(DownloadError::Io)?;
    }
    out.flush().map_err(DownloadError::Io)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::digest::Algorithm;

    #[test]
    fn the_cap_stops_a_copy_one_byte_past_it() {
        let mut out = Vec::new();
        let mut h = Hasher::new(Algorithm::Sha256);
        assert_eq!(copy_capped(&b"12345"[..], &mut out, &mut h, 5, None).unwrap(), 5);
        let mut out = Vec::new();
        let mut h = Hasher::new(Algorithm::Sha256);
        assert!(matches!(copy_capped(&b"123456"[..], &mut out, &mut h, 5, None), Err(DownloadError::TooLarge)));
    }
}
