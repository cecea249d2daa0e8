//! What kiln/go reads from the module: `go.mod` (the module path and whether it requires
//! anything) and `vendor/modules.txt` (the vendored modules, for the SBOM and the check
//! that dependencies are vendored at all).
//!
//! Only what the buildpack needs is parsed; the `go` command checks the rest itself
//! (a `vendor/modules.txt` that disagrees with `go.mod` fails `go build -mod=vendor` with
//! Go's own "inconsistent vendoring" message).

use kiln_sdk::Error;

/// The parts of `go.mod` kiln/go uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GoMod {
    /// The `module` path (`example.com/app`).
    pub module: String,
    /// The `go` directive (`1.22`), if there is one.
    pub go: Option<String>,
    /// Module paths of the `require` directives, in file order.
    pub requires: Vec<String>,
}

/// One module of `vendor/modules.txt`: `# path version` (a `=> replacement` is kept as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendoredModule {
    /// The module path.
    pub path: String,
    /// Its version (`v1.3.0`), empty for a module replaced by a local directory.
    pub version: String,
    /// What a `replace` directive put in its place (`../fork`, `example.com/fork v1.0.0`).
    pub replacement: Option<String>,
}

/// Drop a `//` comment (go.mod has no string literal that may contain one in the parts we read).
fn strip_comment(line: &str) -> &str {
    line.find("//").map_or(line, |at| &line[..at]).trim()
}

/// A quoted or bare module path.
fn unquote(word: &str) -> String {
    word.trim_matches('"').trim_matches('`').to_string()
}

/// Parse `go.mod` text; `file` names it in errors.
pub fn parse_go_mod(text: &str, file: &str) -> Result<GoMod, Error> {
    let mut parsed = GoMod::default();
    let mut in_require = false;
    let mut in_other_block = false;
    for (number, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        if line.is_empty() {
            continue;
        }
        if in_require || in_other_block {
            if line == ")" {
                in_require = false;
                in_other_block = false;
            } else if in_require && let Some(path) = line.split_whitespace().next() {
                parsed.requires.push(unquote(path));
            }
            continue;
        }
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let rest: Vec<&str> = words.collect();
        match (verb, rest.as_slice()) {
            ("module", [path]) => parsed.module = unquote(path),
            ("go", [version]) => parsed.go = Some(version.to_string()),
            ("require", ["("]) => in_require = true,
            ("require", [path, ..]) => parsed.requires.push(unquote(path)),
            (_, ["("]) => in_other_block = true,
            _ => {}
        }
        if verb == "module" && parsed.module.is_empty() {
            return Err(Error::new(format!("kiln/go: {file} line {}: `module` needs one module path", number + 1)));
        }
    }
    if parsed.module.is_empty() {
        return Err(Error::new(format!("kiln/go: {file} has no `module` line; run `go mod init <module path>` in the app")));
    }
    Ok(parsed)
}

/// The modules listed in `vendor/modules.txt` (lines `# path version [=> replacement]`).
pub fn parse_modules_txt(text: &str) -> Vec<VendoredModule> {
    text.lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter_map(|header| {
            let (module, replacement) = match header.split_once(" => ") {
                Some((module, replacement)) => (module, Some(replacement.trim().to_string())),
                None => (header, None),
            };
            let mut words = module.split_whitespace();
            let path = words.next()?.to_string();
            let version = words.next().unwrap_or_default().to_string();
            Some(VendoredModule { path, version, replacement })
        })
        .collect()
}

/// `(major, minor, patch)` of a Go version: `1.22`, `1.22.4`, `go1.27.3`, `1.23rc1` (a
/// pre-release counts as its release's `.0`).
pub fn go_version(text: &str) -> Option<(u32, u32, u32)> {
    let text = text.trim().strip_prefix("go").unwrap_or(text.trim());
    let mut parts = text.splitn(3, '.');
    let number = |part: Option<&str>| -> Option<u32> {
        let digits: String = part?.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let major = number(parts.next())?;
    let minor = number(parts.next()).unwrap_or(0);
    let patch = parts.next().map_or(Some(0), |p| number(Some(p)))?;
    Some((major, minor, patch))
}

/// An error when go.mod's `go` directive asks for a newer Go than `toolchain` (`go1.27.3`):
/// with `GOTOOLCHAIN=local` the build would stop there, and no other toolchain can be fetched.
pub fn check_go_directive(module: &GoMod, toolchain: &str) -> Result<(), Error> {
    let (Some(wanted), Some(have)) = (module.go.as_deref().and_then(go_version), go_version(toolchain)) else { return Ok(()) };
    if wanted > have {
        return Err(Error::new(format!(
            "kiln/go: go.mod says `go {}`, and kiln/go has Go {}; kiln builds with that toolchain only \
             (GOTOOLCHAIN=local: no other Go can be downloaded during a build). Lower the `go` line of go.mod \
             to {} or below, or use a kiln/go with a newer Go",
            module.go.as_deref().unwrap_or_default(),
            toolchain.trim_start_matches("go"),
            toolchain.trim_start_matches("go"),
        )));
    }
    Ok(())
}

/// The name of the last element of the module path (`example.com/tools/web` -> `web`),
/// made safe as a file and process name.
pub fn module_base(module: &str) -> String {
    let last = module.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    // A major version suffix names no program: example.com/app/v2 builds `app`.
    let last = if last.len() > 1 && last.starts_with('v') && last[1..].bytes().all(|b| b.is_ascii_digit()) {
        module.trim_end_matches('/').rsplit('/').nth(1).unwrap_or(last)
    } else {
        last
    };
    last.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '-' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GO_MOD: &str = r#"// the example
module example.com/go-mod // a comment

go 1.22

toolchain go1.22.4

require github.com/google/uuid v1.3.0

require (
	golang.org/x/text v0.14.0 // indirect
	"example.com/quoted" v1.0.0
)

replace (
	example.com/quoted => ../quoted
)

exclude example.com/old v0.1.0
"#;

    #[test]
    fn go_mod_gives_the_module_the_go_version_and_every_require() {
        let parsed = parse_go_mod(GO_MOD, "go.mod").unwrap();
        assert_eq!(parsed.module, "example.com/go-mod");
        assert_eq!(parsed.go.as_deref(), Some("1.22"));
        assert_eq!(parsed.requires, ["github.com/google/uuid", "golang.org/x/text", "example.com/quoted"]);
    }

    #[test]
    fn a_module_without_requires_has_none() {
        let parsed = parse_go_mod("module example.com/plain\n\ngo 1.22\n", "go.mod").unwrap();
        assert!(parsed.requires.is_empty());
        assert_eq!(parsed.go.as_deref(), Some("1.22"));
    }

    #[test]
    fn go_mod_without_a_module_line_is_an_error_saying_what_to_run() {
        let err = parse_go_mod("go 1.22\n", "go.mod").unwrap_err().to_string();
        assert!(err.contains("kiln/go: go.mod has no `module` line") && err.contains("go mod init"), "{err}");
        assert!(parse_go_mod("module\n", "go.mod").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn modules_txt_lists_each_module_with_its_version_and_replacement() {
        let text = "# github.com/google/uuid v1.3.0\n## explicit\ngithub.com/google/uuid\n\
                    # example.com/fork v1.0.0 => ../fork\n## explicit; go 1.21\nexample.com/fork\n\
                    # example.com/local => ./local\nexample.com/local\n";
        let modules = parse_modules_txt(text);
        assert_eq!(modules.len(), 3);
        assert_eq!(modules[0], VendoredModule { path: "github.com/google/uuid".into(), version: "v1.3.0".into(), replacement: None });
        assert_eq!(modules[1].replacement.as_deref(), Some("../fork"));
        assert_eq!(modules[2].version, "");
    }

    #[test]
    fn go_versions_compare_by_number() {
        assert_eq!(go_version("1.22"), Some((1, 22, 0)));
        assert_eq!(go_version("go1.27.3"), Some((1, 27, 3)));
        assert_eq!(go_version("1.23rc1"), Some((1, 23, 0)));
        assert_eq!(go_version("x"), None);
        assert!(go_version("1.9").unwrap() < go_version("1.10").unwrap());
    }

    #[test]
    fn a_go_directive_newer_than_the_toolchain_is_refused_with_what_to_do() {
        let module = |go: &str| GoMod { module: "m".into(), go: Some(go.into()), requires: Vec::new() };
        check_go_directive(&module("1.22"), "go1.27.3").unwrap();
        check_go_directive(&module("1.27.3"), "go1.27.3").unwrap();
        check_go_directive(&GoMod { go: None, ..module("1") }, "go1.27.3").unwrap();
        let err = check_go_directive(&module("1.28"), "go1.27.3").unwrap_err().to_string();
        assert!(err.contains("go.mod says `go 1.28`, and kiln/go has Go 1.27.3") && err.contains("Lower the `go` line"), "{err}");
    }

    #[test]
    fn the_module_base_names_the_program() {
        assert_eq!(module_base("example.com/go-mod"), "go-mod");
        assert_eq!(module_base("example.com/app/v2"), "app");
        assert_eq!(module_base("hello"), "hello");
        assert_eq!(module_base("example.com/we ird"), "we-ird");
    }
}
