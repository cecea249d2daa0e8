//! Build plan resolution ([buildpack spec, Phase #1: Detection](https://github.com/buildpacks/spec/blob/main/buildpack.md#phase-1-detection)).
//!
//! Each passing buildpack offers one or more pairings of provides and requires (its top
//! level first, then its `or` alternatives). A *trial* picks one pairing per buildpack,
//! left to right, depth first; the first trial that resolves wins. In a trial, a
//! buildpack that requires something no earlier-or-same buildpack provides, or provides
//! something no same-or-later buildpack requires, fails the trial if it is required, or
//! is dropped (with its provides and requires) if optional, and the trial is re-checked.

use std::collections::BTreeMap;

use crate::buildpack::BuildpackId;

/// One `require` with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Require {
    /// Dependency name.
    pub name: String,
    /// Metadata table.
    pub metadata: toml::Table,
}

/// One pairing of provides and requires.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanOption {
    /// Names provided.
    pub provides: Vec<String>,
    /// Requires.
    pub requires: Vec<Require>,
}

/// A buildpack that passed detect, with its pairings in trial order.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The buildpack.
    pub id: BuildpackId,
    /// Whether it may be dropped.
    pub optional: bool,
    /// Its pairings: the top level first, then `or` alternatives.
    pub options: Vec<PlanOption>,
}

/// The entries one buildpack receives in build.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanEntry {
    /// Dependency name.
    pub name: String,
    /// Metadata of one require.
    pub metadata: toml::Table,
}

/// The resolved group: candidate indexes in order, each with its plan entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// `(index into the candidates, plan entries)` for each buildpack that stays.
    pub members: Vec<(usize, Vec<PlanEntry>)>,
}

/// Upper bound on trials, so a buildpack returning many alternatives cannot stall detection.
pub const MAX_TRIALS: usize = 10_000;

/// Resolve the plan; `None` when no trial succeeds.
pub fn resolve(candidates: &[Candidate]) -> Option<Resolved> {
    let mut choice = vec![0usize; candidates.len()];
    let mut trials = 0usize;
    try_from(candidates, 0, &mut choice, &mut trials)
}

fn try_from(candidates: &[Candidate], at: usize, choice: &mut Vec<usize>, trials: &mut usize) -> Option<Resolved> {
    if at == candidates.len() {
        *trials += 1;
        return run_trial(candidates, choice);
    }
    let options = candidates[at].options.len().max(1);
    for option in 0..options {
        if *trials >= MAX_TRIALS {
            return None;
        }
        choice[at] = option;
        if let Some(resolved) = try_from(candidates, at + 1, choice, trials) {
            return Some(resolved);
        }
    }
    None
}

/// Where each dependency name stands after walking a trial in order.
#[derive(Default)]
struct Dep {
    providers: Vec<usize>,
    /// Providers not (yet) followed by a require.
    extra_provides: Vec<usize>,
    /// Requirers that came before any provider.
    early_requires: Vec<usize>,
    requires: Vec<(usize, Require)>,
}

fn dep_map(candidates: &[Candidate], choice: &[usize], members: &[usize]) -> BTreeMap<String, Dep> {
    let empty = PlanOption::default();
    let mut deps: BTreeMap<String, Dep> = BTreeMap::new();
    for &i in members {
        let option = candidates[i].options.get(choice[i]).unwrap_or(&empty);
        for name in &option.provides {
            let dep = deps.entry(name.clone()).or_default();
            if !dep.extra_provides.contains(&i) {
                dep.extra_provides.push(i);
            }
        }
        for require in &option.requires {
            let dep = deps.entry(require.name.clone()).or_default();
            let extra = std::mem::take(&mut dep.extra_provides);
            dep.providers.extend(extra);
            if dep.providers.is_empty() {
                dep.early_requires.push(i);
            } else {
                dep.requires.push((i, require.clone()));
            }
        }
    }
    deps
}

fn run_trial(candidates: &[Candidate], choice: &[usize]) -> Option<Resolved> {
    let mut members: Vec<usize> = (0..candidates.len()).collect();
    loop {
        let deps = dep_map(candidates, choice, &members);
        let unmet: Vec<usize> = deps.values().flat_map(|d| d.early_requires.iter().chain(d.extra_provides.iter()).copied()).collect();
        if unmet.is_empty() {
            if members.is_empty() {
                return None;
            }
            let members = members
                .iter()
                .map(|&i| {
                    let entries = deps
                        .iter()
                        .filter(|(_, d)| d.providers.contains(&i))
                        .flat_map(|(name, d)| {
                            d.requires.iter().map(|(_, r)| PlanEntry { name: name.clone(), metadata: r.metadata.clone() })
                        })
                        .collect();
                    (i, entries)
                })
                .collect();
            return Some(Resolved { members });
        }
        // As the lifecycle does: a buildpack counts as optional only in its last
        // alternative, so its earlier `or` alternatives are tried as if it were required.
        let droppable = |i: usize| candidates[i].optional && choice[i] + 1 >= candidates[i].options.len();
        if unmet.iter().any(|&i| !droppable(i)) {
            return None;
        }
        members.retain(|i| !unmet.contains(i));
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod plan_tests;
