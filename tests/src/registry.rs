//! A real OCI registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::free_port;
use crate::tools::{command_line, require_tool};

/// How long [`Registry::start`] waits for `GET /v2/` to answer 200.
pub const REGISTRY_START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `docker-registry serve` process with filesystem storage in a temp dir; killed on drop.
///
/// It speaks plain HTTP, without auth ([`Registry::start`]) or with htpasswd basic auth
/// ([`Registry::start_with_auth`]): tell skopeo `--tls-verify=false` (or
/// `--dest-tls-verify=false` / `--src-tls-verify=false` for `skopeo copy`).
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: TempDir,
    auth: Option<(String, String)>,
}

/// One request the registry served, from its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// The request URI, e.g. `/v2/app/blobs/uploads/...`.
    pub uri: String,
    /// The HTTP status answered.
    pub status: u16,
}

impl Registry {
    /// Starts a registry on a free port of 127.0.0.1 and waits until `GET /v2/` answers 200.
    ///
    /// Panics (with the registry's log) if `docker-registry` is missing, exits, or does not
    /// answer within [`REGISTRY_START_TIMEOUT`].
    pub fn start() -> Registry {
        Self::start_inner(None)
    }

    /// Like [`Registry::start`], but requiring HTTP basic auth for `user`/`password` (an
    /// htpasswd file with a bcrypt entry made by `htpasswd -B`, package apache2-utils).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Self::start_inner(Some((user.to_string(), password.to_string())))
    }

    fn start_inner(auth: Option<(String, String)>) -> Registry {
        let dir = tempfile::Builder::new().prefix("kiln-registry-").tempdir().expect("create a temp dir for the registry");
        let port = free_port();
        let data = dir.path().join("data");
        fs::create_dir(&data).expect("create registry data dir");
        let mut auth_config = String::new();
        if let Some((user, password)) = &auth {
            let htpasswd = dir.path().join("htpasswd");
            let mut cmd = Command::new(require_tool("htpasswd"));
            cmd.args(["-Bbn", user, password]);
            let entry = crate::tools::run_stdout(&mut cmd);
            fs::write(&htpasswd, entry).expect("write htpasswd");
            auth_config = format!("auth:\n  htpasswd:\n    realm: kiln-test\n    path: {}\n", htpasswd.display());
        }
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n{auth_config}",
                data.display()
            ),
        )
        .expect("write registry config");
        let child = Self::spawn(dir.path(), port);
        let mut registry = Registry { child, port, dir, auth };
        registry.wait_ready();
        registry
    }

    fn spawn(dir: &Path, port: u16) -> Child {
        let _ = port;
        let binary = require_tool("docker-registry");
        let config = dir.join("config.yml");
        let log = fs::OpenOptions::new().create(true).append(true).open(dir.join("registry.log")).expect("open registry log");
        let mut cmd = Command::new(binary);
        cmd.arg("serve").arg(&config).stdin(Stdio::null()).stdout(log.try_clone().expect("dup registry log")).stderr(log);
        let command = command_line(&cmd);
        cmd.spawn().unwrap_or_else(|e| panic!("cannot spawn `{command}`: {e}"))
    }

    /// Waits until the registry answers `GET /v2/` (200, or 401 when it requires auth).
    fn wait_ready(&mut self) {
        let deadline = std::time::Instant::now() + REGISTRY_START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("registry exited ({status})\n--- log ---\n{}", self.log());
            }
            if let Ok(response) = crate::net::http_get(self.port, "/v2/")
                && (response.status == 200 || (self.auth.is_some() && response.status == 401))
            {
                return;
            }
            if std::time::Instant::now() >= deadline {
                panic!("registry did not answer GET /v2/ within {REGISTRY_START_TIMEOUT:?}\n--- log ---\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the registry process (its data stays); see [`Registry::restart`].
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the registry again on the same port and data after [`Registry::stop`].
    pub fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(self.dir.path(), self.port);
        self.wait_ready();
    }

    /// The user and password the registry requires, if it was started with auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.auth.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Writes a container auth file (`{"auths": {"127.0.0.1:PORT": {"auth": base64}}}`) for
    /// `user`/`password` at `path`, for `REGISTRY_AUTH_FILE`.
    pub fn write_auth_file(&self, path: &Path, user: &str, password: &str) {
        let auth = base64_encode(format!("{user}:{password}").as_bytes());
        let json = serde_json::json!({"auths": {self.addr(): {"auth": auth}}});
        fs::write(path, json.to_string()).expect("write auth file");
    }

    /// `skopeo copy oci:LAYOUT:TAG docker://127.0.0.1:PORT/NAME` (with the registry's
    /// credentials when it requires auth); returns the pushed manifest's digest.
    pub fn push_layout(&self, layout: &Path, tag: &str, name: &str) -> String {
        let mut cmd = Command::new(require_tool("skopeo"));
        cmd.args(["copy", "--dest-tls-verify=false"]);
        if let Some((user, password)) = self.credentials() {
            cmd.arg(format!("--dest-creds={user}:{password}"));
        }
        cmd.arg(crate::oci::oci_ref(layout, tag)).arg(self.docker_ref(name));
        crate::tools::run(&mut cmd);
        self.skopeo_inspect(name)["Digest"].as_str().expect("skopeo inspect has a Digest").to_string()
    }

    /// `skopeo inspect --tls-verify=false docker://127.0.0.1:PORT/NAME` (with credentials
    /// when the registry requires auth).
    pub fn skopeo_inspect(&self, name: &str) -> serde_json::Value {
        let mut cmd = Command::new(require_tool("skopeo"));
        cmd.args(["inspect", "--tls-verify=false"]);
        if let Some((user, password)) = self.credentials() {
            cmd.arg(format!("--creds={user}:{password}"));
        }
        cmd.arg(self.docker_ref(name));
        let out = crate::tools::run_stdout(&mut cmd);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("skopeo inspect printed invalid JSON ({e}): {out}"))
    }

    /// `skopeo copy docker://127.0.0.1:PORT/NAME oci:LAYOUT:TAG` (the registry's image back
    /// into an OCI layout, e.g. for `umoci unpack`).
    pub fn pull_to_layout(&self, name: &str, layout: &Path, tag: &str) {
        let mut cmd = Command::new(require_tool("skopeo"));
        cmd.args(["copy", "--src-tls-verify=false"]);
        if let Some((user, password)) = self.credentials() {
            cmd.arg(format!("--src-creds={user}:{password}"));
        }
        cmd.arg(self.docker_ref(name)).arg(crate::oci::oci_ref(layout, tag));
        crate::tools::run(&mut cmd);
    }

    /// Every request the registry has logged so far ("response completed" lines).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log()
            .lines()
            .filter(|line| line.contains("response completed"))
            .filter_map(|line| {
                Some(LoggedRequest {
                    method: log_field(line, "http.request.method")?,
                    uri: log_field(line, "http.request.uri")?,
                    status: log_field(line, "http.response.status")?.parse().ok()?,
                })
            })
            .collect()
    }

    /// The tags of `repository`, from `GET /v2/REPO/tags/list` (empty when it is unknown).
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let response = crate::net::http_get(self.port, &format!("/v2/{repository}/tags/list"))
            .unwrap_or_else(|e| panic!("GET tags of {repository}: {e}"));
        if response.status == 404 {
            return Vec::new();
        }
        assert_eq!(response.status, 200, "tags/list of {repository}: {}", response.body);
        let value: serde_json::Value = serde_json::from_str(&response.body).expect("tags/list is JSON");
        value["tags"].as_array().map(|tags| tags.iter().filter_map(|t| t.as_str().map(str::to_string)).collect()).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`, the host part of image references (`127.0.0.1:PORT/repo:tag`).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the registry listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `docker://127.0.0.1:PORT/NAME`, the skopeo reference of `name` (`repo:tag` or `repo@digest`).
    pub fn docker_ref(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.addr())
    }

    /// The directory the registry stores its blobs and manifests in.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The config file the registry was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    /// The registry's log (stdout and stderr) so far.
    pub fn log(&self) -> String {
        read_lossy(&self.dir.path().join("registry.log"))
    }
}

/// The value of `key=value` or `key="value"` in a logrus text line.
fn log_field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        Some(quoted[..quoted.find('"')?].to_string())
    } else {
        Some(rest.split_whitespace().next()?.to_string())
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
