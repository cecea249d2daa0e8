//! `requirements.txt` in pip's hash-checking form: what to install and the digests to
//! verify it by.
//!
//! Accepted lines (after joining `\` continuations and dropping `#` comments):
//!
//! - `name==version --hash=sha256:HEX [--hash=...]`, optionally with `[extras]` and a
//!   `; marker` (what `pip-compile --generate-hashes` and `uv export` write);
//! - `name @ https://.../file.whl --hash=sha256:HEX` (a direct reference to a wheel), or
//!   `name @ https://.../name-1.0.tar.gz --hash=sha256:HEX` (to an sdist, which
//!   [`crate::sdist`] builds into a wheel);
//! - `--require-hashes`, `--only-binary`, `--prefer-binary`, `--no-deps` lines (what kiln
//!   does anyway: every requirement is pinned and hashed, a wheel is preferred to an sdist,
//!   nothing is resolved).
//!
//! Refused with the line number and what to write instead: a requirement without
//! `--hash`, a version range, an `-e`/`-r`/`-c`/`--index-url` line, a URL to something
//! other than a wheel or a `.tar.gz` sdist. A requirement whose marker is false for CPython 3.11 on Linux
//! x86_64 is dropped (see [`crate::markers`]).

use kiln_sdk::Error;

use crate::markers;

/// One requirement to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The project name as written.
    pub name: String,
    /// Where to get it.
    pub source: Source,
    /// The accepted digests, `sha256:<hex>` (any one may match).
    pub hashes: Vec<String>,
    /// The 1-based line it starts on.
    pub line: usize,
}

/// Where a requirement's wheel comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `name==version`: a wheel of this version from PyPI's file host, else its sdist.
    Pinned(String),
    /// `name @ URL`: this wheel or sdist.
    Url(String),
}

/// Parse the text of `file_name` (for messages).
pub fn parse(text: &str, file_name: &str) -> Result<Vec<Requirement>, Error> {
    let mut out = Vec::new();
    for (line_no, line) in logical_lines(text) {
        let fail = |what: String| Error::new(format!("kiln/python: {file_name} line {line_no}: {what}"));
        if line.starts_with('-') {
            option_line(&line).map_err(fail)?;
            continue;
        }
        if let Some(requirement) = requirement_line(&line, line_no).map_err(fail)? {
            out.push(requirement);
        }
    }
    Ok(out)
}

/// Normalized project name (PEP 503): lower case, runs of `-`, `_`, `.` as one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending_dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            pending_dash = true;
        } else {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Lines with continuations joined and comments removed, with their first line number.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        // pip: a comment starts at `#` at the line start or after whitespace.
        let without_comment = match raw.find(" #").or_else(|| raw.find("\t#")) {
            Some(at) => &raw[..at],
            None if raw.trim_start().starts_with('#') => "",
            None => raw,
        };
        match without_comment.trim_end().strip_suffix('\\') {
            Some(continued) => {
                current.push_str(continued);
                current.push(' ');
            }
            None => {
                current.push_str(without_comment);
                let line = current.trim().to_string();
                if !line.is_empty() {
                    out.push((start, line));
                }
                current.clear();
            }
        }
    }
    let line = current.trim().to_string();
    if !line.is_empty() {
        out.push((start, line));
    }
    out
}

fn option_line(line: &str) -> Result<(), String> {
    let option = line.split([' ', '=']).next().unwrap_or_default();
    match option {
        "--require-hashes" | "--only-binary" | "--prefer-binary" | "--no-deps" => Ok(()),
        "--no-binary" => {
            Err("--no-binary asks for source builds of everything; kiln/python builds an sdist only when there is no usable wheel: \
             pin it with `name @ https://.../name-1.0.tar.gz --hash=sha256:...` to force it"
                .into())
        }
        "-r" | "--requirement" | "-c" | "--constraint" => {
            Err(format!("{option} is not supported; put every requirement, pinned and hashed, in this one file"))
        }
        "-e" | "--editable" => Err("editable installs (-e) are not supported; pin a wheel with name==version --hash=sha256:...".into()),
        "-i" | "--index-url" | "--extra-index-url" | "-f" | "--find-links" => Err(format!(
            "{option} is not supported: wheels come from PyPI's file host, or use `name @ https://.../file.whl --hash=sha256:...`"
        )),
        _ => Err(format!("unknown option {option}")),
    }
}

/// One requirement line: `spec [; marker] --hash=... ...`.
fn requirement_line(line: &str, line_no: usize) -> Result<Option<Requirement>, String> {
    let (spec, hashes) = split_hashes(line)?;
    let (spec, marker) = match spec.split_once(';') {
        Some((spec, marker)) => (spec.trim(), Some(marker.trim())),
        None => (spec.trim(), None),
    };
    if let Some(marker) = marker
        && !markers::evaluate(marker)?
    {
        return Ok(None);
    }
    let (name, source) = match spec.split_once(" @ ").or_else(|| spec.split_once('@')) {
        Some((name, url)) => (strip_extras(name.trim()), Source::Url(url_source(url.trim())?)),
        None if spec.contains("://") => {
            let url = url_source(spec)?;
            let file = url.rsplit('/').next().unwrap_or_default();
            (file.split('-').next().unwrap_or_default().to_string(), Source::Url(url))
        }
        None => {
            let Some((name, version)) = spec.split_once("==") else {
                return Err(format!(
                    "{spec:?} is not pinned; write name==version --hash=sha256:... (`pip-compile --generate-hashes` or `uv export` produce this)"
                ));
            };
            let version = version.trim();
            if version.is_empty() || version.contains([',', '<', '>', '=', '!', '~', '*', ' ']) {
                return Err(format!("{spec:?} must pin one exact version (name==1.2.3)"));
            }
            (strip_extras(name.trim()), Source::Pinned(version.to_string()))
        }
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(format!("{name:?} is not a project name"));
    }
    if hashes.is_empty() {
        return Err(format!(
            "{name} has no --hash; kiln/python verifies every wheel: add --hash=sha256:<hex> (pip-compile --generate-hashes, uv export and `pip hash FILE` give it)"
        ));
    }
    Ok(Some(Requirement { name, source, hashes, line: line_no }))
}

/// Split off every `--hash=ALG:HEX` (or `--hash ALG:HEX`); only sha256 is accepted.
fn split_hashes(line: &str) -> Result<(String, Vec<String>), String> {
    let mut spec = Vec::new();
    let mut hashes = Vec::new();
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        let value = if word == "--hash" {
            words.next().ok_or("--hash without a value")?
        } else if let Some(value) = word.strip_prefix("--hash=") {
            value
        } else if word.starts_with("--") {
            return Err(format!("the option {word} is not supported on a requirement line"));
        } else {
            spec.push(word);
            continue;
        };
        let hex = value.strip_prefix("sha256:").ok_or_else(|| format!("--hash={value}: only sha256 hashes are supported"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("--hash={value}: a sha256 hash is 64 hex digits"));
        }
        hashes.push(format!("sha256:{}", hex.to_ascii_lowercase()));
    }
    Ok((spec.join(" "), hashes))
}

fn strip_extras(name: &str) -> String {
    name.split('[').next().unwrap_or_default().trim().to_string()
}

fn url_source(url: &str) -> Result<String, String> {
    let url = url.split('#').next().unwrap_or_default();
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!("{url:?}: only http(s) URLs to wheels are supported"));
    }
    if !url.ends_with(".whl") && !url.ends_with(".tar.gz") {
        return Err(format!("{url:?} is neither a wheel (.whl) nor an sdist (.tar.gz)"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "c56d67fd6e87c2ee598b76abdd4e96cfad1f24cacdea5078d382b1f9d7b5ed2e";
    const H2: &str = "682aaaf2af0c44ada4abfb70ded36393f0e307f4ab9456a215ce0020baefc31f";

    #[test]
    fn pip_compile_output_with_continuations_comments_and_two_hashes() {
        let text = format!(
            "#\n# This file is autogenerated by pip-compile\n#\n--require-hashes\nwaitress==3.0.2 \\\n    --hash=sha256:{H1} \\\n    --hash=sha256:{H2}\n    # via -r requirements.in\n"
        );
        let reqs = parse(&text, "requirements.txt").unwrap();
        assert_eq!(
            reqs,
            vec![Requirement {
                name: "waitress".into(),
                source: Source::Pinned("3.0.2".into()),
                hashes: vec![format!("sha256:{H1}"), format!("sha256:{H2}")],
                line: 5,
            }]
        );
    }

    #[test]
    fn direct_references_extras_and_markers() {
        let url = "https://files.pythonhosted.org/packages/8d/57/a27182528c90ef38d82b636a11f606b0cbb0e17588ed205435f8affe3368/waitress-3.0.2-py3-none-any.whl";
        let text = format!(
            "waitress @ {url} --hash=sha256:{H1}\nflask[async]==3.0.0 ; python_version >= \"3.8\" --hash=sha256:{H2}\ncolorama==0.4.6 ; sys_platform == \"win32\" --hash=sha256:{H2}\n"
        );
        let reqs = parse(&text, "requirements.txt").unwrap();
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert_eq!(reqs[0].source, Source::Url(url.into()));
        assert_eq!(reqs[1].name, "flask");
        assert_eq!(reqs[1].source, Source::Pinned("3.0.0".into()));
        assert_eq!(reqs[1].line, 2);
        let sdist = "https://files.pythonhosted.org/packages/a2/55/8f8cab2afd404cf578136ef2cc5dfb50baa1761b68c9da1fb1e4eed343c9/docopt-0.6.2.tar.gz";
        let reqs = parse(&format!("docopt @ {sdist} --hash=sha256:{H1}\n"), "requirements.txt").unwrap();
        assert_eq!(reqs[0].source, Source::Url(sdist.into()));
    }

    #[test]
    fn what_is_refused_names_the_line_and_the_fix() {
        let cases = [
            ("waitress==3.0.2\n", "line 1: waitress has no --hash"),
            (&format!("\nwaitress>=3 --hash=sha256:{H1}\n"), "line 2: \"waitress>=3\" is not pinned"),
            (&format!("waitress==3.* --hash=sha256:{H1}\n"), "must pin one exact version"),
            ("-r base.txt\n", "-r is not supported"),
            ("-e .\n", "editable installs"),
            ("--index-url https://example.org/simple\n", "--index-url is not supported"),
            ("waitress==3.0.2 --hash=md5:abc\n", "only sha256"),
            (&format!("waitress @ https://example.org/waitress-3.0.2.zip --hash=sha256:{H1}\n"), "is neither a wheel (.whl) nor an sdist"),
        ];
        for (text, needle) in cases {
            let err = parse(text, "requirements.txt").unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(err.starts_with("kiln/python: requirements.txt line"), "{err}");
        }
    }

    #[test]
    fn names_normalize_as_pep_503_says() {
        assert_eq!(normalize("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize("zope.interface"), "zope-interface");
        assert_eq!(normalize("a--b__c"), "a-b-c");
    }
}
