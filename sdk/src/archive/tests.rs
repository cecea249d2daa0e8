//! Host-side tests of the extractor on real files (no entry has an `x` bit, so the
//! `set-executable` import is never called); the hostile archives run in the real sandbox
//! in tests/tests/hostile/evil_archive.rs.

use std::fs;
use std::path::Path;

use super::{ExtractOptions, extract_tar};

/// A tar file at `path` made with the `tar` crate: (name, type, link target, data).
fn write_tar(path: &Path, entries: &[(&str, ::tar::EntryType, &str, &[u8])]) {
    let mut builder = ::tar::Builder::new(fs::File::create(path).unwrap());
    for (name, kind, link, data) in entries {
        let mut header = ::tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        if !link.is_empty() {
            header.set_link_name(link).unwrap();
        }
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.finish().unwrap();
}

#[test]
fn a_bomb_inside_a_skipped_entry_is_cut_too() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("fifo.tar");
    // A FIFO entry carrying 32 MiB: never written, but it must not be read for ever either.
    write_tar(&archive, &[("pipe", ::tar::EntryType::Fifo, "", &vec![0; 32 << 20])]);
    let options = ExtractOptions { max_bytes: 1 << 20, max_entries: 10, ..ExtractOptions::default() };
    let error = extract_tar(&archive, &dir.path().join("out"), &options).unwrap_err().to_string();
    assert!(error.contains("bytes of tar data after decompression (ExtractOptions::max_bytes is 1048576)"), "{error}");
    assert!(error.contains("fifo.tar"), "the error names the archive: {error}");
}

#[test]
fn an_existing_directory_is_never_replaced_and_links_replace_only_links() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("out");
    let outside = dir.path().join("outside.txt");
    fs::create_dir_all(dest.join("real")).unwrap();
    fs::write(dest.join("real/keep.txt"), "kept").unwrap();
    fs::write(&outside, "outside").unwrap();
    std::os::unix::fs::symlink(&outside, dest.join("file-over-link")).unwrap();
    let archive = dir.path().join("a.tar");
    write_tar(
        &archive,
        &[
            ("real", ::tar::EntryType::Symlink, "elsewhere", b""),
            ("file-over-link", ::tar::EntryType::Regular, "", b"new"),
            ("link-to-real", ::tar::EntryType::Symlink, "real", b""),
            ("link-to-real/x.txt", ::tar::EntryType::Regular, "", b"through"),
        ],
    );
    let done = extract_tar(&archive, &dest, &ExtractOptions::default()).unwrap();
    assert_eq!(
        done.skipped,
        ["real: a directory is in the way", "link-to-real/x.txt: link-to-real is a symlink; nothing is written through a symlink",]
    );
    assert_eq!(fs::read_to_string(dest.join("real/keep.txt")).unwrap(), "kept");
    assert!(fs::symlink_metadata(dest.join("file-over-link")).unwrap().is_file(), "the link itself was replaced");
    assert_eq!(fs::read_to_string(dest.join("file-over-link")).unwrap(), "new");
    assert_eq!(fs::read_to_string(&outside).unwrap(), "outside", "the link's target is untouched");
    assert!(!dest.join("real/x.txt").exists());
    assert_eq!((done.files, done.bytes), (1, 3));
}

#[test]
fn the_entry_limit_stops_extraction_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("many.tar");
    let names: Vec<String> = (0..5).map(|i| format!("f{i}")).collect();
    let entries: Vec<_> = names.iter().map(|n| (n.as_str(), ::tar::EntryType::Regular, "", &b"x"[..])).collect();
    write_tar(&archive, &entries);
    let dest = dir.path().join("out");
    let error = extract_tar(&archive, &dest, &ExtractOptions { max_entries: 3, ..ExtractOptions::default() }).unwrap_err();
    assert!(error.to_string().contains("more than 3 entries (ExtractOptions::max_entries)"), "{error}");
    let mut left: Vec<String> = fs::read_dir(&dest).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["f0", "f1", "f2"]);
}
