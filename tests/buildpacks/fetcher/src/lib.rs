//! Fetches `FETCH_URL` with digest `FETCH_DIGEST` into the launch layer `downloads` as
//! `FETCH_NAME` (default `artifact`), through kiln's `fetch` import; several URLs can be
//! given separated by spaces (digests likewise). Logs `FETCHED <path> <size>` for each.
//! A refused fetch fails the build with kiln's message. The layer's metadata records the
//! URLs and digests.
//!
//! - `FETCH_CACHE=1`: the layer is `launch` + `cache` (default `launch` only).
//! - `FETCH_KEEP=1`: when the previous build's `downloads` had the same metadata, keep it
//!   (from the previous image, or as restored from the cache with `FETCH_CACHE=1`) without
//!   fetching, and log `KEPT downloads`.
//! - `FETCH_DROP=1`: fetch nothing and return no layer.
//! - `FETCH_SBOM=<text>`: also write `<layers>/downloads.sbom.cdx.json` with this text
//!   (a buildpack's own CycloneDX SBOM for the layer); not written when the layer is kept.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct Fetcher;

impl Buildpack for Fetcher {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        if ctx.env("FETCH_DROP") == Some("1") {
            kiln_sdk::log::info("DROPPED downloads");
            return Ok(BuildResult::new());
        }
        let url_text = ctx.env("FETCH_URL").ok_or("FETCH_URL is not set")?;
        let digest_text = ctx.env("FETCH_DIGEST").ok_or("FETCH_DIGEST is not set")?;
        let metadata = format!("urls = {url_text:?}\ndigests = {digest_text:?}\n");
        let cached = ctx.env("FETCH_CACHE") == Some("1");
        let types = if cached { LayerTypes::LAUNCH | LayerTypes::CACHE } else { LayerTypes::LAUNCH };
        if ctx.env("FETCH_KEEP") == Some("1") {
            let same = ctx.previous_layer("downloads").is_some_and(|previous| {
                let old: Option<toml::Table> = previous.metadata.parse().ok();
                let new: Option<toml::Table> = metadata.parse().ok();
                old.is_some() && old == new && (previous.contents_restored || !cached)
            });
            if same {
                kiln_sdk::log::info("KEPT downloads");
                return Ok(BuildResult::new().layer(ctx.reuse_layer("downloads", types)));
            }
        }
        let urls: Vec<&str> = url_text.split_whitespace().collect();
        let digests: Vec<&str> = digest_text.split_whitespace().collect();
        let name = ctx.env("FETCH_NAME").unwrap_or("artifact");
        let layer = ctx.layer("downloads", types)?;
        for (i, (url, digest)) in urls.iter().zip(&digests).enumerate() {
            let file = if i == 0 { name.to_string() } else { format!("{name}.{i}") };
            let fetched = kiln_sdk::fetch(url, digest, &layer.path().join(file))?;
            kiln_sdk::log::info(&format!("FETCHED {} {}", fetched.path.display(), fetched.size));
        }
        if let Some(sbom) = ctx.env("FETCH_SBOM") {
            let layers_dir = layer.path().parent().ok_or("the layer has no parent dir")?;
            std::fs::write(layers_dir.join("downloads.sbom.cdx.json"), sbom)?;
        }
        Ok(BuildResult::new().layer(layer.with_metadata(metadata)))
    }
}

kiln_sdk::export_buildpack!(Fetcher);
