//! Buildpacks as OCI images (CNB buildpackages): packaging a component, pushing it, and
//! pulling one for `kiln build --buildpack HOST/REPO[:TAG|@DIGEST]`.
//!
//! A kiln buildpackage is a one-layer image. The layer holds
//! `/cnb/buildpacks/<escaped id>/<version>/buildpack.toml` (from the component's `descriptor`
//! export) and `.../buildpack.wasm` (the component), tarred reproducibly. The config carries
//! the CNB buildpackage labels `io.buildpacks.buildpackage.metadata` (`{"id", "version",
//! "name", "homepage"}`) and `io.buildpacks.buildpack.layers` (`{id: {version: {"api",
//! "layerDiffID", "name", "homepage"}}}`), shaped as pack writes them. A pulled buildpackage
//! (verified by digest) has its layer checked against the label's `layerDiffID` before its
//! component runs.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::GzDecoder;
use serde_json::json;

use super::dirs::Dirs;
use super::error::PlatformError;
use super::registry::Registries;
use crate::buildpack::{BuildpackDescriptor, BuildpackSource};
use crate::image::labels::{BUILDPACK_LAYERS_LABEL, BUILDPACKAGE_METADATA_LABEL};
use crate::image::oci::{History, ImageConfig, MEDIA_TYPE_OCI_CONFIG, Manifest, NORMALIZED_CREATED};
use crate::image::{Descriptor, Digest, Image, ImageRef, ImageStore, LayerBuilder, Owner, RegistryRef, open_ref};
use crate::sandbox::{Limits, LoadedBuildpack, Sandbox};

/// A packaged buildpack: what was packaged, and where it was written.
#[derive(Debug)]
pub struct Packaged {
    /// `id@version` of the buildpack.
    pub buildpack: String,
    /// Where the image was written.
    pub reference: ImageRef,
    /// Its manifest.
    pub descriptor: Descriptor,
}

/// `text` as a registry reference (`HOST/REPO[:TAG|@DIGEST]`).
pub fn registry_ref(text: &str) -> Result<RegistryRef, PlatformError> {
    match ImageRef::parse(text)? {
        ImageRef::Registry(r) => Ok(r),
        other => Err(PlatformError::Unsupported(format!("{other} is not a registry reference (HOST/REPO[:TAG])"))),
    }
}

/// Package `buildpack` (a component file, a directory holding `buildpack.wasm`, or a bundled
/// id) as an image at `output`; with `publish`, push it too (`output` must be a registry).
pub fn package(buildpack: &str, output: &str, publish: bool, dirs: &Dirs, registries: &Registries) -> Result<Packaged, PlatformError> {
    let path = Path::new(buildpack);
    let source = if path.is_dir() {
        BuildpackSource::from_file(&path.join("buildpack.wasm")).map_err(PlatformError::Buildpack)?
    } else {
        BuildpackSource::resolve(buildpack).map_err(PlatformError::Buildpack)?
    };
    let reference = ImageRef::parse(output)?;
    if publish && !reference.is_registry() {
        return Err(PlatformError::Unsupported("--publish needs a registry --output such as 127.0.0.1:5000/buildpacks/mine:0.1.0".into()));
    }
    let sandbox = Sandbox::new(&dirs.cache)?;
    let component = LoadedBuildpack::load(&sandbox, &source.wasm, &source.origin)?;
    let toml_text = component.descriptor(&Limits::default(), Arc::new(|_, _| {}))?;
    let descriptor = BuildpackDescriptor::parse(&toml_text, &source.origin).map_err(PlatformError::Buildpack)?;
    let info = &descriptor.buildpack;

    let (store, tag) = open_ref(&reference, &dirs.store)?;
    let dir = format!("/cnb/buildpacks/{}/{}", info.id.escaped(), info.version);
    let mut layer = LayerBuilder::new();
    layer.add_dir("/cnb", Owner::ROOT)?;
    layer.add_dir("/cnb/buildpacks", Owner::ROOT)?;
    layer.add_dir(&format!("/cnb/buildpacks/{}", info.id.escaped()), Owner::ROOT)?;
    layer.add_dir(&dir, Owner::ROOT)?;
    layer.add_bytes(toml_text.as_bytes(), &format!("{dir}/buildpack.toml"), false, Owner::ROOT)?;
    layer.add_bytes(source.wasm.clone(), &format!("{dir}/buildpack.wasm"), false, Owner::ROOT)?;
    let blob = layer.write_blob(&store)?;

    let mut config = ImageConfig::new_linux();
    config.rootfs.diff_ids = vec![blob.diff_id.clone()];
    config.history = vec![History {
        created: Some(NORMALIZED_CREATED.into()),
        created_by: Some(format!("kiln: buildpack {}@{}", info.id, info.version)),
        ..History::default()
    }];
    let homepage = info.homepage.clone().unwrap_or_default();
    let name = info.name.clone().unwrap_or_default();
    let metadata = json!({"id": info.id.to_string(), "version": info.version, "name": name, "homepage": homepage});
    let mut versions = serde_json::Map::new();
    versions.insert(
        info.version.clone(),
        json!({"api": descriptor.api, "layerDiffID": blob.diff_id.to_string(), "name": name, "homepage": homepage}),
    );
    let mut layers = serde_json::Map::new();
    layers.insert(info.id.to_string(), serde_json::Value::Object(versions));
    let layers = serde_json::Value::Object(layers);
    config.config.labels.insert(BUILDPACKAGE_METADATA_LABEL.into(), metadata.to_string());
    config.config.labels.insert(BUILDPACK_LAYERS_LABEL.into(), layers.to_string());
    let manifest = Manifest::new(Descriptor::new(MEDIA_TYPE_OCI_CONFIG, Digest::of_bytes(b""), 0), vec![blob.descriptor()]);
    let image_descriptor = store.write_image(&manifest, &config)?;
    store.tag(&tag, &image_descriptor)?;
    if publish && let ImageRef::Registry(target) = &reference {
        registries.client()?.push_from_store(&store, &image_descriptor, target, Vec::new())?;
    }
    Ok(Packaged { buildpack: format!("{}@{}", info.id, info.version), reference, descriptor: image_descriptor })
}

/// Push a packaged buildpack kept in the local store under its registry name; returns the
/// pushed manifest's digest.
pub fn push(image: &str, dirs: &Dirs, registries: &Registries) -> Result<(RegistryRef, Digest), PlatformError> {
    let reference = registry_ref(image)?;
    let store = ImageStore::open(&dirs.store)?;
    let descriptor = store.resolve(&reference.to_string())?.ok_or_else(|| {
        PlatformError::Unsupported(format!("no packaged buildpack {reference} in the local store; run `kiln buildpack package`"))
    })?;
    let report = registries.client()?.push_from_store(&store, &descriptor, &reference, Vec::new())?;
    Ok((reference, report.digest))
}

/// Pull a packaged buildpack (cached in the local store while the registry serves the same
/// digest), verify its layer against `layerDiffID`, and return its component.
pub fn pull(text: &str, store: &ImageStore, registries: &Registries) -> Result<BuildpackSource, PlatformError> {
    let reference = registry_ref(text)?;
    let tag = reference.to_string();
    let descriptor = registries.client()?.pull_cached(&reference, store, &tag)?;
    let image = store.read_image_at(&descriptor)?;
    let wasm =
        component_of(&image, store).map_err(|reason| PlatformError::NotABuildpackage { reference: reference.to_string(), reason })?;
    Ok(BuildpackSource { wasm, origin: format!("{}@{}", reference.name(), descriptor.digest) })
}

/// The component inside a buildpackage image, its layer checked against its label.
fn component_of(image: &Image, store: &ImageStore) -> Result<Vec<u8>, String> {
    let label = image
        .label(BUILDPACK_LAYERS_LABEL)
        .ok_or_else(|| format!("it has no {BUILDPACK_LAYERS_LABEL} label; is it a buildpackage made by `kiln buildpack package`?"))?;
    let layers: serde_json::Value = serde_json::from_str(label).map_err(|e| format!("bad {BUILDPACK_LAYERS_LABEL}: {e}"))?;
    let (id, versions) = layers.as_object().and_then(|m| m.iter().next()).ok_or("its buildpack layers label is empty")?;
    let (version, entry) = versions.as_object().and_then(|m| m.iter().next()).ok_or("its buildpack layers label has no version")?;
    let diff_id = entry["layerDiffID"].as_str().ok_or("no layerDiffID in the label")?;
    let index = image.diff_ids().iter().position(|d| d.as_str() == diff_id).ok_or("its layerDiffID is not one of its layers")?;
    let layer = &image.manifest.layers[index];
    let mut plain = Vec::new();
    GzDecoder::new(store.open_blob(&layer.digest).map_err(|e| e.to_string())?)
        .read_to_end(&mut plain)
        .map_err(|e| format!("cannot decompress its layer: {e}"))?;
    if Digest::of_bytes(&plain).as_str() != diff_id {
        return Err(format!("its layer does not match layerDiffID {diff_id}"));
    }
    let want = PathBuf::from(format!("cnb/buildpacks/{}/{version}/buildpack.wasm", id.replace('/', "_")));
    for entry in tar::Archive::new(plain.as_slice()).entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path.strip_prefix("/").unwrap_or(&path) == want.as_path() {
            let mut wasm = Vec::new();
            entry.read_to_end(&mut wasm).map_err(|e| e.to_string())?;
            return Ok(wasm);
        }
    }
    Err(format!("its layer has no /{}", want.display()))
}
