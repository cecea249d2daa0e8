//! Before export: every process the image will have must be able to start. Its program
//! (the command's first word, or for `sh -c LINE` the line's first word too) must exist in
//! the image, resolved the way the launcher will: an absolute path as is, a relative one
//! against the process's working directory, a bare name on the launch `PATH` (each launch
//! layer's `bin/`, the `PATH` its env files name, then the run image's `PATH`).
//!
//! The image is seen as the union of three sources ([`ImageView`]): the buildpacks' launch
//! layers and the app dir (read on the host, at their image paths), and the run image
//! (the entry list of its layer tars, read only when a path is not found in the first two,
//! whiteouts applied). Symlinks are followed across the union (40 at most), never on the
//! host. A line with shell syntax kiln cannot read for sure (`$`, quotes, redirections) is
//! not second-guessed: only its plain first word is checked. `--no-verify-processes` skips
//! the whole check.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use super::build::BuildpackOutput;
use crate::image::{ImageStore, store::Image};

/// Symlinks followed while resolving one path.
const MAX_LINKS: usize = 40;

/// The most bytes of an env file read for `PATH`.
const MAX_ENV_FILE: u64 = 64 * 1024;

/// Words a shell runs itself (no program needed).
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "alias", "break", "case", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export", "false", "for", "if",
    "printf", "pwd", "read", "return", "set", "shift", "source", "test", "times", "trap", "true", "ulimit", "umask", "unset", "wait",
    "while", "until", "{", "(", "!",
];

/// What a path is in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File,
    Link(String),
}

/// The image's filesystem as export will write it.
pub struct ImageView<'a> {
    /// Host directories at image paths (launch layers, the app), longest path first.
    mounts: Vec<(String, PathBuf)>,
    /// Image paths whose contents kiln cannot see cheaply (layers kept from the previous
    /// image): anything under them counts as present.
    kept: Vec<String>,
    store: &'a ImageStore,
    run_image: &'a Image,
    listing: OnceLock<Result<HashMap<String, Entry>, String>>,
}

impl<'a> ImageView<'a> {
    /// The view of an image made of `run_image` and these host directories.
    pub fn new(store: &'a ImageStore, run_image: &'a Image, mut mounts: Vec<(String, PathBuf)>, kept: Vec<String>) -> Self {
        mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        ImageView { mounts, kept, store, run_image, listing: OnceLock::new() }
    }

    /// The entry at a normalized absolute image path, without following a final symlink.
    fn entry(&self, path: &str) -> Result<Option<Entry>, String> {
        for (image_path, host_dir) in &self.mounts {
            let relative =
                if path == image_path { Some("") } else { path.strip_prefix(image_path.as_str()).and_then(|rest| rest.strip_prefix('/')) };
            if let Some(relative) = relative {
                let host = if relative.is_empty() { host_dir.clone() } else { host_dir.join(relative) };
                return Ok(match std::fs::symlink_metadata(&host) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        std::fs::read_link(&host).ok().and_then(|t| t.to_str().map(|t| Entry::Link(t.to_string())))
                    }
                    Ok(meta) if meta.is_dir() => Some(Entry::Dir),
                    Ok(_) => Some(Entry::File),
                    Err(_) => None,
                });
            }
        }
        // The directories above a mount (`/layers`, `/layers/<buildpack>`) exist in the image.
        let above = |image_path: &String| image_path.starts_with(&format!("{}/", path.trim_end_matches('/')));
        if self.mounts.iter().map(|(p, _)| p).chain(&self.kept).any(above) {
            return Ok(Some(Entry::Dir));
        }
        let listing = self.listing.get_or_init(|| list_image(self.store, self.run_image));
        Ok(listing.as_ref().map_err(Clone::clone)?.get(path).cloned())
    }

    /// Whether `path` (absolute) names something in the image, following symlinks.
    pub fn exists(&self, path: &str) -> Result<bool, String> {
        let mut pending: Vec<String> = components(path);
        pending.reverse();
        let mut resolved: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(component) = pending.pop() {
            match component.as_str() {
                "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            let candidate = format!("/{}", resolved.iter().chain([&component]).cloned().collect::<Vec<_>>().join("/"));
            if self.kept.iter().any(|k| candidate == *k || candidate.starts_with(&format!("{k}/"))) {
                return Ok(true);
            }
            match self.entry(&candidate)? {
                None => return Ok(false),
                Some(Entry::Link(target)) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Ok(false);
                    }
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    let mut more = components(&target);
                    more.reverse();
                    pending.extend(more);
                }
                Some(Entry::File) if !pending.is_empty() => return Ok(false),
                Some(_) => resolved.push(component),
            }
        }
        Ok(true)
    }
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => name.to_str().map(str::to_string),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// The entries of every layer of `image`, in order, whiteouts applied.
fn list_image(store: &ImageStore, image: &Image) -> Result<HashMap<String, Entry>, String> {
    let mut entries: HashMap<String, Entry> = HashMap::new();
    for layer in &image.manifest.layers {
        let file = store.open_blob(&layer.digest).map_err(|e| format!("reading run image layer {}: {e}", layer.digest))?;
        let reader: Box<dyn Read> =
            if layer.media_type.contains("gzip") { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) };
        let mut archive = tar::Archive::new(reader);
        let listed = archive.entries().map_err(|e| format!("run image layer {}: {e}", layer.digest))?;
        for entry in listed {
            let entry = entry.map_err(|e| format!("run image layer {}: {e}", layer.digest))?;
            let Ok(path) = entry.path() else { continue };
            let path = format!("/{}", components(&path.to_string_lossy()).join("/"));
            let name = path.rsplit('/').next().unwrap_or_default().to_string();
            if let Some(hidden) = name.strip_prefix(".wh.") {
                let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or_default();
                if hidden != ".wh..opq" {
                    let gone = format!("{parent}/{hidden}");
                    entries.retain(|p, _| p != &gone && !p.starts_with(&format!("{gone}/")));
                }
                continue;
            }
            let kind = match entry.header().entry_type() {
                tar::EntryType::Directory => Entry::Dir,
                tar::EntryType::Symlink => match entry.link_name() {
                    Ok(Some(target)) => Entry::Link(target.to_string_lossy().into_owned()),
                    _ => continue,
                },
                _ => Entry::File,
            };
            entries.insert(path, kind);
        }
    }
    Ok(entries)
}

/// One process that cannot start: which, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unstartable {
    /// The buildpack that declared it.
    pub buildpack: String,
    /// What is wrong, naming the process and the program.
    pub message: String,
}

/// The directories a bare program name is looked up in at launch.
pub fn launch_path(outputs: &[BuildpackOutput], run_image_path: Option<&str>) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    // The launcher prepends each launch layer's bin/ in order: the last buildpack's first.
    for output in outputs.iter().rev() {
        for layer in output.layers.iter().rev().filter(|l| l.types.launch) {
            let image_path = kiln_cnb::layer::layer_path(&output.id, &layer.name);
            dirs.push(format!("{image_path}/bin"));
            for env_dir in ["env", "env.launch"] {
                for file in ["PATH", "PATH.prepend", "PATH.append", "PATH.override", "PATH.default"] {
                    dirs.extend(env_path_dirs(&layer.dir.join(env_dir).join(file)));
                }
            }
        }
    }
    dirs.extend(run_image_path.unwrap_or(kiln_cnb::env::DEFAULT_PATH).split(':').filter(|d| d.starts_with('/')).map(str::to_string));
    dirs
}

fn env_path_dirs(file: &Path) -> Vec<String> {
    let Ok(meta) = std::fs::symlink_metadata(file) else { return Vec::new() };
    if !meta.is_file() || meta.len() > MAX_ENV_FILE {
        return Vec::new();
    }
    std::fs::read_to_string(file)
        .map(|text| text.split(':').map(str::trim).filter(|d| d.starts_with('/')).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The first word of a shell line that names a program, when kiln can tell for sure.
fn shell_program(line: &str) -> Option<&str> {
    if line.contains("PATH=") {
        return None;
    }
    let mut words = line.split_whitespace();
    loop {
        let word = words.next()?;
        if word == "exec" || (word.contains('=') && !word.starts_with('=')) {
            continue;
        }
        if word.chars().any(|c| "$`'\"\\(){}<>|;&*?[]~#".contains(c)) || SHELL_WORDS.contains(&word) {
            return None;
        }
        return Some(word);
    }
}

/// Every process of `outputs` whose program is not in `view`.
pub fn unstartable(outputs: &[BuildpackOutput], view: &ImageView<'_>, path: &[String], app_dir: &str) -> Result<Vec<Unstartable>, String> {
    let mut found = Vec::new();
    for output in outputs {
        for process in &output.processes {
            let working_dir = process.working_dir.as_deref().unwrap_or(app_dir);
            let mut programs = vec![process.command[0].as_str()];
            let args: Vec<&str> = process.command.iter().skip(1).chain(&process.args).map(String::as_str).collect();
            if is_shell(&process.command[0])
                && args.first() == Some(&"-c")
                && let Some(word) = args.get(1).and_then(|line| shell_program(line))
            {
                programs.push(word);
            }
            for program in programs {
                if let Some(why) = missing(program, view, path, working_dir)? {
                    found.push(Unstartable {
                        buildpack: process.buildpack.to_string(),
                        message: format!("process {} cannot start: {why}", process.process_type),
                    });
                    break;
                }
            }
        }
    }
    Ok(found)
}

fn is_shell(program: &str) -> bool {
    matches!(program.rsplit('/').next(), Some("sh" | "bash" | "dash" | "ash"))
}

/// Why `program` is not in the image, or `None` when it is.
fn missing(program: &str, view: &ImageView<'_>, path: &[String], working_dir: &str) -> Result<Option<String>, String> {
    if program.starts_with('/') {
        return Ok((!view.exists(program)?).then(|| format!("its program {program} is not in the image")));
    }
    if program.contains('/') {
        let full = format!("{}/{program}", working_dir.trim_end_matches('/'));
        return Ok((!view.exists(&full)?).then(|| format!("its program {program} is not in the image (looked for {full})")));
    }
    for dir in path {
        if view.exists(&format!("{}/{program}", dir.trim_end_matches('/')))? {
            return Ok(None);
        }
    }
    Ok(Some(format!("its program `{program}` is not on the launch PATH ({})", path.join(":"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_of_a_shell_line_is_read_only_when_plain() {
        assert_eq!(shell_program("gunicorn app:app --bind 0.0.0.0:$PORT"), Some("gunicorn"));
        assert_eq!(shell_program("exec FOO=1 node server.js"), Some("node"));
        assert_eq!(shell_program("cd web && ./run"), None);
        assert_eq!(shell_program("$HOME/bin/x"), None);
        assert_eq!(shell_program("PATH=/x:$PATH run"), None);
        assert_eq!(shell_program("\"quoted prog\" arg"), None);
        assert_eq!(shell_program(""), None);
    }
}
