//! Detect: try each group of the order and pick the first whose buildpacks pass and
//! whose build plan resolves ([buildpack spec, Phase #1](https://github.com/buildpacks/spec/blob/main/buildpack.md#phase-1-detection)).
//!
//! Each buildpack sees the app read-only at `/workspace` and the platform dir read-only
//! at `/platform`; nothing else.

use super::events::{Event, Reporter};
use super::plan::{self, Candidate, PlanEntry, PlanOption, Require};
use super::prepare::ReadyBuildpack;
use super::workspace::{APP_GUEST_PATH, PLATFORM_GUEST_PATH, Workspace};
use super::{LifecycleError, Target};
use std::collections::HashMap;

use crate::buildpack::{BuildpackId, Group, Order};
use crate::sandbox::bindings::types as wit;
use crate::sandbox::{Grants, Limits};

/// A buildpack of the chosen group with its plan entries.
#[derive(Clone)]
pub struct GroupMember {
    /// The buildpack.
    pub buildpack: ReadyBuildpack,
    /// Its resolved plan entries.
    pub plan: Vec<PlanEntry>,
}

/// `Some(pairings)` when a buildpack passed detect, `None` when it does not apply.
type DetectResult = Result<Option<Vec<PlanOption>>, LifecycleError>;

/// What one buildpack's detect said.
enum Outcome {
    Passed(Box<ReadyBuildpack>, Vec<PlanOption>),
    Failed,
    Errored(String),
}

/// The inputs of detection.
pub struct Detector<'a> {
    /// Loaded buildpacks, by id.
    pub buildpacks: &'a [ReadyBuildpack],
    /// The order to try.
    pub order: &'a Order,
    /// The build's directories.
    pub workspace: &'a Workspace,
    /// The platform env.
    pub platform_env: &'a [(String, String)],
    /// The target.
    pub target: &'a Target,
    /// Limits per call.
    pub limits: &'a Limits,
    /// Progress.
    pub reporter: &'a Reporter,
}

impl Detector<'_> {
    /// Run detection; the first passing group, or an error listing why each group failed.
    pub fn detect(&self) -> Result<Vec<GroupMember>, LifecycleError> {
        let mut failures: Vec<String> = Vec::new();
        let mut errored = false;
        // Detect is a pure function of the app: each buildpack runs once, even if several
        // groups name it, and a group's buildpacks run concurrently.
        let mut outcomes: HashMap<BuildpackId, Outcome> = HashMap::new();
        for (index, group) in self.order.groups.iter().enumerate() {
            let group = self.without_repeats(index, group);
            let mut pending: Vec<&ReadyBuildpack> = Vec::new();
            for entry in &group.entries {
                let buildpack = self
                    .buildpacks
                    .iter()
                    .find(|b| b.id() == &entry.id)
                    .ok_or_else(|| LifecycleError::UnknownBuildpack { id: entry.id.to_string() })?;
                if !outcomes.contains_key(&entry.id) && !pending.iter().any(|p| p.id() == &entry.id) {
                    pending.push(buildpack);
                }
            }
            for (id, outcome) in self.detect_concurrently(&pending)? {
                outcomes.insert(id, outcome);
            }
            let mut candidates: Vec<Candidate> = Vec::new();
            let mut ready: Vec<ReadyBuildpack> = Vec::new();
            let mut group_failed = false;
            for entry in &group.entries {
                match &outcomes[&entry.id] {
                    Outcome::Passed(buildpack, options) => {
                        candidates.push(Candidate { id: entry.id.clone(), optional: entry.optional, options: options.clone() });
                        ready.push((**buildpack).clone());
                    }
                    Outcome::Failed => {
                        if !entry.optional {
                            failures.push(format!("group {}: required buildpack {} did not pass", index + 1, entry.id));
                            group_failed = true;
                        }
                    }
                    Outcome::Errored(message) => {
                        errored = true;
                        failures.push(format!("group {}: {message}", index + 1));
                        group_failed |= !entry.optional;
                    }
                }
            }
            if group_failed {
                continue;
            }
            if candidates.is_empty() {
                failures.push(format!("group {}: no buildpack passed", index + 1));
                continue;
            }
            match plan::resolve(&candidates) {
                Some(resolved) => {
                    let members: Vec<GroupMember> =
                        resolved.members.into_iter().map(|(i, plan)| GroupMember { buildpack: ready[i].clone(), plan }).collect();
                    (self.reporter)(&Event::GroupSelected { buildpacks: members.iter().map(|m| m.buildpack.id().to_string()).collect() });
                    return Ok(members);
                }
                None => failures.push(format!(
                    "group {}: the build plan does not resolve (a require without an earlier provide, or a provide nobody requires)",
                    index + 1
                )),
            }
        }
        Err(LifecycleError::NoGroupPassed { details: failures, errored, recognized: super::ecosystem::recognize(&self.workspace.app()) })
    }

    /// The group with each buildpack once, at its first place (as the lifecycle does); each
    /// dropped repeat is said in the -v output.
    fn without_repeats(&self, index: usize, group: &Group) -> Group {
        let (group, repeats) = group.without_repeats();
        for id in repeats {
            tracing::info!(buildpack = %id, group = index + 1, "buildpack listed twice in one group; it runs once, at its first place");
            (self.reporter)(&Event::Log {
                id: id.to_string(),
                level: "debug".into(),
                line: format!("listed again in group {}: skipped, it runs once, at its first place", index + 1),
            });
        }
        group
    }

    /// Run detect of several buildpacks at once, one thread each. A buildpack that hits a
    /// limit stops detection (that is the platform's problem to see, not a "does not apply").
    fn detect_concurrently(&self, pending: &[&ReadyBuildpack]) -> Result<Vec<(BuildpackId, Outcome)>, LifecycleError> {
        let results: Vec<(&ReadyBuildpack, DetectResult)> = std::thread::scope(|scope| {
            let handles: Vec<_> = pending.iter().map(|buildpack| (*buildpack, scope.spawn(move || self.detect_one(buildpack)))).collect();
            handles
                .into_iter()
                .map(|(buildpack, handle)| {
                    let result = handle
                        .join()
                        .unwrap_or_else(|_| Err(LifecycleError::HostPanic { during: format!("during detect of {}", buildpack.id()) }));
                    (buildpack, result)
                })
                .collect()
        });
        let mut outcomes = Vec::new();
        for (buildpack, result) in results {
            let outcome = match result {
                Ok(Some(options)) => {
                    self.report(buildpack, true, None);
                    Outcome::Passed(Box::new(buildpack.clone()), options)
                }
                Ok(None) => Outcome::Failed,
                Err(error @ LifecycleError::Sandbox(crate::sandbox::SandboxError::LimitExceeded { .. })) => return Err(error),
                // A host panic is kiln's bug: it stops the build instead of counting as the
                // buildpack's detect error.
                Err(error @ LifecycleError::HostPanic { .. }) => return Err(error),
                Err(error) => {
                    self.report(buildpack, false, Some(error.to_string()));
                    Outcome::Errored(error.to_string())
                }
            };
            outcomes.push((buildpack.id().clone(), outcome));
        }
        Ok(outcomes)
    }

    fn report(&self, buildpack: &ReadyBuildpack, passed: bool, reason: Option<String>) {
        (self.reporter)(&Event::Detected { id: buildpack.id().to_string(), passed, reason });
    }

    /// `Some(options)` if it passed, `None` if it failed detection.
    fn detect_one(&self, buildpack: &ReadyBuildpack) -> Result<Option<Vec<PlanOption>>, LifecycleError> {
        let id = buildpack.id();
        if !buildpack.descriptor.supports(&self.target.os, &self.target.arch) {
            self.report(buildpack, false, Some(format!("does not support {}/{}", self.target.os, self.target.arch)));
            return Ok(None);
        }
        let env: &[(String, String)] = if buildpack.descriptor.buildpack.clear_env { &[] } else { self.platform_env };
        let scratch = self.workspace.scratch(id, "detect")?;
        let mut grants = Grants::none()
            .read_only(&self.workspace.app(), APP_GUEST_PATH)
            .read_only(&self.workspace.platform(), PLATFORM_GUEST_PATH)
            .read_write(&scratch, "/tmp");
        grants = super::cnb_env(grants, self.target, env).env("CNB_BUILDPACK_ID", id.as_str());
        let context = wit::DetectContext {
            app_dir: APP_GUEST_PATH.into(),
            platform_dir: PLATFORM_GUEST_PATH.into(),
            platform_env: super::wit_env(env),
            target: self.target.to_wit(),
        };
        let result = buildpack.component.detect(id.as_str(), grants, self.limits, self.log_sink(id.as_str()), &context)?;
        match result {
            wit::DetectResult::Fail(reason) => {
                let reason = crate::sandbox::text::guest_text(&reason, 1024);
                self.report(buildpack, false, Some(reason));
                Ok(None)
            }
            wit::DetectResult::Pass(plan) => {
                let mut options = vec![convert_option(id.as_str(), plan.provides, plan.requires)?];
                for alternative in plan.alternatives {
                    options.push(convert_option(id.as_str(), alternative.provides, alternative.requires)?);
                }
                Ok(Some(options))
            }
        }
    }

    fn log_sink(&self, id: &str) -> crate::sandbox::LogSink {
        super::log_sink(self.reporter.clone(), id)
    }
}

/// Largest number of provides/requires in one pairing, and of pairings per buildpack.
const MAX_PLAN_ITEMS: usize = 256;

fn convert_option(id: &str, provides: Vec<wit::PlanProvide>, requires: Vec<wit::PlanRequire>) -> Result<PlanOption, LifecycleError> {
    let invalid = |message: String| LifecycleError::InvalidBuildOutput { buildpack: id.into(), message };
    if provides.len() > MAX_PLAN_ITEMS || requires.len() > MAX_PLAN_ITEMS {
        return Err(invalid(format!("its build plan has more than {MAX_PLAN_ITEMS} provides or requires")));
    }
    let check_name = |name: &str| {
        if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
            Err(invalid(format!("build plan name {name:?} must be 1 to 255 printable characters")))
        } else {
            Ok(())
        }
    };
    let mut option = PlanOption::default();
    for p in provides {
        check_name(&p.name)?;
        option.provides.push(p.name);
    }
    for r in requires {
        check_name(&r.name)?;
        let metadata = crate::layers::parse_metadata(&r.metadata).map_err(|e| invalid(format!("require {:?}: {e}", r.name)))?;
        option.requires.push(Require { name: r.name, metadata });
    }
    Ok(option)
}
