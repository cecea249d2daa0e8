//! `kiln buildpack package|push|pull`: buildpacks as OCI images (CNB buildpackages).
//!
//! A kiln buildpackage is a one-layer image. The layer holds
//! `/cnb/buildpacks/<escaped id>/<version>/buildpack.toml` (from the component's `descriptor`
//! export) and `.../buildpack.wasm` (the component), tarred reproducibly. The config carries
//! the CNB buildpackage labels `io.buildpacks.buildpackage.metadata` (`{"id", "version",
//! "name", "homepage"}`) and `io.buildpacks.buildpack.layers` (`{id: {version: {"api",
//! "layerDiffID", "name", "homepage"}}}`), shaped as pack writes them. `kiln build --buildpack
//! HOST/REPO[:TAG|@DIGEST]` pulls such an image (verified by digest), checks its layer against
//! the label's `layerDiffID` and runs the component.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use flate2::read::GzDecoder;
use serde_json::json;

use super::dirs::Dirs;
use super::exit::{CliError, ExitCode};
use super::output::Output;
use super::registry_args::RegistryArgs;
use crate::buildpack::{BuildpackDescriptor, BuildpackSource};
use crate::image::labels::{BUILDPACK_LAYERS_LABEL, BUILDPACKAGE_METADATA_LABEL};
use crate::image::oci::{History, ImageConfig, MEDIA_TYPE_OCI_CONFIG, Manifest, NORMALIZED_CREATED};
use crate::image::{Descriptor, Digest, Image, ImageRef, ImageStore, LayerBuilder, Owner};
use crate::image::open_ref;
use crate::sandbox::{Limits, LoadedBuildpack, Sandbox};

/// `kiln buildpack` subcommands.
#[derive(Debug, Subcommand)]
pub enum BuildpackCommand {
    /// Put a buildpack component into an OCI image (a CNB buildpackage).
    Package(PackageArgs),
    /// Push a packaged buildpack from the local store to its registry.
    Push(PushArgs),
    /// Pull a packaged buildpack from a registry into the local store.
    Pull(PullArgs),
}

/// Arguments of `kiln buildpack package`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  kiln buildpack package ./my-buildpack.wasm --output 127.0.0.1:5000/buildpacks/mine:0.1.0 --publish\n  kiln buildpack package kiln/procfile --output oci:./bp-layout:procfile\n  kiln build myapp --path . --buildpack 127.0.0.1:5000/buildpacks/mine:0.1.0 --run-image run-base")]
pub struct PackageArgs {
    /// The buildpack: a component file (.wasm), a directory holding `buildpack.wasm`, or a
    /// bundled buildpack id.
    pub buildpack: String,
    /// Where to write the image: NAME[:TAG], oci:DIR[:TAG] or HOST/REPO[:TAG].
    #[arg(long, value_name = "REF")]
    pub output: String,
    /// Also push it (when --output is a registry reference).
    #[arg(long)]
    pub publish: bool,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `kiln buildpack push`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln buildpack push 127.0.0.1:5000/buildpacks/procfile:0.1.0")]
pub struct PushArgs {
    /// The packaged buildpack, kept in the local store under its registry name.
    pub image: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Arguments of `kiln buildpack pull`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln buildpack pull 127.0.0.1:5000/buildpacks/procfile:0.1.0")]
pub struct PullArgs {
    /// The packaged buildpack: HOST/REPO[:TAG|@DIGEST].
    pub image: String,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn bad_input(message: impl Into<String>) -> CliError {
    CliError::new(ExitCode::BadInput, message)
}

/// Run a `kiln buildpack` command.
pub fn run(command: BuildpackCommand, out: &Output) -> Result<(), CliError> {
    match command {
        BuildpackCommand::Package(args) => package(args, out),
        BuildpackCommand::Push(args) => {
            let reference = registry_ref(&args.image)?;
            let dirs = Dirs::from_env();
            let store = ImageStore::open(&dirs.store)?;
            let descriptor = store
                .resolve(&reference.to_string())?
                .ok_or_else(|| bad_input(format!("no packaged buildpack {reference} in the local store; run `kiln buildpack package`")))?;
            let report = args.registry.client(out)?.push_from_store(&store, &descriptor, &reference, Vec::new())?;
            out.result(&format!("{reference}@{}", report.digest));
            Ok(())
        }
        BuildpackCommand::Pull(args) => {
            let dirs = Dirs::from_env();
            let client = args.registry.client(out)?;
            let source = pull_buildpack(&args.image, &dirs, &client)?;
            out.result(&source.origin);
            Ok(())
        }
    }
}

fn registry_ref(text: &str) -> Result<crate::image::RegistryRef, CliError> {
    match ImageRef::parse(text)? {
        ImageRef::Registry(r) => Ok(r),
        other => Err(bad_input(format!("{other} is not a registry reference (HOST/REPO[:TAG])"))),
    }
}

fn package(args: PackageArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    let path = Path::new(&args.buildpack);
    let source = if path.is_dir() {
        BuildpackSource::from_file(&path.join("buildpack.wasm")).map_err(bad_input)?
    } else {
        BuildpackSource::resolve(&args.buildpack).map_err(bad_input)?
    };
    let sandbox = Sandbox::new(&dirs.cache).map_err(|e| CliError::new(ExitCode::Internal, e.to_string()))?;
    let component = LoadedBuildpack::load(&sandbox, &source.wasm, &source.origin).map_err(|e| bad_input(e.to_string()))?;
    let toml_text = component.descriptor(&Limits::default(), Arc::new(|_, _| {})).map_err(|e| bad_input(e.to_string()))?;
    let descriptor = BuildpackDescriptor::parse(&toml_text, &source.origin).map_err(bad_input)?;
    let info = &descriptor.buildpack;

    let reference = ImageRef::parse(&args.output)?;
    if args.publish && !reference.is_registry() {
        return Err(bad_input("--publish needs a registry --output such as 127.0.0.1:5000/buildpacks/mine:0.1.0"));
    }
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
    let descriptor = store.write_image(&manifest, &config)?;
    store.tag(&tag, &descriptor)?;
    out.progress(&format!("[package] {}@{} -> {reference}", info.id, info.version));
    if args.publish
        && let ImageRef::Registry(target) = &reference
    {
        args.registry.client(out)?.push_from_store(&store, &descriptor, target, Vec::new())?;
    }
    out.result(&format!("{reference}@{}", descriptor.digest));
    Ok(())
}

/// Pull a packaged buildpack (cached in the local store while the registry serves the same
/// digest), verify its layer against `layerDiffID`, and return its component.
pub fn pull_buildpack(
    text: &str,
    dirs: &Dirs,
    client: &crate::image::RegistryClient,
) -> Result<BuildpackSource, CliError> {
    let reference = registry_ref(text)?;
    let store = ImageStore::open(&dirs.store)?;
    let tag = reference.to_string();
    let descriptor = client.pull_cached(&reference, &store, &tag)?;
    let image = store.read_image_at(&descriptor)?;
    let wasm = component_of(&image, &store).map_err(|e| bad_input(format!("buildpack image {reference}: {e}")))?;
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
