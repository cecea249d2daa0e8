//! Writers for the archives the buildpack attacks itself with: raw tar headers (names and
//! link targets well-behaved writers refuse), gzip members, a hand-made zip whose sizes
//! lie, an xz tarball and a Debian package.

use std::io::Write;

use flate2::Compression;
use tar::{EntryType, Header};

/// One tar entry, written verbatim.
pub enum Item<'a> {
    Dir(&'a str),
    File(&'a str, u32, &'a [u8]),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Char(&'a str),
    Fifo(&'a str),
}

/// A tar header with `name` and `link` copied byte for byte (no checks at all).
fn header(name: &str, kind: EntryType, size: u64, mode: u32, link: &str) -> Header {
    assert!(name.len() <= 100 && link.len() <= 100, "test names must fit a tar header: {name} -> {link}");
    let mut header = Header::new_gnu();
    let old = header.as_old_mut();
    old.name[..name.len()].copy_from_slice(name.as_bytes());
    old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    header.set_size(size);
    header.set_mode(mode);
    header.set_entry_type(kind);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_cksum();
    header
}

fn push_entry(out: &mut Vec<u8>, header: &Header, data: &[u8]) {
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// The entries as tar records, without the end-of-archive blocks.
pub fn tar_records(items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        match *item {
            Item::Dir(name) => push_entry(&mut out, &header(name, EntryType::Directory, 0, 0o755, ""), &[]),
            Item::File(name, mode, data) => push_entry(&mut out, &header(name, EntryType::Regular, data.len() as u64, mode, ""), data),
            Item::Symlink(name, target) => push_entry(&mut out, &header(name, EntryType::Symlink, 0, 0o777, target), &[]),
            Item::HardLink(name, target) => push_entry(&mut out, &header(name, EntryType::Link, 0, 0o644, target), &[]),
            Item::Char(name) => push_entry(&mut out, &header(name, EntryType::Char, 0, 0o666, ""), &[]),
            Item::Fifo(name) => push_entry(&mut out, &header(name, EntryType::Fifo, 0, 0o666, ""), &[]),
        }
    }
    out
}

/// A complete tar archive.
pub fn tar(items: &[Item]) -> Vec<u8> {
    let mut out = tar_records(items);
    out.extend_from_slice(&[0; 1024]);
    out
}

/// One gzip member.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// A .tar.gz whose last entry `bomb_name` holds `gib` GiB of zeros, in ~1 MiB per GiB:
/// gzip members concatenated (one 16 MiB-of-zeros member repeated), which every gzip
/// reader must decode as one stream.
pub fn tar_gz_bomb(items: &[Item], bomb_name: &str, gib: u64) -> Vec<u8> {
    const CHUNK: u64 = 16 << 20;
    let size = gib << 30;
    let mut head = tar_records(items);
    head.extend_from_slice(header(bomb_name, EntryType::Regular, size, 0o644, "").as_bytes());
    let mut out = gzip(&head);
    let chunk = gzip(&vec![0; CHUNK as usize]);
    for _ in 0..size / CHUNK {
        out.extend_from_slice(&chunk);
    }
    out.extend_from_slice(&gzip(&[0; 1024]));
    out
}

/// A raw deflate stream of `mib` MiB of zeros, made without compressing them all: after a
/// sync flush the encoder's blocks for 1 MiB of zeros only refer back to zeros, so the
/// same bytes can be repeated.
pub fn deflate_zeros(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&zeros).expect("writing to memory");
    encoder.flush().expect("writing to memory");
    let mut out = std::mem::take(encoder.get_mut());
    encoder.write_all(&zeros).expect("writing to memory");
    encoder.flush().expect("writing to memory");
    let repeat = std::mem::take(encoder.get_mut());
    for _ in 1..mib {
        out.extend_from_slice(&repeat);
    }
    out.extend_from_slice(&encoder.finish().expect("writing to memory"));
    out
}

/// One zip entry as it will be written: sizes and CRC are whatever the caller claims.
pub struct ZipEntry {
    pub name: String,
    /// The full unix `st_mode` (type and permission bits), in the external attributes.
    pub mode: u32,
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub crc: u32,
    pub data: Vec<u8>,
    pub claimed_size: u32,
}

impl ZipEntry {
    /// A stored entry with honest size and CRC.
    pub fn stored(name: &str, mode: u32, data: &[u8]) -> Self {
        ZipEntry {
            name: name.to_string(),
            mode,
            method: 0,
            crc: crc32fast::hash(data),
            data: data.to_vec(),
            claimed_size: data.len() as u32,
        }
    }
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// A zip archive, written by hand (local headers, central directory, end record).
pub fn zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for entry in entries {
        let offset = out.len() as u32;
        let name = entry.name.as_bytes();
        put32(&mut out, 0x0403_4b50);
        for value in [20, 0x0800, entry.method, 0, 0x21] {
            put16(&mut out, value);
        }
        for value in [entry.crc, entry.data.len() as u32, entry.claimed_size] {
            put32(&mut out, value);
        }
        put16(&mut out, name.len() as u16);
        put16(&mut out, 0);
        out.extend_from_slice(name);
        out.extend_from_slice(&entry.data);

        put32(&mut central, 0x0201_4b50);
        // Made by unix (3), so the external attributes carry a unix mode.
        for value in [(3 << 8) | 30, 20, 0x0800, entry.method, 0, 0x21] {
            put16(&mut central, value);
        }
        for value in [entry.crc, entry.data.len() as u32, entry.claimed_size] {
            put32(&mut central, value);
        }
        for value in [name.len() as u16, 0, 0, 0, 0] {
            put16(&mut central, value);
        }
        put32(&mut central, entry.mode << 16);
        put32(&mut central, offset);
        central.extend_from_slice(name);
    }
    let central_offset = out.len() as u32;
    out.extend_from_slice(&central);
    put32(&mut out, 0x0605_4b50);
    for value in [0, 0, entries.len() as u16, entries.len() as u16] {
        put16(&mut out, value);
    }
    put32(&mut out, central.len() as u32);
    put32(&mut out, central_offset);
    put16(&mut out, 0);
    out
}

/// `data` compressed as one xz stream.
pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut writer = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(6)).expect("an xz writer");
    writer.write_all(data).expect("writing to memory");
    writer.finish().expect("writing to memory")
}

/// A Debian package: `debian-binary`, `control.tar.xz` (with a postinst that must never
/// be unpacked), `data.tar.xz`.
pub fn deb(control: &[Item], data: &[Item]) -> Vec<u8> {
    let mut builder = ar::Builder::new(Vec::new());
    let members = [("debian-binary", b"2.0\n".to_vec()), ("control.tar.xz", xz(&tar(control))), ("data.tar.xz", xz(&tar(data)))];
    for (name, bytes) in members {
        let mut header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        header.set_mode(0o100644);
        builder.append(&header, bytes.as_slice()).expect("writing to memory");
    }
    builder.into_inner().expect("writing to memory")
}
