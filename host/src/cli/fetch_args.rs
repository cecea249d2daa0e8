//! The `kiln build` flags of the sandbox's capabilities: the fetch policy, mirrors, the
//! limits on fetching and on what a buildpack may write, and native steps (`exec`).

use clap::Args;

use crate::fetch::settings::FetchOverrides;
use crate::platform::build::ExecFlags;

/// Fetch policy, mirrors and write limits.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// What buildpacks may fetch: `default` (the package registries npm, pip and apt use on
    /// this machine, plus kiln's config file and --allow-host) or `strict` (nothing).
    #[arg(long, value_name = "POLICY", default_value = "default", value_parser = ["default", "strict"])]
    pub policy: String,
    /// Deny every fetch (the same as --policy strict).
    #[arg(long)]
    pub deny_fetch: bool,
    /// Also allow fetches from HOST[:PORT] or from URLs under a prefix like
    /// https://nodejs.org/dist/ (repeatable).
    #[arg(long = "allow-host", value_name = "HOST_OR_PREFIX")]
    pub allow_host: Vec<String>,
    /// Serve URLs under PREFIX from another base URL or a local directory, e.g.
    /// https://registry.npmjs.org/=/srv/npm (repeatable; see `kiln fetch-cache mirror`).
    #[arg(long, value_name = "PREFIX=URL_OR_DIR")]
    pub mirror: Vec<String>,
    /// Most fetches per buildpack call [default: 10000, or `[limits] fetch-count` in kiln's config].
    #[arg(long, value_name = "COUNT")]
    pub limit_fetch_count: Option<usize>,
    /// Most bytes fetched per buildpack call (all its fetches together) [default: 4GiB, or `[limits] fetch-bytes` in kiln's config].
    #[arg(long, value_name = "SIZE")]
    pub limit_fetch_bytes: Option<String>,
    /// Most files (and dirs, symlinks) a buildpack's build may leave in its layers and add
    /// to the app dir [default: 1000000, or `[limits] files` in kiln's config].
    #[arg(long, value_name = "COUNT")]
    pub limit_files: Option<u64>,
    /// Most bytes a buildpack's build may leave in its layers and add to the app dir [default: 10GiB, or `[limits] layer-bytes` in kiln's config].
    #[arg(long, value_name = "SIZE")]
    pub limit_layer_bytes: Option<String>,
    /// Most processes at once in a native step's jail [default: 1024, or `[limits] processes` in kiln's config].
    #[arg(long, value_name = "COUNT")]
    pub limit_processes: Option<u64>,
    /// Refuse every native step (`exec`) of every buildpack (also implied by --policy strict).
    #[arg(long)]
    pub deny_exec: bool,
    /// The root filesystem native steps run on, as a directory [default: `[exec]
    /// build-rootfs` in kiln's config, else the build image, else the run image].
    #[arg(long, value_name = "DIR", conflicts_with = "build_image")]
    pub build_rootfs: Option<std::path::PathBuf>,
    /// The image native steps run on (NAME[:TAG] in the local store, oci:DIR, or a registry
    /// reference), unpacked once per digest [default: `[exec] build-image` in kiln's config,
    /// else the builder's `[build] image`, else the run image].
    #[arg(long, value_name = "IMAGE")]
    pub build_image: Option<String>,
}

impl FetchArgs {
    /// The fetch flags as the platform takes them (the limits go into its `LimitFlags`).
    pub fn overrides(&self) -> FetchOverrides {
        FetchOverrides { strict: self.deny_fetch || self.policy == "strict", allow: self.allow_host.clone(), mirrors: self.mirror.clone() }
    }

    /// The native-step flags as the platform takes them.
    pub fn exec(&self) -> ExecFlags {
        ExecFlags {
            deny: self.deny_exec || self.policy == "strict",
            build_rootfs: self.build_rootfs.clone(),
            build_image: self.build_image.clone(),
        }
    }
}
