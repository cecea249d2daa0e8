//! Orders and groups: which buildpacks a build tries, in which combinations.

use super::names::BuildpackId;

/// One buildpack in a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Which buildpack.
    pub id: BuildpackId,
    /// Whether the group may pass without it.
    pub optional: bool,
}

/// A group: buildpacks that run together, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// The entries, in build order.
    pub entries: Vec<GroupEntry>,
}

/// An order: groups tried in turn; the first that passes detection is used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Order {
    /// The groups.
    pub groups: Vec<Group>,
}

impl Order {
    /// One group of the given buildpacks, all required (what `--buildpack` flags make).
    pub fn single_group(ids: impl IntoIterator<Item = BuildpackId>) -> Self {
        let entries = ids.into_iter().map(|id| GroupEntry { id, optional: false }).collect();
        Order { groups: vec![Group { entries }] }
    }
}
