//! The image SBOM across builds: which layer each fetch and each buildpack SBOM file
//! belongs to, and what a layer kept from the previous build carries over.
//!
//! Attribution, per buildpack: a fetch placed inside one of its returned layers belongs to
//! that layer; any other fetch (into `/tmp`, say, then unpacked) belongs to every layer the
//! buildpack (re)created in this build, or to all its layers when it recreated none
//! (over-attributing is safe: a component then survives a little longer, never less).
//! A layer is *kept* when the previous build had it (restored from the cache or left in
//! the previous image), its metadata is unchanged and nothing was fetched into it; a kept
//! layer carries the components the previous build attributed to it ([`super::analyze`]).
//! A layer that is gone, or was rebuilt with new metadata, loses them.
//!
//! A buildpack may describe a `launch` layer in `<layers>/<layer>.sbom.cdx.json` and
//! itself in `<layers>/launch.sbom.cdx.json` (CycloneDX JSON, [buildpack spec, Bill of
//! Materials](https://github.com/buildpacks/spec/blob/main/buildpack.md#bill-of-materials));
//! kiln merges their components, read as hostile input (a regular file, not a symlink,
//! size-capped, valid CycloneDX JSON; see [`crate::fetch::sbom::buildpack_components`]).
//! A kept layer without a new file keeps its previous file's components. SPDX and Syft
//! files are ignored with a warning.
//!
//! The result is merged and sorted, so the same components give the same document bytes,
//! whichever build fetched them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use super::LifecycleError;
use super::analyze::Analysis;
use super::build::BuildpackOutput;
use crate::fetch::FetchRecord;
use crate::fetch::sbom::{
    MAX_BUILDPACK_SBOM_BYTES, MAX_DOCUMENT_BYTES, SBOM_IMAGE_PATH, SBOM_LABEL, SbomComponent, buildpack_components, fetch_component,
    is_from_buildpack_file, merge,
};
use crate::image::{Descriptor, Image, ImageStore};

/// Most bytes of SBOM files kiln reads from one buildpack, over all its files.
pub const MAX_BUILDPACK_SBOM_TOTAL: u64 = 4 * MAX_BUILDPACK_SBOM_BYTES;

/// The image's SBOM components and where each belongs.
#[derive(Debug, Clone, Default)]
pub struct ImageSbom {
    /// Every component, merged and sorted.
    pub components: Vec<SbomComponent>,
    /// The components of each layer, for the build cache: (buildpack, layer) -> components.
    pub by_layer: BTreeMap<(String, String), Vec<Value>>,
    /// How many (component, layer) pairs came from kept layers of the previous build.
    pub carried: usize,
}

/// Attribute this build's fetches and buildpack SBOM files to layers and carry over the
/// components of kept layers. `layers_root` is the build's layers dir.
pub fn assemble(
    outputs: &[BuildpackOutput],
    analysis: &Analysis,
    fetched: &[FetchRecord],
    layers_root: &Path,
) -> Result<ImageSbom, LifecycleError> {
    let mut components = Vec::new();
    let mut carried = 0;
    let attributed: BTreeSet<&str> = outputs.iter().map(|o| o.id.as_str()).collect();
    for output in outputs {
        let id = output.id.as_str();
        let layers_dir = layers_root.join(output.id.escaped());
        let names: BTreeSet<&str> = output.layers.iter().map(|l| l.name.as_str()).collect();
        let records: Vec<&FetchRecord> = fetched.iter().filter(|r| r.buildpack == id).collect();
        let direct: Vec<Option<&str>> = records
            .iter()
            .map(|r| r.destination.as_deref().and_then(|d| layer_of(d, &layers_dir)).and_then(|l| names.get(l).copied()))
            .collect();
        let fetched_into: BTreeSet<&str> = direct.iter().flatten().copied().collect();
        let previous = analysis.for_buildpack(id);
        let kept: BTreeSet<&str> = output
            .layers
            .iter()
            .filter(|l| !fetched_into.contains(l.name.as_str()))
            .filter(|l| previous.and_then(|p| p.get(l.name.as_str())).is_some_and(|p| p.metadata == l.metadata))
            .map(|l| l.name.as_str())
            .collect();
        let recreated: BTreeSet<&str> = names.difference(&kept).copied().collect();
        let fallback = if recreated.is_empty() { &names } else { &recreated };
        for (record, layer) in records.iter().zip(&direct) {
            let layers = match layer {
                Some(layer) => BTreeSet::from([layer.to_string()]),
                None => fallback.iter().map(|l| l.to_string()).collect(),
            };
            components.push(SbomComponent { buildpack: id.into(), layers, value: fetch_component(record) });
        }

        let mut budget = MAX_BUILDPACK_SBOM_TOTAL;
        let mut with_file = BTreeSet::new();
        for layer in output.layers.iter().filter(|l| l.types.launch) {
            let name = layer.name.as_str();
            if let Some(values) = read_buildpack_file(&layers_dir, id, name, &mut budget)? {
                with_file.insert(name);
                let layers = BTreeSet::from([name.to_string()]);
                components.extend(values.into_iter().map(|value| SbomComponent { buildpack: id.into(), layers: layers.clone(), value }));
            }
        }
        if let Some(values) = read_buildpack_file(&layers_dir, id, "launch", &mut budget)? {
            components.extend(values.into_iter().map(|value| SbomComponent { buildpack: id.into(), layers: BTreeSet::new(), value }));
        }

        for layer in output.layers.iter().filter(|l| kept.contains(l.name.as_str())) {
            let name = layer.name.as_str();
            let Some(previous) = previous.and_then(|p| p.get(name)) else { continue };
            for value in &previous.sbom {
                if is_from_buildpack_file(value) && (!layer.types.launch || with_file.contains(name)) {
                    continue;
                }
                carried += 1;
                components.push(SbomComponent { buildpack: id.into(), layers: BTreeSet::from([name.to_string()]), value: value.clone() });
            }
        }
    }
    // Fetches of a buildpack that returned no output (none today) are still listed.
    for record in fetched.iter().filter(|r| !attributed.contains(r.buildpack.as_str())) {
        components.push(SbomComponent { buildpack: record.buildpack.clone(), layers: BTreeSet::new(), value: fetch_component(record) });
    }
    let components = merge(components);
    let mut by_layer: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for component in &components {
        for layer in &component.layers {
            by_layer.entry((component.buildpack.clone(), layer.clone())).or_default().push(component.value.clone());
        }
    }
    Ok(ImageSbom { components, by_layer, carried })
}

/// The name of the layer `path` is inside (`<layers_dir>/<layer>/...`), if any.
fn layer_of<'a>(path: &'a Path, layers_dir: &Path) -> Option<&'a str> {
    let relative = path.strip_prefix(layers_dir).ok()?;
    let mut components = relative.components();
    let first = components.next()?;
    components.next()?;
    first.as_os_str().to_str()
}

/// Read `<layers_dir>/<scope>.sbom.cdx.json` if the buildpack wrote it; warn about SPDX
/// and Syft files, which kiln does not read.
fn read_buildpack_file(layers_dir: &Path, buildpack: &str, scope: &str, budget: &mut u64) -> Result<Option<Vec<Value>>, LifecycleError> {
    for other in ["spdx.json", "syft.json"] {
        let path = layers_dir.join(format!("{scope}.sbom.{other}"));
        if std::fs::symlink_metadata(&path).is_ok() {
            tracing::warn!(buildpack, file = %path.display(), "kiln reads only CycloneDX SBOM files (.sbom.cdx.json); ignoring this one");
        }
    }
    let file_name = format!("{scope}.sbom.cdx.json");
    let path = layers_dir.join(&file_name);
    let invalid = |message: String| LifecycleError::InvalidBuildOutput {
        buildpack: buildpack.into(),
        message: format!("{file_name}: {message}; write a CycloneDX JSON document there or remove it"),
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LifecycleError::io("read a buildpack's SBOM file", &path, e)),
    };
    if !meta.file_type().is_file() {
        return Err(invalid("it is not a regular file (symlinks are never followed)".into()));
    }
    let limit = MAX_BUILDPACK_SBOM_BYTES.min(*budget);
    if meta.len() > limit {
        return Err(invalid(format!(
            "it is {} bytes; the limit is {limit} bytes (all of a buildpack's SBOM files together: {MAX_BUILDPACK_SBOM_TOTAL})",
            meta.len()
        )));
    }
    let file = open_no_follow(&path).map_err(|e| LifecycleError::io("read a buildpack's SBOM file", &path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| LifecycleError::io("read a buildpack's SBOM file", &path, e))?;
    if bytes.len() as u64 > limit {
        return Err(invalid(format!("it is over the limit of {limit} bytes")));
    }
    *budget -= bytes.len() as u64;
    buildpack_components(&bytes, buildpack, scope).map(Some).map_err(invalid)
}

fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)
}

/// The blob of an image's SBOM layer (the one its [`SBOM_LABEL`] names), if it has one.
pub fn sbom_layer(image: &Image) -> Option<Descriptor> {
    let diff_id = image.label(SBOM_LABEL)?;
    let index = image.config.rootfs.diff_ids.iter().position(|d| d.as_str() == diff_id)?;
    image.manifest.layers.get(index).cloned()
}

/// The SBOM document of an image whose blobs are in `store`: `None` when it has no SBOM,
/// an error when it has one that cannot be read (its blob missing, damaged or too large).
pub fn read_image_sbom(store: &ImageStore, image: &Image) -> Result<Option<Vec<u8>>, String> {
    let Some(label) = image.label(SBOM_LABEL) else { return Ok(None) };
    let layer = sbom_layer(image).ok_or_else(|| format!("{SBOM_LABEL} names layer {label}, which the image does not have"))?;
    if !store.has_blob(&layer.digest) {
        return Err(format!("its SBOM layer {} is not in the local store", layer.digest));
    }
    let blob = store.open_blob(&layer.digest).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let wanted = SBOM_IMAGE_PATH.trim_start_matches('/');
    for entry in archive.entries().map_err(|e| format!("SBOM layer: {e}"))? {
        let entry = entry.map_err(|e| format!("SBOM layer: {e}"))?;
        let path = entry.path().map(|p| p.to_string_lossy().trim_start_matches("./").to_string()).unwrap_or_default();
        if path == wanted {
            let mut bytes = Vec::new();
            entry.take(MAX_DOCUMENT_BYTES + 1).read_to_end(&mut bytes).map_err(|e| format!("SBOM layer: {e}"))?;
            if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
                return Err(format!("its SBOM is over {MAX_DOCUMENT_BYTES} bytes"));
            }
            return Ok(Some(bytes));
        }
    }
    Err(format!("the SBOM layer has no {SBOM_IMAGE_PATH}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::buildpack::BuildpackId;
    use crate::fetch::FetchOrigin;
    use crate::fetch::sbom::{PROPERTY_LAYER, document, parse_document};
    use crate::layers::{BuiltLayer, LayerName, LayerTypes};
    use crate::lifecycle::analyze::{PreviousContents, PreviousLayer};

    const BP: &str = "org/java";
    const LAUNCH: LayerTypes = LayerTypes { launch: true, build: false, cache: false };

    fn record(url: &str, destination: Option<PathBuf>) -> FetchRecord {
        FetchRecord {
            buildpack: BP.into(),
            url: url.into(),
            digest: format!("sha256:{}", "cd".repeat(32)),
            algorithm: "SHA-256".into(),
            hex: "cd".repeat(32),
            size: 7,
            origin: FetchOrigin::Network,
            destination,
        }
    }

    fn metadata(version: &str) -> toml::Table {
        toml::from_str(&format!("version = {version:?}")).unwrap()
    }

    fn output(root: &Path, layers: &[(&str, &str)]) -> BuildpackOutput {
        let id = BuildpackId::parse(BP).unwrap();
        let dir = root.join(id.escaped());
        BuildpackOutput {
            layers: layers
                .iter()
                .map(|(name, version)| {
                    std::fs::create_dir_all(dir.join(name)).unwrap();
                    BuiltLayer {
                        name: LayerName::parse(name).unwrap(),
                        types: LAUNCH,
                        metadata: metadata(version),
                        dir: dir.join(name),
                        from_previous_image: None,
                    }
                })
                .collect(),
            id,
            version: "1.0.0".into(),
            api: "0.10".into(),
            homepage: None,
            processes: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// An analysis whose previous layers are those of `document`, with `versions` metadata.
    fn analysis_from(document: &[u8], versions: &[(&str, &str)]) -> Analysis {
        let mut analysis = Analysis::default();
        let components = parse_document(document).unwrap();
        for (name, version) in versions {
            let sbom = components.iter().filter(|c| c.layers.contains(*name)).map(|c| c.value.clone()).collect();
            let digest = crate::image::Digest::of_bytes(name.as_bytes());
            let descriptor = Descriptor::new("application/vnd.oci.image.layer.v1.tar+gzip", digest.clone(), 1);
            analysis.layers.entry(BP.into()).or_default().insert(
                name.to_string(),
                PreviousLayer {
                    metadata: metadata(version),
                    types: LAUNCH,
                    contents: PreviousContents::Image { diff_id: digest, descriptor },
                    sbom,
                },
            );
        }
        analysis
    }

    fn layer_props(doc: &[u8]) -> Vec<(String, Vec<String>)> {
        let doc: Value = serde_json::from_slice(doc).unwrap();
        doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let layers = c["properties"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|p| p["name"] == PROPERTY_LAYER)
                    .map(|p| p["value"].as_str().unwrap().to_string())
                    .collect();
                (c["name"].as_str().unwrap_or_default().to_string(), layers)
            })
            .collect()
    }

    #[test]
    fn fetches_go_to_their_layer_and_kept_layers_carry_them_over() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("org_java");
        let jdk = record("https://x.example/jdk-21.tgz", Some(dir.join("jdk/jdk.tgz")));
        let tool = record("https://x.example/tool.tgz", Some(root.path().join("tmp/tool.tgz")));
        let cold_outputs = [output(root.path(), &[("jdk", "21"), ("tools", "1")])];
        let cold = assemble(&cold_outputs, &Analysis::default(), &[jdk.clone(), tool.clone()], root.path()).unwrap();
        let cold_doc = document(&cold.components).unwrap();
        assert_eq!(
            layer_props(&cold_doc),
            [
                ("jdk-21.tgz".to_string(), vec!["org/java/jdk".to_string()]),
                ("tool.tgz".to_string(), vec!["org/java/jdk".to_string(), "org/java/tools".to_string()]),
            ],
            "a fetch into a layer is that layer's; one into /tmp is every recreated layer's"
        );
        assert_eq!(cold.by_layer[&(BP.to_string(), "tools".to_string())].len(), 1);

        // Warm: both layers kept (same metadata), nothing fetched: the same document.
        let analysis = analysis_from(&cold_doc, &[("jdk", "21"), ("tools", "1")]);
        let warm = assemble(&cold_outputs, &analysis, &[], root.path()).unwrap();
        assert_eq!(document(&warm.components).unwrap(), cold_doc, "a warm rebuild gives the same SBOM bytes");
        assert_eq!(warm.carried, 3);

        // jdk rebuilt with new metadata (another version), tools kept, tools dropped later.
        let jdk22 = record("https://x.example/jdk-22.tgz", Some(dir.join("jdk/jdk.tgz")));
        let outputs = [output(root.path(), &[("jdk", "22"), ("tools", "1")])];
        let next = assemble(&outputs, &analysis, &[jdk22], root.path()).unwrap();
        let next_doc = document(&next.components).unwrap();
        assert_eq!(
            layer_props(&next_doc),
            [("jdk-22.tgz".to_string(), vec!["org/java/jdk".to_string()]), ("tool.tgz".to_string(), vec!["org/java/tools".to_string()]),],
            "jdk-21 left with the rebuilt layer; tool.tgz stays with the kept one"
        );
        let analysis = analysis_from(&next_doc, &[("jdk", "22"), ("tools", "1")]);
        let dropped = assemble(&[output(root.path(), &[("jdk", "22")])], &analysis, &[], root.path()).unwrap();
        assert_eq!(layer_props(&document(&dropped.components).unwrap()), [("jdk-22.tgz".to_string(), vec!["org/java/jdk".to_string()])]);
        assert!(assemble(&[output(root.path(), &[])], &analysis, &[], root.path()).unwrap().components.is_empty());
    }

    #[test]
    fn a_fetch_of_a_buildpack_that_kept_everything_belongs_to_all_its_layers() {
        let root = tempfile::tempdir().unwrap();
        let outputs = [output(root.path(), &[("a", "1"), ("b", "1")])];
        let analysis = analysis_from(br#"{"bomFormat": "CycloneDX", "components": []}"#, &[("a", "1"), ("b", "1")]);
        let sbom = assemble(&outputs, &analysis, &[record("https://x.example/f", None)], root.path()).unwrap();
        assert_eq!(sbom.components[0].layers, BTreeSet::from(["a".to_string(), "b".to_string()]));
        let none = assemble(&[output(root.path(), &[])], &analysis, &[record("https://x.example/f", None)], root.path()).unwrap();
        assert!(none.components[0].layers.is_empty(), "no layers: listed without one");
    }

    #[test]
    fn buildpack_files_are_merged_replaced_when_rewritten_and_refused_when_hostile() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("org_java");
        let outputs = [output(root.path(), &[("jre", "1")])];
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write(
            "jre.sbom.cdx.json",
            r#"{"bomFormat": "CycloneDX", "components": [{"type": "library", "name": "openjdk-jre", "version": "21"}]}"#,
        );
        write("launch.sbom.cdx.json", r#"{"bomFormat": "CycloneDX", "components": [{"type": "application", "name": "helper"}]}"#);
        let cold = assemble(&outputs, &Analysis::default(), &[], root.path()).unwrap();
        let cold_doc = document(&cold.components).unwrap();
        assert_eq!(layer_props(&cold_doc), [("helper".to_string(), vec![]), ("openjdk-jre".to_string(), vec!["org/java/jre".to_string()])]);

        // Kept layer, no new file: carried. Kept layer, new file: the new one replaces it.
        std::fs::remove_file(dir.join("jre.sbom.cdx.json")).unwrap();
        let analysis = analysis_from(&cold_doc, &[("jre", "1")]);
        assert_eq!(document(&assemble(&outputs, &analysis, &[], root.path()).unwrap().components).unwrap(), cold_doc);
        write(
            "jre.sbom.cdx.json",
            r#"{"bomFormat": "CycloneDX", "components": [{"type": "library", "name": "openjdk-jre", "version": "22"}]}"#,
        );
        let rewritten = assemble(&outputs, &analysis, &[], root.path()).unwrap();
        let versions: Vec<&Value> = rewritten.components.iter().filter_map(|c| c.value.get("version")).collect();
        assert_eq!(versions, [&Value::from("22")]);

        // Hostile files fail the build, naming the buildpack and the file.
        write("jre.sbom.cdx.json", "{ not json");
        let error = assemble(&outputs, &Analysis::default(), &[], root.path()).unwrap_err().to_string();
        assert!(error.contains("org/java") && error.contains("jre.sbom.cdx.json") && error.contains("valid JSON"), "{error}");
        std::fs::remove_file(dir.join("jre.sbom.cdx.json")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("jre.sbom.cdx.json")).unwrap();
        let error = assemble(&outputs, &Analysis::default(), &[], root.path()).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        std::fs::remove_file(dir.join("jre.sbom.cdx.json")).unwrap();
        let big = format!(r#"{{"bomFormat": "CycloneDX", "pad": "{}"}}"#, "x".repeat(MAX_BUILDPACK_SBOM_BYTES as usize));
        write("jre.sbom.cdx.json", &big);
        let error = assemble(&outputs, &Analysis::default(), &[], root.path()).unwrap_err().to_string();
        assert!(error.contains("the limit is"), "{error}");
    }
}
