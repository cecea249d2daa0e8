//! Orders and groups: which buildpacks a build tries, in which combinations.
//!
//! A buildpack listed twice in one group runs once, at its first place: the CNB lifecycle's
//! detector skips an id it has already seen in the group (`hasIDForKind` in
//! `phase/detector.go`), and two runs would share one layers dir. [`Group::without_repeats`]
//! does that, and detection reports what it dropped.

use kiln_cnb::BuildpackId;

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

impl Group {
    /// The group with each buildpack at its first place only (with that entry's `optional`),
    /// and the ids of the later entries dropped, in order.
    pub fn without_repeats(&self) -> (Group, Vec<BuildpackId>) {
        let mut kept: Vec<GroupEntry> = Vec::with_capacity(self.entries.len());
        let mut repeats = Vec::new();
        for entry in &self.entries {
            if kept.iter().any(|k| k.id == entry.id) {
                repeats.push(entry.id.clone());
            } else {
                kept.push(entry.clone());
            }
        }
        (Group { entries: kept }, repeats)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, optional: bool) -> GroupEntry {
        GroupEntry { id: BuildpackId::parse(id).unwrap(), optional }
    }

    #[test]
    fn a_repeated_buildpack_keeps_its_first_place_only() {
        let group = Group { entries: vec![entry("a", false), entry("b", true), entry("a", true), entry("c", false), entry("b", false)] };
        let (kept, repeats) = group.without_repeats();
        assert_eq!(kept.entries, [entry("a", false), entry("b", true), entry("c", false)]);
        assert_eq!(repeats, [BuildpackId::parse("a").unwrap(), BuildpackId::parse("b").unwrap()]);
    }

    #[test]
    fn a_group_without_repeats_is_unchanged() {
        let group = Group { entries: vec![entry("a", false), entry("b", true)] };
        assert_eq!(group.without_repeats(), (group.clone(), Vec::new()));
    }
}
