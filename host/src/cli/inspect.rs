//! `kiln inspect`: what an image is made of, from its manifest, config and CNB labels.

use clap::Args;
use serde_json::{Value, json};

use super::exit::CliError;
use super::output::Output;
use super::registry_args::RegistryArgs;
use crate::image::labels::{BUILD_METADATA_LABEL, BuildMetadata, LIFECYCLE_METADATA_LABEL, LabelValue, LayersMetadata};
use crate::image::{Image, ImageRef, open_ref};
use crate::platform::Dirs;

/// Arguments of `kiln inspect`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  kiln inspect myapp\n  kiln --json inspect 127.0.0.1:5000/myapp:v1   # reads the registry: manifest and config only"
)]
pub struct InspectArgs {
    /// The image: NAME[:TAG] in the local store, oci:DIR[:TAG], or HOST/REPO[:TAG] (read from
    /// the registry; use --local for the copy `kiln build` keeps in the store).
    pub image: String,
    /// For a registry reference, read the local store's copy instead of the registry.
    #[arg(long)]
    pub local: bool,
    /// Registry flags.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Print the image's summary (text, or one JSON object with `--json`).
pub fn run(args: InspectArgs, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    let reference = ImageRef::parse(&args.image)?;
    let image = match &reference {
        ImageRef::Registry(r) if !args.local => args.registry.registries(out)?.client()?.fetch_image(r)?.image,
        ImageRef::DockerArchive { .. } => {
            return Err(CliError::Usage("kiln cannot read docker-archives; use `skopeo inspect docker-archive:FILE`".into()));
        }
        _ => {
            let (store, tag) = open_ref(&reference, &dirs.store)?;
            store.read_image(&tag)?
        }
    };
    let summary = summarize(&args.image, &image);
    if out.json() {
        out.result(&summary.to_string());
    } else {
        out.result(&render(&summary));
    }
    Ok(())
}

/// The summary as JSON: reference, digest, platform, run image, buildpacks, processes,
/// layers (digest, diffID, size, media type, what made it) and labels.
pub fn summarize(reference: &str, image: &Image) -> Value {
    let lifecycle = image.label(LIFECYCLE_METADATA_LABEL).and_then(|l| LayersMetadata::from_label_value(l).ok());
    let build = image.label(BUILD_METADATA_LABEL).and_then(|l| BuildMetadata::from_label_value(l).ok());
    let config = &image.config;
    let history: Vec<Option<String>> = if config.history.iter().filter(|h| !h.empty_layer).count() == image.manifest.layers.len() {
        config.history.iter().filter(|h| !h.empty_layer).map(|h| h.created_by.clone()).collect()
    } else {
        vec![None; image.manifest.layers.len()]
    };
    let layers: Vec<Value> = image
        .manifest
        .layers
        .iter()
        .zip(image.diff_ids())
        .zip(history)
        .map(|((layer, diff_id), created_by)| {
            json!({"digest": layer.digest.to_string(), "diffID": diff_id.to_string(), "size": layer.size,
                   "mediaType": layer.media_type, "createdBy": created_by})
        })
        .collect();
    let run_image = lifecycle
        .as_ref()
        .map(|m| json!({"image": m.run_image.image, "reference": m.run_image.reference, "topLayer": m.run_image.top_layer}));
    let buildpacks: Vec<Value> = build
        .as_ref()
        .map(|b| b.buildpacks.iter().map(|bp| json!({"id": bp.id, "version": bp.version, "homepage": bp.homepage})).collect())
        .unwrap_or_default();
    let processes: Vec<Value> = build
        .as_ref()
        .map(|b| {
            b.processes
                .iter()
                .map(|p| {
                    json!({"type": p.kind, "command": p.command, "args": p.args, "default": p.default,
                           "buildpackID": p.buildpack_id, "workingDir": p.working_dir})
                })
                .collect()
        })
        .unwrap_or_default();
    let total: u64 = image.manifest.layers.iter().map(|l| l.size).sum();
    json!({
        "reference": reference,
        "digest": image.manifest_descriptor.digest.to_string(),
        "os": config.os,
        "architecture": config.architecture,
        "user": config.config.user,
        "entrypoint": config.config.entrypoint,
        "runImage": run_image,
        "buildpacks": buildpacks,
        "processes": processes,
        "layers": layers,
        "size": total,
        "labels": config.config.labels,
    })
}

fn render(summary: &Value) -> String {
    let mut text = String::new();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    text.push_str(&format!("Image:        {}\nDigest:       {}\n", s(&summary["reference"]), s(&summary["digest"])));
    text.push_str(&format!("Platform:     {}/{}\n", s(&summary["os"]), s(&summary["architecture"])));
    match &summary["runImage"] {
        Value::Null => text.push_str("Run image:    (not a buildpacks image)\n"),
        run => text.push_str(&format!(
            "Run image:    {} ({})\n  top layer:  {}\n",
            s(&run["image"]),
            s(&run["reference"]),
            s(&run["topLayer"])
        )),
    }
    text.push_str("Buildpacks:\n");
    for bp in summary["buildpacks"].as_array().into_iter().flatten() {
        text.push_str(&format!("  {}@{}\n", s(&bp["id"]), s(&bp["version"])));
    }
    text.push_str("Processes:\n");
    for p in summary["processes"].as_array().into_iter().flatten() {
        let words: Vec<String> =
            p["command"].as_array().into_iter().flatten().chain(p["args"].as_array().into_iter().flatten()).map(s).collect();
        let default = if p["default"].as_bool() == Some(true) { " (default)" } else { "" };
        text.push_str(&format!("  {}{default}: {}\n", s(&p["type"]), words.join(" ")));
    }
    text.push_str(&format!("Layers ({} bytes compressed):\n", summary["size"]));
    for l in summary["layers"].as_array().into_iter().flatten() {
        let by = l["createdBy"].as_str().unwrap_or("");
        text.push_str(&format!("  {}  {:>12}  {by}\n", s(&l["digest"]), l["size"]));
    }
    text.push_str("Labels:\n");
    if let Some(labels) = summary["labels"].as_object() {
        for (key, value) in labels {
            let value = s(value);
            let shown = if value.chars().count() > 100 {
                format!("{}... ({} bytes)", value.chars().take(100).collect::<String>(), value.len())
            } else {
                value
            };
            text.push_str(&format!("  {key}={shown}\n"));
        }
    }
    text.trim_end().to_owned()
}
