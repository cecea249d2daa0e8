//! Which packages kiln/go builds and what the image calls them: `BP_GO_TARGETS`.
//!
//! `BP_GO_TARGETS` is a colon-separated list of package paths relative to the module root
//! (`./cmd/web:./cmd/worker`); unset or empty means `.`, the module root. Each target
//! becomes one binary in the `bin` layer, named after its directory (`.` after the last
//! element of the module path), and one process: the first is `web` (the default
//! process), every other one is named after its binary.

use kiln_sdk::Error;

/// One package to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The package path given to `go build` (`.`, `./cmd/web`).
    pub package: String,
    /// The binary's file name in the `bin` layer.
    pub binary: String,
    /// The process type that runs it.
    pub process: String,
}

/// Whether `name` is usable as a binary file name and a CNB process type.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Check one package path: `.` or `./dir/...` inside the module, no patterns, no flags.
fn check_package(package: &str) -> Result<(), String> {
    if package == "." {
        return Ok(());
    }
    let Some(rest) = package.strip_prefix("./") else {
        return Err(format!("{package:?} is not a path inside the module; write it as ./{package} (relative to go.mod)"));
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.split('/').any(|part| part.is_empty() || part == "." || part == ".." || part.contains("...")) {
        return Err(format!("{package:?} must name one package directory below the module root (no `..`, no `...` patterns)"));
    }
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/')) {
        return Err(format!("{package:?} has characters kiln/go does not accept in a package path (letters, digits, - _ . / only)"));
    }
    Ok(())
}

/// The targets `BP_GO_TARGETS` asks for (`None` or blank: the module root), named from
/// `module_base` when the target is `.`.
pub fn parse(value: Option<&str>, module_base: &str) -> Result<Vec<Target>, Error> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(".");
    let mut targets: Vec<Target> = Vec::new();
    for package in value.split(':').map(str::trim).filter(|p| !p.is_empty()) {
        check_package(package).map_err(|why| Error::new(format!("kiln/go: BP_GO_TARGETS: {why}")))?;
        let package = package.trim_end_matches('/').to_string();
        let binary = if package == "." { module_base.to_string() } else { package.rsplit('/').next().unwrap_or_default().to_string() };
        if !valid_name(&binary) {
            return Err(Error::new(format!(
                "kiln/go: BP_GO_TARGETS: the binary of {package:?} would be named {binary:?}, which is not a valid process name"
            )));
        }
        if let Some(other) = targets.iter().find(|t| t.binary == binary) {
            return Err(Error::new(format!(
                "kiln/go: BP_GO_TARGETS: {:?} and {package:?} would both build a binary named {binary:?}; \
                 give each target its own directory name",
                other.package
            )));
        }
        let process = if targets.is_empty() { "web".to_string() } else { binary.clone() };
        targets.push(Target { package, binary, process });
    }
    if targets.is_empty() {
        return Err(Error::new("kiln/go: BP_GO_TARGETS lists no package; set it to e.g. ./cmd/web or unset it to build the module root"));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_targets_build_the_module_root_as_web() {
        let targets = parse(None, "go-mod").unwrap();
        assert_eq!(targets, [Target { package: ".".into(), binary: "go-mod".into(), process: "web".into() }]);
        assert_eq!(parse(Some("  "), "go-mod").unwrap(), targets);
    }

    #[test]
    fn the_first_target_is_web_and_the_others_are_named_after_their_dir() {
        let targets = parse(Some("./cmd/web:./cmd/worker/"), "app").unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!((targets[0].package.as_str(), targets[0].binary.as_str(), targets[0].process.as_str()), ("./cmd/web", "web", "web"));
        assert_eq!(
            (targets[1].package.as_str(), targets[1].binary.as_str(), targets[1].process.as_str()),
            ("./cmd/worker", "worker", "worker")
        );
    }

    #[test]
    fn a_target_outside_the_module_or_a_pattern_is_refused() {
        for bad in ["cmd/web", "../other", "./cmd/../..", "./...", "-ldflags=-X", "./cmd/a b", "/abs"] {
            let err = parse(Some(bad), "app").unwrap_err().to_string();
            assert!(err.starts_with("kiln/go: BP_GO_TARGETS:"), "{bad}: {err}");
        }
    }

    #[test]
    fn two_targets_with_one_binary_name_are_refused() {
        let err = parse(Some("./a/web:./b/web"), "app").unwrap_err().to_string();
        assert!(err.contains("both build a binary named \"web\""), "{err}");
    }
}
