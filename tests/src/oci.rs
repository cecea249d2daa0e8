//! Reading OCI image layouts with the real tools: skopeo and umoci.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::tools::{require_tool, run};

/// The skopeo reference `oci:DIR:TAG` of a tag in an OCI image layout.
///
/// Panics if `layout_dir` holds a `:`, which skopeo would misread.
pub fn oci_ref(layout_dir: &Path, tag: &str) -> String {
    let dir = layout_dir.to_str().expect("layout path is UTF-8");
    assert!(!dir.contains(':'), "OCI layout path {dir} contains ':', which skopeo's oci: transport cannot parse");
    format!("oci:{dir}:{tag}")
}

fn skopeo_json(args: &[&str]) -> Value {
    let mut cmd = Command::new(require_tool("skopeo"));
    cmd.args(args);
    let out = run(&mut cmd);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("skopeo {args:?} printed invalid JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)))
}

/// `skopeo inspect oci:DIR:TAG`: skopeo's summary (`Digest`, `Labels`, `Layers`, `Env`, ...).
pub fn skopeo_inspect(layout_dir: &Path, tag: &str) -> Value {
    skopeo_json(&["inspect", &oci_ref(layout_dir, tag)])
}

/// `skopeo inspect --config oci:DIR:TAG`: the image's OCI config blob as skopeo reads it.
pub fn skopeo_inspect_config(layout_dir: &Path, tag: &str) -> Value {
    skopeo_json(&["inspect", "--config", &oci_ref(layout_dir, tag)])
}

/// `skopeo inspect --raw oci:DIR:TAG`: the exact bytes of the manifest (or index) the tag names.
pub fn skopeo_inspect_raw(layout_dir: &Path, tag: &str) -> Vec<u8> {
    let mut cmd = Command::new(require_tool("skopeo"));
    cmd.args(["inspect", "--raw", &oci_ref(layout_dir, tag)]);
    run(&mut cmd).stdout
}

/// The digest (`sha256:<hex>`) of the manifest the tag names, computed from the raw bytes skopeo
/// reads back.
pub fn manifest_digest_via_skopeo(layout_dir: &Path, tag: &str) -> String {
    sha256_digest(&skopeo_inspect_raw(layout_dir, tag))
}

/// `sha256:<hex>` of `bytes`, the OCI digest form.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An OCI runtime bundle: a root filesystem and the runtime `config.json` for it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The root filesystem directory (`BUNDLE/rootfs` for one umoci wrote).
    pub rootfs: PathBuf,
    /// The OCI runtime configuration: `process.args`, `process.env`, `process.cwd`, ...
    pub config: Value,
}

impl Bundle {
    /// `process.args`: the command the image runs (entrypoint followed by cmd).
    pub fn args(&self) -> Vec<String> {
        string_array(&self.config["process"]["args"])
    }

    /// `process.env` split into name and value pairs, in order.
    pub fn env(&self) -> Vec<(String, String)> {
        string_array(&self.config["process"]["env"])
            .into_iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv, String::new()),
            })
            .collect()
    }

    /// `process.cwd`, or `/` when the config has none.
    pub fn cwd(&self) -> String {
        self.config["process"]["cwd"].as_str().filter(|s| !s.is_empty()).unwrap_or("/").to_string()
    }
}

fn string_array(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => {
            items.iter().map(|v| v.as_str().unwrap_or_else(|| panic!("expected a string, found {v}")).to_string()).collect()
        }
        other => panic!("expected an array of strings, found {other}"),
    }
}

/// `umoci unpack --rootless --image DIR:TAG BUNDLE`, then reads `BUNDLE/config.json`.
///
/// `bundle_dir` must be missing or empty (umoci creates it).
pub fn umoci_unpack(layout_dir: &Path, tag: &str, bundle_dir: &Path) -> Bundle {
    let image = format!("{}:{tag}", layout_dir.display());
    let mut cmd = Command::new(require_tool("umoci"));
    cmd.args(["unpack", "--rootless", "--image", &image]).arg(bundle_dir);
    run(&mut cmd);
    let config_path = bundle_dir.join("config.json");
    let text = fs::read(&config_path).unwrap_or_else(|e| panic!("umoci wrote no {}: {e}", config_path.display()));
    let config = serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", config_path.display()));
    Bundle { rootfs: bundle_dir.join("rootfs"), config }
}

/// Makes (or extends) an OCI image layout with a one-layer image built by umoci.
///
/// Runs `umoci init` (if `layout_dir` holds no layout yet), `umoci new --image DIR:TAG`,
/// `umoci insert --rootless --image DIR:TAG ROOTFS /` (files of the current user become
/// uid 0 in the layer) and, when `config_flags` is not empty,
/// `umoci config --image DIR:TAG FLAGS...` (e.g. `["--config.cmd", "/bin/sh"]`).
/// A busybox rootfs from [`crate::busybox_rootfs`] makes a small run image this way.
pub fn umoci_image_from_dir(layout_dir: &Path, tag: &str, rootfs: &Path, config_flags: &[&str]) {
    let umoci = require_tool("umoci");
    let image = format!("{}:{tag}", layout_dir.display());
    if !layout_dir.join("oci-layout").exists() {
        run(Command::new(&umoci).args(["init", "--layout"]).arg(layout_dir));
    }
    run(Command::new(&umoci).args(["new", "--image", &image]));
    run(Command::new(&umoci).args(["insert", "--rootless", "--no-history", "--image", &image]).arg(rootfs).arg("/"));
    if !config_flags.is_empty() {
        run(Command::new(&umoci).args(["config", "--no-history", "--image", &image]).args(config_flags));
    }
}
