//! Tests of the image store.

use super::*;
use crate::image::oci::{MEDIA_TYPE_OCI_LAYER_GZIP, MEDIA_TYPE_OCI_MANIFEST};

fn image_with_layer(store: &ImageStore, content: &[u8], label: &str) -> Descriptor {
    let layer = store.put_blob_bytes(content, MEDIA_TYPE_OCI_LAYER_GZIP).unwrap();
    let mut config = ImageConfig::new_linux();
    config.rootfs.diff_ids.push(layer.digest.clone());
    config.config.labels.insert("l".into(), label.into());
    let manifest = Manifest::new(layer.clone(), vec![layer]);
    store.write_image(&manifest, &config).unwrap()
}

#[test]
fn open_creates_a_layout_and_reopens_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = ImageStore::open(&dir).unwrap();
    assert_eq!(fs::read_to_string(dir.join("oci-layout")).unwrap(), OCI_LAYOUT_CONTENT);
    assert_eq!(
        fs::read_to_string(dir.join("index.json")).unwrap(),
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
    );
    assert!(dir.join("blobs/sha256").is_dir());
    assert!(store.list().unwrap().is_empty());
    ImageStore::open(&dir).unwrap();
}

#[test]
fn open_refuses_foreign_dirs_and_layout_versions() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    assert!(matches!(ImageStore::open(tmp.path()), Err(ImageError::NotAnImageLayout { .. })));
    let other = tmp.path().join("v2");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("oci-layout"), r#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
    assert!(matches!(ImageStore::open(&other), Err(ImageError::NotAnImageLayout { .. })));
}

#[test]
fn blobs_are_content_addressed_and_written_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let d = store.put_blob_bytes(b"hello\n", "text/plain").unwrap();
    assert_eq!(d.digest.as_str(), "sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
    assert_eq!(d.size, 6);
    assert!(store.has_blob(&d.digest));
    let path = store.blob_path(&d.digest);
    let before = fs::metadata(&path).unwrap();
    let again = store.put_blob_from_reader(&b"hello\n"[..], "text/plain").unwrap();
    assert_eq!(again, d);
    let after = fs::metadata(&path).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(before.ino(), after.ino(), "an existing blob is not rewritten");
    assert_eq!(after.permissions().mode() & 0o777, 0o644);
    assert_eq!(store.read_blob(&d.digest).unwrap(), b"hello\n");
    // No temp files left behind.
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn uncommitted_and_mismatching_blobs_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"partial").unwrap();
    drop(w);
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"abc").unwrap();
    let wrong = Digest::of_bytes(b"xyz");
    assert!(matches!(w.commit_expecting("x", &wrong), Err(ImageError::CorruptBlob { .. })));
    assert!(!store.has_blob(&wrong));
    assert!(!store.has_blob(&Digest::of_bytes(b"abc")));
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    assert_eq!(fs::read_dir(store.blobs_dir()).unwrap().count(), 0);
}

#[test]
fn corrupt_blob_is_detected_on_read() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let desc = image_with_layer(&store, b"layer", "a");
    store.tag("app:latest", &desc).unwrap();
    fs::write(store.blob_path(&desc.digest), b"{\"tampered\":true}").unwrap();
    match store.read_image("app:latest") {
        Err(ImageError::CorruptBlob { expected, actual, .. }) => {
            assert_eq!(expected, desc.digest);
            assert_eq!(actual, Digest::of_bytes(b"{\"tampered\":true}"));
        }
        other => panic!("expected CorruptBlob, got {other:?}"),
    }
    let layer = store.put_blob_bytes(b"layer2", "x").unwrap();
    fs::write(store.blob_path(&layer.digest), b"other").unwrap();
    assert!(matches!(store.verify_blob(&layer.digest), Err(ImageError::CorruptBlob { .. })));
    let missing = Digest::of_bytes(b"never stored");
    assert!(matches!(store.read_blob(&missing), Err(ImageError::BlobNotFound { .. })));
}

#[test]
fn write_tag_resolve_read_list_untag() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let one = image_with_layer(&store, b"one", "1");
    let two = image_with_layer(&store, b"two", "2");
    assert_eq!(one.media_type, MEDIA_TYPE_OCI_MANIFEST);
    store.tag("app:latest", &one).unwrap();
    store.tag("other:v1", &two).unwrap();
    let image = store.read_image("app:latest").unwrap();
    assert_eq!(image.manifest_descriptor.digest, one.digest);
    assert_eq!(image.label("l"), Some("1"));
    assert_eq!(image.diff_ids().len(), 1);

    // Replacing a tag keeps one entry for it, in place.
    store.tag("app:latest", &two).unwrap();
    let list = store.list().unwrap();
    let names: Vec<_> = list.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["app:latest", "other:v1"]);
    assert_eq!(list[0].1.digest, two.digest);
    assert_eq!(store.read_image("app:latest").unwrap().label("l"), Some("2"));

    assert!(store.untag("app:latest").unwrap());
    assert!(!store.untag("app:latest").unwrap());
    assert!(store.resolve("app:latest").unwrap().is_none());
    assert!(matches!(store.read_image("app:latest"), Err(ImageError::ImageNotFound { .. })));
}

#[test]
fn tag_replace_is_atomic_under_concurrency() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let descs: Vec<_> = (0..8).map(|i| image_with_layer(&store, format!("layer{i}").as_bytes(), &i.to_string())).collect();
    std::thread::scope(|s| {
        for (i, d) in descs.iter().enumerate() {
            let store = store.clone();
            s.spawn(move || {
                for _ in 0..10 {
                    store.tag("shared:latest", d).unwrap();
                    store.tag(&format!("own{i}:latest"), d).unwrap();
                    // Readers never see a torn index.
                    store.read_index().unwrap();
                }
            });
        }
    });
    let list = store.list().unwrap();
    assert_eq!(list.len(), 9, "one shared tag + 8 own tags: {list:?}");
    assert_eq!(list.iter().filter(|(n, _)| n == "shared:latest").count(), 1);
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn write_image_checks_consistency() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(tmp.path()).unwrap();
    let missing = Descriptor::new(MEDIA_TYPE_OCI_LAYER_GZIP, Digest::of_bytes(b"absent"), 6);
    let mut config = ImageConfig::new_linux();
    config.rootfs.diff_ids.push(Digest::of_bytes(b"absent"));
    let manifest = Manifest::new(missing.clone(), vec![missing]);
    assert!(matches!(store.write_image(&manifest, &config), Err(ImageError::BlobNotFound { .. })));
    config.rootfs.diff_ids.clear();
    assert!(matches!(store.write_image(&manifest, &config), Err(ImageError::InconsistentImage { .. })));
    let bogus = Descriptor::new(MEDIA_TYPE_OCI_MANIFEST, Digest::of_bytes(b"nope"), 4);
    assert!(matches!(store.tag("x", &bogus), Err(ImageError::BlobNotFound { .. })));
}

#[test]
fn tag_names_are_validated() {
    for ok in ["app", "app:latest", "ghcr.io/org/app:v1.2", "a@b", "my-app_1"] {
        validate_tag_name(ok).unwrap();
    }
    for bad in ["", ":latest", "app:", "a b", "a//b", "-a", "a\nb", "ä"] {
        assert!(validate_tag_name(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn gc_removes_only_unreachable_old_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let mut layer = crate::image::LayerBuilder::new();
    layer.add_bytes(b"kept", "/kept", false, crate::image::Owner::ROOT).unwrap();
    let blob = layer.write_blob(&store).unwrap();
    let mut config = ImageConfig::new_linux();
    config.rootfs.diff_ids = vec![blob.diff_id.clone()];
    let manifest = Manifest::new(Descriptor::new(MEDIA_TYPE_OCI_CONFIG, Digest::of_bytes(b""), 0), vec![blob.descriptor()]);
    let image = store.write_image(&manifest, &config).unwrap();
    store.tag("app:v1", &image).unwrap();
    let orphan = store.put_blob_bytes(b"orphan", "application/octet-stream").unwrap();
    let young = store.gc(std::time::Duration::from_secs(3600)).unwrap();
    assert_eq!((young.kept, young.removed, young.young), (3, 0, 1));
    let report = store.gc(std::time::Duration::ZERO).unwrap();
    assert_eq!((report.kept, report.removed), (3, 1));
    assert!(!store.has_blob(&orphan.digest));
    store.read_image("app:v1").unwrap();
    assert!(store.untag("app:v1").unwrap());
    assert_eq!(store.gc(std::time::Duration::ZERO).unwrap().removed, 3);
}
