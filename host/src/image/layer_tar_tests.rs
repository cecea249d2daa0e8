//! Tests of reproducible layer tars.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::time::{Duration, SystemTime};

use super::*;
use crate::image::digest::Digest;
use crate::image::extract_layer;

/// (name, type, mode, uid, gid, mtime, link, content) of every entry of a tar.
type Row = (String, EntryType, u32, u64, u64, u64, Option<String>, Vec<u8>);

fn read_rows(tar_bytes: &[u8]) -> Vec<Row> {
    let mut archive = tar::Archive::new(tar_bytes);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            assert_eq!(h.username_bytes().unwrap_or_default(), b"");
            assert_eq!(h.groupname_bytes().unwrap_or_default(), b"");
            let name = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let link = e.link_name_bytes().map(|l| String::from_utf8(l.into_owned()).unwrap());
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            (name, h.entry_type(), h.mode().unwrap(), h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap(), link, content)
        })
        .collect()
}

fn tar_of(builder: &LayerBuilder) -> Vec<u8> {
    let mut out = Vec::new();
    let (diff_id, size) = builder.write_tar(&mut out).unwrap();
    assert_eq!(diff_id, Digest::of_bytes(&out));
    assert_eq!(size, out.len() as u64);
    out
}

fn names(builder: &LayerBuilder) -> Vec<String> {
    read_rows(&tar_of(builder)).into_iter().map(|r| r.0).collect()
}

/// A small app tree: nested dirs, an executable, a symlink to `/`, a `..` symlink, a hard link.
fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("lib/deep/er")).unwrap();
    fs::write(root.join("bin/run"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("bin/run"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("lib/deep/er/data.txt"), "data").unwrap();
    fs::set_permissions(root.join("lib/deep/er/data.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(root.join("a-b"), "dash").unwrap();
    symlink("/", root.join("rootlink")).unwrap();
    symlink("../../etc", root.join("lib/up")).unwrap();
    fs::hard_link(root.join("a-b"), root.join("hard")).unwrap();
}

#[test]
fn image_paths_are_validated() {
    for ok in ["/", "/a", "/a/b c/d", "/layers/x.y/z"] {
        assert_eq!(ImagePath::parse(ok).unwrap().as_str(), ok);
    }
    for bad in ["", "a", "a/b", "/a/../b", "/..", "/a/./b", "/a//b", "/a/", "/a\0b", "/etc/.wh.passwd", "/x/.wh..wh..opq"] {
        match ImagePath::parse(bad) {
            Err(ImageError::InvalidImagePath { path, .. }) => assert_eq!(path, bad),
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
    let p = ImagePath::parse("/a/b").unwrap();
    assert_eq!(p.parent().unwrap().as_str(), "/a");
    assert_eq!(p.parent().unwrap().parent().unwrap(), ImagePath::root());
    assert_eq!(p.join("c/d").unwrap().as_str(), "/a/b/c/d");
    assert!(p.join("../x").is_err());
    assert_eq!(ImagePath::root().join("x").unwrap().as_str(), "/x");
    // Components order: a directory's contents follow it directly.
    let mut v: Vec<_> = ["/a/b", "/a-b", "/a", "/a/b/c", "/b"].iter().map(|s| ImagePath::parse(s).unwrap()).collect();
    v.sort();
    let sorted: Vec<_> = v.iter().map(ImagePath::as_str).collect();
    assert_eq!(sorted, ["/a", "/a/b", "/a/b/c", "/a-b", "/b"]);
}

#[test]
fn dotdot_image_paths_are_rejected_everywhere() {
    let mut b = LayerBuilder::new();
    let err = b.add_bytes("x", "/layers/../etc/passwd", false, Owner::ROOT).unwrap_err();
    assert!(err.to_string().contains("/layers/../etc/passwd"), "{err}");
    assert!(b.add_symlink("/a/../b", "/", Owner::ROOT).is_err());
    assert!(b.add_dir("relative", Owner::ROOT).is_err());
    assert!(b.add_tree("/nonexistent", "/x/..", Owner::ROOT).is_err());
    assert!(b.is_empty());
}

#[test]
fn entries_are_sorted_with_parents_once() {
    let mut b = LayerBuilder::new();
    b.add_bytes("z", "/z/file", false, Owner::ROOT).unwrap();
    b.add_bytes("b", "/a/b/file", false, Owner::CNB_USER).unwrap();
    b.add_bytes("c", "/a/c", false, Owner::CNB_USER).unwrap();
    b.add_symlink("/a-b", "a", Owner::ROOT).unwrap();
    b.add_dir("/a", Owner::ROOT).unwrap(); // explicit after implied: replaces the owner
    assert_eq!(names(&b), ["a", "a/b", "a/b/file", "a/c", "a-b", "z", "z/file"]);
    let rows = read_rows(&tar_of(&b));
    assert_eq!((rows[0].3, rows[0].4), (0, 0), "explicit /a is root-owned");
    assert_eq!((rows[1].3, rows[1].4), (1000, 1000), "implied /a/b takes the child's owner");
}

#[test]
fn headers_are_normalized() {
    let tmp = tempfile::tempdir().unwrap();
    make_tree(tmp.path());
    let mut b = LayerBuilder::new();
    b.add_tree(tmp.path(), "/workspace", Owner::CNB_USER).unwrap();
    b.add_bytes(vec![1, 2, 3], "/cnb/lifecycle/launcher", true, Owner::ROOT).unwrap();
    let rows = read_rows(&tar_of(&b));
    for (name, kind, mode, uid, gid, mtime, link, content) in &rows {
        assert_eq!(*mtime, NORMALIZED_MTIME, "{name}");
        let expected_owner = if name.starts_with("cnb") { 0 } else { 1000 };
        assert_eq!((*uid, *gid), (expected_owner, expected_owner), "{name}");
        let expected_mode = match kind {
            EntryType::Directory => 0o755,
            EntryType::Symlink => 0o777,
            _ if name.ends_with("run") || name.ends_with("launcher") => 0o755,
            _ => 0o644,
        };
        assert_eq!(*mode, expected_mode, "{name}");
        match name.as_str() {
            "workspace/rootlink" => assert_eq!(link.as_deref(), Some("/")),
            "workspace/lib/up" => assert_eq!(link.as_deref(), Some("../../etc")),
            "workspace/hard" => {
                assert_eq!(*kind, EntryType::Regular, "hard links become copies");
                assert_eq!(content, b"dash");
            }
            _ => {}
        }
    }
    let names: Vec<_> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "cnb",
            "cnb/lifecycle",
            "cnb/lifecycle/launcher",
            "workspace",
            "workspace/a-b",
            "workspace/bin",
            "workspace/bin/run",
            "workspace/hard",
            "workspace/lib",
            "workspace/lib/deep",
            "workspace/lib/deep/er",
            "workspace/lib/deep/er/data.txt",
            "workspace/lib/up",
            "workspace/rootlink",
        ]
    );
}

#[test]
fn same_tree_gives_same_digests_whatever_mtimes_and_owners() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
    make_tree(&one);
    make_tree(&two);
    // Different mtimes, modes with the same exec bits, and (when root) different owners.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for f in ["bin/run", "lib/deep/er/data.txt", "a-b"] {
        File::options().write(true).open(two.join(f)).unwrap().set_modified(old).unwrap();
    }
    fs::set_permissions(two.join("bin/run"), fs::Permissions::from_mode(0o751)).unwrap();
    fs::set_permissions(two.join("lib"), fs::Permissions::from_mode(0o700)).unwrap();
    if fs::metadata(&two).unwrap().uid() == 0 {
        std::os::unix::fs::lchown(two.join("a-b"), Some(4321), Some(4321)).unwrap();
        std::os::unix::fs::lchown(two.join("rootlink"), Some(7), Some(7)).unwrap();
    }

    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let blob = |dir: &Path| {
        let mut b = LayerBuilder::new();
        b.add_tree(dir, "/layers/bp/layer", Owner::CNB_USER).unwrap();
        b.write_blob(&store).unwrap()
    };
    let (a, b) = (blob(&one), blob(&two));
    assert_eq!(a, b);
    assert_ne!(a.digest, a.diff_id);

    // The blob is the gzip of a tar whose sha256 is the diffID.
    let bytes = fs::read(store.blob_path(&a.digest)).unwrap();
    assert_eq!(Digest::of_bytes(&bytes), a.digest);
    assert_eq!(bytes.len() as u64, a.size);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "no gzip mtime");
    assert_eq!(bytes[3] & 0x08, 0, "no gzip file name");
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut tar).unwrap();
    assert_eq!(Digest::of_bytes(&tar), a.diff_id);
    let mut again = LayerBuilder::new();
    again.add_tree(&one, "/layers/bp/layer", Owner::CNB_USER).unwrap();
    assert_eq!(again.write_tar(io::sink()).unwrap().0, a.diff_id);
}

#[test]
fn symlinks_are_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), "s").unwrap();
    let tree = tmp.path().join("tree");
    fs::create_dir(&tree).unwrap();
    symlink(&outside, tree.join("dirlink")).unwrap();
    symlink("/", tree.join("root")).unwrap();
    symlink(outside.join("secret"), tree.join("filelink")).unwrap();

    let mut b = LayerBuilder::new();
    b.add_tree(&tree, "/app", Owner::ROOT).unwrap();
    let rows = read_rows(&tar_of(&b));
    let kinds: Vec<_> = rows.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(
        kinds,
        [
            ("app", EntryType::Directory),
            ("app/dirlink", EntryType::Symlink),
            ("app/filelink", EntryType::Symlink),
            ("app/root", EntryType::Symlink),
        ]
    );
    assert!(rows.iter().all(|r| !r.0.contains("secret")));

    // A symlink as the tree root or as an explicit file is refused, not followed.
    let mut b = LayerBuilder::new();
    assert!(matches!(b.add_tree(tree.join("dirlink"), "/x", Owner::ROOT), Err(ImageError::InvalidSource { .. })));
    b.add_file(tree.join("filelink"), "/x", Owner::ROOT).unwrap();
    assert!(matches!(b.write_tar(io::sink()), Err(ImageError::InvalidSource { .. })));
}

#[test]
fn sockets_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let _listener = std::os::unix::net::UnixListener::bind(tmp.path().join("sock")).unwrap();
    fs::write(tmp.path().join("file"), "x").unwrap();
    let mut b = LayerBuilder::new();
    b.add_tree(tmp.path(), "/t", Owner::ROOT).unwrap();
    assert_eq!(names(&b), ["t", "t/file"]);
}

#[test]
fn conflicting_entries_are_errors() {
    let mut b = LayerBuilder::new();
    b.add_bytes("1", "/f", false, Owner::ROOT).unwrap();
    b.add_bytes("1", "/f", false, Owner::ROOT).unwrap(); // identical: fine
    assert!(matches!(b.add_bytes("2", "/f", false, Owner::ROOT), Err(ImageError::DuplicateLayerEntry { .. })));
    assert!(matches!(b.add_bytes("x", "/f/g", false, Owner::ROOT), Err(ImageError::ParentNotADirectory { .. })));
    assert!(b.add_bytes("x", "/", false, Owner::ROOT).is_err());
    b.add_dir("/", Owner::ROOT).unwrap();
    assert_eq!(names(&b), ["f"]);
}

#[test]
fn long_names_and_targets_round_trip() {
    let long_dir = "d".repeat(120);
    let long_file = format!("/{long_dir}/{}", "f".repeat(200));
    let long_target = format!("../{}", "t".repeat(150));
    let mut b = LayerBuilder::new();
    b.add_bytes("content", &long_file, false, Owner::ROOT).unwrap();
    b.add_symlink("/l", &long_target, Owner::ROOT).unwrap();
    b.add_symlink("/exact", &"e".repeat(100), Owner::ROOT).unwrap();
    let rows = read_rows(&tar_of(&b));
    let by_name = |n: &str| rows.iter().find(|r| r.0 == n).unwrap_or_else(|| panic!("{n} missing"));
    assert_eq!(by_name(&long_file[1..]).7, b"content");
    assert_eq!(by_name("l").6.as_deref(), Some(long_target.as_str()));
    assert_eq!(by_name("exact").6.as_deref(), Some("e".repeat(100).as_str()));
    assert_eq!(by_name(&long_dir).1, EntryType::Directory);
}

#[test]
fn file_changing_size_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("f");
    fs::write(&path, "0123456789").unwrap();
    let read_as = |expected: u64| {
        let mut r = ExactReader { inner: File::open(&path).unwrap(), remaining: expected, expected, path: &path, checked_end: false };
        io::copy(&mut r, &mut io::sink()).map_err(write_error)
    };
    assert_eq!(read_as(10).unwrap(), 10);
    for expected in [5, 20] {
        match read_as(expected) {
            Err(ImageError::SourceChanged { path: p, expected: e, .. }) => {
                assert_eq!((p.as_path(), e), (path.as_path(), expected));
            }
            other => panic!("expected SourceChanged, got {other:?}"),
        }
    }
}

#[test]
fn preserve_policy_keeps_host_modes() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("tmp")).unwrap();
    fs::set_permissions(tmp.path().join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(tmp.path().join("secret"), "x").unwrap();
    fs::set_permissions(tmp.path().join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    let mut b = LayerBuilder::new().with_mode_policy(ModePolicy::Preserve);
    b.add_tree(tmp.path(), "/", Owner::ROOT).unwrap();
    let rows = read_rows(&tar_of(&b));
    let modes: Vec<_> = rows.iter().map(|r| (r.0.as_str(), r.2)).collect();
    assert_eq!(modes, [("secret", 0o600), ("tmp", 0o1777)]);
}

#[test]
fn written_layer_extracts_back() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    make_tree(&src);
    let store = ImageStore::open(tmp.path().join("store")).unwrap();
    let mut b = LayerBuilder::new();
    b.add_tree(&src, "/layers/bp/l", Owner::CNB_USER).unwrap();
    let blob = b.write_blob(&store).unwrap();
    let dest = tmp.path().join("dest");
    extract_layer(store.blob_path(&blob.digest), &dest).unwrap();
    let out = dest.join("layers/bp/l");
    assert_eq!(fs::read_to_string(out.join("bin/run")).unwrap(), "#!/bin/sh\necho hi\n");
    assert_eq!(fs::metadata(out.join("bin/run")).unwrap().permissions().mode() & 0o777, 0o755);
    assert_eq!(fs::read_link(out.join("rootlink")).unwrap(), Path::new("/"));
    assert_eq!(fs::read_link(out.join("lib/up")).unwrap(), Path::new("../../etc"));
    assert_eq!(fs::read_to_string(out.join("hard")).unwrap(), "dash");
}
