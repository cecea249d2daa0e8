//! Rebase: swap the run image under an app image, in the local store and on a registry,
//! without touching app layers; the rebased image still serves; rebase time does not grow
//! with the app's size.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_tests::{KilnHome, Registry, RunningContainer, busybox_rootfs, free_port, skopeo_inspect, skopeo_inspect_config, umoci_unpack};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)
}

/// A busybox run image with `/etc/run-version` = `version`, tagged `tag`.
fn run_image_version(home: &KilnHome, tag: &str, version: &str) {
    let rootfs = home.path().join(format!("rootfs-{version}"));
    busybox_rootfs(&rootfs);
    fs::write(rootfs.join("etc/run-version"), version).unwrap();
    home.run(&["base", "from-dir", rootfs.to_str().unwrap(), "--tag", tag]).success();
}

fn lifecycle_metadata(config: &Value) -> Value {
    serde_json::from_str(config["config"]["Labels"]["io.buildpacks.lifecycle.metadata"].as_str().unwrap()).unwrap()
}

fn diff_ids(config: &Value) -> Vec<String> {
    config["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
}

fn layers(inspect: &Value) -> Vec<String> {
    inspect["Layers"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
}

fn serve_check(layout: &Path, tag: &str, version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let bundle = umoci_unpack(layout, tag, &dir.path().join("bundle"));
    assert_eq!(fs::read_to_string(bundle.rootfs.join("etc/run-version")).unwrap(), version, "the new run image's files");
    let port = free_port();
    let mut container = RunningContainer::start(&bundle, &[("PORT", &port.to_string())], 1000);
    let page = container.wait_for_http(port, "/", Duration::from_secs(20));
    assert!(page.contains("Hello from kiln"), "{page}");
}

#[test]
fn rebase_in_the_local_store_swaps_run_layers_and_keeps_app_layers() {
    let home = KilnHome::new();
    run_image_version(&home, "run-base:latest", "1");
    run_image_version(&home, "run-base:2", "2");
    let app = example("procfile-web");
    home.run(&["build", "app", "--path", app.to_str().unwrap(), "--run-image", "run-base"]).success();
    let store = home.store();
    let before = skopeo_inspect_config(&store, "app:latest");
    let before_layers = layers(&skopeo_inspect(&store, "app:latest"));
    let run2 = skopeo_inspect_config(&store, "run-base:2");

    let rebased = home.run(&["rebase", "app", "--run-image", "run-base:2"]).success();
    assert!(rebased.stderr.contains("replaced 1 run image layer(s) with 1"), "{rebased}");
    let after_inspect = skopeo_inspect(&store, "app:latest");
    assert_eq!(after_inspect["Digest"], rebased.digest());
    let after = skopeo_inspect_config(&store, "app:latest");
    assert_eq!(diff_ids(&after)[0], diff_ids(&run2)[0], "the new run image's layer");
    assert_eq!(diff_ids(&after)[1..], diff_ids(&before)[1..], "the same app diffIDs");
    assert_eq!(layers(&after_inspect)[1..], before_layers[1..], "the same app layer blobs");
    let metadata = lifecycle_metadata(&after);
    assert_eq!(metadata["runImage"]["topLayer"], diff_ids(&run2)[0]);
    assert_eq!(metadata["runImage"]["image"], "run-base:2");
    assert_eq!(after["config"]["Entrypoint"], before["config"]["Entrypoint"]);
    serve_check(&store, "app:latest", "2");

    // Without --run-image: the recorded run image, re-resolved (its tag moved to version 3).
    run_image_version(&home, "run-base:2", "3");
    let run3 = skopeo_inspect_config(&store, "run-base:2");
    home.run(&["rebase", "app"]).success();
    let again = skopeo_inspect_config(&store, "app:latest");
    assert_eq!(diff_ids(&again)[0], diff_ids(&run3)[0]);
    assert_eq!(diff_ids(&again)[1..], diff_ids(&before)[1..]);

    // An incompatible run image is refused, with a clear message and exit code 70.
    let rootfs = home.path().join("rootfs-other");
    busybox_rootfs(&rootfs);
    home.run(&[
        "base",
        "from-dir",
        rootfs.to_str().unwrap(),
        "--tag",
        "other-distro",
        "--distro-name",
        "alpine",
        "--distro-version",
        "3.20",
    ])
    .success();
    home.run(&["rebase", "app", "--run-image", "other-distro"]).failure(70, &["io.buildpacks.base.distro.name", "--force"]);
    home.run(&["rebase", "app", "--run-image", "other-distro", "--force"]).success();
}

#[test]
fn rebase_on_a_registry_moves_no_app_layer() {
    let registry = Registry::start();
    let home = KilnHome::new();
    run_image_version(&home, "run-base:latest", "1");
    run_image_version(&home, "run-base:2", "2");
    registry.push_layout(&home.store(), "run-base:latest", "run:1");
    registry.push_layout(&home.store(), "run-base:2", "run:2");
    let app = example("procfile-web");
    let image = format!("{}/app:v1", registry.addr());
    home.run(&["build", &image, "--publish", "--path", app.to_str().unwrap(), "--run-image", &format!("{}/run:1", registry.addr())])
        .success();
    let before = registry.skopeo_inspect("app:v1");
    let run2 = registry.skopeo_inspect("run:2");

    let mark = registry.requests().len();
    let rebased = home.run(&["rebase", &image, "--publish", "--run-image", &format!("{}/run:2", registry.addr())]).success();
    let requests = registry.requests()[mark..].to_vec();
    println!("rebase on the registry: {:?}", requests.iter().map(|r| format!("{} {} {}", r.method, r.uri, r.status)).collect::<Vec<_>>());
    let app_layers = &layers(&before)[1..];
    for request in &requests {
        for layer in app_layers {
            assert!(!request.uri.contains(layer.as_str()) || request.method == "HEAD", "app layer {layer} touched: {request:?}");
        }
        assert_ne!(request.method, "PATCH", "{request:?}");
    }
    let puts: Vec<_> = requests.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "the config blob and the manifest only: {puts:?}");
    let after = registry.skopeo_inspect("app:v1");
    assert_eq!(after["Digest"], rebased.digest());
    assert_eq!(layers(&after)[0], layers(&run2)[0]);
    assert_eq!(layers(&after)[1..], *app_layers);

    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("back");
    registry.pull_to_layout("app:v1", &layout, "back");
    serve_check(&layout, "back", "2");
}

/// Make `big` from the image tagged `small` in `store` by appending one uncompressed layer of
/// `size` bytes (real, incompressible-looking bytes: a 1 MiB PRNG block stamped per MiB).
fn append_big_layer(store: &Path, small: &str, big: &str, size: u64) {
    let index_path = store.join("index.json");
    let mut index: Value = serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == small)
        .unwrap()
        .clone();
    let blob = |digest: &Value| store.join("blobs/sha256").join(digest.as_str().unwrap().trim_start_matches("sha256:"));
    let mut manifest: Value = serde_json::from_slice(&fs::read(blob(&entry["digest"])).unwrap()).unwrap();
    let mut config: Value = serde_json::from_slice(&fs::read(blob(&manifest["config"]["digest"])).unwrap()).unwrap();

    let tmp = store.join("big-layer.tmp");
    let mut hasher = Sha256::new();
    {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp).unwrap());
        let mut header = [0u8; 512];
        header[..7].copy_from_slice(b"big.bin");
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut block = vec![0u8; 1 << 20];
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let mut write = |bytes: &[u8]| {
            hasher.update(bytes);
            out.write_all(bytes).unwrap();
        };
        write(&header);
        let mut left = size;
        let mut n = 0u64;
        while left > 0 {
            block[..8].copy_from_slice(&n.to_le_bytes());
            let take = left.min(block.len() as u64) as usize;
            write(&block[..take]);
            left -= take as u64;
            n += 1;
        }
        let pad = (512 - (size % 512) as usize) % 512;
        write(&vec![0u8; pad + 1024]);
        out.flush().unwrap();
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let layer_size = fs::metadata(&tmp).unwrap().len();
    fs::rename(&tmp, store.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap();
    manifest["layers"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": layer_size
    }));
    config["rootfs"]["diff_ids"].as_array_mut().unwrap().push(Value::String(digest.clone()));
    if let Some(history) = config["history"].as_array_mut() {
        history.push(serde_json::json!({"created_by": "test: 1 GiB layer"}));
    }
    let put = |bytes: Vec<u8>| -> (String, usize) {
        let d = hex::encode(Sha256::digest(&bytes));
        fs::write(store.join("blobs/sha256").join(&d), &bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    let (config_digest, config_size) = put(serde_json::to_vec(&config).unwrap());
    manifest["config"]["digest"] = Value::String(config_digest);
    manifest["config"]["size"] = config_size.into();
    let (manifest_digest, manifest_size) = put(serde_json::to_vec(&manifest).unwrap());
    let mut new_entry = entry;
    new_entry["digest"] = Value::String(manifest_digest);
    new_entry["size"] = manifest_size.into();
    new_entry["annotations"]["org.opencontainers.image.ref.name"] = Value::String(big.to_string());
    index["manifests"].as_array_mut().unwrap().push(new_entry);
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
}

fn timed_rebase(home: &KilnHome, image: &str) -> f64 {
    let run = home.run(&["--json", "rebase", image, "--run-image", "run-base:2"]).success();
    let event: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    event["millis"].as_f64().unwrap()
}

#[test]
fn rebase_time_does_not_grow_with_app_size() {
    let home = KilnHome::new();
    run_image_version(&home, "run-base:latest", "1");
    run_image_version(&home, "run-base:2", "2");
    // A 10 MB app: the web example plus 10 MB of bytes.
    let app = tempfile::tempdir().unwrap();
    fs::copy(example("procfile-web").join("Procfile"), app.path().join("Procfile")).unwrap();
    let mut state = 0x1234_5678_9abc_def1u64;
    let data: Vec<u8> = (0..(10 << 20) / 8)
        .flat_map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()
        })
        .collect();
    fs::write(app.path().join("data.bin"), data).unwrap();
    home.run(&["build", "small", "--path", app.path().to_str().unwrap(), "--run-image", "run-base"]).success();
    append_big_layer(&home.store(), "small:latest", "big:latest", 1 << 30);
    let big_size: u64 = layers(&skopeo_inspect(&home.store(), "big:latest")).len() as u64;
    assert_eq!(big_size, layers(&skopeo_inspect(&home.store(), "small:latest")).len() as u64 + 1);

    // Warm up (page cache, binary), then take the best of three for each.
    timed_rebase(&home, "small");
    let small = (0..3).map(|_| timed_rebase(&home, "small")).fold(f64::MAX, f64::min);
    let big = (0..3).map(|_| timed_rebase(&home, "big")).fold(f64::MAX, f64::min);
    println!("rebase time: 10 MB app image {small:.1} ms, 1 GiB app image {big:.1} ms (ratio {:.2})", big / small);
    assert!(big <= 3.0 * small + 20.0, "rebase of the 1 GiB image took {big:.1} ms vs {small:.1} ms for 10 MB");
    let config = skopeo_inspect_config(&home.store(), "big:latest");
    assert_eq!(diff_ids(&config)[0], diff_ids(&skopeo_inspect_config(&home.store(), "run-base:2"))[0]);
}
