//! Build: run each buildpack of the chosen group in order ([buildpack spec, Phase #5](https://github.com/buildpacks/spec/blob/main/buildpack.md#phase-5-build)).
//!
//! A buildpack sees the app read-write at `/workspace`, its own layers dir read-write at
//! `/layers/<escaped id>`, the `build` layers of earlier buildpacks read-only at their
//! image paths, the platform dir read-only and a private `/tmp`. Everything it returns is
//! checked here before anything else uses it: layer names, layer directories, metadata
//! sizes, process types and commands, labels, unmet names.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::analyze::{Analysis, PreviousContents};
use super::detect::GroupMember;
use super::events::{Event, Reporter, millis};
use super::plan::PlanEntry;
use super::workspace::{APP_GUEST_PATH, PLATFORM_GUEST_PATH, Workspace};
use super::{LifecycleError, Target};
use crate::buildpack::{BuildpackId, ProcessType};
use crate::fetch::{FetchSettings, Fetcher};
use crate::layers::env::BuildEnv;
use crate::layers::{self, BuiltLayer, LayerName, LayerTypes};
use crate::sandbox::bindings::types as wit;
use crate::sandbox::usage::{self, Usage};
use crate::sandbox::{Grants, Limits};

/// A process type a buildpack declared, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// The type.
    pub process_type: ProcessType,
    /// Executable and fixed arguments.
    pub command: Vec<String>,
    /// Default arguments.
    pub args: Vec<String>,
    /// Whether it is this buildpack's default.
    pub default: bool,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Who declared it.
    pub buildpack: BuildpackId,
}

/// What one buildpack's build produced, checked.
#[derive(Debug, Clone)]
pub struct BuildpackOutput {
    /// The buildpack's id.
    pub id: BuildpackId,
    /// Its version.
    pub version: String,
    /// Its API.
    pub api: String,
    /// Its homepage.
    pub homepage: Option<String>,
    /// Layers it kept, sorted by name.
    pub layers: Vec<BuiltLayer>,
    /// Processes it declared.
    pub processes: Vec<Process>,
    /// Labels it asked for.
    pub labels: Vec<(String, String)>,
}

/// The inputs of the build phase.
pub struct Builder<'a> {
    /// The chosen group.
    pub group: &'a [GroupMember],
    /// The build's directories.
    pub workspace: &'a Workspace,
    /// The platform env.
    pub platform_env: &'a [(String, String)],
    /// The target.
    pub target: &'a Target,
    /// Limits per call.
    pub limits: &'a Limits,
    /// What the previous build left.
    pub analysis: &'a Analysis,
    /// Progress.
    pub reporter: &'a Reporter,
    /// The build's `fetch` capability (policy, download cache, provenance).
    pub fetcher: &'a Arc<Fetcher>,
    /// The build's `exec` capability (native steps in the jail).
    pub exec: &'a Arc<crate::sandbox::ExecGrant>,
}

/// The fetcher of one build: every fetch is reported as [`Event::Fetched`].
pub fn fetcher(settings: &FetchSettings, reporter: &Reporter) -> Arc<Fetcher> {
    let reporter = reporter.clone();
    let observer = Arc::new(move |r: &crate::fetch::FetchRecord| {
        reporter(&Event::Fetched {
            id: r.buildpack.clone(),
            url: r.url.clone(),
            digest: r.digest.clone(),
            size: r.size,
            origin: r.origin.name().into(),
        })
    });
    Arc::new(Fetcher::new(settings.clone()).with_observer(observer))
}

/// Largest number of layers, processes or labels one buildpack may return.
const MAX_ITEMS: usize = 1024;

impl Builder<'_> {
    /// Run every buildpack's build in order.
    pub fn build(&self) -> Result<Vec<BuildpackOutput>, LifecycleError> {
        let mut outputs: Vec<BuildpackOutput> = Vec::new();
        let mut env = BuildEnv::new(self.platform_env);
        // Plan entries an earlier provider met do not reach later providers; unmet ones do.
        let mut met: Vec<String> = Vec::new();
        for member in self.group {
            let started = Instant::now();
            let id = member.buildpack.id();
            (self.reporter)(&Event::BuildpackBuilding { id: id.to_string() });
            let plan: Vec<PlanEntry> = member.plan.iter().filter(|e| !met.contains(&e.name)).cloned().collect();
            let result = self.build_one(member, &plan, &outputs, &env)?;
            let output = self.check(member, result.clone(), &plan)?;
            met.extend(plan.iter().filter(|e| !result.unmet.contains(&e.name)).map(|e| e.name.clone()));
            for layer in output.layers.iter().filter(|l| l.types.build) {
                let image_path = kiln_cnb::layer::layer_path(&output.id, &layer.name);
                env.add_build_layer(&image_path, &layer.dir).map_err(|e| LifecycleError::InvalidBuildOutput {
                    buildpack: id.to_string(),
                    message: format!("layer {}: {e}", layer.name),
                })?;
            }
            (self.reporter)(&Event::BuildpackBuilt { id: id.to_string(), millis: millis(started.elapsed()) });
            outputs.push(output);
        }
        Ok(outputs)
    }

    fn build_one(
        &self,
        member: &GroupMember,
        plan: &[PlanEntry],
        earlier: &[BuildpackOutput],
        env: &BuildEnv,
    ) -> Result<wit::BuildResult, LifecycleError> {
        let buildpack = &member.buildpack;
        let id = buildpack.id();
        let layers_dir = self.workspace.buildpack_layers(id)?;
        let scratch = self.workspace.scratch(id, "build")?;
        let layers_guest = kiln_cnb::layer::buildpack_layers_path(id);
        let mut grants = Grants::none()
            .read_write(&self.workspace.app(), APP_GUEST_PATH)
            .read_write(&layers_dir, &layers_guest)
            .read_only(&self.workspace.platform(), PLATFORM_GUEST_PATH)
            .read_write(&scratch, "/tmp")
            .fetch(self.fetcher.clone())
            .exec(self.exec.clone());
        for output in earlier {
            for layer in output.layers.iter().filter(|l| l.types.build) {
                let guest = kiln_cnb::layer::layer_path(&output.id, &layer.name);
                grants = grants.read_only(&layer.dir, &guest);
            }
        }
        let clear_env = buildpack.descriptor.buildpack.clear_env;
        let vars: Vec<(String, String)> = if clear_env {
            env.layer_vars().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        } else {
            env.vars().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let platform_env: &[(String, String)] = if clear_env { &[] } else { self.platform_env };
        // The CNB variables are granted last, so a layer's env file cannot override them.
        grants = super::cnb_env(grants, self.target, &vars)
            .env("CNB_BUILDPACK_ID", id.as_str())
            .env("CNB_LAYERS_DIR", &layers_guest)
            .env("HOME", "/tmp");
        let context = wit::BuildContext {
            app_dir: APP_GUEST_PATH.into(),
            layers_dir: layers_guest,
            platform_dir: PLATFORM_GUEST_PATH.into(),
            platform_env: super::wit_env(platform_env),
            plan: plan
                .iter()
                .map(|e| wit::PlanEntry { name: e.name.clone(), metadata: toml::to_string(&e.metadata).unwrap_or_default() })
                .collect(),
            previous_layers: self
                .analysis
                .for_buildpack(id.as_str())
                .map(|layers| {
                    layers
                        .iter()
                        .map(|(name, layer)| wit::PreviousLayer {
                            name: name.clone(),
                            metadata: toml::to_string(&layer.metadata).unwrap_or_default(),
                            contents_restored: matches!(layer.contents, PreviousContents::Cache(_)),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            target: self.target.to_wit(),
        };
        let sink = super::log_sink(self.reporter.clone(), id.as_str());
        let stop_at = usage::stop_at(self.limits);
        let app_before = Usage::measure(&self.workspace.app(), Usage { files: u64::MAX, bytes: u64::MAX });
        let result = buildpack.component.build(id.as_str(), grants, self.limits, sink, &context)?;
        let layers = Usage::measure(&layers_dir, stop_at);
        let app_after = Usage::measure(
            &self.workspace.app(),
            Usage { files: app_before.files + stop_at.files, bytes: app_before.bytes + stop_at.bytes },
        );
        usage::check_written(id.as_str(), layers, app_before, app_after, self.limits)?;
        Ok(result)
    }

    /// Check everything the buildpack returned.
    fn check(&self, member: &GroupMember, result: wit::BuildResult, plan: &[PlanEntry]) -> Result<BuildpackOutput, LifecycleError> {
        let descriptor = &member.buildpack.descriptor;
        let id = &descriptor.buildpack.id;
        let invalid = |message: String| LifecycleError::InvalidBuildOutput { buildpack: id.to_string(), message };
        if result.layers.len() > MAX_ITEMS || result.processes.len() > MAX_ITEMS || result.labels.len() > MAX_ITEMS {
            return Err(invalid(format!("it returned more than {MAX_ITEMS} layers, processes or labels")));
        }
        let layers_dir = self.workspace.layers().join(id.escaped());
        let mut layers: BTreeMap<LayerName, BuiltLayer> = BTreeMap::new();
        for layer in result.layers {
            let name = LayerName::parse(&layer.name).map_err(|e| invalid(e.to_string()))?;
            let metadata = layers::parse_metadata(&layer.metadata).map_err(|e| invalid(format!("layer {name}: {e}")))?;
            let types = LayerTypes {
                launch: layer.types.contains(wit::LayerTypes::LAUNCH),
                build: layer.types.contains(wit::LayerTypes::BUILD),
                cache: layer.types.contains(wit::LayerTypes::CACHE),
            };
            if layers.contains_key(&name) {
                return Err(invalid(format!("layer {name} is listed twice")));
            }
            let previous = self.analysis.for_buildpack(id.as_str()).and_then(|l| l.get(name.as_str()));
            let dir_missing = std::fs::symlink_metadata(layers_dir.join(name.as_str())).is_err();
            let from_previous_image = match previous.map(|p| &p.contents) {
                Some(PreviousContents::Image { diff_id, descriptor }) if dir_missing && types.is_launch_only() => {
                    Some((diff_id.clone(), descriptor.clone()))
                }
                _ => None,
            };
            let dir = if from_previous_image.is_some() {
                layers_dir.join(name.as_str())
            } else {
                layers::check_layer_dir(&layers_dir, &name).map_err(&invalid)?
            };
            layers.insert(name.clone(), BuiltLayer { name, types, metadata, dir, from_previous_image });
        }
        let mut processes: Vec<Process> = Vec::new();
        for p in result.processes {
            let process_type = ProcessType::parse(&p.process_type).map_err(|e| invalid(e.to_string()))?;
            if p.command.is_empty() || p.command[0].is_empty() {
                return Err(invalid(format!("process {process_type} has an empty command")));
            }
            if p.command.iter().chain(&p.args).chain(&p.working_dir).any(|s| s.contains('\0')) {
                return Err(invalid(format!("process {process_type} has a NUL byte in its command")));
            }
            if processes.iter().any(|q| q.process_type == process_type) {
                return Err(invalid(format!("process type {process_type} is declared twice")));
            }
            if p.is_default && processes.iter().any(|q| q.default) {
                return Err(invalid("more than one default process type".into()));
            }
            processes.push(Process {
                process_type,
                command: p.command,
                args: p.args,
                default: p.is_default,
                working_dir: p.working_dir,
                buildpack: id.clone(),
            });
        }
        let mut labels = Vec::new();
        for label in result.labels {
            if label.key.is_empty() || label.key.len() > 255 || label.key.chars().any(char::is_control) {
                return Err(invalid(format!("label key {:?} must be 1 to 255 printable characters", label.key)));
            }
            labels.push((label.key, label.value));
        }
        let layers: Vec<BuiltLayer> = layers.into_values().collect();
        let process_sizes = processes.iter().map(|p| {
            let text = p.command.iter().chain(&p.args).chain(&p.working_dir);
            (p.process_type.as_str(), text.map(|s| s.len() + 3).sum::<usize>() + 64)
        });
        super::config_share::check_share(&super::config_share::items(&labels, &layers, process_sizes)).map_err(&invalid)?;
        for name in &result.unmet {
            if !plan.iter().any(|e| &e.name == name) {
                return Err(invalid(format!("unmet name {name:?} must match a requested dependency")));
            }
        }
        Ok(BuildpackOutput {
            id: id.clone(),
            version: descriptor.buildpack.version.clone(),
            api: descriptor.api.clone(),
            homepage: descriptor.buildpack.homepage.clone(),
            layers,
            processes,
            labels,
        })
    }
}
