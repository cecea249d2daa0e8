//! `kiln fetch-cache`: the download cache buildpacks' fetches are served from.
//!
//! `list` shows it, `add` fills it ahead of a build (e.g. on a machine with network, before
//! copying kiln's cache dir to one without), `mirror` writes its files as a directory tree
//! that `kiln build --mirror PREFIX=DIR` serves, for builds with no network at all.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::exit::CliError;
use super::output::Output;
use crate::fetch::cache::DownloadCache;
use crate::fetch::mirror::{Mirror, Source};
use crate::fetch::policy::{AllowRule, Policy};
use crate::fetch::{FetchBudget, FetchCall, FetchSettings, Fetcher};
use crate::platform::Dirs;

/// `kiln fetch-cache` subcommands.
#[derive(Debug, Subcommand)]
#[command(
    after_help = "Examples:\n  kiln fetch-cache add https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz --digest sha512-...\n  kiln fetch-cache list\n  kiln fetch-cache mirror ./npm-mirror --prefix https://registry.npmjs.org/\n  kiln build app --mirror https://registry.npmjs.org/=./npm-mirror ..."
)]
pub enum FetchCacheCommand {
    /// List the cached downloads: digest, size, URLs.
    #[command(after_help = "Example:\n  kiln fetch-cache list --json")]
    List,
    /// Download a URL into the cache, verified against its digest.
    Add(AddArgs),
    /// Copy cached downloads whose URL starts with PREFIX into DIR, at the URL's path after
    /// the prefix, for `kiln build --mirror PREFIX=DIR`.
    Mirror(MirrorArgs),
}

/// Arguments of `kiln fetch-cache add`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  kiln fetch-cache add https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz --digest sha512-...")]
pub struct AddArgs {
    /// The URL.
    pub url: String,
    /// Its digest: sha256:<hex> or an integrity string (sha512-<base64>).
    #[arg(long)]
    pub digest: String,
    /// Serve URLs under PREFIX from a base URL or a directory (repeatable).
    #[arg(long, value_name = "PREFIX=URL_OR_DIR")]
    pub mirror: Vec<String>,
}

/// Arguments of `kiln fetch-cache mirror`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  kiln fetch-cache mirror ./npm-mirror --prefix https://registry.npmjs.org/\n  kiln build app --path . --mirror https://registry.npmjs.org/=./npm-mirror --run-image run-base"
)]
pub struct MirrorArgs {
    /// The directory to write.
    pub dir: PathBuf,
    /// The URL prefix the directory stands for (repeatable: several prefixes, one tree).
    #[arg(long, required = true)]
    pub prefix: Vec<String>,
}

/// Run a `kiln fetch-cache` subcommand.
pub fn run(command: FetchCacheCommand, out: &Output) -> Result<(), CliError> {
    let dirs = Dirs::from_env();
    let cache = DownloadCache::new(&dirs.cache);
    match command {
        FetchCacheCommand::List => {
            let entries = cache.list().map_err(|source| CliError::Io { action: "read", path: cache.root().to_path_buf(), source })?;
            for entry in &entries {
                let line = format!("{}\t{}\t{}", entry.digest, entry.size, entry.urls.join(" "));
                out.result(line.trim_end());
            }
            out.progress(&format!("{} download(s) in {}", entries.len(), cache.root().display()));
            Ok(())
        }
        FetchCacheCommand::Add(args) => {
            // The user names the URL: it is allowed as it is, whatever the build policy.
            let rule = AllowRule::parse(&args.url).map_err(CliError::Usage)?;
            let mirrors = args
                .mirror
                .iter()
                .map(|m| Mirror::parse(m))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::Usage(format!("--mirror: {e}")))?;
            let settings = FetchSettings { policy: Policy::allow(vec![rule]), mirrors, cache_root: dirs.cache.clone() };
            let fetcher = Fetcher::new(settings);
            let mut budget = FetchBudget { max_count: 1, max_bytes: u64::MAX, count: 0, bytes: 0, deadline: None };
            let call = FetchCall { buildpack: "kiln fetch-cache", url: &args.url, digest: &args.digest, destination: None };
            let record = fetcher.fetch(call, &mut budget)?;
            out.result(&format!("{}\t{}\t{} ({})", record.digest, record.size, record.url, record.origin.name()));
            Ok(())
        }
        FetchCacheCommand::Mirror(args) => {
            let entries = cache.list().map_err(|source| CliError::Io { action: "read", path: cache.root().to_path_buf(), source })?;
            let mut written = 0;
            for prefix in &args.prefix {
                let rule = Mirror::new(prefix, &args.dir.to_string_lossy()).map_err(CliError::Usage)?;
                for entry in &entries {
                    for url in entry.urls.iter().filter(|u| u.starts_with(prefix.as_str())) {
                        let Ok(Source::File(target)) = Mirror::resolve(std::slice::from_ref(&rule), url) else {
                            out.progress(&format!("skipping {url}: it has no file path under {prefix}"));
                            continue;
                        };
                        if target == args.dir {
                            continue;
                        }
                        let parent = target.parent().expect("a mirror file is below the dir");
                        std::fs::create_dir_all(parent).map_err(|source| CliError::Io {
                            action: "create",
                            path: parent.to_path_buf(),
                            source,
                        })?;
                        std::fs::copy(&entry.path, &target).map_err(|source| CliError::Io {
                            action: "write",
                            path: target.clone(),
                            source,
                        })?;
                        out.result(&format!("{}\t{url}", target.display()));
                        written += 1;
                    }
                }
            }
            out.progress(&format!("{written} file(s) written to {}", args.dir.display()));
            Ok(())
        }
    }
}
