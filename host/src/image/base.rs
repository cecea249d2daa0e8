//! Making a base (run) image from a root filesystem directory.
//!
//! The result is a one-layer image whose config carries what the CNB platform spec asks of a
//! run image ("Run image" / "Base labels"): `os`, `architecture`, a `PATH`, a `User`, the
//! `io.buildpacks.base.*` target labels and `io.buildpacks.rebasable=true`. It is written into
//! any [`ImageStore`], so it serves both the local store and an `oci:DIR:TAG` layout.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::labels::{BASE_DISTRO_NAME_LABEL, BASE_DISTRO_VERSION_LABEL, BASE_ID_LABEL, REBASABLE_LABEL, STACK_ID_LABEL};
use super::layer_tar::{LayerBuilder, ModePolicy, Owner};
use super::oci::{Descriptor, History, ImageConfig, MEDIA_TYPE_OCI_CONFIG, Manifest, NORMALIZED_CREATED, default_path_env};
use super::store::{ImageStore, validate_tag_name};
use super::{Digest, Result};

/// Options of [`create_base_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImageOptions {
    /// The config `User`. Default `1000:1000`.
    pub user: String,
    /// `io.buildpacks.base.id`. Default: the tag's repository part, e.g. `kiln/run` for
    /// `kiln/run:base`.
    pub id: Option<String>,
    /// `io.buildpacks.base.distro.name`. Default: `ID` from the rootfs's `etc/os-release`
    /// (or `usr/lib/os-release`), if it is a regular file.
    pub distro_name: Option<String>,
    /// `io.buildpacks.base.distro.version`. Default: `VERSION_ID` from the same file.
    pub distro_version: Option<String>,
    /// The deprecated `io.buildpacks.stack.id`, for platforms older than API 0.12. Default none.
    pub stack_id: Option<String>,
    /// More environment (`NAME=value`) after `PATH`.
    pub env: Vec<String>,
    /// More labels; they override the ones above.
    pub labels: BTreeMap<String, String>,
    /// How file modes are taken. Default [`ModePolicy::Preserve`]: a root filesystem needs its
    /// real modes (`/tmp` 1777, `/etc/shadow` 0640, setuid binaries); owners are still 0:0
    /// and mtimes still normalized, so the image stays reproducible.
    pub mode_policy: ModePolicy,
}

impl Default for BaseImageOptions {
    fn default() -> Self {
        Self {
            user: "1000:1000".to_owned(),
            id: None,
            distro_name: None,
            distro_version: None,
            stack_id: None,
            env: Vec::new(),
            labels: BTreeMap::new(),
            mode_policy: ModePolicy::Preserve,
        }
    }
}

/// Builds a one-layer image from `rootfs_dir` (everything owned by 0:0, symlinks kept as
/// symlinks), writes it into `store`, tags it `tag` and returns the manifest descriptor.
///
/// The config has `os` linux, the host's `architecture`, `created` 1980-01-01T00:00:01Z,
/// `Env` [`default_path_env`] plus `options.env`, `User` from `options`, and the labels
/// `io.buildpacks.base.id`, `io.buildpacks.base.distro.name`/`.version` (when known) and
/// `io.buildpacks.rebasable=true`. The same rootfs gives the same digest every time.
pub fn create_base_image(store: &ImageStore, rootfs_dir: impl AsRef<Path>, tag: &str, options: &BaseImageOptions) -> Result<Descriptor> {
    let rootfs_dir = rootfs_dir.as_ref();
    validate_tag_name(tag)?;
    let _span = tracing::info_span!("create_base_image", tag, rootfs = %rootfs_dir.display()).entered();

    let mut layer = LayerBuilder::new().with_mode_policy(options.mode_policy);
    layer.add_tree(rootfs_dir, "/", Owner::ROOT)?;
    let blob = layer.write_blob(store)?;
    tracing::debug!(digest = %blob.digest, diff_id = %blob.diff_id, size = blob.size, "wrote base layer");

    let (found_name, found_version) = read_os_release(rootfs_dir);
    let mut labels = BTreeMap::new();
    labels.insert(BASE_ID_LABEL.to_owned(), options.id.clone().unwrap_or_else(|| default_id(tag)));
    if let Some(name) = options.distro_name.clone().or(found_name) {
        labels.insert(BASE_DISTRO_NAME_LABEL.to_owned(), name);
    }
    if let Some(version) = options.distro_version.clone().or(found_version) {
        labels.insert(BASE_DISTRO_VERSION_LABEL.to_owned(), version);
    }
    if let Some(stack) = &options.stack_id {
        labels.insert(STACK_ID_LABEL.to_owned(), stack.clone());
    }
    labels.insert(REBASABLE_LABEL.to_owned(), "true".to_owned());
    labels.extend(options.labels.clone());

    let mut config = ImageConfig::new_linux();
    config.config.user = options.user.clone();
    config.config.env = std::iter::once(default_path_env()).chain(options.env.iter().cloned()).collect();
    config.config.labels = labels;
    config.rootfs.diff_ids = vec![blob.diff_id.clone()];
    config.history = vec![History {
        created: Some(NORMALIZED_CREATED.to_owned()),
        created_by: Some("kiln: base image from a root filesystem".to_owned()),
        ..History::default()
    }];

    let config_json = config.to_json();
    let config_descriptor = Descriptor::new(MEDIA_TYPE_OCI_CONFIG, Digest::of_bytes(&config_json), config_json.len() as u64);
    let manifest = Manifest::new(config_descriptor, vec![blob.descriptor()]);
    let descriptor = store.write_image(&manifest, &config)?;
    store.tag(tag, &descriptor)?;
    Ok(descriptor)
}

/// `kiln/run:base` -> `kiln/run`; characters outside `[A-Za-z0-9./-]` become `-`.
fn default_id(tag: &str) -> String {
    let repository = match tag.rsplit_once(':') {
        Some((repo, t)) if !t.contains('/') => repo,
        _ => tag,
    };
    repository.chars().map(|c| if c.is_ascii_alphanumeric() || "./-".contains(c) { c } else { '-' }).collect()
}

/// `ID` and `VERSION_ID` of the rootfs's os-release, read only from a regular file (a symlink
/// there is not followed; e.g. Debian's `etc/os-release -> ../usr/lib/os-release` falls back
/// to `usr/lib/os-release`).
fn read_os_release(rootfs: &Path) -> (Option<String>, Option<String>) {
    for candidate in ["etc/os-release", "usr/lib/os-release"] {
        let path = rootfs.join(candidate);
        let regular = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        let parents_plain = ["etc", "usr", "usr/lib"]
            .iter()
            .filter(|p| candidate.starts_with(*p))
            .all(|p| fs::symlink_metadata(rootfs.join(p)).is_ok_and(|m| m.is_dir()));
        if !(regular && parents_plain) {
            continue;
        }
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let value = |key: &str| {
            text.lines()
                .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned())
                .find(|v| !v.is_empty())
        };
        return (value("ID"), value("VERSION_ID"));
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::oci::host_architecture;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::process::Command;

    fn make_rootfs(root: &Path) {
        for d in ["bin", "etc", "tmp", "usr/lib", "var/www"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::write(root.join("usr/lib/os-release"), "NAME=\"Test\"\nID=testos\nVERSION_ID=\"1.2\"\n").unwrap();
        symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
        fs::write(root.join("bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
        fs::set_permissions(root.join("bin/hello"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(root.join("var/www/index.html"), "<h1>hi</h1>\n").unwrap();
        symlink("/", root.join("rootlink")).unwrap();
        symlink("../../etc", root.join("var/www/up")).unwrap();
        // Names past the ustar limits (100-byte link, 255-byte path) use GNU long-name entries.
        let deep = root.join("var/www").join("d".repeat(120));
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("f".repeat(150)), "deep").unwrap();
        symlink("t".repeat(150), root.join("longlink")).unwrap();
    }

    #[test]
    fn base_image_config_and_reproducibility() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        make_rootfs(&rootfs);
        let store = ImageStore::open(tmp.path().join("store")).unwrap();
        let desc = create_base_image(&store, &rootfs, "kiln/run:base", &BaseImageOptions::default()).unwrap();
        let image = store.read_image("kiln/run:base").unwrap();
        assert_eq!(image.manifest_descriptor, {
            let mut d = desc.clone();
            d.annotations.insert("org.opencontainers.image.ref.name".into(), "kiln/run:base".into());
            d
        });
        let c = &image.config;
        assert_eq!((c.os.as_str(), c.architecture.as_str()), ("linux", host_architecture()));
        assert_eq!(c.created.as_deref(), Some("1980-01-01T00:00:01Z"));
        assert_eq!(c.config.user, "1000:1000");
        assert_eq!(c.config.env, [default_path_env()]);
        assert_eq!(image.label(BASE_ID_LABEL), Some("kiln/run"));
        assert_eq!(image.label(BASE_DISTRO_NAME_LABEL), Some("testos"));
        assert_eq!(image.label(BASE_DISTRO_VERSION_LABEL), Some("1.2"));
        assert_eq!(image.label(REBASABLE_LABEL), Some("true"));
        assert_eq!(image.manifest.layers.len(), 1);

        // Same rootfs, other store, other tag spelling of options: same manifest digest.
        let store2 = ImageStore::open(tmp.path().join("store2")).unwrap();
        let desc2 = create_base_image(&store2, &rootfs, "kiln/run:base", &BaseImageOptions::default()).unwrap();
        assert_eq!(desc2.digest, desc.digest);

        let options = BaseImageOptions {
            user: "1001:1001".into(),
            distro_name: Some("ubuntu".into()),
            distro_version: Some("24.04".into()),
            id: Some("io.example/run".into()),
            ..BaseImageOptions::default()
        };
        create_base_image(&store, &rootfs, "other", &options).unwrap();
        let other = store.read_image("other").unwrap();
        assert_eq!(other.config.config.user, "1001:1001");
        assert_eq!(other.label(BASE_DISTRO_NAME_LABEL), Some("ubuntu"));
        assert_eq!(other.label(BASE_ID_LABEL), Some("io.example/run"));
        assert_eq!(other.manifest.layers, image.manifest.layers, "same layer blob reused");
    }

    #[test]
    fn default_id_strips_the_tag() {
        assert_eq!(default_id("kiln/run:base"), "kiln/run");
        assert_eq!(default_id("run"), "run");
        assert_eq!(default_id("a_b:1"), "a-b");
    }

    /// Finds a tool; in CI (`CI` set) a missing tool fails the test instead of skipping it.
    fn tool(name: &str) -> bool {
        let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
        if !found {
            assert!(std::env::var_os("CI").is_none(), "{name} is required in CI");
            eprintln!("skipping: {name} is not installed");
        }
        found
    }

    fn run(cmd: &mut Command) -> String {
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{cmd:?} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn skopeo_and_umoci_accept_a_base_image() {
        if !(tool("skopeo") && tool("umoci")) {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        make_rootfs(&rootfs);
        let layout = tmp.path().join("layout");
        let store = ImageStore::open(&layout).unwrap();
        let desc = create_base_image(&store, &rootfs, "base", &BaseImageOptions::default()).unwrap();
        let oci = format!("oci:{}:base", layout.display());

        let inspect: serde_json::Value = serde_json::from_str(&run(Command::new("skopeo").args(["inspect", &oci]))).unwrap();
        assert_eq!(inspect["Digest"], desc.digest.as_str());
        assert_eq!(inspect["Architecture"], host_architecture());
        assert_eq!(inspect["Os"], "linux");
        assert_eq!(inspect["Labels"][REBASABLE_LABEL], "true");
        let config: serde_json::Value = serde_json::from_str(&run(Command::new("skopeo").args(["inspect", "--config", &oci]))).unwrap();
        assert_eq!(config["config"]["User"], "1000:1000");

        let bundle = tmp.path().join("bundle");
        let image = format!("{}:base", layout.display());
        run(Command::new("umoci").args(["unpack", "--rootless", "--image", &image]).arg(&bundle));
        let unpacked = bundle.join("rootfs");
        assert_eq!(fs::read_to_string(unpacked.join("var/www/index.html")).unwrap(), "<h1>hi</h1>\n");
        assert_eq!(fs::read_link(unpacked.join("rootlink")).unwrap(), Path::new("/"));
        assert_eq!(fs::read_link(unpacked.join("var/www/up")).unwrap(), Path::new("../../etc"));
        let deep = unpacked.join("var/www").join("d".repeat(120)).join("f".repeat(150));
        assert_eq!(fs::read_to_string(deep).unwrap(), "deep");
        assert_eq!(fs::read_link(unpacked.join("longlink")).unwrap(), Path::new(&"t".repeat(150)));
        assert_eq!(fs::metadata(unpacked.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
        assert_eq!(fs::metadata(unpacked.join("bin/hello")).unwrap().permissions().mode() & 0o777, 0o755);
        let runtime: serde_json::Value = serde_json::from_str(&fs::read_to_string(bundle.join("config.json")).unwrap()).unwrap();
        assert!(runtime["process"]["env"].as_array().unwrap().iter().any(|e| e == default_path_env().as_str()));
    }
}
