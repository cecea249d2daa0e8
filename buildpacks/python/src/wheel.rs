//! Wheels: finding a pinned requirement's wheel (else its sdist, which [`crate::sdist`]
//! builds) on PyPI's file host, checking a wheel's
//! tags against CPython 3.11 on Linux x86_64, and installing one (PEP 427, without
//! running any Python): unzip into site-packages, move `.data/` parts into place, and
//! write a script for each console entry point.

use std::path::{Path, PathBuf};

use kiln_sdk::Error;
use kiln_sdk::archive::{ExtractOptions, extract_zip};

use crate::requirements::{Requirement, Source, normalize};

/// PyPI's file host, which serves `{python_tag}/{first letter}/{project}/{file}` by redirect.
pub const DEFAULT_FILES_URL: &str = "https://files.pythonhosted.org/packages/";

/// The tags tried for a `name==version` requirement, best first: `(python tag, full tags)`.
const PINNED_TAGS: &[(&str, &str)] = &[
    ("py3", "py3-none-any"),
    ("py2.py3", "py2.py3-none-any"),
    ("cp311", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"),
    ("cp311", "cp311-cp311-manylinux_2_28_x86_64"),
    ("cp311", "cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64"),
];

/// Newest glibc the run image has (bookworm: 2.36): the limit for `manylinux_2_X` wheels.
const GLIBC_MINOR: u32 = 36;

/// A wheel file name's parts (PEP 427): `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelName {
    /// The distribution name as escaped in the file name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Python tags (`py3`, `cp311`, ...).
    pub python: Vec<String>,
    /// ABI tags (`none`, `abi3`, `cp311`).
    pub abi: Vec<String>,
    /// Platform tags (`any`, `manylinux_2_17_x86_64`, ...).
    pub platform: Vec<String>,
}

impl WheelName {
    /// Parse a wheel file name.
    pub fn parse(file_name: &str) -> Result<Self, String> {
        let stem = file_name.strip_suffix(".whl").ok_or_else(|| format!("{file_name} is not a .whl file"))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, tags) = match parts.as_slice() {
            [name, version, _build, py, abi, plat] => (name, version, [py, abi, plat]),
            [name, version, py, abi, plat] => (name, version, [py, abi, plat]),
            _ => return Err(format!("{file_name} is not a wheel file name (name-version-python-abi-platform.whl)")),
        };
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        Ok(WheelName {
            name: name.to_string(),
            version: version.to_string(),
            python: split(tags[0]),
            abi: split(tags[1]),
            platform: split(tags[2]),
        })
    }

    /// Why this wheel cannot run on CPython 3.11, Linux x86_64 (glibc 2.36), if it cannot.
    pub fn incompatibility(&self) -> Option<String> {
        let python_ok = self.python.iter().any(|t| {
            t == "py3"
                || t == "py311"
                || t == "cp311"
                || (t.starts_with("cp3") && self.abi.iter().any(|a| a == "abi3") && minor(t, "cp3").is_some_and(|m| m <= 11))
        });
        if !python_ok {
            return Some(format!("it is for {} (needs py3 or cp311)", self.python.join(".")));
        }
        if !self.abi.iter().any(|a| a == "none" || a == "abi3" || a == "cp311") {
            return Some(format!("its ABI is {} (needs none, abi3 or cp311)", self.abi.join(".")));
        }
        let platform_ok = self.platform.iter().any(|p| {
            p == "any"
                || p == "linux_x86_64"
                || p == "manylinux1_x86_64"
                || p == "manylinux2010_x86_64"
                || p == "manylinux2014_x86_64"
                || p.strip_prefix("manylinux_2_")
                    .and_then(|r| r.strip_suffix("_x86_64"))
                    .and_then(|m| m.parse::<u32>().ok())
                    .is_some_and(|m| m <= GLIBC_MINOR)
        });
        if !platform_ok {
            return Some(format!("it is built for {} (needs any or manylinux x86_64, glibc <= 2.{GLIBC_MINOR})", self.platform.join(".")));
        }
        None
    }
}

fn minor(tag: &str, prefix: &str) -> Option<u32> {
    tag.strip_prefix(prefix)?.parse().ok()
}

/// The URLs to try for a requirement, in order: wheels of [`PINNED_TAGS`], then the sdist at
/// `source/{letter}/{project}/{name}-{version}.tar.gz` (the project name as written, as old
/// sdists are named, then normalized with `_`, as PEP 625 names new ones).
pub fn candidate_urls(requirement: &Requirement, files_url: &str) -> Vec<String> {
    let version = match &requirement.source {
        Source::Url(url) => return vec![url.clone()],
        Source::Pinned(version) => version,
    };
    let written = &requirement.name;
    // Wheel names escape runs of non-alphanumerics to `_`; newer tools also lower-case.
    let mut names = vec![written.replace(['-', '.'], "_"), normalize(written).replace('-', "_")];
    names.dedup();
    let first = written.chars().next().unwrap_or('_');
    let mut urls = Vec::new();
    for (python_tag, tags) in PINNED_TAGS {
        for name in &names {
            let url = format!("{files_url}{python_tag}/{first}/{written}/{name}-{version}-{tags}.whl");
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    for name in [written.clone(), normalize(written).replace('-', "_")] {
        let url = format!("{files_url}source/{first}/{written}/{name}-{version}.tar.gz");
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    urls
}

/// Fetch the requirement's wheel (or sdist, when no candidate wheel matches) into `dir`:
/// the first candidate URL whose bytes match one of its hashes. Returns the file and its
/// name (`.whl` or `.tar.gz`).
pub fn fetch(requirement: &Requirement, files_url: &str, dir: &Path) -> Result<(PathBuf, String), Error> {
    let mut tried = Vec::new();
    for url in candidate_urls(requirement, files_url) {
        let file_name = url.rsplit('/').next().unwrap_or_default().to_string();
        let wheel = if crate::sdist::is_sdist(&file_name) {
            None
        } else {
            Some(WheelName::parse(&file_name).map_err(|e| Error::new(format!("kiln/python: {}: {e}", requirement.name)))?)
        };
        if let Some(why) = wheel.and_then(|w| w.incompatibility()) {
            return Err(Error::new(format!(
                "kiln/python: requirements.txt line {}: {file_name} cannot be installed: {why}",
                requirement.line
            )));
        }
        let destination = dir.join(&file_name);
        for digest in &requirement.hashes {
            match kiln_sdk::fetch(&url, digest, &destination) {
                Ok(_) => return Ok((destination, file_name)),
                Err(e) => tried.push((url.clone(), e.to_string())),
            }
        }
    }
    // The host shows a buildpack's error on one line: keep it short.
    let mut names: Vec<&str> = tried.iter().map(|(url, _)| url.rsplit('/').next().unwrap_or_default()).collect();
    names.dedup();
    let first_error = tried.first().map(|(_, e)| e.as_str()).unwrap_or("no candidate");
    let what = match &requirement.source {
        Source::Pinned(version) => format!("{}=={version}", requirement.name),
        Source::Url(url) => url.clone(),
    };
    let mut message = format!(
        "kiln/python: requirements.txt line {}: no wheel or sdist of {what} matched its --hash ({} tried: {}; first error: {first_error})",
        requirement.line,
        names.len(),
        names.join(", "),
    );
    if matches!(requirement.source, Source::Pinned(_)) {
        message.push_str(&format!(
            ". kiln/python installs wheels (py3-none-any, or cp311 manylinux x86_64) and builds sdists (.tar.gz) found at the \
             file host's predictable URLs; if a mirror lacks them, name the file: \
             `{} @ <its URL from https://pypi.org/project/{}/#files> --hash=sha256:<its sha256>`",
            requirement.name, requirement.name
        ));
    }
    Err(Error::new(message))
}

/// What installing a wheel added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The `.dist-info` directory name.
    pub dist_info: String,
    /// The console scripts written to `bin/`.
    pub scripts: Vec<String>,
}

/// Install `wheel` (named `file_name`) into `site_packages`, scripts into `bin`, with
/// `interpreter` as the scripts' `#!`.
pub fn install(wheel: &Path, file_name: &str, site_packages: &Path, bin: &Path, interpreter: &str) -> Result<Installed, Error> {
    let parsed = WheelName::parse(file_name).map_err(Error::new)?;
    extract_zip(wheel, site_packages, &ExtractOptions::default()).map_err(|e| e.context(format!("kiln/python: unpacking {file_name}")))?;
    let dist_info = find_dir(site_packages, &parsed, ".dist-info")?
        .ok_or_else(|| Error::new(format!("kiln/python: {file_name} has no {}-{}.dist-info directory", parsed.name, parsed.version)))?;
    std::fs::write(site_packages.join(&dist_info).join("INSTALLER"), "kiln\n")?;
    let mut scripts = Vec::new();
    if let Some(data) = find_dir(site_packages, &parsed, ".data")? {
        scripts.extend(install_data(&site_packages.join(&data), site_packages, bin, interpreter)?);
        std::fs::remove_dir_all(site_packages.join(&data))?;
    }
    let entry_points = site_packages.join(&dist_info).join("entry_points.txt");
    if entry_points.is_file() {
        let text = std::fs::read_to_string(&entry_points)?;
        for (name, target) in console_scripts(&text) {
            let script = script_text(interpreter, &target).map_err(|e| Error::new(format!("kiln/python: {file_name}: {e}")))?;
            std::fs::create_dir_all(bin)?;
            kiln_sdk::fs::write_executable(&bin.join(&name), script)?;
            scripts.push(name);
        }
    }
    Ok(Installed { dist_info, scripts })
}

/// The `{name}-{version}{suffix}` directory of this wheel in `dir`, matched by normalized name.
fn find_dir(dir: &Path, wheel: &WheelName, suffix: &str) -> Result<Option<String>, Error> {
    let want = (normalize(&wheel.name), wheel.version.clone());
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(suffix)
            && let Some((n, v)) = stem.rsplit_once('-')
            && (normalize(n), v.to_string()) == want
        {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// Move `.data/purelib` and `platlib` into site-packages and `scripts` into `bin`.
fn install_data(data: &Path, site_packages: &Path, bin: &Path, interpreter: &str) -> Result<Vec<String>, Error> {
    let mut scripts = Vec::new();
    for entry in std::fs::read_dir(data)? {
        let entry = entry?;
        let kind = entry.file_name().to_string_lossy().into_owned();
        match kind.as_str() {
            "purelib" | "platlib" => merge(&entry.path(), site_packages)?,
            "scripts" => {
                std::fs::create_dir_all(bin)?;
                for script in std::fs::read_dir(entry.path())? {
                    let script = script?;
                    let name = script.file_name().to_string_lossy().into_owned();
                    let bytes = std::fs::read(script.path())?;
                    let bytes = match bytes.strip_prefix(b"#!python") {
                        Some(rest) => [format!("#!{interpreter}").as_bytes(), rest].concat(),
                        None => bytes,
                    };
                    kiln_sdk::fs::write_executable(&bin.join(&name), bytes)?;
                    scripts.push(name);
                }
            }
            other => kiln_sdk::log::debug(&format!("wheel .data/{other} is not installed")),
        }
    }
    Ok(scripts)
}

/// Move every entry of `from` into `to`, merging directories.
fn merge(from: &Path, to: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() && target.is_dir() {
            merge(&entry.path(), &target)?;
        } else {
            std::fs::rename(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// `(name, module:attr)` of `[console_scripts]` and `[gui_scripts]` in entry_points.txt.
pub fn console_scripts(text: &str) -> Vec<(String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if (section == "console_scripts" || section == "gui_scripts")
            && let Some((name, target)) = line.split_once('=')
        {
            // Drop `[extras]` after the target.
            let target = target.split('[').next().unwrap_or_default().trim();
            out.push((name.trim().to_string(), target.to_string()));
        }
    }
    out
}

/// The script for `module:attr`, as pip writes it.
fn script_text(interpreter: &str, target: &str) -> Result<String, String> {
    let (module, attr) = target.split_once(':').ok_or_else(|| format!("entry point {target:?} is not module:attr"))?;
    let (module, attr) = (module.trim(), attr.trim());
    let valid = |s: &str| !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !valid(module) || !valid(attr) {
        return Err(format!("entry point {target:?} is not module:attr"));
    }
    let import = attr.split('.').next().unwrap_or(attr);
    Ok(format!(
        "#!{interpreter}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {import}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attr}())\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pinned(name: &str, version: &str) -> Requirement {
        Requirement { name: name.into(), source: Source::Pinned(version.into()), hashes: vec![], line: 1 }
    }

    #[test]
    fn candidate_urls_follow_the_file_hosts_redirect_scheme() {
        let urls = candidate_urls(&pinned("waitress", "3.0.2"), DEFAULT_FILES_URL);
        assert_eq!(urls[0], "https://files.pythonhosted.org/packages/py3/w/waitress/waitress-3.0.2-py3-none-any.whl");
        assert_eq!(urls[1], "https://files.pythonhosted.org/packages/py2.py3/w/waitress/waitress-3.0.2-py2.py3-none-any.whl");
        assert!(urls.contains(&"https://files.pythonhosted.org/packages/cp311/w/waitress/waitress-3.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl".to_string()));
        let urls = candidate_urls(&pinned("Flask-SQLAlchemy", "3.1.1"), DEFAULT_FILES_URL);
        assert_eq!(urls[0], "https://files.pythonhosted.org/packages/py3/F/Flask-SQLAlchemy/Flask_SQLAlchemy-3.1.1-py3-none-any.whl");
        assert_eq!(urls[1], "https://files.pythonhosted.org/packages/py3/F/Flask-SQLAlchemy/flask_sqlalchemy-3.1.1-py3-none-any.whl");
        let urls = candidate_urls(&pinned("docopt", "0.6.2"), DEFAULT_FILES_URL);
        assert_eq!(urls.last().unwrap(), "https://files.pythonhosted.org/packages/source/d/docopt/docopt-0.6.2.tar.gz");
        assert!(urls.iter().take_while(|u| u.ends_with(".whl")).count() == urls.len() - 1, "wheels first, then the sdist: {urls:?}");
        let urls = candidate_urls(&pinned("Flask-SQLAlchemy", "3.1.1"), DEFAULT_FILES_URL);
        assert!(urls.ends_with(&[
            "https://files.pythonhosted.org/packages/source/F/Flask-SQLAlchemy/Flask-SQLAlchemy-3.1.1.tar.gz".to_string(),
            "https://files.pythonhosted.org/packages/source/F/Flask-SQLAlchemy/flask_sqlalchemy-3.1.1.tar.gz".to_string(),
        ]));
        let direct = Requirement { source: Source::Url("https://example.org/x-1-py3-none-any.whl".into()), ..pinned("x", "") };
        assert_eq!(candidate_urls(&direct, DEFAULT_FILES_URL), ["https://example.org/x-1-py3-none-any.whl"]);
    }

    #[test]
    fn wheel_tags_are_checked_against_cpython_311_linux_x86_64() {
        for ok in [
            "waitress-3.0.2-py3-none-any.whl",
            "six-1.16.0-py2.py3-none-any.whl",
            "MarkupSafe-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "cryptography-42.0.5-cp39-abi3-manylinux_2_28_x86_64.whl",
            "pkg-1.0-1build-py3-none-any.whl",
        ] {
            assert_eq!(WheelName::parse(ok).unwrap().incompatibility(), None, "{ok}");
        }
        for (bad, why) in [
            ("MarkupSafe-2.1.3-cp312-cp312-manylinux_2_17_x86_64.whl", "cp312"),
            ("MarkupSafe-2.1.3-cp311-cp311-macosx_10_9_universal2.whl", "macosx"),
            ("numpy-2.0.0-cp311-cp311-manylinux_2_39_x86_64.whl", "glibc"),
            ("numpy-2.0.0-cp311-cp311-manylinux_2_17_aarch64.whl", "aarch64"),
            ("old-1.0-py2-none-any.whl", "py2"),
        ] {
            let reason = WheelName::parse(bad).unwrap().incompatibility().unwrap_or_else(|| panic!("{bad} passed"));
            assert!(reason.contains(why), "{bad}: {reason}");
        }
        assert!(WheelName::parse("waitress-3.0.2.tar.gz").is_err());
        assert!(WheelName::parse("waitress-py3-none-any.whl").is_err());
    }

    #[test]
    fn console_scripts_become_pip_style_scripts() {
        let text = "[console_scripts]\nwaitress-serve = waitress.runner:run\n\n[paste.server_runner]\nmain = waitress:serve_paste\n[gui_scripts]\ntool = pkg.cli:Main.start [extra]\n";
        let scripts = console_scripts(text);
        assert_eq!(
            scripts,
            [("waitress-serve".to_string(), "waitress.runner:run".to_string()), ("tool".to_string(), "pkg.cli:Main.start".to_string())]
        );
        let script = script_text("/layers/kiln_python/python/usr/bin/python3.11", "waitress.runner:run").unwrap();
        assert!(script.starts_with("#!/layers/kiln_python/python/usr/bin/python3.11\n"), "{script}");
        assert!(script.contains("from waitress.runner import run\n") && script.contains("sys.exit(run())"), "{script}");
        let script = script_text("/p", "pkg.cli:Main.start").unwrap();
        assert!(script.contains("from pkg.cli import Main\n") && script.contains("sys.exit(Main.start())"), "{script}");
        assert!(script_text("/p", "os; rm -rf /:x").is_err());
    }
}
