//! A minimal root filesystem made of the host's static busybox, to serve as a run image.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

/// Where the host's busybox is expected (Debian package `busybox-static`).
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// The applets [`busybox_rootfs`] links in `/bin`, each a symlink to `busybox`.
pub const APPLETS: &[&str] = &["sh", "ls", "cat", "echo", "env", "httpd", "wget", "id", "sleep"];

/// The `/etc/passwd` of [`busybox_rootfs`]: root and the CNB user `cnb` (uid 1000).
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ncnb:x:1000:1000::/home/cnb:/bin/sh\n";

/// The `/etc/group` of [`busybox_rootfs`]: root and `cnb` (gid 1000).
pub const GROUP: &str = "root:x:0:\ncnb:x:1000:\n";

/// Makes a minimal root filesystem in `dir` (created if missing).
///
/// It holds `/bin/busybox` (a copy of the host's static busybox) with the [`APPLETS`] as
/// symlinks beside it, `/tmp` (mode 1777), `/etc/passwd` and `/etc/group` (root and `cnb`,
/// uid/gid 1000), `/home/cnb`, `/root` and `/usr/bin`.
///
/// Panics if the host's busybox is missing or is not statically linked: a dynamic busybox
/// cannot run inside a root filesystem that has no libc.
pub fn busybox_rootfs(dir: &Path) {
    let busybox = Path::new(HOST_BUSYBOX);
    let bytes = fs::read(busybox).unwrap_or_else(|e| {
        panic!("cannot read the host's busybox at {HOST_BUSYBOX} ({e}); install it with `apt-get install -y busybox-static`")
    });
    match elf_interpreter(&bytes) {
        Ok(None) => {}
        Ok(Some(interp)) => panic!(
            "{HOST_BUSYBOX} is dynamically linked (interpreter {interp}), so it cannot run in a \
             rootfs without libc; install the static one with `apt-get install -y busybox-static`"
        ),
        Err(why) => panic!("{HOST_BUSYBOX} is not a usable ELF executable: {why}"),
    }

    for sub in ["bin", "etc", "home/cnb", "root", "tmp", "usr/bin"] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))
        .unwrap_or_else(|e| panic!("chmod 1777 {}/tmp: {e}", dir.display()));

    let target = dir.join("bin/busybox");
    fs::write(&target, &bytes).unwrap_or_else(|e| panic!("write {}: {e}", target.display()));
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("chmod {}: {e}", target.display()));
    for applet in APPLETS {
        let link = dir.join("bin").join(applet);
        symlink("busybox", &link).unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
    }

    for (name, text) in [("passwd", PASSWD), ("group", GROUP)] {
        let path = dir.join("etc").join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// The program interpreter (`PT_INTERP`) an ELF file asks for, or `None` for a static one.
pub fn elf_interpreter(bytes: &[u8]) -> Result<Option<String>, String> {
    if bytes.len() < 0x34 || &bytes[..4] != b"\x7fELF" {
        return Err("no ELF header".into());
    }
    let is64 = match bytes[4] {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    let le = match bytes[5] {
        1 => true,
        2 => false,
        d => return Err(format!("unknown ELF data encoding {d}")),
    };
    let read = |off: usize, len: usize| -> Result<u64, String> {
        let field = bytes.get(off..off + len).ok_or_else(|| format!("truncated ELF at offset {off}"))?;
        let mut buf = [0u8; 8];
        if le {
            buf[..len].copy_from_slice(field);
            Ok(u64::from_le_bytes(buf))
        } else {
            buf[8 - len..].copy_from_slice(field);
            Ok(u64::from_be_bytes(buf))
        }
    };
    let word = if is64 { 8 } else { 4 };
    // e_phoff follows e_entry; e_phentsize and e_phnum follow e_flags and e_ehsize.
    let phoff = read(0x18 + word, word)? as usize;
    let phentsize = read(0x18 + 3 * word + 6, 2)? as usize;
    let phnum = read(0x18 + 3 * word + 8, 2)? as usize;
    const PT_INTERP: u64 = 3;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if read(ph, 4)? != PT_INTERP {
            continue;
        }
        // p_offset and p_filesz: Elf64 has p_flags before p_offset; Elf32 does not.
        let (offset, filesz) = if is64 { (read(ph + 8, 8)?, read(ph + 32, 8)?) } else { (read(ph + 4, 4)?, read(ph + 16, 4)?) };
        let raw = bytes.get(offset as usize..(offset + filesz) as usize).ok_or("PT_INTERP points outside the file")?;
        let interp = raw.split(|b| *b == 0).next().unwrap_or_default();
        return Ok(Some(String::from_utf8_lossy(interp).into_owned()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_busybox_is_static_and_sh_is_dynamic() {
        let busybox = fs::read(HOST_BUSYBOX).unwrap();
        assert_eq!(elf_interpreter(&busybox), Ok(None));
        let sh = fs::read(crate::require_tool("sh").canonicalize().unwrap()).unwrap();
        let interp = elf_interpreter(&sh).unwrap().expect("host sh is dynamic");
        assert!(interp.contains("ld-linux"), "{interp}");
        assert!(elf_interpreter(b"#!/bin/sh\n").is_err());
    }

    #[test]
    fn busybox_rootfs_has_the_expected_layout() {
        let dir = tempfile::tempdir().unwrap();
        busybox_rootfs(dir.path());
        let root = dir.path();
        assert_eq!(fs::read_link(root.join("bin/httpd")).unwrap(), Path::new("busybox"));
        assert_eq!(fs::metadata(root.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
        let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
        assert!(passwd.contains("cnb:x:1000:1000::/home/cnb:/bin/sh"));
        assert!(root.join("home/cnb").is_dir() && root.join("usr/bin").is_dir());
        let out = crate::run(std::process::Command::new(root.join("bin/busybox")).args(["echo", "alive"]));
        assert_eq!(out.stdout, b"alive\n");
    }
}
