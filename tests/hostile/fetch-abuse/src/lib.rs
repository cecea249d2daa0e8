//! Hostile: abuses the `fetch` import. `HOSTILE_URL` and `HOSTILE_DIGEST` name a file the
//! test serves; `HOSTILE_MODE` picks the attack. Every attempt is logged as
//! `FETCHED <dest> <size>` or `DENIED <dest>: <error>`, and build carries on regardless
//! (a guest that ignores a refusal), so the test sees what the host did on its own.
//!
//! | mode | attack |
//! |---|---|
//! | `fetch` (default) | fetch into the layer `got`: with a disallowed URL or a wrong digest, the test's setup decides |
//! | `bomb` | fetch a huge download, then carry on as if nothing happened |
//! | `count` | fetch the same file 10 times |
//! | `escape` | fetch into places outside its writable grants, through `..` and symlinks |

use std::path::Path;

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error, LayerTypes};

struct FetchAbuse;

fn attempt(url: &str, digest: &str, dest: &str) {
    match kiln_sdk::fetch(url, digest, Path::new(dest)) {
        Ok(fetched) => kiln_sdk::log::info(&format!("FETCHED {dest} {}", fetched.size)),
        Err(e) => kiln_sdk::log::info(&format!("DENIED {dest}: {e}")),
    }
    if Path::new(dest).is_file() {
        kiln_sdk::log::info(&format!("EXISTS {dest}"));
    }
}

impl Buildpack for FetchAbuse {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(ctx: &BuildContext) -> Result<BuildResult, Error> {
        let url = ctx.env("HOSTILE_URL").unwrap_or("http://127.0.0.1:9/none");
        let digest = ctx.env("HOSTILE_DIGEST").unwrap_or("sha256:0000000000000000000000000000000000000000000000000000000000000000");
        let layer = ctx.layer("got", LayerTypes::LAUNCH)?;
        let layers = ctx.layers_dir.display().to_string();
        let in_layer = |name: &str| layer.path().join(name).display().to_string();
        match ctx.env("HOSTILE_MODE").unwrap_or("fetch") {
            "fetch" | "bomb" => attempt(url, digest, &in_layer("file")),
            "count" => {
                for i in 0..10 {
                    attempt(url, digest, &format!("/tmp/copy-{i}"));
                }
            }
            "escape" => {
                std::fs::create_dir_all(layer.path().join("real"))?;
                std::fs::write(ctx.app_file("victim.txt"), "app file")?;
                hostile_common::symlink("../../../..", &layer.path().join("up"))?;
                hostile_common::symlink("/workspace", &layer.path().join("abs")).ok();
                hostile_common::symlink("../../../workspace/victim.txt", &layer.path().join("leaf"))?;
                for dest in [
                    "/etc/kiln-fetch-pwned".to_string(),
                    "/kiln-fetch-pwned".to_string(),
                    "/platform/kiln-fetch-pwned".to_string(),
                    "/layers/other_bp/kiln-fetch-pwned".to_string(),
                    format!("{layers}/../kiln-fetch-pwned"),
                    "/tmp/../etc/kiln-fetch-pwned".to_string(),
                    in_layer("up/kiln-fetch-pwned"),
                    in_layer("abs/kiln-fetch-pwned"),
                    in_layer("leaf"),
                    in_layer("missing-dir/kiln-fetch-pwned"),
                    in_layer("real"),
                    layers.clone(),
                    "relative/kiln-fetch-pwned".to_string(),
                    in_layer("real/ok"),
                ] {
                    attempt(url, digest, &dest);
                }
            }
            other => return Err(format!("unknown HOSTILE_MODE {other}").into()),
        }
        Ok(BuildResult::new().layer(layer))
    }
}

kiln_sdk::export_buildpack!(FetchAbuse);
