//! The Python buildpack: an app with `requirements.txt` or `pyproject.toml` gets CPython 3.11
//! and the packages its `requirements.txt` pins by hash, and a `web` process.
//!
//! | layer | types | contents | kept while |
//! |---|---|---|---|
//! | `python` | launch, build, cache | Debian bookworm's python3.11 and the libraries it needs ([`runtime`]) | the package set digest is unchanged |
//! | `packages` | launch, cache | `site-packages/` and `bin/` (console scripts) of the wheels ([`wheel`]), sdists' included | requirements.txt, the runtime and the build tools are unchanged |
//! | `build-tools` | build, cache (never in the image) | pip, setuptools, wheel, flit_core, hatchling ([`build_tools`]), while requirements.txt has an sdist | the tool table is unchanged |
//!
//! Wheels are unpacked by the buildpack itself, each verified against its `--hash` by
//! kiln's `fetch`. A requirement with no usable wheel but an sdist (`.tar.gz`) is built
//! into a wheel by pip in kiln's jail, offline, with the `python` layer's interpreter
//! ([`sdist`]); nothing else runs natively. Modules: [`detect`] (what the app has),
//! [`requirements`] (+ [`markers`]), [`runtime`], [`wheel`], [`sdist`], [`build_tools`],
//! [`processes`].
//!
//! Platform env: `BP_PYTHON_DEBIAN_MIRROR` (a mirror of the Debian archive for the runtime),
//! `BP_PYTHON_FILES_URL` (a mirror of `https://files.pythonhosted.org/packages/`).

pub mod build_tools;
pub mod detect;
pub mod markers;
pub mod processes;
pub mod requirements;
pub mod runtime;
pub mod sdist;
pub mod wheel;

use std::path::{Path, PathBuf};

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Layer, LayerTypes, Plan};
use sha2::{Digest, Sha256};

use detect::AppFiles;
use requirements::Requirement;

/// Where downloads wait before they are unpacked (the call's private `/tmp`).
const SCRATCH: &str = "/tmp/kiln-python";

struct PythonBuildpack;

impl Buildpack for PythonBuildpack {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        if !AppFiles::scan(&ctx.app_dir).is_python() {
            return Ok(DetectResult::fail("no requirements.txt or pyproject.toml in the app directory"));
        }
        Ok(DetectResult::pass_with(Plan::new().provides("python").requires("python", "")))
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let files = AppFiles::scan(&ctx.app_dir);
        // Read what to install first: a bad requirements.txt fails before any download.
        let (requirements, requirements_text) = read_requirements(ctx, &files)?;
        std::fs::create_dir_all(SCRATCH)?;

        let runtime_key = runtime::package_set_digest(runtime::PACKAGES);
        let interpreter = format!("{}/python/{}", ctx.layers_dir.display(), runtime::INTERPRETER);
        // Wheels and sdists first: a requirement that cannot be installed fails before the
        // runtime download.
        let packages = if requirements.is_empty() {
            None
        } else {
            let tools_key = build_tools::tools_digest();
            let key = format!("sha256:{:x}", Sha256::digest(format!("{runtime_key}\n{tools_key}\n{requirements_text}")));
            Some(packages_plan(ctx, &requirements, key)?)
        };
        let mut result = BuildResult::new().layer(python_layer(ctx, &runtime_key)?);
        if let Some(plan) = packages {
            if let Some(tools) = build_tools_layer(ctx, &plan, &interpreter)? {
                result = result.layer(tools);
            }
            result = result.layer(packages_layer(ctx, plan, &interpreter)?);
        }
        let has_waitress = requirements.iter().any(|r| requirements::normalize(&r.name) == "waitress");
        match processes::web(&files, has_waitress) {
            Ok(process) => {
                kiln_sdk::log::info(&format!("process web: {}", process.command.join(" ")));
                result = result.process(process);
            }
            Err(why) => kiln_sdk::log::info(&format!("no web process from kiln/python: {why}")),
        }
        Ok(result)
    }
}

/// The parsed requirements and the text they came from (empty when there are none).
fn read_requirements(ctx: &BuildContext, files: &AppFiles) -> Result<(Vec<Requirement>, String), Error> {
    if files.requirements {
        let text = std::fs::read_to_string(ctx.app_file("requirements.txt"))
            .map_err(|e| Error::from(e).context("kiln/python: reading requirements.txt"))?;
        return Ok((requirements::parse(&text, "requirements.txt")?, text));
    }
    let text = std::fs::read_to_string(ctx.app_file("pyproject.toml"))
        .map_err(|e| Error::from(e).context("kiln/python: reading pyproject.toml"))?;
    let deps = detect::pyproject_dependencies(&text)?;
    if !deps.is_empty() {
        return Err(Error::new(format!(
            "kiln/python: pyproject.toml declares dependencies ({}) but there is no requirements.txt pinning them by hash. \
             kiln/python installs only hash-pinned wheels: write one with \
             `uv export --format requirements-txt --no-emit-project > requirements.txt` or \
             `pip-compile --generate-hashes pyproject.toml -o requirements.txt`, and commit it",
            deps.join(", ")
        )));
    }
    Ok((Vec::new(), String::new()))
}

/// `key = "value"` of a previous layer's metadata, when its contents were restored.
fn previous_key(ctx: &BuildContext, layer: &str, key: &str) -> Option<String> {
    let previous = ctx.previous_layer(layer).filter(|l| l.contents_restored)?;
    let table: toml::Table = previous.metadata.parse().ok()?;
    table.get(key)?.as_str().map(str::to_string)
}

fn python_layer(ctx: &BuildContext, key: &str) -> Result<Layer, Error> {
    let types = LayerTypes::LAUNCH | LayerTypes::BUILD | LayerTypes::CACHE;
    let metadata = format!("python = {:?}\npackages = {key:?}\n", runtime::PYTHON_VERSION);
    if previous_key(ctx, "python", "packages").as_deref() == Some(key) {
        kiln_sdk::log::info(&format!("reusing Python {} ({key})", runtime::PYTHON_VERSION));
        return Ok(ctx.reuse_layer("python", types).with_metadata(metadata));
    }
    let archive = runtime::archive_root(ctx.env("BP_PYTHON_DEBIAN_MIRROR"));
    kiln_sdk::log::info(&format!(
        "installing Python {} from {} Debian packages at {archive}",
        runtime::PYTHON_VERSION,
        runtime::PACKAGES.len()
    ));
    let layer = ctx.layer("python", types)?;
    let files = runtime::install(layer.path(), &archive, Path::new(SCRATCH))?;
    runtime::write_env(&layer)?;
    kiln_sdk::log::info(&format!("unpacked {files} files"));
    Ok(layer.with_metadata(metadata))
}

/// The `packages` layer's fate: kept as it is, or built from files already fetched.
enum PackagesPlan {
    Reuse(Layer),
    Install { downloads: Vec<Download>, metadata: String },
}

/// A requirement's downloaded wheel or sdist.
struct Download {
    requirement: Requirement,
    file: PathBuf,
    file_name: String,
    /// An sdist's unpacked source tree (its build system already checked).
    source: Option<PathBuf>,
}

fn packages_plan(ctx: &BuildContext, requirements: &[Requirement], key: String) -> Result<PackagesPlan, Error> {
    let types = LayerTypes::LAUNCH | LayerTypes::CACHE;
    let metadata = format!("requirements = {key:?}\n");
    if previous_key(ctx, "packages", "requirements").as_deref() == Some(key.as_str()) {
        kiln_sdk::log::info(&format!("reusing {} packages (requirements.txt unchanged)", requirements.len()));
        return Ok(PackagesPlan::Reuse(ctx.reuse_layer("packages", types).with_metadata(metadata)));
    }
    let files_url = ctx.env("BP_PYTHON_FILES_URL").map(str::to_string).unwrap_or_else(|| wheel::DEFAULT_FILES_URL.to_string());
    let files_url = if files_url.ends_with('/') { files_url } else { format!("{files_url}/") };
    let mut downloads = Vec::new();
    for requirement in requirements {
        let (file, file_name) = wheel::fetch(requirement, &files_url, Path::new(SCRATCH))?;
        downloads.push(Download { requirement: requirement.clone(), file, file_name, source: None });
    }
    // The wheels requirements.txt pins may serve as build backends.
    let pinned: Vec<String> =
        downloads.iter().filter(|d| !sdist::is_sdist(&d.file_name)).map(|d| requirements::normalize(&d.requirement.name)).collect();
    for download in downloads.iter_mut().filter(|d| sdist::is_sdist(&d.file_name)) {
        let (source, system) = sdist::unpack(&download.requirement, &download.file, &download.file_name, Path::new(SCRATCH))?;
        sdist::check_build_system(&download.requirement, &download.file_name, &system, &pinned)?;
        kiln_sdk::log::info(&format!(
            "{} has no usable wheel: building its sdist {} ({})",
            download.requirement.name,
            download.file_name,
            system.backend_name()
        ));
        download.source = Some(source);
    }
    Ok(PackagesPlan::Install { downloads, metadata })
}

/// The `build-tools` layer (build + cache: never in the image): installed when an sdist is
/// to be built, reused from the cache while its key holds and an sdist is built or the
/// `packages` layer is kept; left out (so dropped from the cache) once `packages` is
/// rebuilt without any sdist.
fn build_tools_layer(ctx: &BuildContext, plan: &PackagesPlan, interpreter: &str) -> Result<Option<Layer>, Error> {
    let building = matches!(plan, PackagesPlan::Install { downloads, .. } if downloads.iter().any(|d| d.source.is_some()));
    let types = LayerTypes::BUILD | LayerTypes::CACHE;
    let key = build_tools::tools_digest();
    let metadata = format!("tools = {key:?}\n");
    let kept = previous_key(ctx, build_tools::LAYER, "tools").as_deref() == Some(key.as_str());
    // Kept with a kept `packages` layer too: the build then has the layers (and the SBOM
    // attribution) of the build that made them.
    if kept && (building || matches!(plan, PackagesPlan::Reuse(_))) {
        kiln_sdk::log::info(&format!("reusing the build tools ({})", build_tools::describe()));
        return Ok(Some(ctx.reuse_layer(build_tools::LAYER, types).with_metadata(metadata)));
    }
    if !building {
        return Ok(None);
    }
    kiln_sdk::log::info(&format!("installing the build tools: {}", build_tools::describe()));
    let layer = ctx.layer(build_tools::LAYER, types)?;
    build_tools::install(layer.path(), Path::new(SCRATCH), interpreter)?;
    Ok(Some(layer.with_metadata(metadata)))
}

fn packages_layer(ctx: &BuildContext, plan: PackagesPlan, interpreter: &str) -> Result<Layer, Error> {
    let (downloads, metadata) = match plan {
        PackagesPlan::Reuse(layer) => return Ok(layer),
        PackagesPlan::Install { downloads, metadata } => (downloads, metadata),
    };
    let layer = ctx.layer("packages", LayerTypes::LAUNCH | LayerTypes::CACHE)?;
    let site_packages = layer.path().join("site-packages");
    let bin = layer.path().join("bin");
    std::fs::create_dir_all(&site_packages)?;
    let (sdists, wheels): (Vec<Download>, Vec<Download>) = downloads.into_iter().partition(|d| d.source.is_some());
    // Wheels first: an sdist's build may need one of them (a backend the app pins).
    for download in wheels {
        install_wheel(&download.file, &download.file_name, &site_packages, &bin, interpreter)?;
    }
    let tools = sdist::Toolchain {
        python_layer: ctx.layers_dir.join("python"),
        python_path: vec![build_tools::site_packages(&ctx.layers_dir.join(build_tools::LAYER)), site_packages.clone()],
    };
    for download in sdists {
        let Some(source) = download.source.as_deref() else { continue };
        let stem = download.file_name.trim_end_matches(".tar.gz");
        let wheel_dir = Path::new(SCRATCH).join("wheels").join(stem);
        let (wheel, wheel_name) = sdist::build(&download.requirement, &download.file_name, source, &wheel_dir, &tools)?;
        kiln_sdk::log::info(&format!("built {wheel_name} from {}", download.file_name));
        install_wheel(&wheel, &wheel_name, &site_packages, &bin, interpreter)?;
        std::fs::remove_file(&download.file)?;
        std::fs::remove_dir_all(source)?;
    }
    let env = layer.path().join("env.launch");
    std::fs::create_dir_all(&env)?;
    std::fs::write(env.join("PYTHONPATH.prepend"), site_packages.display().to_string())?;
    std::fs::write(env.join("PYTHONPATH.delim"), ":")?;
    Ok(layer.with_metadata(metadata))
}

/// Install one wheel file into the `packages` layer and remove the file.
fn install_wheel(file: &Path, file_name: &str, site_packages: &Path, bin: &Path, interpreter: &str) -> Result<(), Error> {
    let installed = wheel::install(file, file_name, site_packages, bin, interpreter)?;
    std::fs::remove_file(file)?;
    let scripts = if installed.scripts.is_empty() { String::new() } else { format!(", scripts: {}", installed.scripts.join(" ")) };
    kiln_sdk::log::info(&format!("installed {file_name}{scripts}"));
    Ok(())
}

kiln_sdk::export_buildpack!(PythonBuildpack);
