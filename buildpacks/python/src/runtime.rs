//! The CPython runtime: a pinned set of Debian bookworm packages (python3.11 and the shared
//! libraries it needs beyond what kiln's Debian run image has), fetched by SHA256 and
//! unpacked into the `python` layer, plus the env that makes it run from there.
//!
//! The table comes from bookworm's `main/binary-amd64/Packages` index (one consistent point
//! release: `python3.11-minimal`, `libpython3.11-minimal` and `libpython3.11-stdlib` share a
//! version). Left out, because `kiln base build` puts them in the run image: `libc6`,
//! `zlib1g` (and `libgcc-s1`, `libstdc++6`, `ca-certificates`, `tzdata`). Left out because
//! only maintainer scripts use them: `dpkg` / `install-info` (readline-common's).
//! Updating Python means replacing the table with the entries of a newer index.

use std::path::Path;

use kiln_sdk::Error;
use kiln_sdk::archive::{ExtractOptions, extract_deb};
use sha2::{Digest, Sha256};

/// Where the pool paths of [`PACKAGES`] are found, unless `BP_PYTHON_DEBIAN_MIRROR` says otherwise.
pub const DEFAULT_ARCHIVE: &str = "http://deb.debian.org/debian/";

/// The interpreter's path inside the `python` layer.
pub const INTERPRETER: &str = "usr/bin/python3.11";

/// The Python version the packages give (for messages, wheel tags and metadata).
pub const PYTHON_VERSION: &str = "3.11.2";

/// One Debian package: where it is in the archive's pool and what its bytes hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deb {
    /// The package name.
    pub name: &'static str,
    /// The Debian version.
    pub version: &'static str,
    /// The `Filename:` field: the path under the archive root.
    pub path: &'static str,
    /// The `SHA256:` field.
    pub sha256: &'static str,
}

macro_rules! deb {
    ($name:literal, $version:literal, $path:literal, $sha256:literal) => {
        Deb { name: $name, version: $version, path: $path, sha256: $sha256 }
    };
}

/// The packages, from bookworm's index (Debian 12, python3.11 3.11.2-6+deb12u8).
pub const PACKAGES: &[Deb] = &[
    deb!(
        "python3.11-minimal",
        "3.11.2-6+deb12u8",
        "pool/main/p/python3.11/python3.11-minimal_3.11.2-6+deb12u8_amd64.deb",
        "4aba533f7cc5e7b93b7ff24482840e96813f5bcde9cce028395b65a0d799ccee"
    ),
    deb!(
        "libpython3.11-minimal",
        "3.11.2-6+deb12u8",
        "pool/main/p/python3.11/libpython3.11-minimal_3.11.2-6+deb12u8_amd64.deb",
        "f3beaa03994ffedacf73c43a0843d53b062d347115d8af65bee2034552a4e6f9"
    ),
    deb!(
        "libpython3.11-stdlib",
        "3.11.2-6+deb12u8",
        "pool/main/p/python3.11/libpython3.11-stdlib_3.11.2-6+deb12u8_amd64.deb",
        "890b3540dad8a1ccc0deeca025db735bcc82629a76adacbe3b50fcc06ed528ca"
    ),
    deb!(
        "media-types",
        "10.0.0",
        "pool/main/m/media-types/media-types_10.0.0_all.deb",
        "aaa46dcb3b39948ae2e0fdb72cfcb2f48c0b59f19785a3da8045c05eb19955dd"
    ),
    deb!(
        "libexpat1",
        "2.5.0-1+deb12u2",
        "pool/main/e/expat/libexpat1_2.5.0-1+deb12u2_amd64.deb",
        "2255e62fc22a86d2c544b8a3f516da9aee19383ad5742722ab4ce7f66a30dbc8"
    ),
    deb!(
        "libssl3",
        "3.0.20-1~deb12u2",
        "pool/main/o/openssl/libssl3_3.0.20-1~deb12u2_amd64.deb",
        "89be24b41bff568ee6e7caf5680a3d808e80315ed92e407056ce0fa7a5bda025"
    ),
    deb!(
        "libbz2-1.0",
        "1.0.8-5+b1",
        "pool/main/b/bzip2/libbz2-1.0_1.0.8-5+b1_amd64.deb",
        "54149da3f44b22d523b26b692033b84503d822cc5122fed606ea69cc83ca5aeb"
    ),
    deb!(
        "libcrypt1",
        "1:4.4.33-2",
        "pool/main/libx/libxcrypt/libcrypt1_4.4.33-2_amd64.deb",
        "f5f60a5cdfd4e4eaa9438ade5078a57741a7a78d659fcb0c701204f523e8bd29"
    ),
    deb!(
        "libdb5.3",
        "5.3.28+dfsg2-1",
        "pool/main/d/db5.3/libdb5.3_5.3.28+dfsg2-1_amd64.deb",
        "7dc5127b8dd0da80e992ba594954c005ae4359d839a24eb65d0d8129b5235c84"
    ),
    deb!(
        "libffi8",
        "3.4.4-1",
        "pool/main/libf/libffi/libffi8_3.4.4-1_amd64.deb",
        "6d9f6c25c30efccce6d4bceaa48ea86c329a3432abb360a141f76ac223a4c34a"
    ),
    deb!(
        "liblzma5",
        "5.4.1-1+deb12u1",
        "pool/main/x/xz-utils/liblzma5_5.4.1-1+deb12u1_amd64.deb",
        "f96d8876b53ec89d76a992bc199679b818cf518225a768954d9451fb556a4eb7"
    ),
    deb!(
        "libncursesw6",
        "6.4-4",
        "pool/main/n/ncurses/libncursesw6_6.4-4_amd64.deb",
        "98fa7a53dc565a38b65fb70422ad08001bf5361d8fbc74255280c329996a6bec"
    ),
    deb!(
        "libtinfo6",
        "6.4-4",
        "pool/main/n/ncurses/libtinfo6_6.4-4_amd64.deb",
        "072d908f38f51090ca28ca5afa3b46b2957dc61fe35094c0b851426859a49a51"
    ),
    deb!(
        "libnsl2",
        "1.3.0-2",
        "pool/main/libn/libnsl/libnsl2_1.3.0-2_amd64.deb",
        "c0d83437fdb016cb289436f49f28a36be44b3e8f1f2498c7e3a095f709c0d6f8"
    ),
    deb!(
        "libtirpc3",
        "1.3.3+ds-1",
        "pool/main/libt/libtirpc/libtirpc3_1.3.3+ds-1_amd64.deb",
        "2a46d5a5e9486da11ffeff5740931740d6deae4f92cd6098df060dc5dff1e1c7"
    ),
    deb!(
        "libtirpc-common",
        "1.3.3+ds-1",
        "pool/main/libt/libtirpc/libtirpc-common_1.3.3+ds-1_all.deb",
        "3e3ef129b4bf61513144236e15e1b4ec57fa5ae3dc8a72137abdbefb7a63af85"
    ),
    deb!(
        "libgssapi-krb5-2",
        "1.20.1-2+deb12u5",
        "pool/main/k/krb5/libgssapi-krb5-2_1.20.1-2+deb12u5_amd64.deb",
        "d8b87aea91b956b416c01a28c44ff6228315ae3b73de40acddac3dc5043607d2"
    ),
    deb!(
        "libkrb5-3",
        "1.20.1-2+deb12u5",
        "pool/main/k/krb5/libkrb5-3_1.20.1-2+deb12u5_amd64.deb",
        "c90801be09701af221b54dd502a59cb378b7284ff31e480738baca317d2f7653"
    ),
    deb!(
        "libk5crypto3",
        "1.20.1-2+deb12u5",
        "pool/main/k/krb5/libk5crypto3_1.20.1-2+deb12u5_amd64.deb",
        "7b6e47d15c5c9cdcd456137533d8308aeba608a54cec73b28bd59bfc4b54cf06"
    ),
    deb!(
        "libcom-err2",
        "1.47.0-2+b2",
        "pool/main/e/e2fsprogs/libcom-err2_1.47.0-2+b2_amd64.deb",
        "a2bac7015e78fbc0c504df3e441f3a22292f1d2d77f9ccda760057f3690e22f2"
    ),
    deb!(
        "libkrb5support0",
        "1.20.1-2+deb12u5",
        "pool/main/k/krb5/libkrb5support0_1.20.1-2+deb12u5_amd64.deb",
        "8b9c05f2d8d461a10d657b118f572af5bf8fd6c8f93dcef81e852c5ab0f428ab"
    ),
    deb!(
        "libkeyutils1",
        "1.6.3-2",
        "pool/main/k/keyutils/libkeyutils1_1.6.3-2_amd64.deb",
        "cfac89e6a7a54ff3c6a4f843310e25efeddaa771baeae470bd98bd588c373563"
    ),
    deb!(
        "libreadline8",
        "8.2-1.3",
        "pool/main/r/readline/libreadline8_8.2-1.3_amd64.deb",
        "e02ebbd3701cf468dbf98d6d917fbe0325e881f07fe8b316150c8d2a64486e66"
    ),
    deb!(
        "readline-common",
        "8.2-1.3",
        "pool/main/r/readline/readline-common_8.2-1.3_all.deb",
        "69317523fe56429aa361545416ad339d138c1500e5a604856a80dd9074b4e35c"
    ),
    deb!(
        "libsqlite3-0",
        "3.40.1-2+deb12u2",
        "pool/main/s/sqlite3/libsqlite3-0_3.40.1-2+deb12u2_amd64.deb",
        "a8d78b40e9b4e422224aeebfe0e4dfc243f6acf3532490b0c05480d4283d41e2"
    ),
    deb!(
        "libuuid1",
        "2.38.1-5+deb12u3",
        "pool/main/u/util-linux/libuuid1_2.38.1-5+deb12u3_amd64.deb",
        "5fff398321da62d28a842bcbabd193d72ae21724962c029dc32b1dc6b2deaeaf"
    ),
];

/// The archive root to fetch from: `BP_PYTHON_DEBIAN_MIRROR` (any mirror of the Debian
/// archive; the digests still decide), else [`DEFAULT_ARCHIVE`]. Always ends in `/`.
pub fn archive_root(configured: Option<&str>) -> String {
    let root = configured.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(DEFAULT_ARCHIVE);
    if root.ends_with('/') { root.to_string() } else { format!("{root}/") }
}

/// `sha256:<hex>` over every package's name, version and digest: the layer's cache key.
/// The archive URL is not part of it: the same bytes from a mirror are the same runtime.
pub fn package_set_digest(packages: &[Deb]) -> String {
    let mut hasher = Sha256::new();
    for deb in packages {
        hasher.update(format!("{} {} {}\n", deb.name, deb.version, deb.sha256));
    }
    format!("sha256:{:x}", hasher.finalize())
}

/// Fetch every package into `scratch` and unpack its `data.tar` into `layer_dir`, then add
/// the `python3`/`python` names. Returns the number of files unpacked.
pub fn install(layer_dir: &Path, archive: &str, scratch: &Path) -> Result<u64, Error> {
    let mut files = 0;
    for deb in PACKAGES {
        let url = format!("{archive}{}", deb.path);
        let file = scratch.join(format!("{}.deb", deb.name));
        kiln_sdk::fetch(&url, &format!("sha256:{}", deb.sha256), &file)
            .map_err(|e| e.context(format!("kiln/python: downloading {} {}", deb.name, deb.version)))?;
        let extracted =
            extract_deb(&file, layer_dir, &ExtractOptions::default()).map_err(|e| e.context(format!("kiln/python: unpacking {}", url)))?;
        for skipped in &extracted.skipped {
            kiln_sdk::log::debug(&format!("{}: skipped {skipped}", deb.name));
        }
        files += extracted.files;
        std::fs::remove_file(&file)?;
    }
    let interpreter = layer_dir.join(INTERPRETER);
    if !interpreter.is_file() {
        return Err(Error::new(format!(
            "kiln/python: {INTERPRETER} is missing after unpacking python3.11-minimal; the package table in buildpacks/python/src/runtime.rs is broken"
        )));
    }
    kiln_sdk::fs::set_executable(&interpreter)?;
    for name in ["python3", "python"] {
        link(&layer_dir.join("usr/bin").join(name), "python3.11")?;
    }
    Ok(files)
}

/// The env the runtime needs, in `env/` (so both the launch and later buildpacks' build
/// env get it): `PYTHONHOME`, and the layer's `usr/bin` and library dirs on the paths.
pub fn write_env(layer: &kiln_sdk::Layer) -> Result<(), Error> {
    let root = layer.path().display().to_string();
    layer.env("PYTHONHOME.override", &format!("{root}/usr"))?;
    layer.env("PATH.prepend", &format!("{root}/usr/bin"))?;
    layer.env("PATH.delim", ":")?;
    layer.env("LD_LIBRARY_PATH.prepend", &format!("{root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu"))?;
    layer.env("LD_LIBRARY_PATH.delim", ":")?;
    // Byte-compiled files would be written next to the sources, in a read-only layer.
    layer.env("PYTHONDONTWRITEBYTECODE.default", "1")?;
    layer.env("PYTHONUNBUFFERED.default", "1")?;
    Ok(())
}

/// A relative symlink `path -> target` (replacing a file there).
pub fn link(path: &Path, target: &str) -> Result<(), Error> {
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path)?;
    }
    #[allow(deprecated, reason = "the one stable symlink call on wasm32-wasip2 (std::os::wasi::fs::symlink_path is unstable)")]
    std::fs::soft_link(target, path).map_err(|e| Error::from(e).context(format!("linking {} to {target}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_one_consistent_python_release() {
        let python: Vec<&Deb> = PACKAGES.iter().filter(|d| d.name.contains("python3.11")).collect();
        assert_eq!(python.len(), 3);
        assert!(python.iter().all(|d| d.version == python[0].version));
        for deb in PACKAGES {
            assert_eq!(deb.sha256.len(), 64, "{}", deb.name);
            assert!(deb.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{}", deb.name);
            assert!(deb.path.starts_with("pool/main/") && deb.path.ends_with(".deb"), "{}", deb.name);
            assert!(deb.path.contains(&format!("/{}_", deb.name)), "{} is at {}", deb.name, deb.path);
        }
        let mut names: Vec<&str> = PACKAGES.iter().map(|d| d.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PACKAGES.len(), "a package twice");
    }

    #[test]
    fn the_set_digest_changes_with_any_package() {
        let digest = package_set_digest(PACKAGES);
        assert!(digest.starts_with("sha256:") && digest.len() == 71);
        assert_eq!(digest, package_set_digest(PACKAGES));
        let mut changed = PACKAGES.to_vec();
        changed[4].sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
        assert_ne!(digest, package_set_digest(&changed));
    }

    #[test]
    fn the_archive_root_ends_in_a_slash() {
        assert_eq!(archive_root(None), DEFAULT_ARCHIVE);
        assert_eq!(archive_root(Some("http://mirror.example/debian")), "http://mirror.example/debian/");
        assert_eq!(archive_root(Some("  ")), DEFAULT_ARCHIVE);
    }
}
