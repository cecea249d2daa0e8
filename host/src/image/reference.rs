//! Image references as the CLI takes them.
//!
//! - `NAME` or `NAME:TAG` (e.g. `myapp`, `myapp:v1`, `team/app:v1`): an image in kiln's local
//!   store; a missing tag means `latest`, so `myapp` is `myapp:latest`.
//! - `HOST/REPO[:TAG]` or `HOST/REPO@sha256:...`, where the first path segment `HOST` is a
//!   registry host: it contains a `.` or a `:` (a port) or is `localhost`
//!   (`ghcr.io/org/app:v1`, `127.0.0.1:5000/app`, `localhost/app@sha256:...`). Parsed with
//!   `oci-client`'s docker-style [`oci_client::Reference`]. `docker://REF` is a registry
//!   reference too, with docker's defaults (`docker://alpine` is `docker.io/library/alpine:latest`).
//!   Without `docker://`, a name whose first segment is not a host (`team/app`, `myapp`)
//!   always means the local store: kiln never guesses docker.io for a bare name.
//! - `oci:DIR` or `oci:DIR:TAG`: an OCI image layout directory, tag default `latest`. The tag
//!   is what follows the LAST `:`, and only when that text has no `/` (so `oci:/a:b/c` is the
//!   directory `/a:b/c`).
//! - `docker-archive:FILE` or `docker-archive:FILE:NAME[:TAG]` (output only): a tarball that
//!   `docker load`, `podman load` and `skopeo copy docker-archive:` read; `NAME:TAG` is the
//!   name recorded in it. The path is what precedes the FIRST `:` after the prefix, as skopeo
//!   parses it.
//!
//! Other transports (`docker-daemon:`, `containers-storage:`, ...) are rejected with an error
//! that says they are not supported.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::ImageError;
use super::store::{ImageStore, validate_tag_name};

/// The tag used when a reference has none.
pub const DEFAULT_TAG: &str = "latest";

/// Transports of `skopeo`/containers-image that kiln recognizes but does not support yet.
const UNSUPPORTED_TRANSPORTS: &[&str] = &["docker-daemon", "oci-archive", "containers-storage", "dir", "registry", "http", "https"];

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
    /// An image in an OCI registry.
    Registry(RegistryRef),
    /// A docker-archive tarball (output only).
    DockerArchive {
        /// The tarball.
        path: PathBuf,
        /// The `repo:tag` recorded in its `manifest.json`, if given.
        name: Option<String>,
    },
}

/// An image in a registry: `registry/repository` with a tag or a digest (or both).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl RegistryRef {
    /// Parses a docker-style reference with `oci-client` (`docker.io` defaults apply).
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let parsed = oci_client::Reference::try_from(reference)
            .map_err(|e| ImageError::InvalidReference { reference: reference.to_owned(), reason: e.to_string() })?;
        Ok(Self::from_oci(&parsed))
    }

    fn from_oci(parsed: &oci_client::Reference) -> Self {
        Self {
            registry: parsed.registry().to_owned(),
            repository: parsed.repository().to_owned(),
            tag: parsed.tag().map(str::to_owned),
            digest: parsed.digest().map(str::to_owned),
        }
    }

    /// The registry host (with port), e.g. `ghcr.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository inside the registry, e.g. `org/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any (`latest` when neither tag nor digest was given).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:...`), if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository at `digest` (any tag dropped).
    pub fn with_digest(&self, digest: &str) -> Self {
        Self { tag: None, digest: Some(digest.to_owned()), ..self.clone() }
    }

    /// The same repository with `tag` (any digest dropped).
    pub fn with_tag(&self, tag: &str) -> Self {
        Self { tag: Some(tag.to_owned()), digest: None, ..self.clone() }
    }

    /// The same registry and tag or digest in another repository.
    pub fn with_repository(&self, repository: &str) -> Self {
        Self { repository: repository.to_owned(), ..self.clone() }
    }

    /// `registry/repository`, no tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The reference as `oci-client` takes it.
    pub fn to_oci(&self) -> oci_client::Reference {
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => {
                oci_client::Reference::with_tag_and_digest(self.registry.clone(), self.repository.clone(), tag.clone(), digest.clone())
            }
            (None, Some(digest)) => oci_client::Reference::with_digest(self.registry.clone(), self.repository.clone(), digest.clone()),
            (tag, None) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone().unwrap_or_else(|| DEFAULT_TAG.to_owned()),
            ),
        }
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// Whether the first path segment of `reference` names a registry host.
fn has_registry_host(reference: &str) -> bool {
    match reference.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

impl ImageRef {
    /// Parses a reference; see the module docs for the accepted forms.
    pub fn parse(reference: &str) -> Result<Self, ImageError> {
        let invalid = |reason: &str| ImageError::InvalidReference { reference: reference.to_owned(), reason: reason.to_owned() };
        let unsupported = |what: String| ImageError::UnsupportedReference { reference: reference.to_owned(), what };
        if reference.is_empty() {
            return Err(invalid("it is empty"));
        }
        if let Some(rest) = reference.strip_prefix("oci:") {
            if rest.is_empty() {
                return Err(invalid("oci: needs a directory, as in oci:DIR or oci:DIR:TAG"));
            }
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((dir, tag)) if !tag.contains('/') => (dir, tag),
                _ => (rest, DEFAULT_TAG),
            };
            if dir.is_empty() {
                return Err(invalid("oci: needs a directory before the tag"));
            }
            validate_tag_name(tag).map_err(|e| invalid(&format!("bad tag: {e}")))?;
            return Ok(ImageRef::Layout { dir: PathBuf::from(dir), tag: tag.to_owned() });
        }
        if let Some(rest) = reference.strip_prefix("docker-archive:") {
            let (path, name) = match rest.split_once(':') {
                Some((path, name)) => (path, Some(name)),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(invalid("docker-archive: needs a file, as in docker-archive:FILE[:NAME:TAG]"));
            }
            let name = match name {
                Some(name) => match Self::parse(name)? {
                    ImageRef::Store { name } => Some(name),
                    ImageRef::Registry(r) => Some(r.to_string()),
                    _ => return Err(invalid("the name in docker-archive:FILE:NAME:TAG must be NAME[:TAG]")),
                },
                None => None,
            };
            return Ok(ImageRef::DockerArchive { path: PathBuf::from(path), name });
        }
        if let Some(rest) = reference.strip_prefix("docker://") {
            return Ok(ImageRef::Registry(RegistryRef::parse(rest)?));
        }
        if let Some((scheme, _)) = reference.split_once("://") {
            return Err(unsupported(format!("the {scheme}:// transport")));
        }
        if has_registry_host(reference) {
            return Ok(ImageRef::Registry(RegistryRef::parse(reference)?));
        }
        if let Some((transport, _)) = reference.split_once(':')
            && UNSUPPORTED_TRANSPORTS.contains(&transport)
        {
            return Err(unsupported(format!("the {transport}: transport")));
        }
        if reference.contains('@') {
            return Err(unsupported("a digest reference (NAME@sha256:...)".to_owned()));
        }
        let (repository, tag) = match reference.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (reference, DEFAULT_TAG),
        };
        check_repository(repository).map_err(invalid)?;
        check_tag(tag).map_err(invalid)?;
        Ok(ImageRef::Store { name: format!("{repository}:{tag}") })
    }

    /// The tag inside the store or layout index. A registry reference is kept in the local
    /// store under its full name (`127.0.0.1:5000/app:latest`); a docker-archive under its
    /// recorded name, or `docker-archive/<file stem>:latest`.
    pub fn tag_name(&self) -> String {
        match self {
            ImageRef::Store { name } => name.clone(),
            ImageRef::Layout { tag, .. } => tag.clone(),
            ImageRef::Registry(r) => r.to_string(),
            ImageRef::DockerArchive { path, name } => name.clone().unwrap_or_else(|| {
                let stem: String = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_lowercase())
                    .unwrap_or_default()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let stem = stem.trim_matches('-');
                format!("docker-archive/{}:latest", if stem.is_empty() { "image" } else { stem })
            }),
        }
    }

    /// Whether this is a registry reference.
    pub fn is_registry(&self) -> bool {
        matches!(self, ImageRef::Registry(_))
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
        if !bytes.iter().all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-')) {
            return Err("names may only contain lowercase letters, digits, '.', '_', '-' and '/'");
        }
        if component.contains("..") || component.contains("___") || component.contains("._") || component.contains("_.") {
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
        || !bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err("a tag may only contain letters, digits, '_', '.', '-' and cannot start with '.' or '-'");
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
            ImageRef::Registry(r) => write!(f, "{r}"),
            ImageRef::DockerArchive { path, name } => {
                write!(f, "docker-archive:{}", path.display())?;
                match name {
                    Some(name) => write!(f, ":{name}"),
                    None => Ok(()),
                }
            }
        }
    }
}

/// Open the store an image reference lives in, and the tag within it: an `oci:DIR` layout
/// is its own store; local names, registry and docker-archive references are in the local
/// store at `local_store` (a registry or docker-archive image is built there under its full
/// name, `127.0.0.1:5000/app:latest`, then pushed or archived from there).
pub fn open_ref(reference: &ImageRef, local_store: &Path) -> Result<(ImageStore, String), ImageError> {
    match reference {
        ImageRef::Layout { dir, .. } => Ok((ImageStore::open(dir)?, reference.tag_name())),
        ImageRef::Store { .. } | ImageRef::Registry(_) | ImageRef::DockerArchive { .. } => {
            Ok((ImageStore::open(local_store)?, reference.tag_name()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(dir: &str, tag: &str) -> ImageRef {
        ImageRef::Layout { dir: PathBuf::from(dir), tag: tag.to_owned() }
    }

    fn store(name: &str) -> ImageRef {
        ImageRef::Store { name: name.to_owned() }
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
    fn parses_registry_references() {
        let d = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        for (input, registry, repository, tag, digest, shown) in [
            ("ghcr.io/org/app:v1", "ghcr.io", "org/app", Some("v1"), None, "ghcr.io/org/app:v1"),
            ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", Some("latest"), None, "127.0.0.1:5000/app:latest"),
            ("localhost/a/b", "localhost", "a/b", Some("latest"), None, "localhost/a/b:latest"),
            ("docker://alpine", "docker.io", "library/alpine", Some("latest"), None, "docker.io/library/alpine:latest"),
        ] {
            let ImageRef::Registry(r) = ImageRef::parse(input).unwrap() else { panic!("{input}") };
            assert_eq!((r.registry(), r.repository(), r.tag(), r.digest()), (registry, repository, tag, digest), "{input}");
            assert_eq!(r.to_string(), shown);
            assert_eq!(ImageRef::parse(shown).unwrap(), ImageRef::Registry(r.clone()));
            assert_eq!(r.to_oci().whole(), shown);
        }
        let ImageRef::Registry(r) = ImageRef::parse(&format!("127.0.0.1:5000/app@{d}")).unwrap() else { panic!() };
        assert_eq!((r.tag(), r.digest()), (None, Some(d)));
        assert_eq!(r.with_tag("v2").to_string(), "127.0.0.1:5000/app:v2");
        assert_eq!(ImageRef::Registry(r.clone()).tag_name(), format!("127.0.0.1:5000/app@{d}"));
        assert!(ImageRef::parse("ghcr.io/Org/App").is_err(), "uppercase repository");
    }

    #[test]
    fn parses_docker_archives() {
        assert_eq!(
            ImageRef::parse("docker-archive:/tmp/app.tar").unwrap(),
            ImageRef::DockerArchive { path: "/tmp/app.tar".into(), name: None }
        );
        let with_name = ImageRef::parse("docker-archive:out.tar:myapp:v1").unwrap();
        assert_eq!(with_name, ImageRef::DockerArchive { path: "out.tar".into(), name: Some("myapp:v1".into()) });
        assert_eq!(with_name.tag_name(), "myapp:v1");
        assert_eq!(with_name.to_string(), "docker-archive:out.tar:myapp:v1");
        assert_eq!(ImageRef::parse("docker-archive:./My App.tar").unwrap().tag_name(), "docker-archive/my-app:latest");
        assert!(ImageRef::parse("docker-archive:").is_err());
    }

    #[test]
    fn rejects_bad_and_unsupported_references() {
        for input in ["docker-daemon:x:latest", "https://r/x", "app@sha256:abc"] {
            match ImageRef::parse(input) {
                Err(e @ ImageError::UnsupportedReference { .. }) => {
                    assert!(e.to_string().contains("not supported"), "{e}");
                }
                other => panic!("{input}: {other:?}"),
            }
        }
        for input in ["", "oci:", "oci::tag", "MyApp", "app:", "app:-x", "a//b", "-app", "app:a b", "oci:dir:bad tag"] {
            assert!(matches!(ImageRef::parse(input), Err(ImageError::InvalidReference { .. })), "{input:?} accepted");
        }
    }
}
