//! A real OCI registry (Debian's `docker-registry`, distribution 2.8) on 127.0.0.1.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::net::{free_port, poll_http};
use crate::tools::{command_line, require_tool};

/// How long [`Registry::start`] waits for `GET /v2/` to answer 200.
pub const REGISTRY_START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `docker-registry serve` process with filesystem storage in a temp dir; killed on drop.
///
/// It speaks plain HTTP without auth: tell skopeo `--tls-verify=false` (or
/// `--dest-tls-verify=false` / `--src-tls-verify=false` for `skopeo copy`).
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Registry {
    /// Starts a registry on a free port of 127.0.0.1 and waits until `GET /v2/` answers 200.
    ///
    /// Panics (with the registry's log) if `docker-registry` is missing, exits, or does not
    /// answer within [`REGISTRY_START_TIMEOUT`].
    pub fn start() -> Registry {
        let binary = require_tool("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("kiln-registry-")
            .tempdir()
            .expect("create a temp dir for the registry");
        let port = free_port();
        let data = dir.path().join("data");
        fs::create_dir(&data).expect("create registry data dir");
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                data.display()
            ),
        )
        .expect("write registry config");
        let log = File::create(dir.path().join("registry.log")).expect("create registry log");
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup registry log"))
            .stderr(log);
        let command = command_line(&cmd);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn `{command}`: {e}"));
        let mut registry = Registry { child, port, dir };

        let result = poll_http(port, "/v2/", REGISTRY_START_TIMEOUT, || {
            match registry.child.try_wait() {
                Ok(Some(status)) => Some(format!("`{command}` exited ({status})")),
                Ok(None) => None,
                Err(e) => Some(format!("waiting for `{command}`: {e}")),
            }
        });
        if let Err(why) = result {
            panic!(
                "registry did not start: {why}\n--- log ---\n{}",
                registry.log()
            );
        }
        registry
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

fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&fs::read(path).unwrap_or_default()).into_owned()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
