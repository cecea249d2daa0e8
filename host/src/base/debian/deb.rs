//! Unpacking a `.deb`: an `ar` archive whose `data.tar.{xz,zst,gz}` (or plain `data.tar`)
//! holds the package's files. Only the data is unpacked: `control.tar.*` (maintainer
//! scripts, conffile lists) is never read, and no script runs — the distroless approach.
//!
//! Entries go through [`extract_tar`], which refuses `..`, confines absolute names, creates
//! symlinks without following them and never writes through a symlinked parent.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::image::ExtractStats;
use crate::image::layer_tar::extract_tar;

/// Unpacks the data of the `.deb` at `deb` into `rootfs`.
pub fn unpack_deb(deb: &Path, rootfs: &Path) -> Result<ExtractStats, String> {
    let file = File::open(deb).map_err(|e| format!("cannot open {}: {e}", deb.display()))?;
    let mut archive = ar::Archive::new(BufReader::new(file));
    let mut saw_debian_binary = false;
    while let Some(entry) = archive.next_entry() {
        let entry = entry.map_err(|e| format!("{} is not a valid .deb (ar archive): {e}", deb.display()))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).trim_end_matches('/').to_owned();
        if name == "debian-binary" {
            saw_debian_binary = true;
            continue;
        }
        let Some(compression) = name.strip_prefix("data.tar") else {
            continue;
        };
        if !saw_debian_binary {
            return Err(format!("{} is not a .deb: data comes before debian-binary", deb.display()));
        }
        let reader: Box<dyn Read + '_> = match compression {
            "" => Box::new(entry),
            ".xz" => Box::new(liblzma::read::XzDecoder::new_multi_decoder(BufReader::new(entry))),
            ".gz" => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(entry))),
            ".zst" => Box::new(
                ruzstd::decoding::StreamingDecoder::new(BufReader::new(entry)).map_err(|e| format!("{}: {name}: {e}", deb.display()))?,
            ),
            other => {
                return Err(format!("{}: unsupported data compression data.tar{other}", deb.display()));
            }
        };
        let label = deb.with_file_name(format!("{}!{name}", deb.file_name().and_then(|n| n.to_str()).unwrap_or("package.deb")));
        return extract_tar(reader, &label, rootfs).map_err(|e| e.to_string());
    }
    Err(format!("{} has no data.tar member", deb.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// A .deb built in memory: debian-binary, control.tar.gz, data.tar.<compression>.
    fn make_deb(path: &Path, data_name: &str, data: Vec<u8>) {
        let mut builder = ar::Builder::new(File::create(path).unwrap());
        let mut add = |name: &str, bytes: &[u8]| {
            let header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            builder.append(&header, bytes).unwrap();
        };
        add("debian-binary", b"2.0\n");
        add("control.tar.gz", &gz(&tar_of(&[("./postinst", b"#!/bin/sh\nexit 1\n".as_slice(), 0o755)])));
        add(data_name, &data);
    }

    fn tar_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dir = tar::Header::new_gnu();
        dir.set_entry_type(tar::EntryType::Directory);
        dir.set_mode(0o755);
        dir.set_size(0);
        dir.set_cksum();
        b.append_data(&mut dir, "./usr/", &[][..]).unwrap();
        for (name, data, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        b.append_link(&mut link, "./usr/link", "/etc/passwd").unwrap();
        b.into_inner().unwrap()
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn unpacks_only_the_data() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tar_of(&[("./usr/bin/hello", b"hi\n".as_slice(), 0o755)]);
        for (name, bytes) in [("data.tar.xz", xz(&data)), ("data.tar.gz", gz(&data)), ("data.tar", data.clone())] {
            let deb = tmp.path().join(format!("{name}.deb"));
            make_deb(&deb, name, bytes);
            let root = tmp.path().join(format!("root-{name}"));
            let stats = unpack_deb(&deb, &root).unwrap();
            assert_eq!(stats.written, 3, "{name}: usr/, hello, link (usr/bin is made as a parent)");
            assert_eq!(fs::read(root.join("usr/bin/hello")).unwrap(), b"hi\n");
            assert_eq!(fs::metadata(root.join("usr/bin/hello")).unwrap().permissions().mode() & 0o777, 0o755);
            assert_eq!(fs::read_link(root.join("usr/link")).unwrap(), Path::new("/etc/passwd"));
            assert!(!root.join("postinst").exists());
        }
    }

    #[test]
    fn refuses_escapes_and_garbage() {
        let tmp = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        b.append(&h, &b"x"[..]).unwrap();
        let deb = tmp.path().join("evil.deb");
        make_deb(&deb, "data.tar.xz", xz(&b.into_inner().unwrap()));
        let err = unpack_deb(&deb, &tmp.path().join("root")).unwrap_err();
        assert!(err.contains("..") && err.contains("evil.deb!data.tar.xz"), "{err}");
        assert!(!tmp.path().join("escape").exists());

        fs::write(tmp.path().join("junk.deb"), b"not an ar archive").unwrap();
        assert!(unpack_deb(&tmp.path().join("junk.deb"), &tmp.path().join("r2")).is_err());
        make_deb(&tmp.path().join("bz.deb"), "data.tar.bz2", vec![1, 2, 3]);
        let err = unpack_deb(&tmp.path().join("bz.deb"), &tmp.path().join("r3")).unwrap_err();
        assert!(err.contains("unsupported"), "{err}");
    }
}
