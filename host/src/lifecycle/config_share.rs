//! How much of the image config one buildpack's output takes, and the bound on it.
//!
//! Everything a buildpack returns that is not a file ends up in the image config: its
//! labels, its layers' metadata (in `io.buildpacks.lifecycle.metadata`), its processes (in
//! `io.buildpacks.build.metadata`). containers/image (skopeo, podman, CRI-O) refuses a
//! config over [`CONFIG_LIMIT`], so an image kiln writes must stay under it: each buildpack
//! may use [`MAX_SHARE`] of it, checked when its build returns, with an error that names the
//! largest item; and export checks the whole config ([`check_total`]).

use crate::layers::BuiltLayer;

/// The largest image config containers/image accepts.
pub const CONFIG_LIMIT: usize = 4 << 20;

/// The most of the image config one buildpack's output may take.
pub const MAX_SHARE: usize = 1 << 20;

/// One item of a buildpack's output and the config bytes it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is, for messages: `label "k"`, `layer metadata of L`, `process web`.
    pub what: String,
    /// Its bytes (JSON as written, near enough: strings are counted unescaped).
    pub bytes: usize,
}

/// The items of one buildpack's output.
pub fn items<'a>(
    labels: &'a [(String, String)],
    layers: impl IntoIterator<Item = &'a BuiltLayer>,
    processes: impl IntoIterator<Item = (&'a str, usize)>,
) -> Vec<Item> {
    let mut items: Vec<Item> = labels.iter().map(|(k, v)| Item { what: format!("label {k:?}"), bytes: k.len() + v.len() }).collect();
    for layer in layers {
        let bytes = serde_json::to_string(&layer.metadata).map_or(usize::MAX, |s| s.len());
        items.push(Item { what: format!("the metadata of layer {}", layer.name), bytes });
    }
    items.extend(processes.into_iter().map(|(name, bytes)| Item { what: format!("process {name}"), bytes }));
    items
}

/// `Err(message)` when `items` take more than [`MAX_SHARE`].
pub fn check_share(items: &[Item]) -> Result<(), String> {
    let total = items.iter().fold(0usize, |sum, i| sum.saturating_add(i.bytes));
    if total <= MAX_SHARE {
        return Ok(());
    }
    let largest = items.iter().max_by_key(|i| i.bytes).expect("a total over the limit has items");
    Err(format!(
        "its labels, layer metadata and processes would take {} KiB of the image config, over the {} KiB one buildpack \
         may use (image configs over {} MiB are refused by skopeo, podman and CRI-O); the largest item is {} ({} KiB)",
        total >> 10,
        MAX_SHARE >> 10,
        CONFIG_LIMIT >> 20,
        largest.what,
        largest.bytes >> 10
    ))
}

/// `Err(message)` when the whole config (`config_bytes`) is over [`CONFIG_LIMIT`].
pub fn check_total(config_bytes: usize) -> Result<(), String> {
    if config_bytes <= CONFIG_LIMIT {
        return Ok(());
    }
    Err(format!(
        "the image config would be {} KiB, over the {} MiB that skopeo, podman and CRI-O accept: the buildpacks of the group \
         return too many labels, layer metadata or processes together",
        config_bytes >> 10,
        CONFIG_LIMIT >> 20
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_item_is_named_past_the_share() {
        let small = vec![Item { what: "label \"a\"".into(), bytes: 10 }];
        assert!(check_share(&small).is_ok());
        let big =
            vec![Item { what: "label \"a\"".into(), bytes: 600 << 10 }, Item { what: "the metadata of layer x".into(), bytes: 700 << 10 }];
        let message = check_share(&big).unwrap_err();
        assert!(message.contains("1300 KiB") && message.contains("the metadata of layer x (700 KiB)"), "{message}");
        assert!(check_share(&[Item { what: "x".into(), bytes: usize::MAX }, Item { what: "y".into(), bytes: 5 }]).is_err());
        assert!(check_total(CONFIG_LIMIT).is_ok() && check_total(CONFIG_LIMIT + 1).is_err());
    }
}
