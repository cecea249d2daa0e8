//! A JDK/JRE-style fixture: each layer is keyed by an input file of the app and counts how
//! often it was (re)built in its metadata (`builds`), so tests can see what was reused.
//!
//! | layer | types | keyed by |
//! |---|---|---|
//! | `jdk` | build + cache | `version.txt` |
//! | `jre` | launch | `version.txt` (kept from the previous image when unchanged) |
//! | `runtime` | launch + cache | `version.txt` |
//! | `deps` | launch + cache | `deps.txt` |

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes, Process};

struct LayerReuse;

fn read(ctx: &BuildContext, file: &str) -> Result<String, Error> {
    std::fs::read_to_string(ctx.app_file(file)).map_err(|e| Error::from(e).context(format!("reading {file}")))
}

/// The previous `key` and `builds` of a layer, if kiln gave its metadata back.
fn previous(ctx: &BuildContext, name: &str) -> Option<(String, i64, bool)> {
    let layer = ctx.previous_layer(name)?;
    let table: toml::Table = layer.metadata.parse().ok()?;
    let key = table.get("key")?.as_str()?.to_string();
    let builds = table.get("builds")?.as_integer()?;
    Some((key, builds, layer.contents_restored))
}

fn layer(ctx: &BuildContext, name: &str, types: LayerTypes, key: &str, needs_contents: bool) -> Result<kiln_sdk::Layer, Error> {
    if let Some((old_key, builds, restored)) = previous(ctx, name) {
        if old_key == key && (restored || !needs_contents) {
            kiln_sdk::log::info(&format!("reusing {name}"));
            return Ok(ctx.reuse_layer(name, types).with_metadata(format!("key = {key:?}\nbuilds = {builds}\n")));
        }
        let layer = ctx.layer(name, types)?;
        write_contents(&layer, name, key)?;
        kiln_sdk::log::info(&format!("rebuilding {name}"));
        return Ok(layer.with_metadata(format!("key = {key:?}\nbuilds = {}\n", builds + 1)));
    }
    let layer = ctx.layer(name, types)?;
    write_contents(&layer, name, key)?;
    kiln_sdk::log::info(&format!("building {name}"));
    Ok(layer.with_metadata(format!("key = {key:?}\nbuilds = 1\n")))
}

fn write_contents(layer: &kiln_sdk::Layer, name: &str, key: &str) -> Result<(), Error> {
    let bin = layer.path().join("bin");
    std::fs::create_dir_all(&bin)?;
    kiln_sdk::fs::write_executable(&bin.join(name), format!("#!/bin/sh\necho {name} for {key}\n"))?;
    layer.env("FIXTURE_HOME.default", &format!("/layers/fixture_layer-reuse/{name}"))?;
    Ok(())
}

impl Buildpack for LayerReuse {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(if ctx.app_file("version.txt").exists() { DetectResult::pass() } else { DetectResult::fail("no version.txt") })
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let version = read(ctx, "version.txt")?.trim().to_string();
        let deps = read(ctx, "deps.txt").unwrap_or_default();
        let deps_key = format!("{:x}", deps.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3)));
        let launch_cache = LayerTypes::LAUNCH | LayerTypes::CACHE;
        Ok(BuildResult::new()
            .layer(layer(ctx, "jdk", LayerTypes::BUILD | LayerTypes::CACHE, &version, true)?)
            .layer(layer(ctx, "jre", LayerTypes::LAUNCH, &version, false)?)
            .layer(layer(ctx, "runtime", launch_cache, &version, true)?)
            .layer(layer(ctx, "deps", launch_cache, &deps_key, true)?)
            .process(Process::shell("web", "httpd -f -p ${PORT:-8080} -h /workspace").default_process(true)))
    }
}

kiln_sdk::export_buildpack!(LayerReuse);
