//! docker-archive output: the tarball `docker save` writes and `docker load`, `podman load`
//! and `skopeo copy docker-archive:FILE ...` read.
//!
//! ```text
//! <config hex>.json     the image config, byte for byte (its digest is docker's image id)
//! <diffID hex>.tar      each layer, uncompressed (gzip layers are decompressed and checked
//!                       against the config's diffIDs)
//! manifest.json         [{"Config": "<hex>.json", "RepoTags": ["name:tag"], "Layers": [...]}]
//! ```
//!
//! The archive is written to a temp file beside `FILE` and renamed into place, so a failed
//! write never leaves a truncated archive. Entries have fixed owners and mtimes, so the same
//! image gives the same archive bytes.

use std::io::{self, BufWriter, Read, Seek, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use serde::Serialize;

use super::digest::{Digest, HashingWriter};
use super::oci::{Descriptor, MEDIA_TYPE_OCI_LAYER_TAR, is_gzip_layer_media_type};
use super::store::ImageStore;
use super::{ImageError, Result};

/// The mtime of every archive entry: 1980-01-01T00:00:01Z.
const ENTRY_MTIME: u64 = 315_532_801;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ImageError {
    let path = path.to_path_buf();
    move |source| ImageError::StoreIo { action, path, source }
}

/// Write the image `descriptor` (a manifest in `store`) to `path` as a docker-archive whose
/// `manifest.json` names it `repo_tags` (`name:tag`, may be empty).
pub fn write_docker_archive(store: &ImageStore, descriptor: &Descriptor, path: &Path, repo_tags: &[String]) -> Result<()> {
    let image = store.read_image_at(descriptor)?;
    let config_bytes = store.read_blob(&image.manifest.config.digest)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new().prefix(".kiln-archive-").tempfile_in(&dir).map_err(io_error("create a temp file in", &dir))?;
    let mut archive = tar::Builder::new(BufWriter::new(tmp));
    let config_name = format!("{}.json", image.manifest.config.digest.hex());
    append(&mut archive, &config_name, config_bytes.len() as u64, &mut config_bytes.as_slice(), path)?;

    let mut layer_names = Vec::new();
    let mut written = std::collections::BTreeSet::new();
    for (layer, diff_id) in image.manifest.layers.iter().zip(image.diff_ids()) {
        let name = format!("{}.tar", diff_id.hex());
        layer_names.push(name.clone());
        if !written.insert(name.clone()) {
            continue;
        }
        if layer.media_type == MEDIA_TYPE_OCI_LAYER_TAR || layer.media_type.ends_with(".tar") {
            let mut blob = store.open_blob(&layer.digest)?;
            append(&mut archive, &name, layer.size, &mut blob, path)?;
        } else if is_gzip_layer_media_type(&layer.media_type) {
            // The tar header needs the size first: decompress to a temp file, checking the diffID.
            let mut plain = tempfile::tempfile_in(&dir).map_err(io_error("create a temp file in", &dir))?;
            let mut hashing = HashingWriter::new(&mut plain);
            io::copy(&mut GzDecoder::new(store.open_blob(&layer.digest)?), &mut hashing)
                .map_err(io_error("decompress", &store.blob_path(&layer.digest)))?;
            let (_, actual, size) = hashing.finish();
            if actual != *diff_id {
                return Err(ImageError::InconsistentImage {
                    reason: format!("layer {} decompresses to {actual}, but the config says its diffID is {diff_id}", layer.digest),
                });
            }
            plain.rewind().map_err(io_error("rewind", &dir))?;
            append(&mut archive, &name, size, &mut plain, path)?;
        } else {
            return Err(ImageError::UnsupportedMediaType { media_type: layer.media_type.clone(), digest: layer.digest.clone() });
        }
    }

    let manifest = vec![ArchiveManifest { config: config_name, repo_tags: repo_tags.to_vec(), layers: layer_names }];
    let manifest_json = serde_json::to_vec(&manifest).expect("archive manifest serializes");
    append(&mut archive, "manifest.json", manifest_json.len() as u64, &mut manifest_json.as_slice(), path)?;
    let writer = archive.into_inner().map_err(io_error("write", path))?;
    let tmp = writer.into_inner().map_err(|e| io_error("write", path)(e.into_error()))?;
    tmp.as_file().sync_all().map_err(io_error("fsync", path))?;
    tmp.persist(path).map_err(|e| io_error("rename a temp file to", path)(e.error))?;
    Ok(())
}

fn append<W: Write>(archive: &mut tar::Builder<W>, name: &str, size: u64, data: &mut dyn Read, path: &Path) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(ENTRY_MTIME);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(tar::EntryType::Regular);
    archive.append_data(&mut header, name, data).map_err(io_error("write", path))
}

/// The digest a docker-archive's image gets in docker: its config digest.
pub fn docker_image_id(store: &ImageStore, descriptor: &Descriptor) -> Result<Digest> {
    Ok(store.read_image_at(descriptor)?.manifest.config.digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::oci::{ImageConfig, MEDIA_TYPE_OCI_CONFIG};
    use crate::image::{LayerBuilder, Manifest, Owner};
    use std::fs::File;

    #[test]
    fn archive_has_config_layers_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("store")).unwrap();
        let mut layer = LayerBuilder::new();
        layer.add_bytes(b"hello", "/hello.txt", false, Owner::ROOT).unwrap();
        let blob = layer.write_blob(&store).unwrap();
        let mut config = ImageConfig::new_linux();
        config.rootfs.diff_ids = vec![blob.diff_id.clone(), blob.diff_id.clone()];
        let manifest =
            Manifest::new(Descriptor::new(MEDIA_TYPE_OCI_CONFIG, Digest::of_bytes(b"x"), 1), vec![blob.descriptor(), blob.descriptor()]);
        let descriptor = store.write_image(&manifest, &config).unwrap();
        let out = dir.path().join("app.tar");
        write_docker_archive(&store, &descriptor, &out, &["app:v1".to_owned()]).unwrap();
        let mut entries = std::collections::BTreeMap::new();
        for entry in tar::Archive::new(File::open(&out).unwrap()).entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            entries.insert(name, bytes);
        }
        assert_eq!(entries.len(), 3, "config, one layer (deduplicated), manifest.json: {:?}", entries.keys());
        let layer_name = format!("{}.tar", blob.diff_id.hex());
        assert_eq!(Digest::of_bytes(&entries[&layer_name]), blob.diff_id);
        let m: serde_json::Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
        assert_eq!(m[0]["RepoTags"][0], "app:v1");
        assert_eq!(m[0]["Layers"].as_array().unwrap().len(), 2);
        let config_name = m[0]["Config"].as_str().unwrap();
        assert_eq!(Digest::of_bytes(&entries[config_name]).hex(), config_name.trim_end_matches(".json"));
        let again = dir.path().join("again.tar");
        write_docker_archive(&store, &descriptor, &again, &["app:v1".to_owned()]).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap(), "reproducible");
    }
}
