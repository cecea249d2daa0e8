//! Rebase: put an app image on a new run image by rewriting its manifest and config only
//! ([platform spec, rebaser](https://github.com/buildpacks/spec/blob/main/platform.md#rebaser);
//! the reference lifecycle's `phase/rebaser.go`).
//!
//! The app image's `io.buildpacks.lifecycle.metadata` label records `runImage.topLayer`, the
//! diffID of the run image's top layer: the layers up to and including it are the old run
//! image, the rest are the app's. The new image is
//!
//! - layers: the new run image's layers, then the app's layers after the old top, unchanged
//!   (same blobs, same digests: no layer is read, rebuilt or copied);
//! - config: `rootfs.diff_ids` and `history` split the same way; `os`/`architecture`/`variant`
//!   from the new run image; labels `io.buildpacks.base.*` and `io.buildpacks.stack.*`
//!   replaced by the new run image's; `runImage.topLayer` and `runImage.reference` updated in
//!   the lifecycle metadata; env: the app's values, except `PATH` (`/cnb/process:` + the new
//!   run image's `PATH`, the rule export uses) and variables the new run image sets, which
//!   take its value (`CNB_*` variables always keep the app's).
//!
//! Checks (skipped with `force`): the app image is not labelled `io.buildpacks.rebasable=false`;
//! the new run image has the same os and architecture, the same variant unless either is
//! empty, and, when it has `io.buildpacks.base.distro.*` labels, the same distro name and
//! version as the app image.

use crate::image::labels::{
    BASE_DISTRO_NAME_LABEL, BASE_DISTRO_VERSION_LABEL, BASE_LABEL_PREFIX, LIFECYCLE_METADATA_LABEL, LabelValue, LayersMetadata,
    REBASABLE_LABEL, STACK_LABEL_PREFIX,
};
use crate::image::oci::{Descriptor, ImageConfig, MEDIA_TYPE_OCI_CONFIG, Manifest, NORMALIZED_CREATED};
use crate::image::{Digest, Image, ImageError, ImageStore};

/// Why a rebase was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RebaseError {
    /// The app image has no CNB lifecycle metadata.
    #[error(
        "{image} has no {LIFECYCLE_METADATA_LABEL} label, so its run image layers are unknown; only images built by kiln or a CNB lifecycle can be rebased"
    )]
    NotABuildpacksImage {
        /// The app image.
        image: String,
    },
    /// The metadata's `runImage.topLayer` is missing or not among the image's layers.
    #[error(
        "{image}: runImage.topLayer {top_layer:?} in {LIFECYCLE_METADATA_LABEL} is not one of its layers; the image's metadata is inconsistent"
    )]
    TopLayerNotFound {
        /// The app image.
        image: String,
        /// The recorded top layer.
        top_layer: String,
    },
    /// The app image is labelled `io.buildpacks.rebasable=false`.
    #[error("{image} is not marked as rebasable ({REBASABLE_LABEL}=false); pass --force to rebase it anyway")]
    NotRebasable {
        /// The app image.
        image: String,
    },
    /// The new run image does not match the app's target.
    #[error(
        "the new run image {run_image} has {field} {new:?} but {image} has {old:?}; use a run image for the same target, or pass --force"
    )]
    Incompatible {
        /// The app image.
        image: String,
        /// The new run image.
        run_image: String,
        /// Which field differs (`os`, `architecture`, `variant`, a label).
        field: String,
        /// The app image's value.
        old: String,
        /// The new run image's value.
        new: String,
    },
    /// The app image gives no run image to rebase onto.
    #[error("{image} records no run image (runImage.image); pass --run-image NEW")]
    NoRunImage {
        /// The app image.
        image: String,
    },
    /// Reading or writing an image failed.
    #[error(transparent)]
    Image(#[from] ImageError),
}

/// The inputs of a rebase: the two images as manifests and configs, no layer contents.
pub struct Rebaser<'a> {
    /// The app image, for messages.
    pub app_name: &'a str,
    /// The app image.
    pub app: &'a Image,
    /// The new run image, for messages.
    pub run_name: &'a str,
    /// The new run image.
    pub new_run: &'a Image,
    /// What to record as `runImage.reference` (a digest reference or the manifest digest).
    pub new_run_reference: String,
    /// The run image name to record as `runImage.image` when it changes (with `force`, or
    /// when the user named a run image other than the recorded one); `None` keeps it.
    pub new_run_image_name: Option<String>,
    /// Skip the compatibility checks.
    pub force: bool,
}

/// The rebased image, ready to write: the manifest's config descriptor matches `config`.
#[derive(Debug, Clone)]
pub struct Rebased {
    /// The new manifest.
    pub manifest: Manifest,
    /// The new config.
    pub config: ImageConfig,
    /// Its JSON (the config blob).
    pub config_bytes: Vec<u8>,
    /// How many layers of the old run image were replaced.
    pub replaced_layers: usize,
    /// How many app layers were kept.
    pub app_layers: usize,
}

impl Rebased {
    /// The manifest's JSON (the manifest blob).
    pub fn manifest_bytes(&self) -> Vec<u8> {
        self.manifest.to_json()
    }
}

/// The run image name an app image records (`runImage.image`, or the deprecated `stack`).
pub fn recorded_run_image(app: &Image) -> Option<String> {
    let metadata = LayersMetadata::from_label_value(app.label(LIFECYCLE_METADATA_LABEL)?).ok()?;
    let name = if metadata.run_image.image.is_empty() {
        metadata.stack.map(|s| s.run_image.image).unwrap_or_default()
    } else {
        metadata.run_image.image
    };
    (!name.is_empty()).then_some(name)
}

impl Rebaser<'_> {
    /// Check compatibility and compute the new manifest and config.
    pub fn rebase(&self) -> Result<Rebased, RebaseError> {
        let app = self.app;
        let label =
            app.label(LIFECYCLE_METADATA_LABEL).ok_or_else(|| RebaseError::NotABuildpacksImage { image: self.app_name.to_owned() })?;
        let mut metadata = LayersMetadata::from_label_value(label)?;
        let top = &metadata.run_image.top_layer;
        let old_count = app
            .diff_ids()
            .iter()
            .position(|d| d.as_str() == top)
            .map(|i| i + 1)
            .ok_or_else(|| RebaseError::TopLayerNotFound { image: self.app_name.to_owned(), top_layer: top.clone() })?;
        if !self.force {
            self.check_compatible()?;
        }

        let new_run = self.new_run;
        let mut layers = new_run.manifest.layers.clone();
        layers.extend(app.manifest.layers[old_count..].iter().cloned());
        let mut config = app.config.clone();
        config.rootfs.diff_ids = new_run.diff_ids().to_vec();
        config.rootfs.diff_ids.extend(app.diff_ids()[old_count..].iter().cloned());
        config.history = match (split_history(&app.config, old_count), history_matches(&new_run.config)) {
            (Some(app_history), true) => new_run.config.history.iter().cloned().chain(app_history).collect(),
            _ => Vec::new(),
        };
        config.os = new_run.config.os.clone();
        config.architecture = new_run.config.architecture.clone();
        config.variant = new_run.config.variant.clone();
        config.os_version = new_run.config.os_version.clone();
        config.created = Some(NORMALIZED_CREATED.to_owned());

        let container = &mut config.config;
        container.labels.retain(|k, _| !k.starts_with(BASE_LABEL_PREFIX) && !k.starts_with(STACK_LABEL_PREFIX));
        for (key, value) in &new_run.config.config.labels {
            if key.starts_with(BASE_LABEL_PREFIX) || key.starts_with(STACK_LABEL_PREFIX) {
                container.labels.insert(key.clone(), value.clone());
            }
        }
        let run_env = &new_run.config.config;
        let names: Vec<String> = container.env.iter().filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned())).collect();
        for name in names {
            if name == "PATH" {
                // The same rule as export, so a rebased image gets the PATH a fresh build would.
                container.set_env_var("PATH", &kiln_cnb::env::app_image_path(run_env.env_var("PATH")));
            } else if !name.starts_with("CNB_")
                && let Some(value) = run_env.env_var(&name)
            {
                container.set_env_var(&name, value);
            }
        }
        for kv in &run_env.env {
            if let Some((name, value)) = kv.split_once('=')
                && container.env_var(name).is_none()
            {
                container.set_env_var(name, value);
            }
        }

        metadata.run_image.top_layer = new_run.diff_ids().last().map(|d| d.to_string()).unwrap_or_default();
        metadata.run_image.reference = self.new_run_reference.clone();
        if let Some(name) = &self.new_run_image_name {
            metadata.run_image.image = name.clone();
            metadata.run_image.mirrors.clear();
            if let Some(stack) = &mut metadata.stack {
                stack.run_image.image = name.clone();
                stack.run_image.mirrors.clear();
            }
        }
        container.labels.insert(LIFECYCLE_METADATA_LABEL.to_owned(), metadata.to_label_value()?);

        let config_bytes = config.to_json();
        let mut manifest = app.manifest.clone();
        let config_type = if app.manifest.config.media_type.is_empty() {
            MEDIA_TYPE_OCI_CONFIG.to_owned()
        } else {
            app.manifest.config.media_type.clone()
        };
        manifest.config = Descriptor::new(config_type, Digest::of_bytes(&config_bytes), config_bytes.len() as u64);
        manifest.layers = layers;
        Ok(Rebased { manifest, config, config_bytes, replaced_layers: old_count, app_layers: app.manifest.layers.len() - old_count })
    }

    fn check_compatible(&self) -> Result<(), RebaseError> {
        let app = &self.app.config;
        let new = &self.new_run.config;
        if self.app.label(REBASABLE_LABEL) == Some("false") {
            return Err(RebaseError::NotRebasable { image: self.app_name.to_owned() });
        }
        let incompatible = |field: &str, old: &str, new: &str| RebaseError::Incompatible {
            image: self.app_name.to_owned(),
            run_image: self.run_name.to_owned(),
            field: field.to_owned(),
            old: old.to_owned(),
            new: new.to_owned(),
        };
        if app.os != new.os {
            return Err(incompatible("os", &app.os, &new.os));
        }
        if app.architecture != new.architecture {
            return Err(incompatible("architecture", &app.architecture, &new.architecture));
        }
        if let (Some(old), Some(new)) = (app.variant.as_deref(), new.variant.as_deref())
            && !old.is_empty()
            && !new.is_empty()
            && old != new
        {
            return Err(incompatible("variant", old, new));
        }
        for key in [BASE_DISTRO_NAME_LABEL, BASE_DISTRO_VERSION_LABEL] {
            let wanted = new.label(key).unwrap_or_default();
            let have = app.label(key).unwrap_or_default();
            if !wanted.is_empty() && have != wanted {
                return Err(incompatible(&format!("label {key}"), have, wanted));
            }
        }
        Ok(())
    }
}

/// Whether a config's history has one non-empty entry per layer.
fn history_matches(config: &ImageConfig) -> bool {
    !config.history.is_empty() && config.history.iter().filter(|h| !h.empty_layer).count() == config.rootfs.diff_ids.len()
}

/// The history entries after the first `layers` non-empty ones, if the history is consistent.
fn split_history(config: &ImageConfig, layers: usize) -> Option<Vec<crate::image::oci::History>> {
    if !history_matches(config) {
        return None;
    }
    let mut seen = 0;
    let cut = config.history.iter().position(|h| {
        if seen == layers {
            return true;
        }
        if !h.empty_layer {
            seen += 1;
        }
        false
    });
    Some(match cut {
        Some(i) => config.history[i..].to_vec(),
        None => Vec::new(),
    })
}

/// Write the rebased image into `store` and tag it `tag`. Every layer blob must be in the
/// store already (the app's are; copy the new run image's first with [`copy_blobs`]).
pub fn write_rebased(store: &ImageStore, rebased: &Rebased, tag: &str) -> Result<Descriptor, RebaseError> {
    let descriptor = store.write_image(&rebased.manifest, &rebased.config)?;
    store.tag(tag, &descriptor)?;
    Ok(descriptor)
}

/// Make `to` hold every layer blob of `image` from `from` (no-op for blobs it has).
pub fn copy_blobs(image: &Image, from: &ImageStore, to: &ImageStore) -> Result<(), RebaseError> {
    for layer in &image.manifest.layers {
        if !to.has_blob(&layer.digest) {
            let file = from.open_blob(&layer.digest)?;
            let writer = to.blob_writer()?;
            let mut writer = writer;
            std::io::copy(&mut std::io::BufReader::new(file), &mut writer).map_err(|source| ImageError::StoreIo {
                action: "copy a blob into",
                path: to.dir().to_path_buf(),
                source,
            })?;
            writer.commit_expecting(&layer.media_type, &layer.digest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "rebase_tests.rs"]
mod tests;
