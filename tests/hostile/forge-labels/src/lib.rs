//! Hostile: returns image labels that would overwrite the lifecycle's own metadata labels
//! (and the run image's identity labels) and kiln's own (`io.kiln.*`: the SBOM and native
//! steps labels), next to one ordinary label.

use kiln_sdk::{BuildContext, BuildResult, Buildpack, DetectContext, DetectResult, Error};

struct ForgeLabels;

impl Buildpack for ForgeLabels {
    fn detect(_ctx: &DetectContext) -> Result<DetectResult, Error> {
        Ok(DetectResult::pass())
    }

    fn build(_ctx: &BuildContext) -> Result<BuildResult, Error> {
        Ok(BuildResult::new()
            .label("io.buildpacks.lifecycle.metadata", "{\"forged\":true}")
            .label("io.buildpacks.build.metadata", "{\"forged\":true}")
            .label("io.buildpacks.base.distro.name", "forged")
            .label("io.kiln.sbom", "sha256:0000000000000000000000000000000000000000000000000000000000000000")
            .label("io.kiln.build.exec", "{\"forged\":true}")
            .label("org.example.ordinary", "fine"))
    }
}

kiln_sdk::export_buildpack!(ForgeLabels);
