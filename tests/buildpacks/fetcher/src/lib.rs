//! Fetches `FETCH_URL` with digest `FETCH_DIGEST` into the launch layer `downloads` as
//! `FETCH_NAME` (default `artifact`), through kiln's `fetch` import; several URLs can be
//! given separated by spaces (digests likewise). Logs `FETCHED <path> <size>` for each.
//! A refused fetch fails the build with kiln's message.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct Fetcher;

impl Buildpack for Fetcher {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let urls: Vec<&str> = ctx.env("FETCH_URL").ok_or("FETCH_URL is not set")?.split_whitespace().collect();
        let digests: Vec<&str> = ctx.env("FETCH_DIGEST").ok_or("FETCH_DIGEST is not set")?.split_whitespace().collect();
        let name = ctx.env("FETCH_NAME").unwrap_or("artifact");
        let layer = ctx.layer("downloads", LayerTypes::LAUNCH)?;
        for (i, (url, digest)) in urls.iter().zip(&digests).enumerate() {
            let file = if i == 0 { name.to_string() } else { format!("{name}.{i}") };
            let fetched = kiln_sdk::fetch(url, digest, &layer.path().join(file))?;
            kiln_sdk::log::info(&format!("FETCHED {} {}", fetched.path.display(), fetched.size));
        }
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(Fetcher);
