//! What maintainer scripts would have made, made by kiln instead (no script ever runs).
//!
//! | path | what | why |
//! |---|---|---|
//! | `/etc/passwd`, `/etc/group` | `root` (0), `cnb` (1000, home `/home/cnb`), `nobody`/`nogroup` | base-passwd's postinst; the CNB run user |
//! | `/home/cnb` | mode 1777 | the layer's owner is 0:0, so the app user writes there through the mode (sticky, like `/tmp`) |
//! | `/root` 0700, `/tmp` 1777 | | |
//! | `/etc/ssl/certs/ca-certificates.crt` | every `/usr/share/ca-certificates/**/*.crt`, sorted by path, concatenated | ca-certificates' postinst (`update-ca-certificates`) |
//! | `/etc/localtime` -> `/usr/share/zoneinfo/Etc/UTC`, `/etc/timezone` | when tzdata is in | tzdata's postinst |
//! | `/bin/sh`, `/bin/httpd`, ... -> `busybox` | [`BUSYBOX_APPLETS`] not shipped by a package, when busybox is in | a shell for `sh -c` processes, a web server |
//! | `/etc/nsswitch.conf` | `files` for users, `files dns` for hosts | glibc's lookups |
//! | `/usr/lib/os-release`, `/etc/os-release` | written unless base-files is in | `ID=debian`, `VERSION_ID` |
//! | `/var/lib/dpkg/status.d/<package>` | one stanza each | so image scanners (syft, trivy) see the packages, as in distroless |

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use walkdir::WalkDir;

use super::packages::Package;

/// The busybox applets linked in `/bin` (when busybox is in and no package ships the name):
/// a shell for `sh -c` processes and the few tools a web process or a health check uses.
pub const BUSYBOX_APPLETS: &[&str] = &["sh", "cat", "echo", "env", "httpd", "id", "ls", "sleep", "wget"];

/// The run user the image's config names.
pub const CNB_USER: &str = "1000:1000";

/// What the finishing step needs to know about the distribution.
pub struct Distro<'a> {
    /// `debian`.
    pub id: &'a str,
    /// `12`.
    pub version_id: &'a str,
    /// `bookworm`.
    pub codename: &'a str,
}

/// Makes the directories of `rel` below `root` (mode 0755 when created), refusing a
/// symlink anywhere on the way: a package's link must never redirect kiln's writes.
fn parents(root: &Path, rel: &str) -> Result<(), String> {
    let mut dir = root.to_path_buf();
    let components: Vec<&str> = rel.split('/').collect();
    for part in &components[..components.len().saturating_sub(1)] {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{} is not a directory (a symlink is never followed)", dir.display())),
            Err(_) => {
                fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
                    .map_err(|e| format!("cannot set the mode of {}: {e}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Removes a file or symlink at `path` (never a directory) so kiln's own can take its place.
fn clear(path: &Path) -> Result<(), String> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(format!("{} is a directory", path.display())),
        Ok(_) => fs::remove_file(path).map_err(|e| format!("cannot replace {}: {e}", path.display())),
        Err(_) => Ok(()),
    }
}

fn write(root: &Path, rel: &str, contents: &[u8], mode: u32) -> Result<(), String> {
    parents(root, rel)?;
    let path = root.join(rel);
    clear(&path)?;
    let mut file =
        fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))
}

fn make_dir(root: &Path, rel: &str, mode: u32) -> Result<(), String> {
    parents(root, &format!("{rel}/x"))?;
    let path = root.join(rel);
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))
}

fn link(root: &Path, target: &str, rel: &str) -> Result<(), String> {
    parents(root, rel)?;
    let path = root.join(rel);
    clear(&path)?;
    symlink(target, &path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

/// Adds users, the CA bundle, `/bin/sh`, os-release and the rest of the table above to the
/// unpacked `rootfs`; `packages` are the packages unpacked into it.
pub fn finish_rootfs(rootfs: &Path, packages: &[&Package], distro: &Distro<'_>) -> Result<(), String> {
    let has = |name: &str| packages.iter().any(|p| p.name == name);
    fs::create_dir_all(rootfs).map_err(|e| format!("cannot create {}: {e}", rootfs.display()))?;
    fs::set_permissions(rootfs, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot set the mode of {}: {e}", rootfs.display()))?;
    write(
        rootfs,
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\n\
          cnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n\
          nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        0o644,
    )?;
    write(rootfs, "etc/group", b"root:x:0:\ncnb:x:1000:\nnogroup:x:65534:\n", 0o644)?;
    write(rootfs, "etc/nsswitch.conf", b"passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n", 0o644)?;
    make_dir(rootfs, "root", 0o700)?;
    make_dir(rootfs, "home", 0o755)?;
    make_dir(rootfs, "home/cnb", 0o1777)?;
    make_dir(rootfs, "tmp", 0o1777)?;

    if !has("base-files") {
        let os_release = format!(
            "PRETTY_NAME=\"Debian GNU/Linux {v} ({c})\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"{v}\"\n\
             VERSION=\"{v} ({c})\"\nVERSION_CODENAME={c}\nID={id}\nHOME_URL=\"https://www.debian.org/\"\n",
            v = distro.version_id,
            c = distro.codename,
            id = distro.id,
        );
        write(rootfs, "usr/lib/os-release", os_release.as_bytes(), 0o644)?;
        link(rootfs, "../usr/lib/os-release", "etc/os-release")?;
    }

    let share = rootfs.join("usr/share/ca-certificates");
    if fs::symlink_metadata(&share).is_ok_and(|m| m.is_dir()) {
        let mut certs: Vec<_> = WalkDir::new(&share)
            .follow_links(false)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "crt"))
            .map(|e| e.into_path())
            .collect();
        certs.sort();
        let mut bundle = Vec::new();
        for cert in &certs {
            let pem = fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
            bundle.extend_from_slice(&pem);
            if !pem.ends_with(b"\n") {
                bundle.push(b'\n');
            }
        }
        write(rootfs, "etc/ssl/certs/ca-certificates.crt", &bundle, 0o644)?;
    }

    if has("tzdata") && rootfs.join("usr/share/zoneinfo/Etc/UTC").exists() {
        link(rootfs, "/usr/share/zoneinfo/Etc/UTC", "etc/localtime")?;
        write(rootfs, "etc/timezone", b"Etc/UTC\n", 0o644)?;
    }

    let busybox = rootfs.join("bin/busybox");
    if fs::symlink_metadata(&busybox).is_ok_and(|m| m.is_file()) {
        for applet in BUSYBOX_APPLETS {
            let taken =
                ["bin", "usr/bin", "sbin", "usr/sbin"].iter().any(|dir| fs::symlink_metadata(rootfs.join(dir).join(applet)).is_ok());
            if !taken {
                link(rootfs, "busybox", &format!("bin/{applet}"))?;
            }
        }
    }

    make_dir(rootfs, "var/lib/dpkg/status.d", 0o755)?;
    for p in packages {
        let mut stanza = format!("Package: {}\nStatus: install ok installed\n", p.name);
        if let Some(source) = &p.source {
            stanza.push_str(&format!("Source: {source}\n"));
        }
        stanza.push_str(&format!("Version: {}\nArchitecture: {}\n", p.version, p.architecture));
        write(rootfs, &format!("var/lib/dpkg/status.d/{}", p.name), stanza.as_bytes(), 0o644)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_what_the_scripts_would() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("rootfs");
        fs::create_dir_all(root.join("usr/share/ca-certificates/mozilla")).unwrap();
        fs::write(root.join("usr/share/ca-certificates/mozilla/B.crt"), "B\n").unwrap();
        fs::write(root.join("usr/share/ca-certificates/mozilla/A.crt"), "A").unwrap();
        fs::write(root.join("usr/share/ca-certificates/mozilla/notes.txt"), "x").unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/busybox"), "elf").unwrap();
        let pkgs = [Package {
            name: "busybox-static".into(),
            version: "1:1.35".into(),
            architecture: "amd64".into(),
            source: Some("busybox".into()),
            ..Package::default()
        }];
        let refs: Vec<&Package> = pkgs.iter().collect();
        finish_rootfs(&root, &refs, &Distro { id: "debian", version_id: "12", codename: "bookworm" }).unwrap();

        assert!(fs::read_to_string(root.join("etc/passwd")).unwrap().contains("cnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n"));
        assert!(fs::read_to_string(root.join("etc/group")).unwrap().contains("cnb:x:1000:\n"));
        assert_eq!(fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt")).unwrap(), "A\nB\n");
        assert_eq!(fs::read_link(root.join("bin/sh")).unwrap(), Path::new("busybox"));
        assert_eq!(fs::read_link(root.join("bin/httpd")).unwrap(), Path::new("busybox"));
        let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("tmp"), 0o1777);
        assert_eq!(mode("home/cnb"), 0o1777);
        assert_eq!(mode("root"), 0o700);
        let os = fs::read_to_string(root.join("usr/lib/os-release")).unwrap();
        assert!(os.contains("ID=debian\n") && os.contains("VERSION_ID=\"12\"\n"), "{os}");
        assert_eq!(
            fs::read_to_string(root.join("var/lib/dpkg/status.d/busybox-static")).unwrap(),
            "Package: busybox-static\nStatus: install ok installed\nSource: busybox\nVersion: 1:1.35\nArchitecture: amd64\n"
        );
        assert!(!root.join("etc/localtime").exists());
    }
}
