//! Source distributions: a requirement with no usable wheel but an sdist (`.tar.gz`) is
//! built into a wheel in kiln's jail, offline, by the runtime's own interpreter:
//! `python3.11 -m pip wheel --no-deps --no-build-isolation --no-index --wheel-dir DIR SRC`,
//! with the [`crate::build_tools`] (and the wheels requirements.txt pinned) on
//! `PYTHONPATH`. The wheel it makes is then installed like any other.
//!
//! Before anything runs, the sdist is unpacked (by the buildpack, with the SDK's checked
//! extraction) and its `pyproject.toml` `[build-system]` read: a backend whose `requires`
//! are neither carried by kiln/python nor pinned in requirements.txt is an error naming the
//! package, its backend and the ways out. A build that fails for want of a C compiler (the
//! build rootfs is the run image, which has none) is an error that says so.

use std::path::{Path, PathBuf};

use kiln_sdk::Error;
use kiln_sdk::archive::{ExtractOptions, extract_tar_gz};
use kiln_sdk::exec::Command;

use crate::build_tools;
use crate::requirements::{Requirement, normalize};
use crate::runtime;
use crate::wheel::WheelName;

/// Whether a downloaded file is an sdist this module builds.
pub fn is_sdist(file_name: &str) -> bool {
    file_name.ends_with(".tar.gz")
}

/// An sdist's `[build-system]`: its backend and what the backend needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSystem {
    /// `build-backend`, or `None` for setuptools' legacy `setup.py` backend.
    pub backend: Option<String>,
    /// The project names of `requires` whose markers hold for CPython 3.11 on Linux.
    pub requires: Vec<String>,
}

impl BuildSystem {
    /// The backend as a message names it.
    pub fn backend_name(&self) -> &str {
        self.backend.as_deref().unwrap_or("setuptools (setup.py)")
    }
}

/// Read the build system from an sdist's `pyproject.toml` text (`None`: there is none,
/// so pip uses setuptools' legacy backend, as it does).
pub fn build_system(pyproject: Option<&str>) -> Result<BuildSystem, String> {
    let legacy = BuildSystem { backend: None, requires: vec!["setuptools".into()] };
    let Some(text) = pyproject else { return Ok(legacy) };
    let doc: toml::Table = text.parse().map_err(|e| format!("pyproject.toml is not TOML: {e}"))?;
    let Some(system) = doc.get("build-system").and_then(toml::Value::as_table) else { return Ok(legacy) };
    let backend = system.get("build-backend").and_then(toml::Value::as_str).map(str::to_string);
    let mut requires = Vec::new();
    for item in system.get("requires").and_then(toml::Value::as_array).into_iter().flatten() {
        let spec = item.as_str().ok_or("[build-system] requires holds a non-string")?;
        if let Some((_, marker)) = spec.split_once(';')
            && !crate::markers::evaluate(marker.trim())?
        {
            continue;
        }
        let name: String = spec.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
        if !name.is_empty() {
            requires.push(normalize(&name));
        }
    }
    if backend.is_none() && requires.is_empty() {
        return Ok(legacy);
    }
    Ok(BuildSystem { backend, requires })
}

/// Refuse a build system kiln/python cannot run: a `requires` entry that neither the build
/// tools nor `pinned` (requirements.txt's wheels, by normalized name) provide.
pub fn check_build_system(requirement: &Requirement, file_name: &str, system: &BuildSystem, pinned: &[String]) -> Result<(), Error> {
    let missing: Vec<&str> =
        system.requires.iter().filter(|r| !build_tools::carries(r) && !pinned.contains(r)).map(String::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::new(format!(
        "kiln/python: requirements.txt line {}: {} has no usable wheel, and its sdist {file_name} builds with {} \
         (pyproject.toml [build-system] requires {}); kiln/python does not carry {}: it builds sdists offline with \
         the backends {} ({}). Either pin a wheel of {} (`{} @ <wheel URL> --hash=sha256:...`), or pin {} (and what \
         they need) in requirements.txt with --hash (they will be in the image too)",
        requirement.line,
        requirement.name,
        system.backend_name(),
        system.requires.join(", "),
        missing.join(", "),
        build_tools::BACKENDS.join(", "),
        build_tools::describe(),
        requirement.name,
        requirement.name,
        missing.join(", "),
    )))
}

/// The C, C++, Cython or Rust sources in an unpacked sdist (relative paths, at most 5).
pub fn native_sources(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && path.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "c" | "cc" | "cpp" | "cxx" | "pyx" | "rs"))
            {
                found.push(path.strip_prefix(dir).unwrap_or(&path).display().to_string());
            }
        }
    }
    found.sort();
    found.truncate(5);
    found
}

/// Whether a build's output says a compiler could not be run.
pub fn compiler_missing(output: &str) -> bool {
    output.lines().any(|line| {
        let compiler = ["gcc", "'cc'", "g++", "c++", "clang", "cargo", "rustc"].iter().any(|c| line.contains(c));
        let missing = ["No such file or directory", "not found", "unable to execute", "command not found"].iter().any(|m| line.contains(m));
        compiler && missing
    })
}

/// Where the step finds Python and its tools.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The `python` layer.
    pub python_layer: PathBuf,
    /// `site-packages` dirs for `PYTHONPATH`, first wins (build tools, then requirements.txt's wheels).
    pub python_path: Vec<PathBuf>,
}

impl Toolchain {
    /// The step's whole environment: nothing else reaches the jail.
    pub fn env(&self) -> Vec<(String, String)> {
        let root = self.python_layer.display();
        let python_path: Vec<String> = self.python_path.iter().map(|p| p.display().to_string()).collect();
        vec![
            ("PATH".into(), format!("{root}/usr/bin:/usr/bin:/bin")),
            ("HOME".into(), "/tmp".into()),
            ("TMPDIR".into(), "/tmp".into()),
            ("PYTHONHOME".into(), format!("{root}/usr")),
            ("PYTHONPATH".into(), python_path.join(":")),
            ("LD_LIBRARY_PATH".into(), format!("{root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu")),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
            ("PYTHONUTF8".into(), "1".into()),
            ("PIP_NO_INDEX".into(), "1".into()),
            ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
            ("SOURCE_DATE_EPOCH".into(), "315532800".into()),
        ]
    }
}

/// Unpack `sdist` into `scratch` and read its build system. Returns the source dir too.
pub fn unpack(requirement: &Requirement, sdist: &Path, file_name: &str, scratch: &Path) -> Result<(PathBuf, BuildSystem), Error> {
    let stem = file_name.strip_suffix(".tar.gz").unwrap_or(file_name);
    let source = scratch.join("src").join(stem);
    if source.exists() {
        std::fs::remove_dir_all(&source)?;
    }
    let extracted =
        extract_tar_gz(sdist, &source, &ExtractOptions::strip(1)).map_err(|e| e.context(format!("kiln/python: unpacking {file_name}")))?;
    for skipped in &extracted.skipped {
        kiln_sdk::log::debug(&format!("{file_name}: skipped {skipped}"));
    }
    let pyproject = std::fs::read_to_string(source.join("pyproject.toml")).ok();
    if pyproject.is_none() && !source.join("setup.py").is_file() {
        return Err(Error::new(format!(
            "kiln/python: requirements.txt line {}: {file_name} of {} has neither pyproject.toml nor setup.py at its top: it is not an sdist pip can build",
            requirement.line, requirement.name
        )));
    }
    let system = build_system(pyproject.as_deref())
        .map_err(|e| Error::new(format!("kiln/python: requirements.txt line {}: {file_name}: {e}", requirement.line)))?;
    Ok((source, system))
}

/// Build the unpacked sdist at `source` into a wheel in `wheel_dir` with pip in the jail.
/// Returns the wheel's path and file name.
pub fn build(
    requirement: &Requirement,
    file_name: &str,
    source: &Path,
    wheel_dir: &Path,
    tools: &Toolchain,
) -> Result<(PathBuf, String), Error> {
    if wheel_dir.exists() {
        std::fs::remove_dir_all(wheel_dir)?;
    }
    std::fs::create_dir_all(wheel_dir)?;
    // Before pip runs: an in-tree build writes its own C files (setuptools' conftest-*.c).
    let native = native_sources(source);
    let interpreter = tools.python_layer.join(runtime::INTERPRETER);
    let args = [
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--no-cache-dir",
        "--wheel-dir",
        &wheel_dir.display().to_string(),
        &source.display().to_string(),
    ]
    .map(str::to_string);
    kiln_sdk::log::info(&format!("building {file_name} into a wheel: python3.11 {}", args.join(" ")));
    let output = Command::new(&interpreter).args(&args).envs(tools.env()).current_dir(source).output().map_err(|e| {
        e.context(format!("kiln/python: requirements.txt line {}: building {file_name} needs native steps, which failed", requirement.line))
    })?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    for line in text.lines() {
        kiln_sdk::log::debug(&format!("pip: {line}"));
    }
    if !output.status.success() {
        return Err(failure(requirement, file_name, &native, &text, &output.status.to_string()));
    }
    let mut wheels: Vec<String> = std::fs::read_dir(wheel_dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".whl"))
        .collect();
    let (Some(wheel), true) = (wheels.pop(), wheels.is_empty()) else {
        return Err(Error::new(format!(
            "kiln/python: requirements.txt line {}: pip built {file_name} but left no single wheel in {}",
            requirement.line,
            wheel_dir.display()
        )));
    };
    let parsed = WheelName::parse(&wheel).map_err(|e| Error::new(format!("kiln/python: building {file_name}: {e}")))?;
    if normalize(&parsed.name) != normalize(&requirement.name) {
        return Err(Error::new(format!(
            "kiln/python: requirements.txt line {}: {file_name} built a wheel of another project ({wheel}), not of {}",
            requirement.line, requirement.name
        )));
    }
    if let Some(why) = parsed.incompatibility() {
        return Err(Error::new(format!("kiln/python: requirements.txt line {}: {file_name} built {wheel}, but {why}", requirement.line)));
    }
    Ok((wheel_dir.join(&wheel), wheel))
}

/// The error for a failed build: the compiler case said plainly, else pip's error lines
/// (the host shows an error on one line; `-v` shows pip's whole output).
fn failure(requirement: &Requirement, file_name: &str, native: &[String], output: &str, status: &str) -> Error {
    let errors: Vec<&str> = output.lines().map(str::trim).filter(|l| l.to_ascii_lowercase().contains("error")).collect();
    let tail = errors[errors.len().saturating_sub(3)..].join(" / ");
    let compiled = !native.is_empty() && (output.contains("build_ext") || output.contains("extension"));
    if compiler_missing(output) || compiled {
        return Error::new(format!(
            "kiln/python: requirements.txt line {}: {} has native code ({}) and its sdist {file_name} needs a C compiler to build, \
             which the build rootfs (the run image) does not have. Pin a wheel of {} built for CPython 3.11 on Linux x86_64 \
             (`{} @ <cp311 manylinux wheel URL> --hash=sha256:...`), or pick a release that has one. pip ({status}; -v shows its output): {tail}",
            requirement.line,
            requirement.name,
            if native.is_empty() { "a compiler was called".to_string() } else { native.join(", ") },
            requirement.name,
            requirement.name,
        ));
    }
    Error::new(format!(
        "kiln/python: requirements.txt line {}: building {} from its sdist {file_name} with pip failed ({status}; -v shows its output): {tail}",
        requirement.line, requirement.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Source;

    fn requirement(name: &str) -> Requirement {
        Requirement { name: name.into(), source: Source::Pinned("1.0".into()), hashes: vec![], line: 3 }
    }

    #[test]
    fn build_systems_are_read_as_pip_reads_them() {
        let legacy = build_system(None).unwrap();
        assert_eq!(legacy, BuildSystem { backend: None, requires: vec!["setuptools".into()] });
        assert_eq!(build_system(Some("[tool.black]\nline-length = 99\n")).unwrap(), legacy);
        let hatch =
            build_system(Some("[build-system]\nrequires = [\"hatchling>=1.18\", \"hatch-vcs\"]\nbuild-backend = \"hatchling.build\"\n"))
                .unwrap();
        assert_eq!(hatch.backend.as_deref(), Some("hatchling.build"));
        assert_eq!(hatch.requires, ["hatchling", "hatch-vcs"]);
        let setuptools = build_system(Some(
            "[build-system]\nrequires = [\"setuptools>=61\", \"wheel\", \"tomli; python_version < '3.11'\", \"Cython ; python_version >= '3.8'\"]\n",
        ))
        .unwrap();
        assert_eq!(setuptools.requires, ["setuptools", "wheel", "cython"], "markers false for 3.11 drop an entry");
        assert!(build_system(Some("[build-system\n")).is_err());
    }

    #[test]
    fn an_unsupported_backend_names_the_package_the_backend_and_the_ways_out() {
        let flit =
            build_system(Some("[build-system]\nrequires = [\"flit_core >=3.2,<4\"]\nbuild-backend = \"flit_core.buildapi\"\n")).unwrap();
        assert!(check_build_system(&requirement("tomli"), "tomli-2.0.1.tar.gz", &flit, &[]).is_ok());
        assert!(check_build_system(&requirement("docopt"), "docopt-0.6.2.tar.gz", &build_system(None).unwrap(), &[]).is_ok());
        let hatch = build_system(Some("[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n")).unwrap();
        assert!(check_build_system(&requirement("annotated-types"), "annotated_types-0.8.0.tar.gz", &hatch, &[]).is_ok());
        let poetry =
            build_system(Some("[build-system]\nrequires = [\"poetry-core>=1.0\"]\nbuild-backend = \"poetry.core.masonry.api\"\n")).unwrap();
        let err = check_build_system(&requirement("pendulum"), "pendulum-2.1.2.tar.gz", &poetry, &[]).unwrap_err().to_string();
        for needle in [
            "requirements.txt line 3",
            "pendulum has no usable wheel",
            "pendulum-2.1.2.tar.gz builds with poetry.core.masonry.api",
            "does not carry poetry-core",
            "setuptools 84.2.1",
            "flit_core.buildapi, hatchling.build",
            "pin a wheel of pendulum",
            "pin poetry-core (and what they need) in requirements.txt",
        ] {
            assert!(err.contains(needle), "{needle:?} not in {err}");
        }
        assert!(check_build_system(&requirement("pendulum"), "pendulum-2.1.2.tar.gz", &poetry, &["poetry-core".into()]).is_ok());
    }

    #[test]
    fn a_missing_compiler_is_recognized_in_pips_output() {
        assert!(compiler_missing("      error: [Errno 2] No such file or directory: 'gcc'\n"));
        assert!(compiler_missing("error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory\n"));
        assert!(compiler_missing("sh: 1: cc: not found\nerror: command 'cc' failed: No such file or directory"));
        assert!(!compiler_missing("error: invalid command 'bdist_wheel'\n"));
        assert!(!compiler_missing("ModuleNotFoundError: No module named 'gcc_helpers'\n"));
    }

    #[test]
    fn the_steps_env_is_explicit_and_offline() {
        let tools = Toolchain {
            python_layer: "/layers/kiln_python/python".into(),
            python_path: vec!["/layers/kiln_python/build-tools/site-packages".into(), "/layers/kiln_python/packages/site-packages".into()],
        };
        let env: std::collections::BTreeMap<String, String> = tools.env().into_iter().collect();
        assert_eq!(env["PATH"], "/layers/kiln_python/python/usr/bin:/usr/bin:/bin");
        assert_eq!(env["PYTHONPATH"], "/layers/kiln_python/build-tools/site-packages:/layers/kiln_python/packages/site-packages");
        assert_eq!(env["PYTHONHOME"], "/layers/kiln_python/python/usr");
        assert_eq!(env["PIP_NO_INDEX"], "1");
        assert_eq!(env["SOURCE_DATE_EPOCH"], "315532800");
        assert_eq!(env["HOME"], "/tmp");
    }

    #[test]
    fn native_sources_are_found_in_an_unpacked_tree() {
        let dir = std::env::temp_dir().join(format!("kiln-python-sdist-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("src/pkg")).unwrap();
        std::fs::write(dir.join("setup.py"), "").unwrap();
        std::fs::write(dir.join("src/pkg/__init__.py"), "").unwrap();
        assert!(native_sources(&dir).is_empty());
        std::fs::write(dir.join("src/pkg/_speedups.c"), "").unwrap();
        assert_eq!(native_sources(&dir), ["src/pkg/_speedups.c"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
