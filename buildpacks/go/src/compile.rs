//! `go build` in kiln's jail: the command line and the whole environment it gets.
//!
//! The jail passes on nothing of the buildpack's environment, so every variable the `go`
//! command reads is set here: `GOROOT` (the `go` layer), `GOPATH` and `GOCACHE` (the
//! `go-cache` layer, kept between builds so a rebuild compiles only what changed),
//! `GOFLAGS=-mod=vendor` and `GOPROXY=off` (modules come from `vendor/` only; the jail has
//! no network anyway), `GOTOOLCHAIN=local` (never switch to another toolchain),
//! `GOWORK=off`, `GOTELEMETRY=off`, `CGO_ENABLED=0` unless `BP_GO_CGO_ENABLED=1`
//! (cgo needs a C compiler in the build rootfs, which kiln's run image does not have),
//! `HOME=/tmp` and a `PATH` of the toolchain and the rootfs.
//!
//! Binaries are built with `-trimpath -buildvcs=false` (no build paths, no VCS stamp: the
//! same source gives the same bytes, so an unchanged app keeps its layer digest) and
//! `-ldflags=-s -w` (no symbol table or DWARF in the image) unless `BP_GO_LDFLAGS` says
//! otherwise.

use std::path::{Path, PathBuf};

use kiln_sdk::Error;
use kiln_sdk::exec::Command;

use crate::targets::Target;

/// What one `go build` needs to know.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// `GOROOT`: the unpacked distribution in the `go` layer.
    pub goroot: PathBuf,
    /// The `go-cache` layer: `GOCACHE` is `<cache>/build`, `GOPATH` is `<cache>/gopath`.
    pub cache: PathBuf,
    /// `CGO_ENABLED`'s value.
    pub cgo: bool,
    /// The `-ldflags` value.
    pub ldflags: String,
}

impl Toolchain {
    /// The environment of every `go` command kiln/go runs.
    pub fn env(&self) -> Vec<(String, String)> {
        let goroot = self.goroot.display().to_string();
        [
            ("PATH", format!("{goroot}/bin:/usr/local/bin:/usr/bin:/bin")),
            ("GOROOT", goroot),
            ("GOPATH", self.cache.join("gopath").display().to_string()),
            ("GOCACHE", self.cache.join("build").display().to_string()),
            ("GOFLAGS", "-mod=vendor".into()),
            ("GOPROXY", "off".into()),
            ("GOSUMDB", "off".into()),
            ("GOTOOLCHAIN", "local".into()),
            ("GOWORK", "off".into()),
            ("GOTELEMETRY", "off".into()),
            ("CGO_ENABLED", if self.cgo { "1" } else { "0" }.into()),
            ("HOME", "/tmp".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The arguments of `go` that build `target` into `out_dir`.
    pub fn build_args(&self, target: &Target, out_dir: &Path) -> Vec<String> {
        vec![
            "build".into(),
            "-trimpath".into(),
            "-buildvcs=false".into(),
            format!("-ldflags={}", self.ldflags),
            "-o".into(),
            out_dir.join(&target.binary).display().to_string(),
            target.package.clone(),
        ]
    }

    /// Build `target` from the module in `app_dir` into `out_dir`, output to the build log.
    pub fn build(&self, target: &Target, app_dir: &Path, out_dir: &Path) -> Result<(), Error> {
        let go = self.goroot.join("bin/go");
        let status = Command::new(&go).args(self.build_args(target, out_dir)).envs(self.env()).current_dir(app_dir).status()?;
        status.check().map_err(|e| {
            e.context(format!(
                "kiln/go: `go build {}` failed (its output is above); fix the error in the app and build again",
                target.package
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toolchain() -> Toolchain {
        Toolchain { goroot: "/layers/kiln_go/go/go".into(), cache: "/layers/kiln_go/go-cache".into(), cgo: false, ldflags: "-s -w".into() }
    }

    #[test]
    fn the_env_is_offline_vendored_and_local() {
        let env: std::collections::BTreeMap<String, String> = toolchain().env().into_iter().collect();
        assert_eq!(env["GOROOT"], "/layers/kiln_go/go/go");
        assert_eq!(env["GOCACHE"], "/layers/kiln_go/go-cache/build");
        assert_eq!(env["GOPATH"], "/layers/kiln_go/go-cache/gopath");
        assert_eq!(env["GOFLAGS"], "-mod=vendor");
        assert_eq!(env["GOPROXY"], "off");
        assert_eq!(env["GOTOOLCHAIN"], "local");
        assert_eq!(env["CGO_ENABLED"], "0");
        assert_eq!(env["HOME"], "/tmp");
        assert!(env["PATH"].starts_with("/layers/kiln_go/go/go/bin:"));
        let cgo = Toolchain { cgo: true, ..toolchain() };
        assert!(cgo.env().contains(&("CGO_ENABLED".into(), "1".into())));
    }

    #[test]
    fn the_build_writes_the_named_binary_reproducibly() {
        let target = Target { package: "./cmd/worker".into(), binary: "worker".into(), process: "worker".into() };
        let args = toolchain().build_args(&target, Path::new("/layers/kiln_go/bin"));
        assert_eq!(args, ["build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", "/layers/kiln_go/bin/worker", "./cmd/worker"]);
    }
}
