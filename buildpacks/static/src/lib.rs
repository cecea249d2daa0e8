//! The static-site buildpack: an app with `index.html` (or `public/index.html`, or the
//! directory named by `BP_STATIC_ROOT`) is served by `httpd` (busybox, from the run
//! image) on `$PORT` (default 8080) as the default `web` process.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, Process};

struct StaticSite;

/// The site root relative to the app dir, if there is one.
fn site_root(app: &std::path::Path, configured: Option<&str>) -> Option<String> {
    if let Some(root) = configured {
        let clean = root.trim_matches('/');
        let safe = !clean.split('/').any(|part| part == ".." || part.is_empty()) || clean.is_empty();
        return (safe && app.join(clean).join("index.html").is_file()).then(|| clean.to_string());
    }
    ["", "public", "dist", "build"].into_iter().find(|dir| app.join(dir).join("index.html").is_file()).map(str::to_string)
}

impl Buildpack for StaticSite {
    fn detect(ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(match site_root(&ctx.app_dir, ctx.env("BP_STATIC_ROOT")) {
            Some(_) => DetectResult::pass(),
            None => DetectResult::fail("no index.html in the app, public/, dist/ or build/ (or in BP_STATIC_ROOT)"),
        })
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let root = site_root(&ctx.app_dir, ctx.env("BP_STATIC_ROOT"))
            .ok_or_else(|| Error::new("the site root disappeared between detect and build"))?;
        let dir = if root.is_empty() { "/workspace".to_string() } else { format!("/workspace/{root}") };
        kiln_sdk::log::info(&format!("serving {dir} with httpd on $PORT"));
        let line = format!("exec httpd -f -v -p ${{PORT:-8080}} -h {dir}");
        Ok(BuildResult::new().process(Process::shell("web", &line).default_process(true)))
    }
}

kiln_sdk::export_buildpack!(StaticSite);
