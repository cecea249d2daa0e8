//! Hostile archives unpacked with `kiln_sdk::archive` inside the sandbox (the
//! tests/hostile/evil-archive buildpack): every case's skipped entries and errors exactly,
//! nothing outside its layer on the host or in the image, and the legit entries of the same
//! archives extracted (files, inside symlinks, exec bits).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use kiln_tests::{skopeo_inspect_config, skopeo_inspect_raw};

use super::common::{Hostile, unique_marker, walk};

const EVIL_ARCHIVE: &str = env!("HOSTILE_EVIL_ARCHIVE");
const ID: &str = "hostile/evil-archive";
/// The buildpack's layers dir, in the guest and (without the `/`) in the image.
const LAYERS: &str = "/layers/hostile_evil-archive";
const TOOL: &str = "#!/bin/sh\necho tool\n";
const BOMB_CAP: &str = "67108864";

/// One entry of an exported layer tar.
#[derive(Debug)]
enum Entry {
    Dir,
    File { executable: bool, body: String },
    Symlink(String),
}

#[test]
fn evil_archive_entries_stay_inside_their_layers_and_bombs_stop_at_the_cap() {
    let t = Hostile::new();
    let m = unique_marker("archive");
    let sentinel = t.home.path().join("sentinel");
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("keep.txt"), "untouched").unwrap();

    let out = t.build(&[EVIL_ARCHIVE], &["--env", &format!("HOSTILE_MARKER={m}")]).success();
    let lines = out.log_lines(ID);
    let case = |name: &str| -> String {
        let prefix = format!("CASE {name}: ");
        lines.iter().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no result for {name}:\n{}", out.run)).to_string()
    };
    let skipped = |name: &str| -> Vec<String> {
        let prefix = format!("SKIPPED {name} ");
        lines.iter().filter_map(|l| l.strip_prefix(&prefix)).map(str::to_string).collect()
    };

    // What each archive's hostile entries became, exactly (refused by the SDK's rules, not
    // by WASI: every reason is the extractor's own).
    assert_eq!(
        skipped("tar-slip"),
        [
            format!("../../{m}-slip: '..' climbs out of the destination"),
            format!("../../../../../../../../tmp/{m}-tmp: '..' climbs out of the destination"),
            format!("/abs/{m}-abs: absolute path"),
            format!("ok/../../{m}-climb: '..' climbs out of the destination"),
            format!("ok/{m}-dev: character device entries are not extracted"),
            format!("ok/{m}-fifo: FIFO entries are not extracted"),
        ],
        "{}",
        out.run
    );
    assert!(case("tar-slip").starts_with("ok files=2 bytes=43 skipped=6"), "{}", out.run);
    assert_eq!(
        skipped("tar-links"),
        [
            "root: symlink not created: absolute link target /".to_string(),
            "up: symlink not created: link target ../../.. points outside the destination".to_string(),
            format!("dot/{m}-via-dot: dot is a symlink; nothing is written through a symlink"),
            "twostep: symlink not created: link target dot/../.. has '..' after a name".to_string(),
            "hard-passwd: hard link target /etc/passwd: absolute path".to_string(),
            "hard-up: hard link target ../../../../etc/passwd: '..' climbs out of the destination".to_string(),
            "hard-link: hard link target ok/inside is not an extracted regular file".to_string(),
        ],
        "{}",
        out.run
    );
    assert_eq!(case("tar-links"), "ok files=4 bytes=32 skipped=7", "{}", out.run);
    assert_eq!(
        skipped("tar-prelinked"),
        [
            "via-pre: symlink not created: it goes through the symlink pre: link target ../../../.. points outside the destination"
                .to_string(),
            format!("pre/{m}-through: pre is a symlink; nothing is written through a symlink"),
        ],
        "{}",
        out.run
    );
    assert_eq!(case("tar-prelinked"), "ok files=1 bytes=9 skipped=2", "{}", out.run);
    assert_eq!(
        skipped("zip-slip"),
        [
            format!("../../{m}-zip-slip: '..' climbs out of the destination"),
            format!("/abs/{m}-zip-abs: absolute path"),
            "evil-link: symlink not created: link target ../../../../etc points outside the destination".to_string(),
        ],
        "{}",
        out.run
    );
    assert_eq!(case("zip-slip"), "ok files=3 bytes=48 skipped=3", "{}", out.run);
    for ok in ["xz-ok", "deb-ok"] {
        assert!(case(ok).starts_with("ok files=2 ") && case(ok).ends_with(" skipped=0"), "{ok}: {}", out.run);
    }

    // Limits: errors naming the archive and the limit.
    let many = case("tar-many");
    assert!(many.starts_with("error cannot extract /tmp/evil-archive/tar-many.tar: it has more than 10 entries"), "{many}");
    assert!(many.contains("ExtractOptions::max_entries"), "{many}");
    for (bomb, file) in [("gz-bomb", "gz-bomb.tar.gz"), ("zip-bomb", "zip-bomb.zip")] {
        let error = case(bomb);
        let expected = format!(
            "error cannot extract /tmp/evil-archive/{file}: more than {BOMB_CAP} bytes would be written (ExtractOptions::max_bytes), at the entry bomb.bin"
        );
        assert!(error.starts_with(&expected), "{bomb}: {error}");
        assert!(error.contains("decompression bomb"), "{error}");
    }
    let liar = case("zip-liar");
    assert_eq!(
        liar,
        "error cannot extract /tmp/evil-archive/zip-liar.zip: cannot read the entry liar.bin: File is larger than its declared uncompressed size",
    );

    // In the guest, the only names holding the marker are the contained files.
    let mut found: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("FOUND ")).collect();
    found.sort();
    assert_eq!(
        found,
        [
            format!("{LAYERS}/tar-links/root/etc/{m}-evil"),
            format!("{LAYERS}/tar-links/up/{m}-evil"),
            format!("{LAYERS}/zip-slip/evil-link/{m}-zip-evil"),
        ],
        "{}",
        out.run
    );

    // On the host: nothing anywhere near kiln's dirs, the sentinel untouched.
    let mut near: Vec<PathBuf> = walk(t.home.path()).into_iter().chain(walk(t.app())).collect();
    near.extend(fs::read_dir("/tmp").unwrap().filter_map(Result::ok).map(|e| e.path()));
    near.extend(fs::read_dir("/").unwrap().filter_map(Result::ok).map(|e| e.path()));
    let leaked: Vec<&PathBuf> = near.iter().filter(|p| p.to_string_lossy().contains(&m)).collect();
    assert!(leaked.is_empty(), "an archive entry reached the host: {leaked:?}");
    let listed: Vec<String> = fs::read_dir(&sentinel).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(listed, ["keep.txt"]);
    assert_eq!(fs::read_to_string(sentinel.join("keep.txt")).unwrap(), "untouched");

    // In the image: each case's layer holds only paths inside it, no symlink leads out,
    // and the marker appears nowhere else in any layer.
    let layers = case_layers(&t, &m);
    let file = |layer: &str, path: &str| -> (bool, String) {
        match layers[layer].get(path) {
            Some(Entry::File { executable, body }) => (*executable, body.clone()),
            other => panic!("{layer}/{path} must be a regular file in the image, found {other:?}"),
        }
    };
    let link = |layer: &str, path: &str| -> String {
        match layers[layer].get(path) {
            Some(Entry::Symlink(target)) => target.clone(),
            other => panic!("{layer}/{path} must be a symlink in the image, found {other:?}"),
        }
    };
    let absent = |layer: &str, path: &str| assert!(!layers[layer].contains_key(path), "{layer}/{path} must not be in the image");

    assert_eq!(file("tar-slip", "ok/hello.txt"), (false, "hello from the archive\n".into()));
    assert_eq!(file("tar-slip", "ok/bin/tool"), (true, TOOL.into()));
    assert_eq!(layers["tar-slip"].len(), 4, "ok, ok/bin and two files: {:?}", layers["tar-slip"]);

    assert_eq!(file("tar-links", "ok/target.txt"), (false, "target\n".into()));
    assert_eq!(link("tar-links", "ok/inside"), "target.txt");
    assert_eq!(link("tar-links", "ok/up-inside"), "../ok/target.txt");
    assert_eq!(file("tar-links", "ok/hard"), (false, "target\n".into()), "a hard link becomes a copy");
    assert_eq!(link("tar-links", "dot"), ".");
    assert_eq!(link("tar-links", "via-dot"), "dot/ok/target.txt");
    assert!(matches!(layers["tar-links"]["root"], Entry::Dir), "root is a real directory, never the link to /");
    assert!(matches!(layers["tar-links"]["up"], Entry::Dir));
    assert_eq!(file("tar-links", &format!("root/etc/{m}-evil")), (false, "contained".into()));
    assert_eq!(file("tar-links", &format!("up/{m}-evil")), (false, "contained".into()));
    for name in ["twostep", "hard-passwd", "hard-up", "hard-link"] {
        absent("tar-links", name);
    }

    assert_eq!(file("tar-prelinked", "pre-file"), (false, "replaced\n".into()), "the entry replaced the link, not its target");
    assert_eq!(layers["tar-prelinked"].len(), 1, "{:?}", layers["tar-prelinked"]);

    let many: Vec<&String> = layers["tar-many"].keys().filter(|p| p.starts_with("many/")).collect();
    assert_eq!(many.len(), 10, "the entries before the limit stay: {many:?}");

    assert_eq!(file("gz-bomb", "ok/small.txt"), (false, "small\n".into()));
    absent("gz-bomb", "bomb.bin");
    assert_eq!(file("zip-bomb", "ok/readme.txt"), (false, "readme\n".into()));
    absent("zip-bomb", "bomb.bin");
    assert_eq!(file("zip-liar", "ok/readme.txt"), (false, "readme\n".into()));
    absent("zip-liar", "liar.bin");

    assert_eq!(file("zip-slip", "ok/hello.txt"), (false, "hello from the zip\n".into()));
    assert_eq!(file("zip-slip", "ok/run.sh"), (true, TOOL.into()));
    assert_eq!(link("zip-slip", "ok/link"), "hello.txt");
    assert!(matches!(layers["zip-slip"]["evil-link"], Entry::Dir), "evil-link is a real directory");

    assert_eq!(file("xz-ok", "bin/node"), (true, "#!/bin/sh\necho node\n".into()));
    assert_eq!(file("xz-ok", "lib/node_modules/npm/bin/npm-cli.js"), (false, "console.log('npm')\n".into()));
    assert_eq!(link("xz-ok", "bin/npm"), "../lib/node_modules/npm/bin/npm-cli.js");

    assert_eq!(file("deb-ok", "usr/bin/hello"), (true, "#!/bin/sh\necho hello\n".into()));
    assert_eq!(file("deb-ok", "usr/share/doc/hello/copyright"), (false, "public domain\n".into()));
    assert_eq!(link("deb-ok", "usr/bin/hi"), "hello");
    assert_eq!(
        layers["deb-ok"].len(),
        8,
        "usr, usr/bin, usr/share, usr/share/doc, usr/share/doc/hello, two files and a link: {:?}",
        layers["deb-ok"]
    );
}

/// Every case layer's entries by path inside the layer, read from the exported image's
/// layer tars. Panics on an entry outside the layer, a symlink leading out of it, a hard
/// link or special file, or the marker anywhere in the image but the three contained files.
fn case_layers(t: &Hostile, m: &str) -> BTreeMap<String, BTreeMap<String, Entry>> {
    let store = t.home.store();
    let config = skopeo_inspect_config(&store, "app:latest");
    let label = config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().unwrap();
    let lifecycle: serde_json::Value = serde_json::from_str(label).unwrap();
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    let manifest: serde_json::Value = serde_json::from_slice(&skopeo_inspect_raw(&store, "app:latest")).unwrap();
    let blob =
        |index: usize| store.join("blobs/sha256").join(manifest["layers"][index]["digest"].as_str().unwrap().trim_start_matches("sha256:"));

    let bp = lifecycle["buildpacks"].as_array().unwrap().iter().find(|b| b["key"] == ID).expect("the buildpack is in the metadata");
    let mut layers = BTreeMap::new();
    let mut case_blobs = Vec::new();
    for (name, layer) in bp["layers"].as_object().unwrap() {
        let sha = layer["sha"].as_str().unwrap();
        let index = diff_ids.iter().position(|d| *d == sha).unwrap_or_else(|| panic!("layer {name} is not in the image"));
        case_blobs.push(index);
        let root = format!("{}/{name}", &LAYERS[1..]);
        let mut entries = BTreeMap::new();
        for (path, kind, mode, link, body) in read_layer(&blob(index)) {
            assert!(Path::new(&path).components().all(|c| matches!(c, Component::Normal(_))), "{name}: entry {path:?}");
            if path.is_empty() || path == root || root.starts_with(&format!("{path}/")) {
                continue; // the layer dir and its parents
            }
            let inside = path.strip_prefix(&format!("{root}/")).unwrap_or_else(|| panic!("layer {name} holds {path}, outside {root}"));
            let entry = match kind {
                tar::EntryType::Directory => Entry::Dir,
                tar::EntryType::Regular => Entry::File { executable: mode & 0o111 != 0, body },
                tar::EntryType::Symlink => {
                    let target = link.expect("a symlink has a target");
                    assert!(leads_inside(inside, &target), "layer {name}: {inside} -> {target} leads out of the layer");
                    Entry::Symlink(target)
                }
                other => panic!("layer {name}: {path} is a {other:?} entry"),
            };
            entries.insert(inside.to_string(), entry);
        }
        layers.insert(name.clone(), entries);
    }
    assert_eq!(layers.len(), 10, "one layer per case: {:?}", layers.keys().collect::<Vec<_>>());

    // The marker only in the contained files, in any layer of the image.
    let allowed = [format!("tar-links/root/etc/{m}-evil"), format!("tar-links/up/{m}-evil"), format!("zip-slip/evil-link/{m}-zip-evil")];
    for index in 0..diff_ids.len() {
        for (path, _, _, link, _) in read_layer(&blob(index)) {
            if path.contains(m) || link.as_deref().is_some_and(|l| l.contains(m)) {
                let ok = case_blobs.contains(&index) && allowed.iter().any(|a| path == format!("{}/{a}", &LAYERS[1..]));
                assert!(ok, "{path} (link {link:?}) reached the image");
            }
        }
    }
    layers
}

/// The entries of a gzip layer blob: path (no leading `/` or `./`), type, mode, link
/// target, and the body of small regular files.
fn read_layer(blob: &Path) -> Vec<(String, tar::EntryType, u32, Option<String>, String)> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(blob).unwrap()));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path =
            entry.path().unwrap().to_string_lossy().trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string();
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap();
        let link = entry.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
        let mut body = String::new();
        if kind == tar::EntryType::Regular && entry.size() < 4096 {
            entry.read_to_string(&mut body).unwrap();
        }
        out.push((path, kind, mode, link, body));
    }
    out
}

/// Whether the symlink at `at` (a path inside a layer) pointing at `target` resolves,
/// lexically, inside the layer.
fn leads_inside(at: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut stack: Vec<&str> = at.split('/').collect();
    stack.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return false;
                }
            }
            name => stack.push(name),
        }
    }
    true
}
