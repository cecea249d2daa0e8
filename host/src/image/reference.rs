//! Image references as the CLI takes them.
//!
//! - `NAME` or `NAME:TAG` (e.g. `myapp`, `myapp:v1`, `team/app:v1`): an image in kiln's local
//!   store; a missing tag means `latest`, so `myapp` is `myapp:latest`.
//! - `oci:DIR` or `oci:DIR:TAG`: an OCI image layout directory, tag default `latest`. The tag
//!   is what follows the LAST `:`, and only when that text has no `/` (so `oci:/a:b/c` is the
//!   directory `/a:b/c`).
//!
//! Other transports (`docker://`, `docker-archive:`, registries such as `ghcr.io/org/app`)
//! are rejected with an error that says they are not supported yet.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::ImageError;
use super::store::validate_tag_name;

/// The tag used when a reference has none.
pub const DEFAULT_TAG: &str = "latest";

/// Transports of `skopeo`/containers-image that kiln recognizes but does not support yet.
const UNSUPPORTED_TRANSPORTS: &[&str] = &[
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci-archive",
    "containers-storage",
    "dir",
    "registry",
    "http",
    "https",
];

/// Where an image lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// kiln's local image store; `name` always has a tag (`myapp:latest`).
    Store {
        /// `repository:tag`.
        name: String,
    },
    /// An OCI image layout directory and a tag in its `index.json`.
    Layout {
        /// The layout directory.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` of the image.
        tag: String,
    },
}

impl ImageRef {
    /// Parses a reference; see the module docs for the accepted forms.
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let invalid = |reason: &str| ImageError::InvalidReference {
            reference: reference.to_owned(),
            reason: reason.to_owned(),
        };
        let unsupported = |what: String| ImageError::UnsupportedReference {
            reference: reference.to_owned(),
            what,
        };
        if reference.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(rest) = reference.strip_prefix("oci:") {
            if rest.is_empty() {
                return Err(invalid(
                    "oci: needs a directory, as in oci:DIR or oci:DIR:TAG",
                ));
            }
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') => (dir, tag),
                _ => (rest, DEFAULT_TAG),
            };
            if dir.is_empty() {
                return Err(invalid("oci: needs a directory before the tag"));
            }
            validate_tag_name(tag).map_err(|e| invalid(&format!("bad tag: {e}")))?;
            return Ok(ImageRef::Layout {
                dir: PathBuf::from(dir),
                tag: tag.to_owned(),
            });
        }
        if let Some((scheme, _)) = reference.split_once("://") {
            return Err(unsupported(format!("the {scheme}:// transport")));
        }
        if let Some((transport, _)) = reference.split_once(':')
            && UNSUPPORTED_TRANSPORTS.contains(&transport)
        {
            return Err(unsupported(format!("the {transport}: transport")));
        }
        if reference.contains('@') {
            return Err(unsupported(
                "a digest reference (NAME@sha256:...)".to_owned(),
            ));
        }
        let (repository, tag) = match reference.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (reference, DEFAULT_TAG),
        };
        let first = repository.split('/').next().unwrap_or_default();
        if repository.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            return Err(unsupported(format!("the registry {first}")));
        }
        check_repository(repository).map_err(invalid)?;
        check_tag(tag).map_err(invalid)?;
        Ok(ImageRef::Store {
            name: format!("{repository}:{tag}"),
        })
    }

    /// The tag inside the store or layout index.
    pub fn tag_name(&self) -> &str {
        match self {
            ImageRef::Store { name } => name,
            ImageRef::Layout { tag, .. } => tag,
        }
    }
}

/// Like docker: `/`-separated components of `[a-z0-9]` joined by `.`, `_`, `__` or `-`s.
fn check_repository(repository: &str) -> Result<(), &'static str> {
    if repository.is_empty() {
        return Err("the name before the tag is empty");
    }
    if repository.len() > 255 {
        return Err("the name is longer than 255 characters");
    }
    for component in repository.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
            return Err("each name component must start and end with a lowercase letter or digit");
        }
        if !bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err("names may only contain lowercase letters, digits, '.', '_', '-' and '/'");
        }
        if component.contains("..")
            || component.contains("___")
            || component.contains("._")
            || component.contains("_.")
        {
            return Err("names cannot repeat separators");
        }
    }
    Ok(())
}

/// Like docker: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), &'static str> {
    let bytes = tag.as_bytes();
    if bytes.is_empty() || bytes.len() > 128 {
        return Err("a tag has 1 to 128 characters");
    }
    if !(bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        || !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(
            "a tag may only contain letters, digits, '_', '.', '-' and cannot start with '.' or '-'",
        );
    }
    Ok(())
}

impl FromStr for ImageRef {
    type Err = ImageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Store { name } => f.write_str(name),
            ImageRef::Layout { dir, tag } => write!(f, "oci:{}:{tag}", dir.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dir: &str, tag: &str) -> ImageRef {
        ImageRef::Layout {
            dir: PathBuf::from(dir),
            tag: tag.to_owned(),
        }
    }

    fn store(name: &str) -> ImageRef {
        ImageRef::Store {
            name: name.to_owned(),
        }
    }

    #[test]
    fn parses_store_names() {
        for (input, name) in [
            ("myapp", "myapp:latest"),
            ("myapp:v1", "myapp:v1"),
            ("team/my-app_2:1.0-rc.1", "team/my-app_2:1.0-rc.1"),
            ("paketobuildpacks/run", "paketobuildpacks/run:latest"),
        ] {
            assert_eq!(ImageRef::parse(input).unwrap(), store(name), "{input}");
            assert_eq!(ImageRef::parse(input).unwrap().to_string(), name);
        }
    }

    #[test]
    fn parses_oci_layouts() {
        for (input, want) in [
            ("oci:out", layout("out", "latest")),
            ("oci:out:v2", layout("out", "v2")),
            ("oci:/tmp/a:b/c", layout("/tmp/a:b/c", "latest")),
            ("oci:/tmp/a:b/c:t", layout("/tmp/a:b/c", "t")),
            ("oci:./dir:myapp:latest", layout("./dir:myapp", "latest")),
        ] {
            assert_eq!(ImageRef::parse(input).unwrap(), want, "{input}");
        }
        assert_eq!(layout("out", "v2").to_string(), "oci:out:v2");
        let round = ImageRef::parse("oci:/x/y:z").unwrap();
        assert_eq!(ImageRef::parse(&round.to_string()).unwrap(), round);
    }

    #[test]
    fn rejects_bad_and_unsupported_references() {
        for input in [
            "docker://alpine",
            "docker-archive:x.tar",
            "https://r/x",
            "ghcr.io/org/app:v1",
            "localhost:5000/app",
            "app@sha256:abc",
        ] {
            match ImageRef::parse(input) {
                Err(e @ ImageError::UnsupportedReference { .. }) => {
                    assert!(e.to_string().contains("not supported yet"), "{e}");
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        for input in [
            "",
            "oci:",
            "oci::tag",
            "MyApp",
            "app:",
            "app:-x",
            "a//b",
            "-app",
            "app:a b",
            "oci:dir:bad tag",
        ] {
            assert!(
                matches!(
                    ImageRef::parse(input),
                    Err(ImageError::InvalidReference { .. })
                ),
                "{input:?} accepted"
            );
        }
    }
}
